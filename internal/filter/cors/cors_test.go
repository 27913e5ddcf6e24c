package cors

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/pylon-gateway/pylon/internal/filter"
	"github.com/pylon-gateway/pylon/internal/router"
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

func mustPolicy(t testing.TB, text string) *policy {
	t.Helper()
	f, err := Factory{}.New(node(t, text))
	if err != nil {
		t.Fatalf("New(%s): %v", text, err)
	}
	return f.(*policy)
}

func TestOriginMatching(t *testing.T) {
	p := mustPolicy(t, `
allow_origins:
  - https://app.example.com
  - http://localhost:3000
  - "*.example.org"
  - "https://*.pinned.test"
  - "https://*.ported.test:8443"
  - "http://[::1]:8080"
  - "null"
allow_origin_regex: ['https://[a-z]+\.internal', 'http://10\.0\.0\.\d+']
`)
	cases := []struct {
		origin string
		want   bool
	}{
		{"https://app.example.com", true},
		{"HTTPS://APP.EXAMPLE.COM", true}, // origins compare ignoring case
		{"http://app.example.com", false}, // the scheme is part of the origin
		{"https://app.example.com:443", false},
		{"https://app.example.com.evil.com", false},
		{"https://app.example.co", false},
		{"http://localhost:3000", true},
		{"http://localhost:3001", false},
		{"http://localhost", false},
		{"https://a.example.org", true},
		{"http://a.b.example.org:8080", true}, // "*.host": any scheme, any port
		{"https://A.Example.ORG", true},
		{"https://example.org", false}, // strict subdomains only
		{"https://evilexample.org", false},
		{"https://.example.org", false},
		{"https://a.example.org.evil.com", false},
		{"https://a.example.org/path", false},
		{"https://x@a.example.org", false},
		{"a.example.org", false},
		{"https://a.pinned.test", true},
		{"http://a.pinned.test", false},       // the scheme form pins the scheme
		{"https://a.pinned.test:8443", false}, // ...and the port
		{"https://a.ported.test:8443", true},
		{"https://a.ported.test", false},
		{"https://a.ported.test:9443", false},
		{"http://[::1]:8080", true},
		{"null", true},
		{"https://svc.internal", true},
		{"https://svc.internal.evil.com", false}, // regexes match the whole origin
		{"xhttps://svc.internal", false},
		{"https://svc9.internal", false},
		{"http://10.0.0.7", true},
		{"http://10.0.0.7:80", false},
	}
	for _, tc := range cases {
		if got := p.allowed(tc.origin); got != tc.want {
			t.Errorf("allowed(%q) = %v, want %v", tc.origin, got, tc.want)
		}
	}
	if !mustPolicy(t, `{allow_origins: ["*"]}`).allowed("https://anything.example") {
		t.Error(`"*" does not allow every origin`)
	}
}

// upstream is the rest of the chain: it answers with the given headers and counts calls.
type upstream struct {
	calls  int
	header http.Header
	flush  bool
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.calls++
	for k, v := range u.header {
		w.Header()[k] = v
	}
	if u.flush {
		w.(http.Flusher).Flush()
	}
	w.WriteHeader(200)
	w.Write([]byte("upstream"))
}

const fullPolicy = `
allow_origins: ["https://app.example.com", "*.example.org"]
allow_methods: [GET, POST, PUT]
allow_headers: [content-type, authorization]
expose_headers: [x-request-id, x-trace]
max_age: 10m
allow_credentials: true
`

func TestRequests(t *testing.T) {
	type want struct {
		reached bool
		status  int
		headers map[string]string // "" means absent
		details string
	}
	absent := ""
	cases := []struct {
		name    string
		policy  string
		method  string
		reqHdr  map[string]string
		upHdr   http.Header
		noRoute bool
		flush   bool
		want    want
	}{
		{
			name: "no origin", policy: fullPolicy, method: "GET",
			want: want{reached: true, status: 200, headers: map[string]string{hAllowOrigin: absent, hVary: absent}},
		},
		{
			name: "empty origin", policy: fullPolicy, method: "GET", reqHdr: map[string]string{hOrigin: ""},
			want: want{reached: true, status: 200, headers: map[string]string{hAllowOrigin: absent}},
		},
		{
			name: "preflight from an allowed origin", policy: fullPolicy, method: "OPTIONS",
			reqHdr: map[string]string{hOrigin: "https://app.example.com", hRequestMethod: "PUT", hRequestHeaders: "content-type"},
			want: want{status: 200, details: "cors_response", headers: map[string]string{
				hAllowOrigin: "https://app.example.com", hAllowMethods: "GET,POST,PUT", hAllowHeaders: "content-type,authorization",
				hMaxAge: "600", hAllowCreds: "true", hVary: "Origin", hExpose: absent, "Content-Length": "0",
			}},
		},
		{
			name: "preflight from a subdomain", policy: fullPolicy, method: "OPTIONS",
			reqHdr: map[string]string{hOrigin: "https://a.example.org", hRequestMethod: "GET"},
			want:   want{status: 200, details: "cors_response", headers: map[string]string{hAllowOrigin: "https://a.example.org"}},
		},
		{
			name: "preflight from another origin is forwarded", policy: fullPolicy, method: "OPTIONS",
			reqHdr: map[string]string{hOrigin: "https://evil.com", hRequestMethod: "PUT"},
			want:   want{reached: true, status: 200, headers: map[string]string{hAllowOrigin: absent, hAllowMethods: absent, hVary: absent}},
		},
		{
			name: "preflight from another origin, not forwarded", policy: `{allow_origins: ["https://app.example.com"], allow_methods: [GET], forward_not_matching_preflights: false}`, method: "OPTIONS",
			reqHdr: map[string]string{hOrigin: "https://evil.com", hRequestMethod: "PUT"},
			want:   want{status: 200, details: "cors_response", headers: map[string]string{hAllowOrigin: absent, hAllowMethods: "GET"}},
		},
		{
			name: "preflight echoes with *", policy: `{allow_origins: ["*"], allow_methods: ["*"], allow_headers: "*"}`, method: "OPTIONS",
			reqHdr: map[string]string{hOrigin: "https://x.test", hRequestMethod: "PATCH", hRequestHeaders: "x-a, x-b"},
			want: want{status: 200, details: "cors_response", headers: map[string]string{
				hAllowOrigin: "https://x.test", hAllowMethods: "PATCH", hAllowHeaders: "x-a, x-b", hAllowCreds: absent, hMaxAge: absent,
				hVary: "Access-Control-Request-Method,Access-Control-Request-Headers,Origin",
			}},
		},
		{
			name: "Envoy's comma-separated lists", policy: `{allow_origins: ["*"], allow_methods: "GET, POST", allow_headers: "a,b"}`, method: "OPTIONS",
			reqHdr: map[string]string{hOrigin: "https://x.test", hRequestMethod: "GET"},
			want:   want{status: 200, details: "cors_response", headers: map[string]string{hAllowMethods: "GET,POST", hAllowHeaders: "a,b"}},
		},
		{
			name: "no allow_methods: no header", policy: `{allow_origins: ["*"]}`, method: "OPTIONS",
			reqHdr: map[string]string{hOrigin: "https://x.test", hRequestMethod: "GET"},
			want:   want{status: 200, details: "cors_response", headers: map[string]string{hAllowOrigin: "https://x.test", hAllowMethods: absent, hAllowHeaders: absent}},
		},
		{
			name: "OPTIONS without a request method is an actual request", policy: fullPolicy, method: "OPTIONS",
			reqHdr: map[string]string{hOrigin: "https://app.example.com"},
			want:   want{reached: true, status: 200, headers: map[string]string{hAllowOrigin: "https://app.example.com", hAllowMethods: absent}},
		},
		{
			name: "actual request from an allowed origin", policy: fullPolicy, method: "GET",
			reqHdr: map[string]string{hOrigin: "https://app.example.com"},
			upHdr:  http.Header{hVary: {"Accept-Encoding"}, hAllowOrigin: {"https://upstream.example"}, "X-Up": {"1"}},
			want: want{reached: true, status: 200, headers: map[string]string{
				hAllowOrigin: "https://app.example.com", hAllowCreds: "true", hExpose: "x-request-id,x-trace",
				hVary: "Accept-Encoding,Origin", hAllowMethods: absent, hMaxAge: absent, "X-Up": "1",
			}},
		},
		{
			name: "vary already covers origin", policy: fullPolicy, method: "POST",
			reqHdr: map[string]string{hOrigin: "https://a.example.org"},
			upHdr:  http.Header{hVary: {"accept-encoding, origin"}},
			want:   want{reached: true, status: 200, headers: map[string]string{hVary: "accept-encoding, origin"}},
		},
		{
			name: "star without credentials", policy: `{allow_origins: ["*"], expose_headers: [x-a]}`, method: "GET",
			reqHdr: map[string]string{hOrigin: "https://x.test"},
			want:   want{reached: true, status: 200, headers: map[string]string{hAllowOrigin: "*", hAllowCreds: absent, hExpose: "x-a", hVary: "Origin"}},
		},
		{
			name: "star with credentials echoes", policy: `{allow_origins: ["*"], allow_credentials: true}`, method: "GET",
			reqHdr: map[string]string{hOrigin: "https://x.test"},
			want:   want{reached: true, status: 200, headers: map[string]string{hAllowOrigin: "https://x.test", hAllowCreds: "true"}},
		},
		{
			name: "credentials left to the upstream when not configured", policy: `{allow_origins: ["https://x.test"]}`, method: "GET",
			reqHdr: map[string]string{hOrigin: "https://x.test"},
			upHdr:  http.Header{hAllowCreds: {"true"}},
			want:   want{reached: true, status: 200, headers: map[string]string{hAllowOrigin: "https://x.test", hAllowCreds: "true"}},
		},
		{
			name: "actual request from another origin", policy: fullPolicy, method: "GET",
			reqHdr: map[string]string{hOrigin: "https://evil.com"},
			upHdr:  http.Header{hVary: {"Accept-Encoding"}},
			want:   want{reached: true, status: 200, headers: map[string]string{hAllowOrigin: absent, hExpose: absent, hAllowCreds: absent, hVary: "Accept-Encoding"}},
		},
		{
			name: "no route: no policy", policy: fullPolicy, method: "OPTIONS", noRoute: true,
			reqHdr: map[string]string{hOrigin: "https://app.example.com", hRequestMethod: "PUT"},
			want:   want{reached: true, status: 200, headers: map[string]string{hAllowOrigin: absent}},
		},
		{
			name: "upgrade passes through", policy: fullPolicy, method: "GET",
			reqHdr: map[string]string{hOrigin: "https://app.example.com", "Upgrade": "websocket", "Connection": "Upgrade"},
			want:   want{reached: true, status: 200, headers: map[string]string{hAllowOrigin: absent}},
		},
		{
			name: "flushed response is decorated", policy: fullPolicy, method: "GET", flush: true,
			reqHdr: map[string]string{hOrigin: "https://app.example.com"},
			want:   want{reached: true, status: 200, headers: map[string]string{hAllowOrigin: "https://app.example.com"}},
		},
		{
			name: "listener without a policy", policy: `{}`, method: "OPTIONS",
			reqHdr: map[string]string{hOrigin: "https://app.example.com", hRequestMethod: "PUT"},
			want:   want{reached: true, status: 200, headers: map[string]string{hAllowOrigin: absent}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Factory{}.New(node(t, tc.policy))
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest(tc.method, "/", nil)
			for k, v := range tc.reqHdr {
				r.Header.Set(k, v)
			}
			info := &stream.Info{}
			if !tc.noRoute {
				info.Route = &router.Route{Name: "r"}
			}
			r = r.WithContext(stream.With(r.Context(), info))
			up := &upstream{header: tc.upHdr, flush: tc.flush}
			w := httptest.NewRecorder()
			f.ServeHTTP(w, r, up)
			if reached := up.calls > 0; reached != tc.want.reached {
				t.Fatalf("reached the rest of the chain: %v, want %v", reached, tc.want.reached)
			}
			if w.Code != tc.want.status {
				t.Errorf("status %d, want %d", w.Code, tc.want.status)
			}
			if tc.flush && !w.Flushed {
				t.Error("Flush did not reach the underlying writer")
			}
			for k, v := range tc.want.headers {
				if got := strings.Join(w.Header()[k], ","); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
			if info.Details != tc.want.details {
				t.Errorf("details %q, want %q", info.Details, tc.want.details)
			}
			if !tc.want.reached && w.Body.Len() != 0 {
				t.Errorf("preflight answer has a body: %q", w.Body.String())
			}
		})
	}
}

// Outside a Pylon request (no stream info) the policy still applies.
func TestWithoutStreamInfo(t *testing.T) {
	p := mustPolicy(t, fullPolicy)
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set(hOrigin, "https://app.example.com")
	w := httptest.NewRecorder()
	p.ServeHTTP(w, r, &upstream{})
	if w.Header().Get(hAllowOrigin) != "https://app.example.com" {
		t.Fatalf("headers: %v", w.Header())
	}
}

func TestPerRouteReplaces(t *testing.T) {
	base := mustPolicy(t, fullPolicy)
	rt, err := Factory{}.PerRoute(base, node(t, `{allow_origins: ["https://other.test"]}`))
	if err != nil {
		t.Fatal(err)
	}
	p := rt.(*policy)
	if p.allowed("https://app.example.com") || !p.allowed("https://other.test") {
		t.Error("the route's origins do not replace the listener's")
	}
	if p.credentials || p.maxAge != nil || p.allowMethods != nil {
		t.Error("the route inherited settings from the listener")
	}
	if _, err := (Factory{}).PerRoute(base, node(t, `{allow_origins: ["*"], disabled: false}`)); err != nil {
		t.Errorf("disabled: false: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	cases := []struct {
		cfg      string
		perRoute bool
		want     []string
	}{
		{`{allow_origin_regex: ["(unclosed"]}`, false, []string{`allow_origin_regex[0]: invalid regular expression "(unclosed": missing closing ): `}},
		{`{allow_origin_regex: ["ok", ""]}`, false, []string{"allow_origin_regex[1]: is empty"}},
		{`{allow_origins: ["app.example.com"]}`, false, []string{`allow_origins[0]: "app.example.com" is not an origin: write scheme://host[:port]`}},
		{`{allow_origins: ["https://app.example.com/"]}`, false, []string{`allow_origins[0]: "https://app.example.com/": an origin has no path, query or fragment (remove "/")`}},
		{`{allow_origins: ["https://*.example.com/x"]}`, false, []string{`allow_origins[0]: "https://*.example.com/x": an origin has no path`}},
		{`{allow_origins: ["https://app.*.com"]}`, false, []string{`allow_origins[0]: "https://app.*.com": "*" is only allowed alone or as a leading "*." label`}},
		{`{allow_origins: ["*.example.com:8080"]}`, false, []string{`allow_origins[0]: "*.example.com:8080": "*.host" matches any scheme and port`}},
		{`{allow_origins: ["*."]}`, false, []string{`allow_origins[0]: "*.": the host is missing`}},
		{`{allow_origins: ["https://a.test:99999"]}`, false, []string{`allow_origins[0]: "https://a.test:99999": invalid port "99999"`}},
		{`{allow_origins: ["ht tp://a.test"]}`, false, []string{`invalid scheme "ht tp"`}},
		{`{allow_origins: [""]}`, false, []string{"allow_origins[0]: is empty"}},
		{`{allow_origins: [{a: 1}]}`, false, []string{"allow_origins[0]: want a string, got a mapping"}},
		{`{allow_origins: "https://a.test"}`, false, []string{`allow_origins: want a list, got "https://a.test"`}},
		{`{allow_origins: ["*"], allow_methods: [GET, "*"]}`, false, []string{`allow_methods[1]: "*" must be the only entry`}},
		{`{allow_origins: ["*"], allow_headers: ["bad header"]}`, false, []string{`allow_headers[0]: invalid token "bad header"`}},
		{`{allow_origins: ["*"], expose_headers: ["*"], allow_credentials: true}`, false, []string{`expose_headers: "*" is not a wildcard for requests with credentials`}},
		{`{allow_origins: ["*"], max_age: -1s}`, false, []string{"max_age: must not be negative, got -1s"}},
		{`{allow_origins: ["*"], max_age: 1.5}`, false, []string{"max_age: must be a whole number of seconds, got 1.5s"}},
		{`{allow_origins: ["*"], max_age: soon}`, false, []string{`max_age: invalid duration "soon"`}},
		{`{allow_origins: ["*"], allow_credentials: yes please}`, false, []string{`allow_credentials: want true or false, got "yes please"`}},
		{`{allow_origins: ["*"], allow_origin: ["x"]}`, false, []string{"allow_origin: unknown field (known: allow_credentials, allow_headers, allow_methods, allow_origin_regex, allow_origins, disabled, expose_headers, forward_not_matching_preflights, max_age)"}},
		{`{allow_methods: [GET]}`, false, []string{"allow_methods: has no effect without allow_origins or allow_origin_regex at this level"}},
		{`{disabled: true}`, false, []string{"disabled: only applies to a route's filters"}},
		{`"https://a.test"`, false, []string{"want a mapping of settings"}},
		{`{}`, true, []string{"allow_origins: is required: a route's cors policy replaces the listener's"}},
		{`{allow_origins: []}`, true, []string{"allow_origins: is required"}},
		{`{allow_origins: ["bad"], allow_origin_regex: ["("]}`, false, []string{"allow_origins[0]", "allow_origin_regex[0]"}},
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
	for _, ok := range []string{``, `{}`, `~`, `{allow_origins: ["*"], expose_headers: ["*"]}`, `{allow_origins: ["HTTPS://App.Example.COM:8443", "http://127.0.0.1:80"]}`} {
		if _, err := (Factory{}).New(node(t, ok)); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
}

func TestRegistered(t *testing.T) {
	f, ok := filter.Lookup(Name)
	if !ok {
		t.Fatal("cors is not registered")
	}
	if _, ok := f.(filter.PerRouteFactory); !ok {
		t.Fatal("cors has no per-route config")
	}
}

// nopWriter discards the response and keeps one header map.
type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nopWriter) WriteHeader(int)             {}

func benchRequest(b *testing.B, method string, hdr map[string]string) {
	p := mustPolicy(b, fullPolicy)
	r := httptest.NewRequest(method, "/", nil)
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	r = r.WithContext(stream.With(r.Context(), &stream.Info{Route: &router.Route{}}))
	next := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(200) })
	w := &nopWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		p.ServeHTTP(w, r, next)
	}
}

// The common case: a request without Origin.
func BenchmarkNotCORS(b *testing.B) { benchRequest(b, "GET", nil) }

func BenchmarkSimpleAllowed(b *testing.B) {
	benchRequest(b, "GET", map[string]string{hOrigin: "https://app.example.com"})
}

func BenchmarkSimpleAllowedWildcard(b *testing.B) {
	benchRequest(b, "GET", map[string]string{hOrigin: "https://a.b.example.org"})
}

func BenchmarkSimpleDenied(b *testing.B) {
	benchRequest(b, "GET", map[string]string{hOrigin: "https://evil.example.com"})
}

func BenchmarkPreflight(b *testing.B) {
	benchRequest(b, "OPTIONS", map[string]string{hOrigin: "https://app.example.com", hRequestMethod: "PUT"})
}
