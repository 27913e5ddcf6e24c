package localratelimit

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/pylon-gateway/pylon/internal/filter"
	"github.com/pylon-gateway/pylon/internal/stream"
)

func node(t testing.TB, text string) yaml.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatalf("bad test YAML %q: %v", text, err)
	}
	if len(doc.Content) == 0 {
		return yaml.Node{}
	}
	return *doc.Content[0]
}

// passed is the rest of the chain: it answers 200 "ok" and counts.
type passed struct{ n atomic.Int64 }

func (p *passed) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.n.Add(1)
	w.Write([]byte("ok"))
}

func serve(f filter.Filter, next http.Handler, info *stream.Info) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", "/", nil)
	if info != nil {
		r = r.WithContext(stream.With(r.Context(), info))
	}
	w := httptest.NewRecorder()
	f.ServeHTTP(w, r, next)
	return w
}

func build(t testing.TB, f Factory, text string) filter.Filter {
	t.Helper()
	flt, err := f.New(node(t, text))
	if err != nil {
		t.Fatalf("New(%s): %v", text, err)
	}
	return flt
}

func TestLimitedResponse(t *testing.T) {
	clk := &fakeClock{}
	f := Factory{Now: clk.now}
	cases := []struct {
		name       string
		cfg        string
		status     int
		hdr        map[string][]string
		allowedHdr map[string][]string // on the admitted request
	}{
		{
			name:   "defaults",
			cfg:    `{max_tokens: 1, fill_interval: 1s}`,
			status: 429,
			hdr:    map[string][]string{"Content-Type": {"text/plain"}, "Content-Length": {"18"}, "X-Envoy-Ratelimited": {"true"}, "X-Ratelimit-Limit": nil},
		},
		{
			name:   "status and headers",
			cfg:    `{max_tokens: 1, fill_interval: 1s, status: 503, response_headers_to_add: [{name: x-limited, value: "1"}, {name: x-limited, value: "2"}, {name: content-type, value: text/x-limited, append: false}]}`,
			status: 503,
			hdr:    map[string][]string{"X-Limited": {"1", "2"}, "Content-Type": {"text/x-limited"}, "X-Envoy-Ratelimited": {"true"}},
		},
		{
			name:   "status below 400 means 429",
			cfg:    `{max_tokens: 1, fill_interval: 1s, status: 200}`,
			status: 429,
		},
		{
			name:       "x-ratelimit headers",
			cfg:        `{max_tokens: 1, tokens_per_fill: 1, fill_interval: 90s, enable_x_ratelimit_headers: true}`,
			status:     429,
			hdr:        map[string][]string{"X-Ratelimit-Limit": {"1"}, "X-Ratelimit-Remaining": {"0"}, "X-Ratelimit-Reset": {"90"}},
			allowedHdr: map[string][]string{"X-Ratelimit-Limit": {"1"}, "X-Ratelimit-Remaining": {"0"}, "X-Ratelimit-Reset": {"90"}},
		},
		{
			name:   "Envoy's enum spelling",
			cfg:    `{max_tokens: 1, fill_interval: 1s, enable_x_ratelimit_headers: DRAFT_VERSION_03}`,
			status: 429,
			hdr:    map[string][]string{"X-Ratelimit-Limit": {"1"}, "X-Ratelimit-Reset": {"1"}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			flt := build(t, f, tc.cfg)
			next := &passed{}
			info := &stream.Info{}
			w := serve(flt, next, info)
			if w.Code != 200 || next.n.Load() != 1 || info.Flags != "" {
				t.Fatalf("first request: %d, passed %d, flags %q", w.Code, next.n.Load(), info.Flags)
			}
			for k, v := range tc.allowedHdr {
				if got := w.Header()[k]; strings.Join(got, ",") != strings.Join(v, ",") {
					t.Errorf("admitted: %s = %q, want %q", k, got, v)
				}
			}
			w = serve(flt, next, info)
			if w.Code != tc.status || w.Body.String() != "local_rate_limited" {
				t.Fatalf("limited request: %d %q, want %d local_rate_limited", w.Code, w.Body.String(), tc.status)
			}
			if next.n.Load() != 1 {
				t.Fatal("a limited request went on down the chain")
			}
			if info.Flags != "RL" || info.Details != "local_rate_limited" {
				t.Errorf("stream info: flags %q details %q", info.Flags, info.Details)
			}
			for k, v := range tc.hdr {
				if got := w.Header()[k]; strings.Join(got, ",") != strings.Join(v, ",") {
					t.Errorf("limited: %s = %q, want %q", k, got, v)
				}
			}
		})
	}
	// Outside a Pylon request (no stream info) the filter still works.
	flt := build(t, f, `{max_tokens: 1, fill_interval: 1s}`)
	serve(flt, &passed{}, nil)
	if w := serve(flt, &passed{}, nil); w.Code != 429 {
		t.Fatalf("without stream info: %d", w.Code)
	}
}

func TestXRateLimitHeadersCountDown(t *testing.T) {
	clk := &fakeClock{}
	flt := build(t, Factory{Now: clk.now}, `{max_tokens: 3, tokens_per_fill: 3, fill_interval: 3s, enable_x_ratelimit_headers: true}`)
	next := &passed{}
	for i, want := range []struct{ code, remaining, reset string }{
		{"200", "2", "0"}, {"200", "1", "0"}, {"200", "0", "1"}, {"429", "0", "1"},
	} {
		w := serve(flt, next, nil)
		h := w.Header()
		got := []string{http.StatusText(w.Code), h.Get("X-Ratelimit-Limit"), h.Get("X-Ratelimit-Remaining"), h.Get("X-Ratelimit-Reset")}
		exp := []string{map[string]string{"200": "OK", "429": "Too Many Requests"}[want.code], "3", want.remaining, want.reset}
		if strings.Join(got, "|") != strings.Join(exp, "|") {
			t.Errorf("request %d: %q, want %q", i+1, got, exp)
		}
	}
	clk.advance(1500 * time.Millisecond) // 1.5 tokens back
	if h := serve(flt, next, nil).Header(); h.Get("X-Ratelimit-Remaining") != "0" || h.Get("X-Ratelimit-Reset") != "1" {
		t.Errorf("after refill: remaining %s reset %s, want 0 and 1 (half a second, rounded up)", h.Get("X-Ratelimit-Remaining"), h.Get("X-Ratelimit-Reset"))
	}
}

func TestPerRouteBucketsAreSeparate(t *testing.T) {
	clk := &fakeClock{}
	f := Factory{Now: clk.now}
	base := build(t, f, `{max_tokens: 1, fill_interval: 1m}`)
	routeA, err := f.PerRoute(base, node(t, `{max_tokens: 2, fill_interval: 1m}`))
	if err != nil {
		t.Fatal(err)
	}
	routeB, err := f.PerRoute(base, node(t, `{max_tokens: 2, fill_interval: 1m, disabled: false}`))
	if err != nil {
		t.Fatal(err)
	}
	next := &passed{}
	codes := func(f filter.Filter, n int) string {
		var out []string
		for range n {
			out = append(out, http.StatusText(serve(f, next, nil).Code))
		}
		return strings.Join(out, ",")
	}
	if got := codes(base, 2); got != "OK,Too Many Requests" {
		t.Errorf("listener bucket: %s", got)
	}
	if got := codes(routeA, 3); got != "OK,OK,Too Many Requests" {
		t.Errorf("route A: %s", got)
	}
	if got := codes(routeB, 3); got != "OK,OK,Too Many Requests" {
		t.Errorf("route B has its own bucket: %s", got)
	}
}

func TestNoBucketAtListenerLevel(t *testing.T) {
	for _, cfg := range []string{``, `{}`, `~`, `{disabled: false}`} {
		flt := build(t, Factory{}, cfg)
		next := &passed{}
		for range 100 {
			if w := serve(flt, next, nil); w.Code != 200 {
				t.Fatalf("%q: limited without a bucket", cfg)
			}
		}
	}
}

func TestFilterExactUnderConcurrency(t *testing.T) {
	flt := build(t, Factory{}, `{max_tokens: 64, fill_interval: 1h}`)
	next := &passed{}
	var limited atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 50 {
				if serve(flt, next, nil).Code == 429 {
					limited.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if next.n.Load() != 64 || limited.Load() != 16*50-64 {
		t.Fatalf("passed %d, limited %d; want 64 and %d", next.n.Load(), limited.Load(), 16*50-64)
	}
}

func TestConfigErrors(t *testing.T) {
	cases := []struct {
		cfg      string
		perRoute bool
		want     []string // substrings of the error, in order
	}{
		{`{max_tokens: 5, fill_interval: 10ms}`, false, []string{"fill_interval: must be at least 50ms, got 10ms"}},
		{`{fill_interval: 1s}`, false, []string{"max_tokens: is required"}},
		{`{max_tokens: 5}`, false, []string{"fill_interval: is required"}},
		{`{tokens_per_fill: 5}`, false, []string{"max_tokens: is required", "fill_interval: is required"}},
		{`{max_tokens: 0, fill_interval: 1s}`, false, []string{"max_tokens: must be at least 1, got 0"}},
		{`{max_tokens: 4294967296, fill_interval: 1s}`, false, []string{"max_tokens: must be at most 4294967295"}},
		{`{max_tokens: 1, tokens_per_fill: 0, fill_interval: 1s}`, false, []string{"tokens_per_fill: must be at least 1, got 0"}},
		{`{max_tokens: 4294967295, fill_interval: 24h}`, false, []string{"max_tokens: with tokens_per_fill 1 per 24h0m0s the bucket would take more than 100 years"}},
		{`{max_tokens: lots, fill_interval: 1s}`, false, []string{`max_tokens: want an integer, got "lots"`}},
		{`{max_tokens: 1.5, fill_interval: 1s}`, false, []string{`max_tokens: want an integer, got "1.5"`}},
		{`{max_tokens: 1, fill_interval: soon}`, false, []string{`fill_interval: invalid duration "soon"`}},
		{`{max_tokens: 1, fill_interval: 1s, status: 700}`, false, []string{"status: must be an HTTP status code (100-599), got 700"}},
		{`{max_tokens: 1, fill_interval: 1s, max_token: 2}`, false, []string{"max_token: unknown field (known: disabled, enable_x_ratelimit_headers, fill_interval, max_tokens"}},
		{`{max_tokens: 1, fill_interval: 1s, max_tokens: 2}`, false, []string{"max_tokens: set twice"}},
		{`{max_tokens: 1, fill_interval: 1s, response_headers_to_add: [{name: x-a, value: "1"}, {nme: x-b}]}`, false, []string{`response_headers_to_add[1]: unknown field "nme"`}},
		{`{max_tokens: 1, fill_interval: 1s, response_headers_to_add: [{name: "bad name", value: "1"}, {name: x-b, value: ""}, {name: ":status", value: "1"}]}`, false,
			[]string{`response_headers_to_add[0].name: invalid header name "bad name"`, "response_headers_to_add[1].value: is required", `response_headers_to_add[2].name: pseudo-header ":status"`}},
		{`{max_tokens: 1, fill_interval: 1s, response_headers_to_add: {name: x}}`, false, []string{"response_headers_to_add: want a list, got a mapping"}},
		{`{max_tokens: 1, fill_interval: 1s, enable_x_ratelimit_headers: maybe}`, false, []string{`enable_x_ratelimit_headers: want true or false, got "maybe"`}},
		{`{status: 503}`, false, []string{"status: has no effect without a bucket at this level"}},
		{`{disabled: true}`, false, []string{"disabled: only applies to a route's filters"}},
		{`[1, 2]`, false, []string{"want a mapping of settings"}},
		{`{}`, true, []string{"max_tokens: is required: a route's local_ratelimit replaces the listener's"}},
		{`{status: 503}`, true, []string{"max_tokens: is required"}},
	}
	for _, tc := range cases {
		var err error
		if tc.perRoute {
			_, err = Factory{}.PerRoute(nil, node(t, tc.cfg))
		} else {
			_, err = Factory{}.New(node(t, tc.cfg))
		}
		if err == nil {
			t.Errorf("%s (per route %v): no error", tc.cfg, tc.perRoute)
			continue
		}
		rest := err.Error()
		for _, w := range tc.want {
			i := strings.Index(rest, w)
			if i < 0 {
				t.Errorf("%s: error %q lacks %q", tc.cfg, err, w)
				break
			}
			rest = rest[i+len(w):]
		}
	}
}

func TestRegistered(t *testing.T) {
	f, ok := filter.Lookup(Name)
	if !ok {
		t.Fatal("local_ratelimit is not registered")
	}
	if _, ok := f.(filter.PerRouteFactory); !ok {
		t.Fatal("local_ratelimit has no per-route config")
	}
}

type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nopWriter) WriteHeader(int)             {}

func benchFilter(b *testing.B, cfg string) {
	flt := build(b, Factory{}, cfg)
	r := httptest.NewRequest("GET", "/", nil)
	w := &nopWriter{h: http.Header{}}
	next := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	b.ReportAllocs()
	for b.Loop() {
		flt.ServeHTTP(w, r, next)
	}
}

// A token taken on every request (the bucket never runs dry).
func BenchmarkFilterAdmit(b *testing.B) {
	benchFilter(b, `{max_tokens: 4294967295, tokens_per_fill: 4294967295, fill_interval: 50ms}`)
}

func BenchmarkFilterAdmitXHeaders(b *testing.B) {
	benchFilter(b, `{max_tokens: 4294967295, tokens_per_fill: 4294967295, fill_interval: 50ms, enable_x_ratelimit_headers: true}`)
}

// Every request refused (the 429 is written to a writer that discards it).
func BenchmarkFilterLimited(b *testing.B) {
	benchFilter(b, `{max_tokens: 1, fill_interval: 1h}`)
}
