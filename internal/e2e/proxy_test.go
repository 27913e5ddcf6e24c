package e2e_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pylon-gateway/pylon/internal/testutil"
)

func get(t *testing.T, url string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if strings.EqualFold(hdr[i], "host") {
			req.Host = hdr[i+1]
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", url, err)
	}
	return resp, string(b)
}

func TestForwardSetsEnvoyHeaders(t *testing.T) {
	up := testutil.StartUpstream(t, "svc", nil)
	gw := testutil.StartGateway(t, fmt.Sprintf(`
admin: {address: "127.0.0.1:0"}
listeners:
  - name: public
    address: 127.0.0.1:0
    virtual_hosts:
      - domains: ["*"]
        routes:
          - match: {prefix: /}
            cluster: svc
clusters:
  - name: svc
    endpoints: [%s]
`, up.Addr()))

	resp, _ := get(t, gw.URL("public")+"/hello?x=1", "Connection", "keep-alive, X-Hop", "X-Hop", "secret", "Host", "api.example.com",
		"X-Envoy-Retry-On", "5xx", "X-Forwarded-For", "203.0.113.9")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	seen := up.Last()
	if seen.RequestURI != "/hello?x=1" || seen.Host != "api.example.com" {
		t.Errorf("upstream saw %s host %s", seen.RequestURI, seen.Host)
	}
	for _, h := range []string{"X-Hop", "X-Envoy-Retry-On"} {
		if v := seen.Header.Get(h); v != "" {
			t.Errorf("%s reached the upstream: %q", h, v)
		}
	}
	if got := seen.Header.Get("X-Forwarded-For"); got != "203.0.113.9, 127.0.0.1" {
		t.Errorf("x-forwarded-for = %q, want the peer appended", got)
	}
	if got := seen.Header.Get("X-Forwarded-Proto"); got != "http" {
		t.Errorf("x-forwarded-proto = %q", got)
	}
	if got := seen.Header.Get("X-Envoy-Expected-Rq-Timeout-Ms"); got != "15000" {
		t.Errorf("x-envoy-expected-rq-timeout-ms = %q, want 15000 (default route timeout)", got)
	}
	id := seen.Header.Get("X-Request-Id")
	if len(id) != 36 || id[14] != '4' {
		t.Errorf("x-request-id = %q, want a generated UUIDv4", id)
	}
	if resp.Header.Get("Server") != "pylon" {
		t.Errorf("server = %q", resp.Header.Get("Server"))
	}
	if resp.Header.Get("X-Envoy-Upstream-Service-Time") == "" {
		t.Error("no x-envoy-upstream-service-time")
	}

	// A request id sent by the client is propagated unchanged.
	get(t, gw.URL("public")+"/", "X-Request-Id", "abc-123")
	if got := up.Last().Header.Get("X-Request-Id"); got != "abc-123" {
		t.Errorf("x-request-id = %q, want the client's", got)
	}
}

func TestLocalRepliesAsEnvoy(t *testing.T) {
	slow := testutil.StartUpstream(t, "slow", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
	}))
	closed := testutil.ClosedPort(t)
	gw := testutil.StartGateway(t, fmt.Sprintf(`
admin: {address: "127.0.0.1:0"}
listeners:
  - name: public
    address: 127.0.0.1:0
    max_request_headers_kb: 4
    virtual_hosts:
      - domains: ["*"]
        routes:
          - match: {prefix: /empty}
            cluster: empty
          - match: {prefix: /refused}
            cluster: refused
          - match: {prefix: /slow}
            cluster: slow
            timeout: 200ms
      - domains: ["only.example.com"]
        routes:
          - match: {prefix: /}
            direct_response: {status: 200, body: ok}
clusters:
  - name: empty
    endpoints: []
  - name: refused
    endpoints: [%s]
  - name: slow
    endpoints: [%s]
`, closed, slow.Addr()))
	base := gw.URL("public")

	cases := []struct {
		name, path   string
		hdr          []string
		status       int
		body, prefix string
	}{
		{name: "no route", path: "/nothing", status: 404, body: ""},
		{name: "no healthy upstream", path: "/empty", status: 503, body: "no healthy upstream"},
		{name: "connect failure", path: "/refused", status: 503, prefix: "upstream connect error or disconnect/reset before headers. reset reason: remote connection failure, transport failure reason: connection refused"},
		{name: "route timeout", path: "/slow", status: 504, body: "upstream request timeout"},
		{name: "direct response by vhost", path: "/", hdr: []string{"Host", "only.example.com"}, status: 200, body: "ok"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			resp, body := get(t, base+tc.path, tc.hdr...)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d (body %q)", resp.StatusCode, tc.status, body)
			}
			if tc.prefix != "" {
				if !strings.HasPrefix(body, tc.prefix) {
					t.Fatalf("body %q, want prefix %q", body, tc.prefix)
				}
			} else if body != tc.body {
				t.Fatalf("body %q, want %q", body, tc.body)
			}
			if resp.Header.Get("Content-Length") != fmt.Sprint(len(body)) {
				t.Errorf("content-length %q for a %d-byte body", resp.Header.Get("Content-Length"), len(body))
			}
			if body != "" && resp.Header.Get("Content-Type") != "text/plain" {
				t.Errorf("content-type %q", resp.Header.Get("Content-Type"))
			}
			if tc.status == 504 && time.Since(start) > time.Second {
				t.Errorf("timeout answered after %v, want about 200ms", time.Since(start))
			}
		})
	}

	t.Run("oversized headers", func(t *testing.T) {
		resp, _ := get(t, base+"/", "X-Big", strings.Repeat("a", 16<<10))
		if resp.StatusCode != 431 {
			t.Fatalf("status %d, want 431", resp.StatusCode)
		}
	})

	if v := gw.Stat("http.public.no_route"); v != "1" {
		t.Errorf("http.public.no_route = %q, want 1", v)
	}
	if v := gw.Stat("cluster.refused.upstream_cx_connect_fail"); v != "1" {
		t.Errorf("cluster.refused.upstream_cx_connect_fail = %q, want 1", v)
	}
	if v := gw.Stat("cluster.slow.upstream_rq_timeout"); v != "1" {
		t.Errorf("cluster.slow.upstream_rq_timeout = %q, want 1", v)
	}
}

func TestServerSentEventsFlushPerEvent(t *testing.T) {
	release := make(chan struct{})
	up := testutil.StartUpstream(t, "sse", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		<-release // the last event waits until the client has seen the first
		fmt.Fprint(w, "data: last\n\n")
	}))
	gw := testutil.StartGateway(t, testutil.ProxyConfig("sse", up.Addr()))
	resp, err := http.Get(gw.URL("public") + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	got := make(chan string, 1)
	go func() {
		line, _ := br.ReadString('\n')
		got <- line
	}()
	select {
	case line := <-got:
		if line != "data: first\n" {
			t.Fatalf("first line %q", line)
		}
	case <-time.After(3 * time.Second):
		close(release)
		t.Fatal("the first event did not arrive before the upstream sent the last: not flushed")
	}
	close(release)
	rest, _ := io.ReadAll(br)
	if string(rest) != "\ndata: last\n\n" {
		t.Fatalf("rest %q", rest)
	}
}

func TestRawHTTP1HopByHopAndKeepAlive(t *testing.T) {
	up := testutil.StartUpstream(t, "svc", nil)
	gw := testutil.StartGateway(t, testutil.ProxyConfig("svc", up.Addr()))
	conn, err := net.Dial("tcp", strings.TrimPrefix(gw.URL("public"), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	for i := 0; i < 3; i++ { // three requests on one connection
		fmt.Fprintf(conn, "GET /k%d HTTP/1.1\r\nHost: x\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nTE: trailers, deflate\r\n\r\n", i)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		seen := up.Last()
		for _, h := range []string{"Keep-Alive", "Proxy-Connection"} {
			if seen.Header.Get(h) != "" {
				t.Errorf("%s reached the upstream", h)
			}
		}
		if got := seen.Header.Get("Te"); got != "trailers" {
			t.Errorf("te = %q, want only trailers kept", got)
		}
	}
}
