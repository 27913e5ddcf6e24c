package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Prompt templates use "{{name}}" placeholders (spaces inside the braces are allowed),
// filled from the request body's top-level fields. The syntax is deliberately tiny: no
// logic, no escaping rules beyond "{{" always opening a placeholder, so that a template
// can be checked against its input schema when it is stored rather than when a request
// fails.

// TemplateVariables returns the distinct placeholder names of tmpl in order of first
// use. A name is a letter or '_' followed by letters, digits or '_'.
func TemplateVariables(tmpl string) ([]string, error) {
	var vars []string
	rest := tmpl
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			break
		}
		off := len(tmpl) - len(rest) + i
		rest = rest[i+2:]
		j := strings.Index(rest, "}}")
		if j < 0 {
			return nil, invalid("template", "placeholder at offset %d is not closed with }}", off)
		}
		name := strings.TrimSpace(rest[:j])
		if !isIdent(name) {
			return nil, invalid("template", "placeholder at offset %d: want a name like {{topic}}, got %q", off, truncate(rest[:j], 40))
		}
		if !slices.Contains(vars, name) {
			vars = append(vars, name)
		}
		rest = rest[j+2:]
	}
	return vars, nil
}

func isIdent(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// inputSchema is the part of a JSON Schema that the store checks: the body of a prompt
// API call is a JSON object whose properties feed the template.
type inputSchema struct {
	Type       json.RawMessage            `json:"type"`
	Properties map[string]json.RawMessage `json:"properties"`
	Required   []string                   `json:"required"`
}

// CheckInputSchema checks that raw is a JSON Schema for an object body and that every
// placeholder of the template is one of its properties. It returns the properties.
func CheckInputSchema(raw json.RawMessage, vars []string) error {
	const field = "input_schema"
	// Trim JSON's own whitespace only: bytes.TrimSpace would also drop \v and U+0085,
	// which JSON rejects, and the text stored is raw, not the trimmed copy.
	trimmed := bytes.Trim(raw, " \t\r\n")
	if len(trimmed) == 0 {
		return invalid(field, "required")
	}
	if trimmed[0] != '{' || !json.Valid(raw) {
		return invalid(field, "want a JSON object")
	}
	var s inputSchema
	if err := json.Unmarshal(raw, &s); err != nil {
		return invalid(field, "%s", jsonReason(err))
	}
	if s.Type != nil && string(s.Type) != `"object"` {
		return invalid(field+".type", `want "object": the body of a prompt API call is a JSON object`)
	}
	for name, p := range s.Properties {
		if !isIdent(name) {
			return invalid(field+".properties", "want names like topic or max_words, got %q", truncate(name, 40))
		}
		if p = bytes.Trim(p, " \t\r\n"); len(p) == 0 || p[0] != '{' {
			return invalid(field+".properties."+name, "want a schema object")
		}
	}
	for i, r := range s.Required {
		if _, ok := s.Properties[r]; !ok {
			return invalid(fmt.Sprintf("%s.required[%d]", field, i), "%q is not in properties", truncate(r, 40))
		}
	}
	for _, v := range vars {
		if _, ok := s.Properties[v]; !ok {
			return invalid("template", "placeholder {{%s}} is not a property of input_schema", v)
		}
	}
	return nil
}

// jsonReason names the problem of a JSON decode error without Go type names.
func jsonReason(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("%s: want %s, got %s", te.Field, jsonKind(te.Type.Kind().String()), te.Value)
	}
	return "not valid JSON"
}

func jsonKind(k string) string {
	switch k {
	case "map", "struct":
		return "an object"
	case "slice":
		return "an array"
	}
	return "a " + k
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
