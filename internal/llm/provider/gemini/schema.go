package gemini

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
)

// Gemini's parameters and responseSchema take an OpenAPI 3.0 subset of JSON Schema and
// answer "Invalid JSON payload received. Unknown name ..." to anything else ($schema,
// additionalProperties, const, $ref...). SanitizeSchema rewrites a JSON Schema into that
// subset: it keeps the keywords Gemini knows, turns const into a one-value enum, type
// arrays into type + nullable, oneOf into anyOf, inlines local $refs and merges allOf.

// keptKeywords are the schema keywords Gemini accepts as they are.
var keptKeywords = map[string]bool{
	"type": true, "format": true, "title": true, "description": true, "nullable": true,
	"enum": true, "maxItems": true, "minItems": true, "required": true,
	"minProperties": true, "maxProperties": true, "minLength": true, "maxLength": true,
	"pattern": true, "example": true, "propertyOrdering": true, "default": true,
	"minimum": true, "maximum": true,
}

// keptFormats are the formats Gemini accepts; others ("uri", "email"...) are dropped.
var keptFormats = map[string]bool{"enum": true, "date-time": true, "int32": true, "int64": true, "float": true, "double": true}

// maxSchemaDepth bounds nesting and $ref expansion (recursive schemas).
const maxSchemaDepth = 32

// SanitizeSchema returns the schema in the subset Gemini accepts.
func SanitizeSchema(schema json.RawMessage) (json.RawMessage, error) {
	d := json.NewDecoder(bytes.NewReader(schema))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, errors.New("not valid JSON")
	}
	root, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("a schema must be a JSON object")
	}
	s := &sanitizer{root: root}
	out := s.schema(root, 0)
	return json.Marshal(out)
}

type sanitizer struct {
	root map[string]any
}

func (s *sanitizer) schema(in map[string]any, depth int) map[string]any {
	out := make(map[string]any, len(in))
	if depth > maxSchemaDepth {
		return out
	}
	if ref, ok := in["$ref"].(string); ok {
		if target := s.resolve(ref); target != nil {
			r := s.schema(target, depth+1)
			if d, ok := in["description"]; ok {
				r["description"] = d
			}
			return r
		}
		return out // an unresolvable reference: accept anything
	}
	if all, ok := in["allOf"].([]any); ok {
		in = mergeAllOf(in, all)
	}
	for k, v := range in {
		switch k {
		case "type":
			switch t := v.(type) {
			case string:
				out["type"] = t
			case []any: // ["string","null"] -> type string, nullable
				for _, e := range t {
					if e == "null" {
						out["nullable"] = true
					} else if str, ok := e.(string); ok && out["type"] == nil {
						out["type"] = str
					}
				}
			}
		case "const":
			out["enum"] = []any{v}
		case "enum":
			if _, ok := in["const"]; !ok {
				out["enum"] = v
			}
		case "format":
			if f, ok := v.(string); ok && keptFormats[f] {
				out["format"] = f
			}
		case "properties":
			props, ok := v.(map[string]any)
			if !ok {
				continue
			}
			np := make(map[string]any, len(props))
			for name, p := range props {
				if pm, ok := p.(map[string]any); ok {
					np[name] = s.schema(pm, depth+1)
				}
			}
			out["properties"] = np
		case "items":
			if im, ok := v.(map[string]any); ok {
				out["items"] = s.schema(im, depth+1)
			}
		case "anyOf", "oneOf":
			list, ok := v.([]any)
			if !ok {
				continue
			}
			var alts []any
			for _, e := range list {
				em, ok := e.(map[string]any)
				if !ok {
					continue
				}
				if em["type"] == "null" && len(em) == 1 {
					out["nullable"] = true
					continue
				}
				alts = append(alts, s.schema(em, depth+1))
			}
			switch len(alts) {
			case 0:
			case 1: // {anyOf:[X, null]} is a nullable X
				for ak, av := range alts[0].(map[string]any) {
					if _, set := out[ak]; !set {
						out[ak] = av
					}
				}
			default:
				out["anyOf"] = alts
			}
		case "exclusiveMinimum":
			if _, ok := in["minimum"]; !ok {
				if n, ok := v.(json.Number); ok {
					out["minimum"] = n
				}
			}
		case "exclusiveMaximum":
			if _, ok := in["maximum"]; !ok {
				if n, ok := v.(json.Number); ok {
					out["maximum"] = n
				}
			}
		default:
			if keptKeywords[k] {
				out[k] = v
			}
		}
	}
	// required may only name declared properties.
	if req, ok := out["required"].([]any); ok {
		props, _ := out["properties"].(map[string]any)
		kept := req[:0:0]
		for _, r := range req {
			if name, ok := r.(string); ok && props[name] != nil {
				kept = append(kept, name)
			}
		}
		if len(kept) == 0 {
			delete(out, "required")
		} else {
			out["required"] = kept
		}
	}
	// Gemini wants string enums; numbers and booleans are written as strings.
	if enum, ok := out["enum"].([]any); ok {
		strs := make([]any, 0, len(enum))
		for _, e := range enum {
			switch x := e.(type) {
			case string:
				strs = append(strs, x)
			case json.Number:
				strs = append(strs, x.String())
			case bool:
				if x {
					strs = append(strs, "true")
				} else {
					strs = append(strs, "false")
				}
			}
		}
		out["enum"] = strs
		out["type"] = "string" // Gemini takes enums of strings only
	}
	return out
}

// resolve follows a local reference (#/$defs/X, #/definitions/X, #).
func (s *sanitizer) resolve(ref string) map[string]any {
	if !strings.HasPrefix(ref, "#") {
		return nil
	}
	var cur any = s.root
	for _, tok := range strings.Split(strings.TrimPrefix(ref, "#"), "/") {
		if tok == "" {
			continue
		}
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[tok]
	}
	m, _ := cur.(map[string]any)
	return m
}

// mergeAllOf folds allOf members into the schema: properties and required are unioned,
// other keywords keep their first value.
func mergeAllOf(in map[string]any, all []any) map[string]any {
	out := make(map[string]any, len(in))
	for k, v := range in {
		if k != "allOf" {
			out[k] = v
		}
	}
	for _, e := range all {
		em, ok := e.(map[string]any)
		if !ok {
			continue
		}
		for k, v := range em {
			switch k {
			case "properties":
				props, _ := out["properties"].(map[string]any)
				np := make(map[string]any, len(props))
				for pk, pv := range props {
					np[pk] = pv
				}
				if vm, ok := v.(map[string]any); ok {
					for pk, pv := range vm {
						np[pk] = pv
					}
				}
				out["properties"] = np
			case "required":
				req, _ := out["required"].([]any)
				if vr, ok := v.([]any); ok {
					out["required"] = append(append([]any(nil), req...), vr...)
				}
			default:
				if _, set := out[k]; !set {
					out[k] = v
				}
			}
		}
	}
	if req, ok := out["required"].([]any); ok { // dedupe, stable
		seen := map[any]bool{}
		kept := req[:0:0]
		for _, r := range req {
			if !seen[r] {
				seen[r] = true
				kept = append(kept, r)
			}
		}
		out["required"] = kept
	}
	return out
}
