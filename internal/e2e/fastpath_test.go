package e2e_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pylon-gateway/pylon/internal/testutil"
)

// The fast path (internal/proxy/fast.go) forwards plain requests from their raw bytes. These
// tests send the same raw requests to two gateways on one config, one with the fast path and
// one without, and hold the fast path to what the standard path does: same status, fields,
// body and trailers downstream; same request upstream.

// fastUpstream answers by path, as the cases below need.
func fastUpstream(t *testing.T) *testutil.Upstream {
	return testutil.StartUpstream(t, "up", fastHandler())
}

func fastHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		switch r.URL.Path {
		case "/chunked":
			h.Set("Content-Type", "text/plain")
			w.Write([]byte("first,"))
			w.(http.Flusher).Flush()
			w.Write([]byte("second"))
		case "/sse":
			h.Set("Content-Type", "text/event-stream")
			for i := range 3 {
				fmt.Fprintf(w, "data: %d\n\n", i)
				w.(http.Flusher).Flush()
			}
		case "/hop":
			h.Set("Connection", "X-Drop")
			h.Set("X-Drop", "1")
			h.Set("Keep-Alive", "timeout=5")
			h.Set("Server", "upstream-server")
			h.Set("X-Envoy-Upstream-Service-Time", "999")
			h.Set("Proxy-Authenticate", "Basic")
			h.Add("X-Multi", "a")
			h.Add("X-Multi", "b")
			w.Write([]byte("hop"))
		case "/204":
			w.WriteHeader(http.StatusNoContent)
		case "/304":
			h.Set("ETag", `"v1"`)
			w.WriteHeader(http.StatusNotModified)
		case "/big":
			h.Set("Content-Type", "application/octet-stream")
			w.Write([]byte(strings.Repeat("0123456789abcdef", 16<<10)))
		case "/trailer":
			h.Set("Trailer", "X-Sum")
			w.Write([]byte("body"))
			w.(http.Flusher).Flush()
			h.Set("X-Sum", "42")
		case "/503":
			http.Error(w, "busy", http.StatusServiceUnavailable)
		case "/slow":
			select {
			case <-time.After(2 * time.Second):
			case <-r.Context().Done():
			}
			w.Write([]byte("late"))
		default:
			testutil.Echo("up")(w, r)
		}
	})
}

const fastConfig = `
admin: {address: 127.0.0.1:0}
listeners:
  - name: public
    address: 127.0.0.1:0
    virtual_hosts:
      - domains: ["*"]
        routes:
          - match: {prefix: /slow}
            cluster: up
            timeout: 300ms
          - match: {prefix: /dead}
            cluster: dead
          - match: {prefix: /}
            cluster: up
  - name: trusting
    address: 127.0.0.1:0
    use_remote_address: false
    internal_addresses: [127.0.0.0/8]
    virtual_hosts:
      - domains: ["*"]
        routes:
          - match: {prefix: /}
            cluster: up
clusters:
  - name: up
    endpoints: [%s]
  - name: dead
    endpoints: [%s]
`

// exchange sends one raw request on a new connection and reads the response.
func rawExchange(t *testing.T, addr, req string) (*http.Response, []byte) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	method, _, _ := strings.Cut(req, " ")
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%q: %v", req, err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%q: body: %v", req, err)
	}
	return resp, body
}

// normalize removes what differs between any two responses: Date, the upstream service time
// (its presence is checked) and generated request ids inside echoed bodies.
func normalize(t *testing.T, resp *http.Response, body []byte) (http.Header, string) {
	t.Helper()
	h := resp.Header.Clone()
	if resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusNotModified && h.Get("Date") == "" {
		t.Errorf("no Date field")
	}
	h.Del("Date")
	h.Del("X-Envoy-Upstream-Service-Time")
	if h.Get("Content-Type") != "application/json" || len(body) == 0 {
		return h, string(body)
	}
	var echo map[string]any
	if err := json.Unmarshal(body, &echo); err != nil {
		t.Fatalf("echo body %q: %v", body, err)
	}
	hs := echo["headers"].(map[string]any)
	if id, ok := hs["X-Request-Id"].([]any); ok && len(id) == 1 && len(id[0].(string)) == 36 {
		hs["X-Request-Id"] = []any{"<generated>"}
	}
	b, _ := json.Marshal(echo)
	return h, string(b)
}

func TestFastPathMatchesStandardPath(t *testing.T) {
	up := fastUpstream(t)
	cfg := fmt.Sprintf(fastConfig, up.Addr(), testutil.ClosedPort(t))
	fast := testutil.StartGatewayFastPath(t, cfg, true)
	std := testutil.StartGatewayFastPath(t, cfg, false)

	cases := []struct {
		name, listener, req string
		taken               bool // the fast path serves it
	}{
		{"get", "public", "GET /echo?a=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\nx-custom: v\r\nX-Custom: w\r\n\r\n", true},
		{"head", "public", "HEAD /echo HTTP/1.1\r\nHost: h\r\n\r\n", true},
		{"delete", "public", "DELETE /echo HTTP/1.1\r\nHost: h\r\n\r\n", true},
		{"options", "public", "OPTIONS /echo HTTP/1.1\r\nHost: h\r\n\r\n", true},
		{"request id kept", "public", "GET /echo HTTP/1.1\r\nHost: h\r\nX-Request-Id: my-id\r\n\r\n", true},
		{"empty request id replaced", "public", "GET /echo HTTP/1.1\r\nHost: h\r\nX-Request-Id:\r\n\r\n", true},
		{"xff appended", "public", "GET /echo HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Proto: https\r\n\r\n", true},
		{"connection close", "public", "GET /echo HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", true},
		{"escaped path", "public", "GET /echo/a%2Fb;c=d?q=%22x%22 HTTP/1.1\r\nHost: h\r\n\r\n", true},
		{"chunked", "public", "GET /chunked HTTP/1.1\r\nHost: h\r\n\r\n", true},
		{"sse", "public", "GET /sse HTTP/1.1\r\nHost: h\r\n\r\n", true},
		{"hop-by-hop response fields", "public", "GET /hop HTTP/1.1\r\nHost: h\r\n\r\n", true},
		{"204", "public", "GET /204 HTTP/1.1\r\nHost: h\r\n\r\n", true},
		{"304", "public", "GET /304 HTTP/1.1\r\nHost: h\r\nIf-None-Match: \"v1\"\r\n\r\n", true},
		{"big", "public", "GET /big HTTP/1.1\r\nHost: h\r\n\r\n", true},
		{"trailer", "public", "GET /trailer HTTP/1.1\r\nHost: h\r\n\r\n", true},
		{"upstream 503", "public", "GET /503 HTTP/1.1\r\nHost: h\r\n\r\n", true},
		{"route timeout", "public", "GET /slow HTTP/1.1\r\nHost: h\r\n\r\n", true},
		{"connect failure", "public", "GET /dead HTTP/1.1\r\nHost: h\r\n\r\n", true},
		{"connect failure, head", "public", "HEAD /dead HTTP/1.1\r\nHost: h\r\n\r\n", true},
		{"internal client", "trusting", "GET /echo HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 127.0.0.9\r\n\r\n", true},
		{"external client", "trusting", "GET /echo HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 1.2.3.4, 127.0.0.9\r\n\r\n", true},
		{"no xff, trusting", "trusting", "GET /echo HTTP/1.1\r\nHost: h\r\nX-Forwarded-Proto: https\r\n\r\n", true},

		// Left to the standard path.
		{"post", "public", "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi", false},
		{"http/1.0", "public", "GET /echo HTTP/1.0\r\nHost: h\r\n\r\n", false},
		{"x-envoy field", "trusting", "GET /echo HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 127.0.0.9\r\nX-Envoy-Upstream-Rq-Timeout-Ms: 5000\r\n\r\n", false},
		{"te", "public", "GET /echo HTTP/1.1\r\nHost: h\r\nTE: trailers\r\n\r\n", false},
		{"re-escaped path", "public", "GET /echo/a\"b HTTP/1.1\r\nHost: h\r\n\r\n", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := fast.Stat("http." + tc.listener + ".downstream_rq_fast_path_total")
			fr, fb := rawExchange(t, fast.Runtime.Addr(tc.listener), tc.req)
			after := fast.Stat("http." + tc.listener + ".downstream_rq_fast_path_total")
			if taken := before != after; taken != tc.taken {
				t.Errorf("fast path took it: %v, want %v (counter %s -> %s)", taken, tc.taken, before, after)
			}
			sr, sb := rawExchange(t, std.Runtime.Addr(tc.listener), tc.req)
			if fr.StatusCode != sr.StatusCode {
				t.Fatalf("status: fast %d, standard %d (%q / %q)", fr.StatusCode, sr.StatusCode, fb, sb)
			}
			if (fr.Header.Get("X-Envoy-Upstream-Service-Time") == "") != (sr.Header.Get("X-Envoy-Upstream-Service-Time") == "") {
				t.Errorf("x-envoy-upstream-service-time: fast %q, standard %q", fr.Header.Get("X-Envoy-Upstream-Service-Time"), sr.Header.Get("X-Envoy-Upstream-Service-Time"))
			}
			fh, fbody := normalize(t, fr, fb)
			sh, sbody := normalize(t, sr, sb)
			if !reflect.DeepEqual(fh, sh) {
				t.Errorf("fields:\nfast     %v\nstandard %v", fh, sh)
			}
			if fbody != sbody {
				t.Errorf("body:\nfast     %.300q\nstandard %.300q", fbody, sbody)
			}
			if fr.ContentLength != sr.ContentLength || !reflect.DeepEqual(fr.TransferEncoding, sr.TransferEncoding) || fr.Close != sr.Close {
				t.Errorf("framing: fast cl %d te %v close %v, standard cl %d te %v close %v",
					fr.ContentLength, fr.TransferEncoding, fr.Close, sr.ContentLength, sr.TransferEncoding, sr.Close)
			}
			if !reflect.DeepEqual(fr.Trailer, sr.Trailer) {
				t.Errorf("trailers: fast %v, standard %v", fr.Trailer, sr.Trailer)
			}
		})
	}
}

// TestFastPathKeepAlive pipelines fast and standard requests on one connection: every answer
// comes back whole and in order, and the fast path reuses its upstream connection.
func TestFastPathKeepAlive(t *testing.T) {
	var mu sync.Mutex
	conns := map[string]bool{} // the upstream connections, by client address
	h := fastHandler()
	up := testutil.StartUpstream(t, "up", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		conns[r.RemoteAddr] = true
		mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	g := testutil.StartGatewayFastPath(t, fmt.Sprintf(fastConfig, up.Addr(), testutil.ClosedPort(t)), true)
	c, err := net.Dial("tcp", g.Runtime.Addr("public"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	var all strings.Builder
	paths := []string{"/echo?i=0", "/chunked", "/hop", "/204", "/echo?i=1"}
	for i, p := range paths {
		all.WriteString("GET " + p + " HTTP/1.1\r\nHost: h\r\n\r\n")
		if i == 2 {
			all.WriteString("POST /echo?i=post HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc")
		}
	}
	for range 20 {
		all.WriteString("GET /echo?i=more HTTP/1.1\r\nHost: h\r\n\r\n")
	}
	if _, err := io.WriteString(c, all.String()); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	want := []string{`"uri":"/echo?i=0"`, "first,second", "hop", `"uri":"/echo?i=post"`, "", `"uri":"/echo?i=1"`}
	for range 20 {
		want = append(want, `"uri":"/echo?i=more"`)
	}
	for i, w := range want {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		if !strings.Contains(string(b), w) {
			t.Fatalf("response %d: %q, want it to hold %q", i, b, w)
		}
	}
	if v := g.Stat("http.public.downstream_rq_fast_path_total"); v != "25" {
		t.Errorf("fast path served %s requests, want 25", v)
	}
	mu.Lock()
	n := len(conns)
	mu.Unlock()
	if n > 2 {
		t.Errorf("the upstream saw %d connections for sequential requests, want at most 2", n)
	}
}

// TestFastPathClientGone: a client that leaves while its request waits on the upstream has
// the upstream request canceled, as on the standard path.
func TestFastPathClientGone(t *testing.T) {
	canceled := make(chan struct{}, 1)
	up := testutil.StartUpstream(t, "up", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
			canceled <- struct{}{}
		case <-time.After(10 * time.Second):
		}
	}))
	g := testutil.StartGatewayFastPath(t, "admin: {address: 127.0.0.1:0}\n"+testutil.ProxyConfig("up", up.Addr()), true)
	c, err := net.Dial("tcp", g.URL("public")[len("http://"):])
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "GET /wait HTTP/1.1\r\nHost: h\r\n\r\n")
	time.Sleep(300 * time.Millisecond)
	c.Close()
	select {
	case <-canceled:
	case <-time.After(3 * time.Second):
		t.Fatal("the upstream request was not canceled after the client left")
	}
	if v := g.Stat("http.public.downstream_rq_fast_path_total"); v != "1" {
		t.Errorf("fast path served %s requests, want 1", v)
	}
}
