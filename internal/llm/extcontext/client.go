package extcontext

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/net/http/httpguts"

	"github.com/pylon-gateway/pylon/internal/config"
	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
)

// Reasons a Result holds no context, for metrics and logs.
const (
	ReasonNoKey       = "no_key"      // the call has no key (no session, user or header): no lookup
	ReasonBadKey      = "bad_key"     // the key is longer than MaxKeyBytes or holds control characters: no lookup
	ReasonNotFound    = "not_found"   // the service answered 404: no context for the key (cached)
	ReasonEmpty       = "empty"       // the service answered an empty context or 204 (cached)
	ReasonTimeout     = "timeout"     // failure: no answer within the timeout
	ReasonUnreachable = "unreachable" // failure: connection or transport error
	ReasonBadStatus   = "bad_status"  // failure: a status other than 200, 204 and 404
	ReasonBadBody     = "bad_body"    // failure: the body is too large, not UTF-8, or not {"context": "..."}
	ReasonCanceled    = "canceled"    // the caller's context ended first
)

// MaxKeyBytes bounds a lookup key.
const MaxKeyBytes = 1024

// maxMessageBytes bounds the last user message sent in a POST lookup.
const maxMessageBytes = 32 << 10

// ErrUnavailable is wrapped by every *Error: the context service failed and the
// configuration says to refuse the call.
var ErrUnavailable = errors.New("extcontext: context service unavailable")

// Error is a refused call (on_failure: refuse). The message is safe for clients.
type Error struct {
	Reason string // ReasonTimeout, ReasonUnreachable, ReasonBadStatus, ReasonBadBody, ReasonCanceled
	Detail string
}

func (e *Error) Error() string { return "context service: " + e.Detail }

// Unwrap returns ErrUnavailable.
func (e *Error) Unwrap() error { return ErrUnavailable }

// Status is the HTTP status the client should get: 503 when the service could not be
// reached in time, 502 when it answered wrongly.
func (e *Error) Status() int {
	switch e.Reason {
	case ReasonBadStatus, ReasonBadBody:
		return http.StatusBadGateway
	}
	return http.StatusServiceUnavailable
}

// Result is the outcome of a lookup.
type Result struct {
	// Context is the service's answer, trimmed; "" when there is none.
	Context string
	// Cached reports that the answer came from the cache (or from a concurrent lookup).
	Cached bool
	// Reason says why Context is empty ("" when it is not).
	Reason string
}

// Failed reports whether the lookup failed (as opposed to finding no context).
func (r Result) Failed() bool {
	switch r.Reason {
	case ReasonTimeout, ReasonUnreachable, ReasonBadStatus, ReasonBadBody, ReasonCanceled:
		return true
	}
	return false
}

type keySource uint8

const (
	keySession keySource = iota
	keyUser
	keyHeader
)

// Client asks the context service; immutable after New and safe for concurrent use.
type Client struct {
	url          *url.URL
	post         bool
	keyFrom      keySource
	keyHeader    string // canonical
	timeout      time.Duration
	ttl          time.Duration // 0: no cache
	maxBytes     int64
	injectHeader string // canonical; "" injects a system message
	before       string // the template around {{context}}
	after        string
	refuse       bool
	forward      []string // canonical
	auth         string   // "Bearer ..." or ""
	models       []string
	routes       []string

	http   *http.Client
	now    func() time.Time
	cache  *lru
	flight flight
}

// Option tunes New.
type Option func(*Client)

// WithHTTPClient sets the HTTP client of the lookups (default: a client of its own, with
// no timeout of its own: each lookup has one).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// WithClock sets the clock of the cache (default time.Now).
func WithClock(now func() time.Time) Option { return func(c *Client) { c.now = now } }

func fieldErr(field, format string, args ...any) error {
	return fmt.Errorf("extcontext: llm.context.%s: %s", field, fmt.Sprintf(format, args...))
}

// New builds the client of llm.context, with config defaults for unset fields. Errors
// name the config field. New has no side effects: the first lookup opens connections.
func New(cfg *config.LLMContext, opts ...Option) (*Client, error) {
	if cfg == nil {
		return nil, errors.New("extcontext: no llm.context")
	}
	x := *cfg
	x.ForwardHeaders = append([]string(nil), cfg.ForwardHeaders...)
	if x.TTL != nil {
		ttl := *x.TTL
		x.TTL = &ttl
	}
	withDefaults(&x)
	c := &Client{timeout: x.Timeout.D(), ttl: x.TTL.D(), maxBytes: x.MaxBytes, now: time.Now}
	u, err := url.Parse(x.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fieldErr("url", "must be an http:// or https:// URL, got %q", x.URL)
	}
	c.url = u
	switch x.Method {
	case "GET":
	case "POST":
		c.post = true
	default:
		return nil, fieldErr("method", "must be GET or POST, got %q", x.Method)
	}
	switch {
	case x.KeyFrom == "session":
		c.keyFrom = keySession
	case x.KeyFrom == "user":
		c.keyFrom = keyUser
	case strings.HasPrefix(x.KeyFrom, "header:") && httpguts.ValidHeaderFieldName(x.KeyFrom[7:]):
		c.keyFrom, c.keyHeader = keyHeader, textproto.CanonicalMIMEHeaderKey(x.KeyFrom[7:])
	default:
		return nil, fieldErr("key_from", "must be session, user or header:NAME, got %q", x.KeyFrom)
	}
	switch {
	case x.Inject == "system":
	case strings.HasPrefix(x.Inject, "header:") && httpguts.ValidHeaderFieldName(x.Inject[7:]) &&
		!config.LLMReservedRequestHeaders[strings.ToLower(x.Inject[7:])]:
		c.injectHeader = textproto.CanonicalMIMEHeaderKey(x.Inject[7:])
	default:
		return nil, fieldErr("inject", "must be system or header:NAME (not a reserved header), got %q", x.Inject)
	}
	var ok bool
	if c.before, c.after, ok = strings.Cut(x.Template, "{{context}}"); !ok {
		return nil, fieldErr("template", "must hold {{context}}")
	}
	switch x.OnFailure {
	case "continue":
	case "refuse":
		c.refuse = true
	default:
		return nil, fieldErr("on_failure", "must be continue or refuse, got %q", x.OnFailure)
	}
	if c.timeout < 0 || c.ttl < 0 || x.MaxEntries < 0 || x.CacheBytes < 0 || x.MaxBytes < 0 {
		return nil, fieldErr("timeout", "timeout, ttl, max_entries, cache_bytes and max_bytes must not be negative")
	}
	for i, h := range x.ForwardHeaders {
		if !httpguts.ValidHeaderFieldName(h) {
			return nil, fieldErr(fmt.Sprintf("forward_headers[%d]", i), "invalid header name %q", h)
		}
		c.forward = append(c.forward, textproto.CanonicalMIMEHeaderKey(h))
	}
	if x.APIKey != nil {
		k, err := x.APIKey.Resolve()
		if err != nil {
			return nil, fieldErr("api_key", "%v", err)
		}
		c.auth = "Bearer " + k
	}
	if m := x.Match; m != nil {
		c.models = append([]string(nil), m.Models...)
		c.routes = append([]string(nil), m.Routes...)
	}
	c.cache = newLRU(x.MaxEntries, x.CacheBytes)
	for _, o := range opts {
		o(c)
	}
	if c.http == nil {
		c.http = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	return c, nil
}

// withDefaults mirrors the defaults config.Load applies, for configs built in code.
func withDefaults(x *config.LLMContext) {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&x.Method, "GET")
	def(&x.KeyFrom, "session")
	def(&x.Inject, "system")
	def(&x.Template, config.DefaultContextTemplate)
	def(&x.OnFailure, "continue")
	if x.Timeout == 0 {
		x.Timeout = config.Duration(config.DefaultContextTimeout)
	}
	if x.TTL == nil {
		d := config.Duration(config.DefaultContextTTL)
		x.TTL = &d
	}
	if x.MaxEntries == 0 {
		x.MaxEntries = config.DefaultContextMaxEntries
	}
	if x.CacheBytes == 0 {
		x.CacheBytes = config.DefaultContextCacheBytes
	}
	if x.MaxBytes == 0 {
		x.MaxBytes = config.DefaultContextMaxBytes
	}
}

// Matches reports whether calls on the route (its name) for the model the client asked for
// get context (llm.context.match).
func (c *Client) Matches(route, model string) bool {
	if len(c.routes) > 0 {
		ok := false
		for _, r := range c.routes {
			ok = ok || r == route
		}
		if !ok {
			return false
		}
	}
	if len(c.models) == 0 {
		return true
	}
	for _, p := range c.models {
		if glob(p, model) {
			return true
		}
	}
	return false
}

// key returns the call's lookup key.
func (c *Client) key(r *http.Request, req *openai.ChatRequest, sessionID string) string {
	switch c.keyFrom {
	case keySession:
		return sessionID
	case keyUser:
		if req != nil {
			return req.User
		}
		return ""
	}
	if r == nil {
		return ""
	}
	return strings.TrimSpace(r.Header.Get(c.keyHeader))
}

func validKey(k string) bool {
	if len(k) > MaxKeyBytes || !utf8.ValidString(k) {
		return false
	}
	for _, ch := range k {
		if ch < 0x20 || ch == 0x7f {
			return false
		}
	}
	return true
}

// cacheKey hashes what the answer depends on: the key's source, the key and the forwarded
// headers (a service that authorizes by them may answer each caller differently).
func (c *Client) cacheKey(key string, r *http.Request) cacheKey {
	h := sha256.New()
	fmt.Fprintf(h, "%d\x00%d:%s", c.keyFrom, len(key), key)
	for _, name := range c.forward {
		var vals []string
		if r != nil {
			vals = r.Header[name]
		}
		fmt.Fprintf(h, "\x00%s=%d", name, len(vals))
		for _, v := range vals {
			fmt.Fprintf(h, "\x00%d:%s", len(v), v)
		}
	}
	var k cacheKey
	h.Sum(k[:0])
	return k
}

// Fetch returns the context of a call: from the cache, or from the service within the
// timeout. r is the client's request (headers: the key, the forwarded headers); req the
// canonical request (its user field and model, its last user message for POST); sessionID
// the call's session id ("" without one; with several tenants, pass it scoped, e.g.
// "tenant:session", so that tenants never share a key).
//
// With on_failure: continue, err is nil and a failure shows as an empty Result whose
// Reason says why. With refuse, a failure is an *Error (wrapping ErrUnavailable). A call
// without a key is not a failure: the Result is empty with ReasonNoKey.
func (c *Client) Fetch(ctx context.Context, r *http.Request, req *openai.ChatRequest, sessionID string) (Result, error) {
	key := c.key(r, req, sessionID)
	if key == "" {
		return Result{Reason: ReasonNoKey}, nil
	}
	if !validKey(key) {
		return Result{Reason: ReasonBadKey}, nil
	}
	ck := c.cacheKey(key, r)
	if c.ttl > 0 {
		if e, ok := c.cache.get(ck, c.now()); ok {
			return Result{Context: e.context, Cached: true, Reason: e.reason}, nil
		}
	}
	res, shared, err := c.flight.do(ctx, ck, func() (Result, error) {
		// The lookup outlives a caller that gives up (others may wait for it), not the timeout.
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
		defer cancel()
		hreq, err := c.newRequest(lctx, key, r, req)
		if err != nil {
			return Result{Reason: ReasonUnreachable}, err
		}
		res, detail := c.lookup(lctx, hreq)
		if res.Failed() {
			return res, errors.New(detail)
		}
		if c.ttl > 0 {
			c.cache.put(entry{key: ck, context: res.Context, reason: res.Reason, expires: c.now().Add(c.ttl)})
		}
		return res, nil
	})
	if shared {
		res.Cached = true
	}
	if err != nil {
		if res.Reason == ReasonCanceled {
			return c.fail(res, "the call was canceled while waiting for context")
		}
		return c.fail(res, err.Error())
	}
	return res, nil
}

func (c *Client) fail(res Result, detail string) (Result, error) {
	res.Context = ""
	if !c.refuse {
		return res, nil
	}
	return res, &Error{Reason: res.Reason, Detail: detail}
}

func (c *Client) newRequest(ctx context.Context, key string, r *http.Request, req *openai.ChatRequest) (*http.Request, error) {
	u := *c.url
	var body io.Reader
	if c.post {
		var msg string
		if req != nil {
			for i := len(req.Messages) - 1; i >= 0; i-- {
				if req.Messages[i].Role == "user" {
					msg = req.Messages[i].Content.String()
					break
				}
			}
		}
		if len(msg) > maxMessageBytes {
			msg = strings.ToValidUTF8(msg[:maxMessageBytes], "")
		}
		var model string
		if req != nil {
			model = req.Model
		}
		b, err := json.Marshal(struct {
			Key             string `json:"key"`
			Model           string `json:"model"`
			LastUserMessage string `json:"last_user_message"`
		}{key, model, msg})
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	} else {
		q := u.Query()
		q.Set("key", key)
		u.RawQuery = q.Encode()
	}
	method := http.MethodGet
	if c.post {
		method = http.MethodPost
	}
	hreq, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, err
	}
	if r != nil {
		for _, name := range c.forward {
			if vals := r.Header[name]; len(vals) > 0 && !(name == "Authorization" && c.auth != "") {
				hreq.Header[name] = append([]string(nil), vals...)
			}
		}
	}
	if c.post {
		hreq.Header.Set("Content-Type", "application/json")
	}
	hreq.Header.Set("Accept", "application/json, text/plain")
	hreq.Header.Set("User-Agent", "pylon-extcontext")
	if c.auth != "" {
		hreq.Header.Set("Authorization", c.auth)
	}
	return hreq, nil
}

// lookup asks the service; detail explains a failure.
func (c *Client) lookup(ctx context.Context, hreq *http.Request) (res Result, detail string) {
	timedOut := func(err error) (Result, string) {
		if errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
			return Result{Reason: ReasonTimeout}, fmt.Sprintf("no answer within %v", c.timeout)
		}
		return Result{Reason: ReasonUnreachable}, "the service is unreachable"
	}
	resp, err := c.http.Do(hreq)
	if err != nil {
		return timedOut(err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return Result{Reason: ReasonNotFound}, ""
	case http.StatusNoContent:
		return Result{Reason: ReasonEmpty}, ""
	default:
		return Result{Reason: ReasonBadStatus}, fmt.Sprintf("the service answered %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBytes+1))
	if err != nil {
		return timedOut(err)
	}
	if int64(len(body)) > c.maxBytes {
		return Result{Reason: ReasonBadBody}, fmt.Sprintf("the answer is larger than %d bytes", c.maxBytes)
	}
	var text string
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch {
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		var doc struct {
			Context *string `json:"context"`
		}
		if err := json.Unmarshal(body, &doc); err != nil {
			return Result{Reason: ReasonBadBody}, `the answer is not JSON {"context": "..."}`
		}
		if doc.Context != nil {
			text = *doc.Context
		}
	case mt == "text/plain" || mt == "":
		if !utf8.Valid(body) {
			return Result{Reason: ReasonBadBody}, "the answer is not UTF-8 text"
		}
		text = string(body)
	default:
		return Result{Reason: ReasonBadBody}, fmt.Sprintf("the answer's content type %q is neither JSON nor text", mt)
	}
	if text = strings.TrimSpace(text); text == "" {
		return Result{Reason: ReasonEmpty}, ""
	}
	return Result{Context: text}, ""
}

// Inject returns req with the context of res: a new request with a system message after
// the leading system (and developer) messages and Raw cleared; or, with inject:
// header:NAME, req itself and the header to add to every upstream attempt (the context on
// one line: control characters become spaces). An empty res changes nothing (nil header).
// req is never modified.
func (c *Client) Inject(req *openai.ChatRequest, res Result) (*openai.ChatRequest, http.Header) {
	if res.Context == "" || req == nil {
		return req, nil
	}
	if c.injectHeader != "" {
		return req, http.Header{c.injectHeader: {oneLine(res.Context)}}
	}
	out := *req
	n := 0
	for n < len(req.Messages) && (req.Messages[n].Role == "system" || req.Messages[n].Role == "developer") {
		n++
	}
	ms := make([]openai.Message, 0, len(req.Messages)+1)
	ms = append(ms, req.Messages[:n]...)
	ms = append(ms, openai.Message{Role: "system", Content: openai.TextContent(c.before + res.Context + c.after)})
	out.Messages = append(ms, req.Messages[n:]...)
	out.Raw = nil
	return &out, nil
}

// oneLine makes text a valid header value: control characters (tab aside) become spaces.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if (r < 0x20 && r != '\t') || r == 0x7f || r == 0x2028 || r == 0x2029 || (r >= 0x80 && r <= 0x9f) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
}

// glob reports whether name matches pattern, "*" matching any run of characters (the
// rule of llm.transforms' match.models).
func glob(pattern, name string) bool {
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
