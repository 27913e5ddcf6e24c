package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// FieldError is one problem in a config, named by its field path and, when known, its line.
type FieldError struct {
	Path string // e.g. listeners[0].virtual_hosts[1].routes[2].match.prefix
	Line int    // 1-based; 0 when unknown
	Msg  string
}

func (e FieldError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s (line %d): %s", e.Path, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.Path, e.Msg)
}

// Errors is every problem found in a config. It is returned whole so that a user fixes all
// of them in one pass.
type Errors []FieldError

func (es Errors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// LoadFile reads and validates a config file.
func LoadFile(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Load(data)
}

// Load parses, defaults and validates a config document. Unknown fields are errors.
// The error is an Errors value whenever the problems can be named by field path.
func Load(data []byte) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	lines := newLineIndex(&root)
	if root.Kind == 0 || (root.Kind == yaml.DocumentNode && len(root.Content) == 0) {
		return nil, Errors{{Path: "listeners", Msg: "the config is empty: at least one listener is required"}}
	}
	var cfg Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return nil, lines.decodeErrors(err)
	}
	applyDefaults(&cfg)
	if errs := validate(&cfg, lines); len(errs) > 0 {
		return nil, errs
	}
	return &cfg, nil
}

// lineIndex maps field paths to the line of their key (or item).
type lineIndex struct {
	byPath map[string]int
	byLine map[int][]string // the paths that start on a line
}

func newLineIndex(root *yaml.Node) *lineIndex {
	li := &lineIndex{byPath: map[string]int{}, byLine: map[int][]string{}}
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	li.walk(n, "")
	return li
}

func (li *lineIndex) walk(n *yaml.Node, path string) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			li.add(p, k.Line)
			li.walk(n.Content[i+1], p)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			li.add(p, c.Line)
			li.walk(c, p)
		}
	case yaml.AliasNode:
		if n.Alias != nil {
			li.walk(n.Alias, path)
		}
	}
}

func (li *lineIndex) add(path string, line int) {
	if _, ok := li.byPath[path]; !ok {
		li.byPath[path] = line
	}
	li.byLine[line] = append(li.byLine[line], path)
}

// line returns the line of path or of its nearest ancestor that has one.
func (li *lineIndex) line(path string) int {
	for p := path; p != ""; {
		if l, ok := li.byPath[p]; ok {
			return l
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return 0
}

var (
	reUnknown = regexp.MustCompile(`^line (\d+): field (\S+) not found in type (\S+)$`)
	reLine    = regexp.MustCompile(`^line (\d+): (.*)$`)
	reTypeErr = regexp.MustCompile("cannot unmarshal !!(\\w+) `(.*)` into (\\S+)")
)

// decodeErrors turns yaml.v3's decode errors into field errors with paths.
func (li *lineIndex) decodeErrors(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		msg := err.Error()
		if m := reLine.FindStringSubmatch(strings.TrimPrefix(msg, "yaml: ")); m != nil {
			l, _ := strconv.Atoi(m[1])
			return Errors{{Path: li.pathAt(l, ""), Line: l, Msg: m[2]}}
		}
		return fmt.Errorf("config: %w", err)
	}
	var out Errors
	for _, e := range te.Errors {
		if m := reUnknown.FindStringSubmatch(e); m != nil {
			l, _ := strconv.Atoi(m[1])
			out = append(out, FieldError{Path: li.pathAt(l, m[2]), Line: l, Msg: fmt.Sprintf("unknown field %q", m[2])})
			continue
		}
		if m := reLine.FindStringSubmatch(e); m != nil {
			l, _ := strconv.Atoi(m[1])
			msg := m[2]
			if t := reTypeErr.FindStringSubmatch(msg); t != nil {
				msg = fmt.Sprintf("%q is a %s, want %s", t[2], yamlKind(t[1]), goKind(t[3]))
			}
			out = append(out, FieldError{Path: li.pathAt(l, ""), Line: l, Msg: msg})
			continue
		}
		out = append(out, FieldError{Path: "(document)", Msg: e})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Line < out[j].Line })
	return out
}

// pathAt names the field at a line: the path ending in field when given, else the deepest
// path that starts on the line (flow-style maps put several fields on one line).
func (li *lineIndex) pathAt(line int, field string) string {
	paths := li.byLine[line]
	best := ""
	for _, p := range paths {
		if field != "" && (p == field || strings.HasSuffix(p, "."+field)) {
			return p
		}
		if len(p) > len(best) {
			best = p
		}
	}
	if best == "" {
		return "(document)"
	}
	return best
}

func yamlKind(tag string) string {
	switch tag {
	case "str":
		return "string"
	case "seq":
		return "list"
	case "map":
		return "map"
	case "int", "float":
		return "number"
	case "bool":
		return "boolean"
	}
	return tag
}

func goKind(t string) string {
	switch {
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case strings.HasPrefix(t, "map["):
		return "a map"
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"):
		return "an integer"
	case strings.HasPrefix(t, "float"):
		return "a number"
	case t == "bool":
		return "true or false"
	case t == "string":
		return "a string"
	case strings.HasPrefix(t, "config."):
		return "a map"
	}
	return t
}
