package transform

import (
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/pylon-gateway/pylon/internal/config"
	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
)

// ErrRequest: the client's request cannot be transformed (for example its metadata is
// not a JSON object); the gateway answers 400 with the message.
var ErrRequest = errors.New("transform: request cannot be transformed")

// Set is the compiled llm.transforms: immutable, safe for concurrent use.
type Set struct {
	rules []*rule
	now   func() time.Time
}

// Transform is the rules of a Set that apply to one call, in config order. A nil
// *Transform applies nothing.
type Transform struct {
	rules []*rule
	now   func() time.Time
}

// Option tunes New.
type Option func(*Set)

// WithClock sets the clock of {{date}} and {{datetime}} (default time.Now).
func WithClock(now func() time.Time) Option { return func(s *Set) { s.now = now } }

// rule is one compiled config.LLMTransform.
type rule struct {
	name      string
	models    []string // patterns; empty: any
	routes    []string // names; empty: any
	maxHeader int
	steps     []step
	body      []bodyOp
	reqAdd    []headerAdd
	reqDel    []string
	respAdd   []headerAdd
	respDel   []string
	self      *Transform // this rule alone, so that For allocates nothing when one rule applies
}

type headerAdd struct {
	name, value string
	append      bool
}

// New compiles the rules of llm.transforms. Errors name the config field
// ("llm.transforms[0].prompt[1].text: ...").
func New(cfg []config.LLMTransform, opts ...Option) (*Set, error) {
	s := &Set{now: time.Now}
	for _, o := range opts {
		o(s)
	}
	var errs []error
	for i := range cfg {
		r, err := compile(fmt.Sprintf("llm.transforms[%d]", i), &cfg[i])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		r.self = &Transform{rules: []*rule{r}, now: s.now}
		s.rules = append(s.rules, r)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return s, nil
}

// fieldErr names the config field of a problem.
func fieldErr(path, format string, args ...any) error {
	return fmt.Errorf("transform: %s: %s", path, fmt.Sprintf(format, args...))
}

func compile(p string, c *config.LLMTransform) (*rule, error) {
	r := &rule{name: c.Name, maxHeader: c.HeaderMaxBytes}
	if r.maxHeader == 0 {
		r.maxHeader = DefaultHeaderMaxBytes
	}
	if r.maxHeader < 0 {
		return nil, fieldErr(p+".header_max_bytes", "must not be negative")
	}
	if m := c.Match; m != nil {
		for i, pat := range m.Models {
			if pat == "" {
				return nil, fieldErr(fmt.Sprintf("%s.match.models[%d]", p, i), "must not be empty")
			}
		}
		for i, rt := range m.Routes {
			if rt == "" {
				return nil, fieldErr(fmt.Sprintf("%s.match.routes[%d]", p, i), "must not be empty")
			}
		}
		r.models = append([]string(nil), m.Models...)
		r.routes = append([]string(nil), m.Routes...)
	}
	for i := range c.Prompt {
		st, err := compileStep(fmt.Sprintf("%s.prompt[%d]", p, i), &c.Prompt[i], c.Vars)
		if err != nil {
			return nil, err
		}
		r.steps = append(r.steps, st)
	}
	if c.Body != nil {
		ops, err := compileBody(p+".body", c.Body)
		if err != nil {
			return nil, err
		}
		r.body = ops
	}
	var err error
	if r.reqAdd, r.reqDel, err = compileHeaders(p+".request_headers", c.RequestHeaders, config.LLMReservedRequestHeaders); err != nil {
		return nil, err
	}
	if r.respAdd, r.respDel, err = compileHeaders(p+".response_headers", c.ResponseHeaders, config.LLMReservedResponseHeaders); err != nil {
		return nil, err
	}
	return r, nil
}

func compileHeaders(p string, m *config.LLMHeaderMutations, reserved map[string]bool) (add []headerAdd, del []string, err error) {
	if m == nil {
		return nil, nil, nil
	}
	for i, h := range m.Add {
		if err := headerName(h.Name, reserved); err != nil {
			return nil, nil, fieldErr(fmt.Sprintf("%s.add[%d].name", p, i), "%v", err)
		}
		if h.Value == "" || !httpguts.ValidHeaderFieldValue(h.Value) {
			return nil, nil, fieldErr(fmt.Sprintf("%s.add[%d].value", p, i), "must be a non-empty header value without control characters")
		}
		add = append(add, headerAdd{name: textproto.CanonicalMIMEHeaderKey(h.Name), value: h.Value, append: h.Append == nil || *h.Append})
	}
	for i, n := range m.Remove {
		if err := headerName(n, reserved); err != nil {
			return nil, nil, fieldErr(fmt.Sprintf("%s.remove[%d]", p, i), "%v", err)
		}
		del = append(del, textproto.CanonicalMIMEHeaderKey(n))
	}
	return add, del, nil
}

// Len returns the number of rules.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.rules)
}

// For returns the rules that apply to a call on the named route ("" when unnamed) for the
// model the client asked for, or nil when none does. It allocates only when several rules
// apply.
func (s *Set) For(route, model string) *Transform {
	if s == nil {
		return nil
	}
	var first *rule
	var many []*rule
	for _, r := range s.rules {
		if !r.matches(route, model) {
			continue
		}
		switch {
		case first == nil:
			first = r
		case many == nil:
			many = []*rule{first, r}
		default:
			many = append(many, r)
		}
	}
	switch {
	case many != nil:
		return &Transform{rules: many, now: s.now}
	case first != nil:
		return first.self
	}
	return nil
}

func (r *rule) matches(route, model string) bool {
	if len(r.routes) > 0 {
		ok := false
		for _, n := range r.routes {
			if n == route {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if len(r.models) == 0 {
		return true
	}
	for _, pat := range r.models {
		if Glob(pat, model) {
			return true
		}
	}
	return false
}

// Names returns the names of the rules (for logs); unnamed rules are left out.
func (t *Transform) Names() []string {
	if t == nil {
		return nil
	}
	var n []string
	for _, r := range t.rules {
		if r.name != "" {
			n = append(n, r.name)
		}
	}
	return n
}

// Apply returns req transformed by the rules, in order: within a rule, the body mutations
// first, then the prompt steps. h is the client's request headers ({{header.NAME}}). req is
// never modified: the result is a new request sharing what did not change, with Raw cleared
// (an OpenAI upstream then gets the canonical fields, not the client's body). When nothing
// changes, req itself is returned. Errors wrap ErrRequest.
func (t *Transform) Apply(req *openai.ChatRequest, h http.Header) (*openai.ChatRequest, error) {
	if t == nil || req == nil {
		return req, nil
	}
	out := *req
	var ed editor
	ed.req = &out
	ed.orig = req.Messages
	e := env{h: h}
	for _, r := range t.rules {
		if len(r.body) > 0 {
			if err := applyBody(&ed, r.body); err != nil {
				if r.name != "" {
					return nil, fmt.Errorf("%w: rule %q: %v", ErrRequest, r.name, err)
				}
				return nil, fmt.Errorf("%w: %v", ErrRequest, err)
			}
		}
		if len(r.steps) > 0 {
			if e.now.IsZero() {
				e.now = t.now()
			}
			e.model = out.Model
			e.maxHeader = r.maxHeader
			for i := range r.steps {
				r.steps[i].apply(&ed, &e)
			}
		}
	}
	if !ed.changed {
		return req, nil
	}
	out.Raw = nil
	return &out, nil
}

// ApplyRequestHeaders applies the request header mutations to the headers of a request
// to the provider (removals first, then additions). Call it on every attempt, after the
// adapter built the request.
func (t *Transform) ApplyRequestHeaders(h http.Header) {
	if t == nil {
		return
	}
	for _, r := range t.rules {
		mutate(h, r.reqDel, r.reqAdd)
	}
}

// ApplyResponseHeaders applies the response header mutations to the client's answer
// (removals first, then additions). Call it before the status line is written.
func (t *Transform) ApplyResponseHeaders(h http.Header) {
	if t == nil {
		return
	}
	for _, r := range t.rules {
		mutate(h, r.respDel, r.respAdd)
	}
}

func mutate(h http.Header, del []string, add []headerAdd) {
	for _, n := range del {
		delete(h, n)
	}
	for _, a := range add {
		if a.append {
			h[a.name] = append(h[a.name], a.value)
		} else {
			h[a.name] = []string{a.value}
		}
	}
}

// Glob reports whether name matches pattern, where "*" matches any run of characters
// (also none) and every other character itself.
func Glob(pattern, name string) bool {
	// The classic linear matcher: on a mismatch, let the last star swallow one more byte.
	p, n := 0, 0
	star, mark := -1, 0
	for n < len(name) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, n
			p++
		case p < len(pattern) && pattern[p] == name[n]:
			p++
			n++
		case star >= 0:
			p = star + 1
			mark++
			n = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

func headerName(n string, reserved map[string]bool) error {
	switch {
	case !httpguts.ValidHeaderFieldName(n):
		return fmt.Errorf("invalid header name %q", n)
	case reserved[strings.ToLower(n)]:
		return fmt.Errorf("header %q cannot be changed by a transform", n)
	}
	return nil
}
