package filter

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// DecodeFields decodes a filter's YAML mapping one field at a time, each value with
// DecodeStrict, so that every error starts with the field it is about. Unknown and
// repeated fields are errors. A missing or null config decodes nothing. example (a valid
// config) is quoted when the value is not a mapping. Filters share it so that their errors
// read alike.
func DecodeFields(cfg yaml.Node, example string, fields map[string]func(yaml.Node) error) error {
	n := &cfg
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch {
	case n.Kind == 0, n.Kind == yaml.ScalarNode && n.Tag == "!!null":
		return nil
	case n.Kind != yaml.MappingNode:
		return errors.New("want a mapping of settings, e.g. " + example)
	}
	var errs []string
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i].Value, n.Content[i+1]
		if v.Kind == yaml.AliasNode && v.Alias != nil {
			v = v.Alias
		}
		dec, ok := fields[k]
		switch {
		case !ok:
			errs = append(errs, fmt.Sprintf("%s: unknown field (known: %s)", k, Known(fields)))
		case seen[k]:
			errs = append(errs, k+": set twice")
		default:
			if err := dec(*v); err != nil {
				if p, ok := err.(prefixed); ok {
					errs = append(errs, string(p))
				} else {
					errs = append(errs, k+": "+err.Error())
				}
			}
		}
		seen[k] = true
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// prefixed is an error whose message already names its fields (items of a list).
type prefixed string

func (p prefixed) Error() string { return string(p) }

// DecodeList decodes each item of a YAML sequence with dec, naming items field[i].
func DecodeList(field string, n yaml.Node, dec func(i int, item yaml.Node) error) error {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		return fmt.Errorf("want a list, got %s", KindOf(n))
	}
	var errs []string
	for i, item := range n.Content {
		if item.Kind == yaml.AliasNode && item.Alias != nil {
			item = item.Alias
		}
		if err := dec(i, *item); err != nil {
			errs = append(errs, fmt.Sprintf("%s[%d]: %v", field, i, err))
		}
	}
	if len(errs) > 0 {
		return prefixed(strings.Join(errs, "; "))
	}
	return nil
}

func KindOf(n yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return fmt.Sprintf("%q", n.Value)
}

func Known(fields map[string]func(yaml.Node) error) string {
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// Strict decodes one value with DecodeStrict and rewrites yaml's messages so that
// they read well after a field name (the line numbers yaml reports are those of a re-encoded
// fragment, not of the user's file, so they are dropped: the runtime adds the real line).
func Strict(n yaml.Node, dst any) error {
	err := DecodeStrict(n, dst)
	if err == nil {
		return nil
	}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs := make([]string, len(te.Errors))
		for i, m := range te.Errors {
			msgs[i] = cleanMsg(m)
		}
		return errors.New(strings.Join(msgs, "; "))
	}
	return errors.New(cleanMsg(strings.TrimPrefix(err.Error(), "yaml: ")))
}

var (
	linePrefix   = regexp.MustCompile(`^line \d+(:\d+)?: `)
	notFound     = regexp.MustCompile(`^field (\S+) not found in type \S+$`)
	cannotDecode = regexp.MustCompile("^cannot unmarshal !!(\\w+)(?: `(.*)`)? into (.+)$")
)

func cleanMsg(m string) string {
	m = linePrefix.ReplaceAllString(strings.TrimSpace(m), "")
	if s := notFound.FindStringSubmatch(m); s != nil {
		return fmt.Sprintf("unknown field %q", s[1])
	}
	if s := cannotDecode.FindStringSubmatch(m); s != nil {
		got := s[2]
		switch s[1] {
		case "seq":
			got = "a list"
		case "map":
			got = "a mapping"
		default:
			got = fmt.Sprintf("%q", got)
		}
		return fmt.Sprintf("want %s, got %s", goKind(s[3]), got)
	}
	return m
}

func goKind(t string) string {
	switch {
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case strings.HasPrefix(t, "map["):
		return "a mapping"
	case strings.Contains(t, "int"):
		return "an integer"
	case t == "bool":
		return "true or false"
	case t == "string":
		return "a string"
	case strings.Contains(t, "."):
		return "a mapping"
	}
	return t
}

// Integer decodes a whole number: yaml would silently truncate 1.5 to 1.
func Integer(n yaml.Node, dst any) error {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!float" {
		return fmt.Errorf("want an integer, got %q", n.Value)
	}
	return Strict(n, dst)
}
