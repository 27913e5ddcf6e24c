package transform

import (
	"fmt"
	"net/http"
	"net/textproto"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/http/httpguts"
)

// DefaultHeaderMaxBytes bounds a header value put into a prompt.
const DefaultHeaderMaxBytes = 256

type segKind uint8

const (
	segLit segKind = iota
	segModel
	segDate
	segDateTime
	segInput
	segVar
	segHeader
)

// segment is a literal or a placeholder of a template.
type segment struct {
	kind segKind
	text string // segLit: the text; segVar: the value; segHeader: the canonical name
	def  string // segHeader: the default when the header is absent or empty
}

// tmpl is a compiled template. Rendering is one pass over the segments: a value is never
// parsed as a template, so a header holding "{{var.x}}" stays that literal text.
type tmpl struct {
	segs  []segment
	size  int  // the literal bytes, to size the output
	input bool // holds {{input}}
}

// env is what a template draws its values from.
type env struct {
	model     string
	h         http.Header
	now       time.Time
	input     string
	maxHeader int
}

// parseTemplate compiles s. input allows {{input}}. The rules are those of
// config.checkTemplate, which validates the same text; a test checks that they agree.
func parseTemplate(s string, vars map[string]string, input bool) (*tmpl, error) {
	t := &tmpl{}
	lit := func(x string) {
		if x != "" {
			t.segs = append(t.segs, segment{kind: segLit, text: x})
			t.size += len(x)
		}
	}
	for {
		i := strings.Index(s, "{{")
		if i < 0 {
			lit(s)
			return t, nil
		}
		j := strings.Index(s[i+2:], "}}")
		if j < 0 {
			end := min(len(s), i+20)
			return nil, fmt.Errorf("unclosed {{ at %q", s[i:end])
		}
		lit(s[:i])
		name := strings.TrimSpace(s[i+2 : i+2+j])
		s = s[i+2+j+2:]
		switch {
		case name == "model":
			t.segs = append(t.segs, segment{kind: segModel})
		case name == "date":
			t.segs = append(t.segs, segment{kind: segDate})
		case name == "datetime":
			t.segs = append(t.segs, segment{kind: segDateTime})
		case name == "input":
			if !input {
				return nil, fmt.Errorf("{{input}} is only known in a user_template")
			}
			t.input = true
			t.segs = append(t.segs, segment{kind: segInput})
		case strings.HasPrefix(name, "var."):
			v, ok := vars[name[4:]]
			if !ok {
				return nil, fmt.Errorf("{{%s}}: no variable %q in vars", name, name[4:])
			}
			lit(v) // a variable is a constant of the rule: folded in
		case strings.HasPrefix(name, "header."):
			h, def, _ := strings.Cut(name[7:], "|")
			h = strings.TrimSpace(h)
			if !httpguts.ValidHeaderFieldName(h) {
				return nil, fmt.Errorf("{{%s}}: invalid header name %q", name, h)
			}
			t.segs = append(t.segs, segment{kind: segHeader, text: textproto.CanonicalMIMEHeaderKey(h), def: strings.TrimSpace(def)})
		default:
			return nil, fmt.Errorf("unknown placeholder {{%s}}: want model, date, datetime, var.NAME, header.NAME or header.NAME|default", name)
		}
	}
}

// render writes the template's text.
func (t *tmpl) render(e *env) string {
	if len(t.segs) == 1 && t.segs[0].kind == segLit {
		return t.segs[0].text
	}
	var b strings.Builder
	b.Grow(t.size + len(e.input) + 16)
	for i := range t.segs {
		sg := &t.segs[i]
		switch sg.kind {
		case segLit:
			b.WriteString(sg.text)
		case segModel:
			b.WriteString(e.model)
		case segDate:
			b.WriteString(e.now.UTC().Format(time.DateOnly))
		case segDateTime:
			b.WriteString(e.now.UTC().Format(time.RFC3339))
		case segInput:
			b.WriteString(e.input)
		case segHeader:
			v := headerText(e.h[sg.text], e.maxHeader)
			if v == "" {
				v = sg.def
			}
			b.WriteString(v)
		}
	}
	return b.String()
}

// headerText makes header values safe to put into a prompt: the values, joined by ", ",
// become one line of printable text at most maxBytes long. Invalid UTF-8 becomes U+FFFD;
// control characters (C0, DEL, C1), line and paragraph separators and bidi controls become
// spaces; runs of white space collapse to one space; the ends are trimmed. The text can
// thus neither start a new line (a fake "System:" turn) nor reorder what follows it.
func headerText(vals []string, maxBytes int) string {
	if len(vals) == 0 {
		return ""
	}
	if maxBytes <= 0 {
		maxBytes = DefaultHeaderMaxBytes
	}
	if len(vals) == 1 && plain(vals[0]) && len(vals[0]) <= maxBytes {
		return vals[0] // the common case: nothing to clean, no allocation
	}
	var b strings.Builder
	space := false
	for k, v := range vals {
		if k > 0 {
			b.WriteString(",")
			space = true
		}
		for _, r := range v { // invalid UTF-8 decodes as utf8.RuneError (U+FFFD)
			if unicode.IsSpace(r) || unsafeRune(r) {
				space = true
				continue
			}
			if space && b.Len() > 0 {
				if b.Len()+1 > maxBytes {
					return b.String()
				}
				b.WriteByte(' ')
			}
			space = false
			if b.Len()+utf8.RuneLen(r) > maxBytes {
				return b.String()
			}
			b.WriteRune(r)
		}
	}
	return b.String()
}

// plain reports whether s is printable ASCII without leading, trailing or double spaces.
func plain(s string) bool {
	if s == "" || s[0] == ' ' || s[len(s)-1] == ' ' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || (c == ' ' && s[i-1] == ' ') {
			return false
		}
	}
	return true
}

// unsafeRune reports control and format characters that could change how the text around
// a value reads: C0/C1 controls, U+2028/U+2029, bidi embeddings, overrides and isolates.
func unsafeRune(r rune) bool {
	switch {
	case r < 0x20 || (r >= 0x7f && r <= 0x9f):
		return true
	case r == 0x2028 || r == 0x2029:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f, r == 0x061c:
		return true
	}
	return false
}
