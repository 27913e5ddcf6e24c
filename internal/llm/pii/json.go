package pii

import (
	"encoding/json"
	"strings"
)

// RedactJSON redacts inside the values of a JSON text (tool-call arguments, a JSON tool
// result) without breaking it: each string value is decoded, redacted and re-encoded;
// a number holding PII (a card or phone number written as a JSON number) becomes a string
// of its redaction; object keys, structure and spacing are kept byte for byte. Text that is
// not valid JSON is redacted as plain text.
func (r *Redactor) RedactJSON(text string, v *Vault) (string, Counts) {
	var c Counts
	out := r.redactJSON(text, v, &c)
	return out, c
}

func (r *Redactor) redactJSON(text string, v *Vault, c *Counts) string {
	if !json.Valid([]byte(text)) {
		return r.redact(text, v, c)
	}
	var b []byte // nil until something changes
	last := 0
	key := "" // the key of the value that comes next, raw
	for i := 0; i < len(text); {
		ch := text[i]
		switch {
		case ch == '"':
			j := stringEnd(text, i)
			lit := text[i:j]
			k := j
			for k < len(text) && (text[k] == ' ' || text[k] == '\t' || text[k] == '\n' || text[k] == '\r') {
				k++
			}
			if k < len(text) && text[k] == ':' { // an object key
				key = lit[1 : len(lit)-1]
				i = j
				continue
			}
			var val string
			if strings.IndexByte(lit, '\\') < 0 {
				val = lit[1 : len(lit)-1]
			} else if json.Unmarshal([]byte(lit), &val) != nil {
				i = j
				continue
			}
			var red string
			if key != "" && endsWithSecretWord(key) {
				// Give the key as context: "api_key": "..." is a secret assignment.
				red = r.redactAfter(key+": ", val, v, c)
			} else {
				red = r.redact(val, v, c)
			}
			key = ""
			if red != val {
				b = append(b, text[last:i]...)
				b = append(b, '"')
				b = appendJSONEscaped(b, red)
				b = append(b, '"')
				last = j
			}
			i = j
		case ch == '-' || isDigit(ch):
			j := i + 1
			for j < len(text) && strings.IndexByte("0123456789+-.eE", text[j]) >= 0 {
				j++
			}
			if num := text[i:j]; j-i >= 7 {
				if red := r.redact(num, v, c); red != num {
					b = append(b, text[last:i]...)
					b = append(b, '"')
					b = appendJSONEscaped(b, red)
					b = append(b, '"')
					last = j
				}
			}
			i = j
		default:
			if ch == ',' || ch == '[' || ch == '{' {
				key = ""
			}
			i++
		}
	}
	if b == nil {
		return text
	}
	return string(append(b, text[last:]...))
}

// stringEnd returns the index just past the JSON string literal starting at s[i] == '"'.
func stringEnd(s string, i int) int {
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(s)
}

// redactAfter redacts text as it reads after prefix (context for the detectors), and
// returns the redacted text without the prefix.
func (r *Redactor) redactAfter(prefix, text string, v *Vault, c *Counts) string {
	full := prefix + text
	ms := r.find(full, v != nil && r.anyToken)
	var b strings.Builder
	last := len(prefix)
	for _, m := range ms {
		if m.start < len(prefix) {
			continue
		}
		b.WriteString(full[last:m.start])
		b.WriteString(r.replacement(m.d, full[m.start:m.end], v))
		last = m.end
		if m.d != r.escape {
			if *c == nil {
				*c = Counts{}
			}
			(*c)[m.d.name]++
		}
	}
	if last == len(prefix) {
		return text
	}
	b.WriteString(full[last:])
	return b.String()
}
