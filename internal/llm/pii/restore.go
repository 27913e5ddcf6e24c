package pii

import (
	"slices"
	"strings"

	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
)

// Restore returns text with every token of the vault replaced by its original. Text that
// merely looks like a token but is not in the vault is left as it is.
func Restore(text string, v *Vault) string {
	if v.Len() == 0 || !strings.Contains(text, TokenOpen) {
		return text
	}
	b, changed := restoreAppend(nil, text, v, false)
	if !changed {
		return text
	}
	return string(b)
}

// RestoreJSON is Restore for JSON text such as tool-call arguments: the tokens are
// expected inside JSON strings, so each original is written JSON-escaped (a PEM key's
// newlines become \n) and the JSON stays valid. A token the model wrote with \u escapes
// is not recognised.
func RestoreJSON(text string, v *Vault) string {
	if v.Len() == 0 || !strings.Contains(text, TokenOpen) {
		return text
	}
	b, changed := restoreAppend(nil, text, v, true)
	if !changed {
		return text
	}
	return string(b)
}

// restoreAppend appends s to dst with the vault's tokens restored. Token-shaped strings
// cannot overlap (labels exclude the brackets), so one left-to-right scan finds them all.
func restoreAppend(dst []byte, s string, v *Vault, jsonEsc bool) ([]byte, bool) {
	changed := false
	last, i := 0, 0
	for {
		k := strings.Index(s[i:], TokenOpen)
		if k < 0 {
			break
		}
		start := i + k
		j := start + len(TokenOpen)
		for j < len(s) && isLabelByte(s[j]) {
			j++
		}
		if j > start+len(TokenOpen) && strings.HasPrefix(s[j:], TokenClose) {
			end := j + len(TokenClose)
			if orig, ok := v.Lookup(s[start:end]); ok {
				if !changed {
					dst = slices.Grow(dst, len(s)+len(orig))
				}
				dst = append(dst, s[last:start]...)
				if jsonEsc {
					dst = appendJSONEscaped(dst, orig)
				} else {
					dst = append(dst, orig...)
				}
				changed = true
				last, i = end, end
				continue
			}
		}
		i = start + len(TokenOpen)
	}
	if !changed {
		return append(dst, s...), false
	}
	return append(dst, s[last:]...), true
}

// Restorer restores tokens in a stream of text deltas (the content of a streamed reply).
// A token split across deltas at any byte is restored exactly: when, and only when, the
// tail of what it has could be the beginning of a token (an open bracket, or a part of
// one, followed by label bytes), it holds that tail back, never more than the vault's
// longest token minus one byte. Text without a token passes through at once. A Restorer is
// for one stream and is not safe for concurrent use.
type Restorer struct {
	v       *Vault
	jsonEsc bool
	pend    string
}

// NewRestorer returns a Restorer of plain text deltas.
func NewRestorer(v *Vault) *Restorer { return &Restorer{v: v} }

// NewJSONRestorer returns a Restorer of JSON text deltas (tool-call arguments): originals
// are written JSON-escaped, as in RestoreJSON.
func NewJSONRestorer(v *Vault) *Restorer { return &Restorer{v: v, jsonEsc: true} }

// Write takes the next delta and returns the text that can be released now.
func (r *Restorer) Write(delta string) string {
	if r.pend == "" && strings.IndexByte(delta, 0xE2) < 0 { // 0xE2 leads both brackets
		return delta
	}
	maxLen := r.v.MaxTokenLen()
	if maxLen == 0 {
		out := r.pend + delta
		r.pend = ""
		return out
	}
	s := r.pend + delta
	h := holdPoint(s, maxLen)
	out := s[:h]
	if h < len(s) {
		r.pend = strings.Clone(s[h:])
	} else {
		r.pend = ""
	}
	if !strings.Contains(out, TokenOpen) {
		return out
	}
	b, changed := restoreAppend(nil, out, r.v, r.jsonEsc)
	if !changed {
		return out
	}
	return string(b)
}

// Flush returns what is held back, restored; call it at the end of the stream.
func (r *Restorer) Flush() string {
	s := r.pend
	r.pend = ""
	if s == "" {
		return ""
	}
	b, _ := restoreAppend(nil, s, r.v, r.jsonEsc)
	return string(b)
}

// Pending returns the number of bytes held back.
func (r *Restorer) Pending() int { return len(r.pend) }

// holdPoint returns where the possible beginning of a token starts in s (len(s) when the
// tail cannot begin a token). A proper prefix of a token of at most maxLen bytes is
// shorter than maxLen.
func holdPoint(s string, maxLen int) int {
	if k := strings.LastIndex(s, TokenOpen); k >= 0 && len(s)-k < maxLen && isTokenPrefix(s[k:]) {
		return k
	}
	// A part of an open bracket at the very end.
	for n := len(TokenOpen) - 1; n > 0; n-- {
		if n < maxLen && strings.HasSuffix(s, TokenOpen[:n]) {
			return len(s) - n
		}
	}
	return len(s)
}

// isTokenPrefix reports whether t, which starts with an open bracket, is a proper prefix
// of a token-shaped string: label bytes, then nothing or a part of the close bracket.
func isTokenPrefix(t string) bool {
	i := len(TokenOpen)
	for i < len(t) && isLabelByte(t[i]) {
		i++
	}
	rest := t[i:]
	return len(rest) < len(TokenClose) && strings.HasPrefix(TokenClose, rest)
}

// ToolArgsRestorer restores tokens in the argument deltas of streamed tool calls, one
// JSON Restorer per tool-call index.
type ToolArgsRestorer struct {
	v  *Vault
	rs map[int]*Restorer
}

// NewToolArgsRestorer returns a ToolArgsRestorer.
func NewToolArgsRestorer(v *Vault) *ToolArgsRestorer {
	return &ToolArgsRestorer{v: v}
}

// Write takes the next argument delta of the tool call at index.
func (t *ToolArgsRestorer) Write(index int, delta string) string {
	r := t.rs[index]
	if r == nil {
		if strings.IndexByte(delta, 0xE2) < 0 {
			return delta
		}
		if t.rs == nil {
			t.rs = map[int]*Restorer{}
		}
		r = NewJSONRestorer(t.v)
		t.rs[index] = r
	}
	return r.Write(delta)
}

// Flush returns what is held back for the tool call at index.
func (t *ToolArgsRestorer) Flush(index int) string {
	if r := t.rs[index]; r != nil {
		return r.Flush()
	}
	return ""
}

// FlushAll returns what is held back for every tool call, as argument deltas ordered by
// index (nil when nothing is held).
func (t *ToolArgsRestorer) FlushAll() []openai.ToolCallDelta {
	var out []openai.ToolCallDelta
	for i, r := range t.rs {
		if s := r.Flush(); s != "" {
			out = append(out, openai.ToolCallDelta{Index: i, Function: openai.FunctionCallDelta{Arguments: s}})
		}
	}
	slices.SortFunc(out, func(a, b openai.ToolCallDelta) int { return a.Index - b.Index })
	return out
}

// appendJSONEscaped appends s escaped for the inside of a JSON string.
func appendJSONEscaped(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
