package extcontext

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pylon-gateway/pylon/internal/config"
	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// service is a fake context service: it answers "ctx-for-KEY" as JSON and counts calls.
type service struct {
	*httptest.Server
	calls   atomic.Int64
	handler atomic.Pointer[http.HandlerFunc]
	last    atomic.Pointer[http.Request]
	body    atomic.Pointer[string]
}

func newService(t testing.TB) *service {
	s := &service{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.calls.Add(1)
		b, _ := io.ReadAll(r.Body)
		body := string(b)
		s.body.Store(&body)
		s.last.Store(r.Clone(context.Background()))
		if h := s.handler.Load(); h != nil {
			(*h)(w, r)
			return
		}
		key := r.URL.Query().Get("key")
		if r.Method == http.MethodPost {
			var in struct{ Key string }
			_ = json.Unmarshal(b, &in)
			key = in.Key
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"context": "ctx-for-" + key})
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *service) handle(h http.HandlerFunc) { s.handler.Store(&h) }

func newClient(t *testing.T, cfg config.LLMContext, opts ...Option) *Client {
	t.Helper()
	c, err := New(&cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func chat(user string) *openai.ChatRequest {
	return &openai.ChatRequest{Model: "gpt-4o", User: user, Raw: []byte(`{}`), Messages: []openai.Message{
		{Role: "system", Content: openai.TextContent("Be brief.")},
		{Role: "user", Content: openai.TextContent("first")},
		{Role: "assistant", Content: openai.TextContent("ok")},
		{Role: "user", Content: openai.TextContent("what is my plan?")},
	}}
}

func get(h http.Header) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", nil)
	for k, v := range h {
		r.Header[k] = v
	}
	return r
}

func TestFetchGET(t *testing.T) {
	svc := newService(t)
	c := newClient(t, config.LLMContext{URL: svc.URL + "/ctx?tenant=t1", KeyFrom: "header:X-User-Id",
		ForwardHeaders: []string{"x-tenant", "authorization"}, APIKey: &config.Secret{Value: "svc-key"}})
	r := get(http.Header{"X-User-Id": {" u 1 "}, "X-Tenant": {"acme"}, "Authorization": {"Bearer client"}, "X-Other": {"no"}})
	res, err := c.Fetch(context.Background(), r, chat(""), "")
	if err != nil || res.Context != "ctx-for-u 1" || res.Cached || res.Reason != "" {
		t.Fatalf("Fetch = %+v, %v", res, err)
	}
	last := svc.last.Load()
	if q := last.URL.Query(); q.Get("key") != "u 1" || q.Get("tenant") != "t1" || last.Method != "GET" {
		t.Errorf("request %s %s", last.Method, last.URL)
	}
	if last.Header.Get("X-Tenant") != "acme" || last.Header.Get("X-Other") != "" || last.Header.Get("Authorization") != "Bearer svc-key" {
		t.Errorf("headers %v: want X-Tenant forwarded, X-Other not, the api_key's Authorization", last.Header)
	}
}

func TestFetchPOST(t *testing.T) {
	svc := newService(t)
	svc.handle(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "  plan: gold\n")
	})
	c := newClient(t, config.LLMContext{URL: svc.URL, Method: "POST", KeyFrom: "user"})
	res, err := c.Fetch(context.Background(), get(nil), chat("u7"), "s1")
	if err != nil || res.Context != "plan: gold" {
		t.Fatalf("Fetch = %+v, %v", res, err)
	}
	var body map[string]string
	if err := json.Unmarshal([]byte(*svc.body.Load()), &body); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"key": "u7", "model": "gpt-4o", "last_user_message": "what is my plan?"}
	for k, v := range want {
		if body[k] != v {
			t.Errorf("body[%s] = %q, want %q", k, body[k], v)
		}
	}
	if ct := svc.last.Load().Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("content-type %q", ct)
	}
}

func TestNoKey(t *testing.T) {
	svc := newService(t)
	for _, tt := range []struct {
		from, session, user string
		h                   http.Header
		reason              string
	}{
		{"session", "", "u", nil, ReasonNoKey},
		{"user", "s", "", nil, ReasonNoKey},
		{"header:X-K", "s", "u", http.Header{"X-K": {"  "}}, ReasonNoKey},
		{"header:X-K", "", "", http.Header{"X-K": {strings.Repeat("k", MaxKeyBytes+1)}}, ReasonBadKey},
		{"session", "a\x01b", "", nil, ReasonBadKey},
	} {
		c := newClient(t, config.LLMContext{URL: svc.URL, KeyFrom: tt.from, OnFailure: "refuse"})
		res, err := c.Fetch(context.Background(), get(tt.h), chat(tt.user), tt.session)
		if err != nil || res.Reason != tt.reason || res.Context != "" || res.Failed() {
			t.Errorf("%s: Fetch = %+v, %v; want reason %s", tt.from, res, err, tt.reason)
		}
	}
	if n := svc.calls.Load(); n != 0 {
		t.Errorf("%d calls to the service, want none", n)
	}
}

// TestCache: a hit, a miss, TTL expiry on a fake clock, and keys that do not share.
func TestCache(t *testing.T) {
	svc := newService(t)
	clk := &fakeClock{t: time.Unix(1e9, 0)}
	ttl := config.Duration(time.Minute)
	c := newClient(t, config.LLMContext{URL: svc.URL, TTL: &ttl, ForwardHeaders: []string{"X-Tenant"}}, WithClock(clk.now))
	fetch := func(session, tenant string) Result {
		t.Helper()
		res, err := c.Fetch(context.Background(), get(http.Header{"X-Tenant": {tenant}}), chat(""), session)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if r := fetch("s1", "a"); r.Cached || r.Context != "ctx-for-s1" {
		t.Fatalf("first = %+v", r)
	}
	if r := fetch("s1", "a"); !r.Cached || r.Context != "ctx-for-s1" {
		t.Fatalf("second = %+v, want a hit", r)
	}
	if r := fetch("s2", "a"); r.Cached || r.Context != "ctx-for-s2" {
		t.Fatalf("other session = %+v, want its own context", r)
	}
	if r := fetch("s1", "b"); r.Cached {
		t.Fatalf("other forwarded header = %+v, want a miss", r)
	}
	if n := svc.calls.Load(); n != 3 {
		t.Fatalf("%d calls, want 3", n)
	}
	clk.add(59 * time.Second)
	if r := fetch("s1", "a"); !r.Cached {
		t.Fatal("expired before the TTL")
	}
	clk.add(time.Second)
	if r := fetch("s1", "a"); r.Cached {
		t.Fatal("served after the TTL")
	}
	if n := svc.calls.Load(); n != 4 {
		t.Fatalf("%d calls, want 4", n)
	}

	// ttl: 0 disables the cache.
	zero := config.Duration(0)
	nc := newClient(t, config.LLMContext{URL: svc.URL, TTL: &zero})
	for range 2 {
		if r, _ := nc.Fetch(context.Background(), get(nil), chat(""), "s"); r.Cached {
			t.Fatal("cached with ttl 0")
		}
	}
}

// TestTimeout: the lookup returns within the timeout plus a small slack.
func TestTimeout(t *testing.T) {
	svc := newService(t)
	release := make(chan struct{})
	defer close(release)
	svc.handle(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	for _, mode := range []string{"continue", "refuse"} {
		c := newClient(t, config.LLMContext{URL: svc.URL, Timeout: config.Duration(100 * time.Millisecond), OnFailure: mode})
		start := time.Now()
		res, err := c.Fetch(context.Background(), get(nil), chat(""), "s-"+mode)
		el := time.Since(start)
		if el < 100*time.Millisecond || el > 400*time.Millisecond {
			t.Errorf("%s: returned after %v, want about 100ms", mode, el)
		}
		if res.Reason != ReasonTimeout || res.Context != "" {
			t.Errorf("%s: result %+v", mode, res)
		}
		var xe *Error
		switch {
		case mode == "continue" && err != nil:
			t.Errorf("continue: err = %v", err)
		case mode == "refuse" && (!errors.As(err, &xe) || !errors.Is(err, ErrUnavailable) || xe.Status() != 503 ||
			err.Error() != "context service: no answer within 100ms"):
			t.Errorf("refuse: err = %v", err)
		}
	}
}

// TestFailures: each failure in both modes; failures are not cached, empty answers are.
func TestFailures(t *testing.T) {
	tests := []struct {
		name   string
		h      http.HandlerFunc
		reason string
		status int // under refuse; 0: not a failure
		detail string
	}{
		{"500", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }, ReasonBadStatus, 502, "the service answered 500"},
		{"503", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }, ReasonBadStatus, 502, "answered 503"},
		{"401", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(401) }, ReasonBadStatus, 502, "answered 401"},
		{"bad json", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"context": 3}`)
		}, ReasonBadBody, 502, `not JSON {"context": "..."}`},
		{"too large", func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, strings.Repeat("x", 101))
		}, ReasonBadBody, 502, "larger than 100 bytes"},
		{"html", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			_, _ = io.WriteString(w, "<p>")
		}, ReasonBadBody, 502, `content type "text/html"`},
		{"not utf-8", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, "a\xffb")
		}, ReasonBadBody, 502, "not UTF-8"},
		{"404 is no context", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(404) }, ReasonNotFound, 0, ""},
		{"204 is no context", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }, ReasonEmpty, 0, ""},
		{"null context", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/problem+json")
			_, _ = io.WriteString(w, `{"context": null}`)
		}, ReasonEmpty, 0, ""},
	}
	for _, tt := range tests {
		for _, mode := range []string{"continue", "refuse"} {
			t.Run(tt.name+"/"+mode, func(t *testing.T) {
				svc := newService(t)
				svc.handle(tt.h)
				c := newClient(t, config.LLMContext{URL: svc.URL, MaxBytes: 100, OnFailure: mode})
				for i := range 2 {
					res, err := c.Fetch(context.Background(), get(nil), chat(""), "s")
					if res.Reason != tt.reason || res.Context != "" || res.Failed() != (tt.status != 0) {
						t.Fatalf("result %+v, want reason %s", res, tt.reason)
					}
					var xe *Error
					if mode == "refuse" && tt.status != 0 {
						if !errors.As(err, &xe) || xe.Status() != tt.status || !strings.Contains(err.Error(), tt.detail) {
							t.Fatalf("err = %v, want status %d with %q", err, tt.status, tt.detail)
						}
					} else if err != nil {
						t.Fatalf("err = %v", err)
					}
					if i == 1 && res.Cached == (tt.status != 0) {
						t.Errorf("second lookup cached = %v", res.Cached)
					}
				}
			})
		}
	}
}

func TestUnreachable(t *testing.T) {
	svc := newService(t)
	url := svc.URL
	svc.Close()
	c := newClient(t, config.LLMContext{URL: url, OnFailure: "refuse"})
	res, err := c.Fetch(context.Background(), get(nil), chat(""), "s")
	var xe *Error
	if res.Reason != ReasonUnreachable || !errors.As(err, &xe) || xe.Status() != 503 {
		t.Fatalf("Fetch = %+v, %v", res, err)
	}
}

// TestCoalesce: concurrent lookups of one key make one call; other keys are not held up.
func TestCoalesce(t *testing.T) {
	svc := newService(t)
	release := make(chan struct{})
	var started atomic.Int64
	svc.handle(func(w http.ResponseWriter, r *http.Request) {
		started.Add(1)
		if r.URL.Query().Get("key") == "hot" {
			<-release
		}
		_, _ = io.WriteString(w, "ctx-"+r.URL.Query().Get("key"))
	})
	c := newClient(t, config.LLMContext{URL: svc.URL, Timeout: config.Duration(5 * time.Second)})
	const n = 20
	var wg sync.WaitGroup
	results := make([]Result, n)
	for i := range n {
		wg.Go(func() {
			res, err := c.Fetch(context.Background(), get(nil), chat(""), "hot")
			if err != nil {
				t.Error(err)
			}
			results[i] = res
		})
	}
	waitFor(t, func() bool {
		c.flight.mu.Lock()
		defer c.flight.mu.Unlock()
		cl := c.flight.m[c.cacheKey("hot", get(nil))]
		return cl != nil && cl.waiters == n-1
	})
	// A caller that gives up returns at once; the lookup goes on for the others.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if res, err := c.Fetch(ctx, get(nil), chat(""), "hot"); err != nil || res.Reason != ReasonCanceled {
		t.Errorf("canceled caller: %+v, %v", res, err)
	}
	if res, err := c.Fetch(context.Background(), get(nil), chat(""), "cold"); err != nil || res.Context != "ctx-cold" {
		t.Errorf("another key: %+v, %v", res, err)
	}
	close(release)
	wg.Wait()
	shared := 0
	for _, r := range results {
		if r.Context != "ctx-hot" {
			t.Fatalf("result %+v", r)
		}
		if r.Cached {
			shared++
		}
	}
	if got := started.Load(); got != 2 || shared != n-1 {
		t.Errorf("%d calls (want 2: hot and cold), %d shared results (want %d)", got, shared, n-1)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestBounded: the cache keeps at most max_entries and cache_bytes, least recent out.
func TestBounded(t *testing.T) {
	svc := newService(t)
	c := newClient(t, config.LLMContext{URL: svc.URL, MaxEntries: 3})
	for _, s := range []string{"a", "b", "c", "a", "d"} { // a is used again: b goes out
		if _, err := c.Fetch(context.Background(), get(nil), chat(""), s); err != nil {
			t.Fatal(err)
		}
	}
	if n := c.cache.len(); n != 3 {
		t.Fatalf("%d entries, want 3", n)
	}
	for s, cached := range map[string]bool{"a": true, "c": true, "d": true, "b": false} {
		if _, ok := c.cache.get(c.cacheKey(s, get(nil)), time.Now()); ok != cached {
			t.Errorf("%s cached = %v, want %v", s, ok, cached)
		}
	}
	bc := newClient(t, config.LLMContext{URL: svc.URL, CacheBytes: 3 * (entryOverhead + 10)})
	for _, s := range []string{"k1", "k2", "k3", "k4", "k5"} { // "ctx-for-kN" is 10 bytes
		if _, err := bc.Fetch(context.Background(), get(nil), chat(""), s); err != nil {
			t.Fatal(err)
		}
	}
	if n, b := bc.cache.len(), bc.cache.bytes; n != 3 || b > 3*(entryOverhead+10) {
		t.Fatalf("%d entries, %d bytes; want 3 within the bound", n, b)
	}
}

func TestInject(t *testing.T) {
	sys := newClient(t, config.LLMContext{URL: "http://ctx.local", Template: "<ctx>{{context}}</ctx>"})
	req := chat("")
	before, _ := json.Marshal(req)
	out, h := sys.Inject(req, Result{Context: "plan: gold"})
	if after, _ := json.Marshal(req); string(after) != string(before) || req.Raw == nil {
		t.Fatal("Inject changed its input")
	}
	if h != nil || out.Raw != nil || len(out.Messages) != 5 || out.Messages[1].Role != "system" ||
		out.Messages[1].Content.Text != "<ctx>plan: gold</ctx>" || out.Messages[0].Content.Text != "Be brief." || out.Messages[2].Content.Text != "first" {
		t.Fatalf("Inject = %+v, %v", out.Messages, h)
	}
	if out, h := sys.Inject(req, Result{Reason: ReasonTimeout}); out != req || h != nil {
		t.Error("an empty result changed the request")
	}
	def := newClient(t, config.LLMContext{URL: "http://ctx.local"})
	out, _ = def.Inject(&openai.ChatRequest{Messages: []openai.Message{{Role: "user", Content: openai.TextContent("q")}}}, Result{Context: "C"})
	if out.Messages[0].Role != "system" || !strings.HasSuffix(out.Messages[0].Content.Text, "\nC") {
		t.Errorf("default template: %+v", out.Messages)
	}

	hdr := newClient(t, config.LLMContext{URL: "http://ctx.local", Inject: "header:x-user-context"})
	out, h = hdr.Inject(req, Result{Context: "line 1\r\nline 2\u2028\x00end"})
	if out != req || h.Get("X-User-Context") != "line 1  line 2  end" {
		t.Errorf("header inject = %v", h)
	}
}

func TestMatches(t *testing.T) {
	c := newClient(t, config.LLMContext{URL: "http://x", Match: &config.LLMMatch{Models: []string{"gpt-*"}, Routes: []string{"support"}}})
	for _, tt := range []struct {
		route, model string
		ok           bool
	}{{"support", "gpt-4o", true}, {"support", "claude", false}, {"other", "gpt-4o", false}} {
		if got := c.Matches(tt.route, tt.model); got != tt.ok {
			t.Errorf("Matches(%q, %q) = %v", tt.route, tt.model, got)
		}
	}
	if !newClient(t, config.LLMContext{URL: "http://x"}).Matches("", "any") {
		t.Error("no match should match every call")
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		cfg  config.LLMContext
		frag string
	}{
		{config.LLMContext{}, "llm.context.url: must be an http:// or https:// URL"},
		{config.LLMContext{URL: "ftp://x"}, "llm.context.url"},
		{config.LLMContext{URL: "http://x", Method: "PUT"}, `llm.context.method: must be GET or POST, got "PUT"`},
		{config.LLMContext{URL: "http://x", KeyFrom: "cookie"}, "llm.context.key_from"},
		{config.LLMContext{URL: "http://x", KeyFrom: "header:a b"}, "llm.context.key_from"},
		{config.LLMContext{URL: "http://x", Inject: "header:Authorization"}, "llm.context.inject"},
		{config.LLMContext{URL: "http://x", Inject: "user"}, "llm.context.inject"},
		{config.LLMContext{URL: "http://x", Template: "no placeholder"}, "llm.context.template: must hold {{context}}"},
		{config.LLMContext{URL: "http://x", OnFailure: "retry"}, "llm.context.on_failure"},
		{config.LLMContext{URL: "http://x", ForwardHeaders: []string{"ok", "a:b"}}, "llm.context.forward_headers[1]"},
		{config.LLMContext{URL: "http://x", APIKey: &config.Secret{Env: "PYLON_TEST_UNSET_VARIABLE"}}, "llm.context.api_key: environment variable"},
		{config.LLMContext{URL: "http://x", Timeout: -1}, "must not be negative"},
	}
	for _, tt := range tests {
		if _, err := New(&tt.cfg); err == nil || !strings.Contains(err.Error(), tt.frag) {
			t.Errorf("New(%+v) = %v, want %q", tt.cfg, err, tt.frag)
		}
	}
}
