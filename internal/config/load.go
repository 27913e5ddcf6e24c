package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
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
// The error is an Errors value holding every problem found, sorted by line: syntax errors,
// unknown fields, type errors and validation errors alike.
func Load(data []byte) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlErrors(nil, data, err)
	}
	if root.Kind == 0 || (root.Kind == yaml.DocumentNode && (len(root.Content) == 0 || isNull(root.Content[0]))) {
		return nil, Errors{{Path: "listeners", Msg: "the config is empty: at least one listener is required"}}
	}
	lines := newLineIndex(&root)
	var cfg Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var issues []decodeIssue
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			// The decoder gave up (excessive aliasing, an anchor that contains itself...).
			return nil, yamlErrors(lines, data, err)
		}
		// Type errors and unknown fields leave the rest of the document decoded:
		// validate it too, so that one run reports every problem.
		issues = lines.decodeErrors(te)
	}
	var errs Errors
	for _, is := range issues {
		errs = append(errs, is.FieldError)
	}
	if len(issues) > 0 {
		// The decoder drops a list item that fails to decode as a whole: the items after
		// it move up, and their paths no longer name their lines. Validation keeps out
		// of such lists.
		for _, p := range lines.shiftedLists(reflect.ValueOf(&cfg).Elem(), "", nil) {
			issues = append(issues, decodeIssue{FieldError: FieldError{Path: p}, kind: typeError, subject: p})
		}
	}
	errs = append(errs, extraDocument(dec, data)...)
	errs = append(errs, validate(&cfg, lines, issues)...)
	if len(errs) > 0 {
		sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
		return nil, errs
	}
	return &cfg, nil
}

// extraDocument reports a second YAML document, which Load would otherwise ignore. Empty
// documents (a trailing "---") are harmless.
func extraDocument(dec *yaml.Decoder, data []byte) Errors {
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		switch {
		case errors.Is(err, io.EOF):
			return nil
		case err != nil:
			return yamlErrors(nil, data, err)
		}
		if len(n.Content) == 0 || isNull(n.Content[0]) {
			continue
		}
		return Errors{{Path: "(document)", Line: n.Content[0].Line, Msg: "a config is a single YAML document: remove the second one or merge it into the first"}}
	}
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

// parserProblems are the messages of yaml.v3's parser (as opposed to its scanner). The
// parser names the line of the construct it was parsing counting from 0, not 1.
var parserProblems = map[string]bool{
	"did not find expected <stream-start>":   true,
	"did not find expected <document start>": true,
	"did not find expected node content":     true,
	"did not find expected '-' indicator":    true,
	"did not find expected key":              true,
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"found undefined tag handle":             true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found duplicate %TAG directive":         true,
}

// yamlErrors turns an error of the YAML parser into field errors; li may be nil.
func yamlErrors(li *lineIndex, data []byte, err error) Errors {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	l := 0
	if m := reLine.FindStringSubmatch(msg); m != nil {
		l, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	if parserProblems[msg] {
		// Count from 1, and do not point past the last line with content (the parser
		// may name the end of the document).
		l = min(l+1, lastLine(data))
	}
	path := "(document)"
	if li != nil && l > 0 {
		path = li.pathAt(l, "")
	}
	return Errors{{Path: path, Line: l, Msg: msg}}
}

// lastLine returns the number of the last line of data that is not blank.
func lastLine(data []byte) int {
	data = bytes.TrimRight(data, " \t\r\n")
	return bytes.Count(data, []byte("\n")) + 1
}

// maxIndexDepth bounds the nesting indexed for line numbers; no config field is nearly
// this deep, and the bound keeps pathological documents from costing quadratic memory.
const maxIndexDepth = 64

// maxAliasNodes bounds the nodes indexed through aliases: an alias is indexed at every
// place it is used, and nested aliases could otherwise multiply ("billion laughs").
const maxAliasNodes = 1 << 14

// lineIndex maps field paths to the line of their key (or item).
type lineIndex struct {
	byPath map[string]int
	seqLen map[string]int    // the number of items of each list
	byLine map[int][]string  // the paths whose key (or item) starts on a line, in document order
	values map[int][]indexed // the paths whose value starts on a line, in document order
	used   map[string]bool   // paths already named by a decode error

	expanding  map[*yaml.Node]bool // anchors being indexed through an alias
	aliasNodes int                 // nodes indexed through aliases
}

type indexed struct {
	path string
	node *yaml.Node // the value, aliases resolved
}

func newLineIndex(root *yaml.Node) *lineIndex {
	li := &lineIndex{
		byPath:    map[string]int{},
		seqLen:    map[string]int{},
		byLine:    map[int][]string{},
		values:    map[int][]indexed{},
		used:      map[string]bool{},
		expanding: map[*yaml.Node]bool{},
	}
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	li.values[n.Line] = append(li.values[n.Line], indexed{"", n}) // the document itself
	li.walk(n, "", 0)
	return li
}

func (li *lineIndex) walk(n *yaml.Node, path string, depth int) {
	if depth > maxIndexDepth || (len(li.expanding) > 0 && li.aliasNodes > maxAliasNodes) {
		return
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			li.add(p, k.Line, v)
			li.walk(v, p, depth+1)
		}
	case yaml.SequenceNode:
		li.seqLen[path] = len(n.Content)
		for i, c := range n.Content {
			p := path + "[" + strconv.Itoa(i) + "]"
			li.add(p, c.Line, c)
			li.walk(c, p, depth+1)
		}
	case yaml.AliasNode:
		// An anchor may contain an alias of itself; the decoder rejects it, the index
		// must not loop on it.
		if a := n.Alias; a != nil && !li.expanding[a] {
			li.expanding[a] = true
			li.walk(a, path, depth)
			delete(li.expanding, a)
		}
	}
}

func (li *lineIndex) add(path string, line int, value *yaml.Node) {
	if len(li.expanding) > 0 {
		li.aliasNodes++
	}
	if _, ok := li.byPath[path]; !ok {
		li.byPath[path] = line
	}
	li.byLine[line] = append(li.byLine[line], path)
	if value.Kind == yaml.AliasNode && value.Alias != nil {
		value = value.Alias
	}
	li.values[value.Line] = append(li.values[value.Line], indexed{path, value})
}

// shiftedLists returns the paths of the lists in v (at path) that hold fewer items than
// the document gives them.
func (li *lineIndex) shiftedLists(v reflect.Value, path string, out []string) []string {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			out = li.shiftedLists(v.Elem(), path, out)
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			switch {
			case !f.IsExported() || f.Type == reflect.TypeFor[yaml.Node]():
			case name == "" && strings.Contains(opts, "inline"):
				out = li.shiftedLists(v.Field(i), path, out)
			case name != "":
				p := name
				if path != "" {
					p = path + "." + name
				}
				out = li.shiftedLists(v.Field(i), p, out)
			}
		}
	case reflect.Slice:
		if n, ok := li.seqLen[path]; ok && n != v.Len() {
			return append(out, path)
		}
		for i := range v.Len() {
			out = li.shiftedLists(v.Index(i), path+"["+strconv.Itoa(i)+"]", out)
		}
	}
	return out
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
	reDupKey  = regexp.MustCompile(`(?s)^line (\d+): mapping key "(.*)" already defined at line \d+$`)
	reLineCol = regexp.MustCompile(`(?s)^line (\d+):(\d+): (.*)$`)
	reLine    = regexp.MustCompile(`(?s)^line (\d+): (.*)$`)
	reTypeErr = regexp.MustCompile("(?s)^cannot unmarshal !!(\\w+)(?: `(.*)`)? into (\\S+)$")
)

// decodeIssue is a decode error with what it tells the validator.
type decodeIssue struct {
	FieldError
	kind issueKind
	// subject is the field of a type error, left undecoded ("" for the whole document),
	// or the parent of an unknown field, decoded without it.
	subject string
}

type issueKind uint8

const (
	typeError    issueKind = iota
	unknownField           // the rest of the parent was decoded
)

// decodeErrors turns yaml.v3's decode errors into field errors with paths.
func (li *lineIndex) decodeErrors(te *yaml.TypeError) []decodeIssue {
	var out []decodeIssue
	for _, e := range te.Errors {
		if m := reUnknown.FindStringSubmatch(e); m != nil {
			l, _ := strconv.Atoi(m[1])
			fe := FieldError{Path: li.keyPath(l, m[2]), Line: l, Msg: fmt.Sprintf("unknown field %q", m[2])}
			out = append(out, decodeIssue{FieldError: fe, kind: unknownField, subject: parentPath(fe.Path)})
			continue
		}
		if m := reDupKey.FindStringSubmatch(e); m != nil {
			l, _ := strconv.Atoi(m[1])
			// The decoder skips a map with a duplicate key as a whole.
			fe := FieldError{Path: li.keyPath(l, m[2]), Line: l, Msg: strings.TrimPrefix(e, "line "+m[1]+": ")}
			out = append(out, decodeIssue{FieldError: fe, kind: typeError, subject: parentPath(fe.Path)})
			continue
		}
		if m := reLineCol.FindStringSubmatch(e); m != nil {
			// Our own unmarshalers name the line and column of the offending value.
			l, _ := strconv.Atoi(m[1])
			c, _ := strconv.Atoi(m[2])
			p, _ := li.valuePath(l, "", func(n *yaml.Node) bool { return n.Column == c })
			out = append(out, issue(p, l, m[3]))
			continue
		}
		if m := reLine.FindStringSubmatch(e); m != nil {
			l, _ := strconv.Atoi(m[1])
			fe := FieldError{Path: "", Line: l, Msg: m[2]}
			if t := reTypeErr.FindStringSubmatch(m[2]); t != nil {
				tag, val, want := t[1], t[2], goKind(t[3])
				p, n := li.valuePath(l, t[3], func(n *yaml.Node) bool { return matchesTypeError(n, tag, val) })
				fe.Path = p
				switch {
				case n != nil && n.Kind == yaml.ScalarNode:
					fe.Msg = fmt.Sprintf("%q is a %s, want %s", clip(n.Value), yamlKind(tag), want)
				case strings.Contains(t[0], "`"):
					fe.Msg = fmt.Sprintf("%q is a %s, want %s", val, yamlKind(tag), want)
				default:
					fe.Msg = fmt.Sprintf("got a %s, want %s", yamlKind(tag), want)
				}
			} else {
				fe.Path = li.pathAt(l, "")
			}
			out = append(out, issue(fe.Path, fe.Line, fe.Msg))
			continue
		}
		out = append(out, issue("(document)", 0, e))
	}
	return out
}

// issue is a type error at path; "" is the document itself.
func issue(path string, line int, msg string) decodeIssue {
	is := decodeIssue{FieldError: FieldError{Path: path, Line: line, Msg: msg}, subject: path}
	if path == "" {
		is.Path = "(document)"
	}
	return is
}

// matchesTypeError reports whether n may be the node of a yaml.v3 type error that quotes
// tag and val (val is cut to 7 bytes and "..." when longer than 10).
func matchesTypeError(n *yaml.Node, tag, val string) bool {
	switch tag {
	case "seq":
		return n.Kind == yaml.SequenceNode
	case "map":
		return n.Kind == yaml.MappingNode
	}
	if n.Kind != yaml.ScalarNode {
		return false
	}
	if cut, ok := strings.CutSuffix(val, "..."); ok && len(n.Value) > 10 {
		return strings.HasPrefix(n.Value, cut)
	}
	return n.Value == val
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:37] + "..."
	}
	return s
}

// keyPath names the unknown field key on a line: the first path ending in field that no
// earlier error named (several fields of one name may share a line in flow-style maps),
// preferring a path whose parent is a struct of the schema without that field.
func (li *lineIndex) keyPath(line int, field string) string {
	named := func(p string) bool { return p == field || strings.HasSuffix(p, "."+field) }
	unknown := func(p string) bool {
		if !named(p) {
			return false
		}
		t := typeAt(parentPath(p))
		return t != nil && t.Kind() == reflect.Struct && yamlField(t, field) == nil
	}
	for _, ok := range []func(string) bool{unknown, named} {
		first := ""
		for _, p := range li.byLine[line] {
			if !ok(p) {
				continue
			}
			if !li.used[p] {
				li.used[p] = true
				return p
			}
			if first == "" {
				first = p
			}
		}
		if first != "" {
			return first
		}
	}
	return li.pathAt(line, field)
}

// valuePath names the field whose value starts on line and satisfies match: the first in
// document order that no earlier error named. When goType is given (the type a yaml.v3
// error names), a field of that type is preferred: a line may start several values (the
// first item of a block list starts on the line of the list). It falls back to pathAt.
func (li *lineIndex) valuePath(line int, goType string, match func(*yaml.Node) bool) (string, *yaml.Node) {
	if goType != "" {
		want := strings.TrimLeft(goType, "*")
		typed := func(x *indexed) bool {
			t := typeAt(x.path)
			return t != nil && t.String() == want && match(x.node)
		}
		if p, n, ok := li.pick(line, typed); ok {
			return p, n
		}
	}
	if p, n, ok := li.pick(line, func(x *indexed) bool { return match(x.node) }); ok {
		return p, n
	}
	return li.pathAt(line, ""), nil
}

// pick returns the first value on line that ok accepts and no earlier error named, else
// the first it accepts.
func (li *lineIndex) pick(line int, ok func(*indexed) bool) (string, *yaml.Node, bool) {
	var first *indexed
	for i := range li.values[line] {
		x := &li.values[line][i]
		if !ok(x) {
			continue
		}
		if !li.used[x.path] {
			li.used[x.path] = true
			return x.path, x.node, true
		}
		if first == nil {
			first = x
		}
	}
	if first != nil {
		return first.path, first.node, true
	}
	return "", nil, false
}

// typeAt returns the Go type (pointers removed) that the field at path decodes into, or
// nil when path is not a field of Config.
func typeAt(path string) reflect.Type {
	t := reflect.TypeOf(Config{})
	for path != "" {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if path[0] == '[' {
			end := strings.IndexByte(path, ']')
			if end < 0 || t.Kind() != reflect.Slice {
				return nil
			}
			t, path = t.Elem(), path[end+1:]
			continue
		}
		path = strings.TrimPrefix(path, ".")
		end := strings.IndexAny(path, ".[")
		if end < 0 {
			end = len(path)
		}
		key := path[:end]
		path = path[end:]
		switch t.Kind() {
		case reflect.Map:
			t = t.Elem()
		case reflect.Struct:
			if t = yamlField(t, key); t == nil {
				return nil
			}
		default:
			return nil
		}
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// yamlField returns the type of the field of struct t named key in YAML, inline fields
// included.
func yamlField(t reflect.Type, key string) reflect.Type {
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" && strings.Contains(opts, "inline") {
			if ft := yamlField(f.Type, key); ft != nil {
				return ft
			}
			continue
		}
		if f.IsExported() && name == key {
			return f.Type
		}
	}
	return nil
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
	case strings.HasPrefix(t, "uint"):
		return "a non-negative integer"
	case strings.HasPrefix(t, "int"):
		return "an integer"
	case strings.HasPrefix(t, "float"):
		return "a number"
	case t == "bool":
		return "true or false"
	case t == "string":
		return "a string"
	case strings.HasPrefix(t, "config."), strings.HasPrefix(t, "*config."):
		return "a map"
	}
	return t
}
