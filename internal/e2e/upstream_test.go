package e2e_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pylon-gateway/pylon/internal/testutil"
)

// TestDNSClusterResolves: a dns cluster resolves its endpoint names (localhost here) and
// routes to every address found.
func TestDNSClusterResolves(t *testing.T) {
	up := testutil.StartUpstream(t, "named", nil)
	_, port, _ := net.SplitHostPort(up.Addr())
	gw := testutil.StartGateway(t, fmt.Sprintf(`
admin: {address: "127.0.0.1:0"}
listeners:
  - name: public
    address: 127.0.0.1:0
    virtual_hosts:
      - domains: ["*"]
        routes:
          - match: {prefix: /}
            cluster: named
            auto_host_rewrite: true
clusters:
  - name: named
    type: dns
    dns_refresh_rate: 100ms
    endpoints: [localhost:%s]
`, port))
	addrs, err := net.LookupHost("localhost")
	if err != nil || len(addrs) != 1 || addrs[0] != "127.0.0.1" {
		t.Skipf("localhost resolves to %v here; this test needs exactly 127.0.0.1", addrs)
	}
	resp, body := get(t, gw.URL("public")+"/")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if got := up.Last().Host; got != "localhost:"+port {
		t.Errorf("auto_host_rewrite sent host %q, want the endpoint name", got)
	}
	_, clusters := adminGet(t, gw, "/clusters")
	if !strings.Contains(clusters, "named::127.0.0.1:"+port+"::hostname::localhost") {
		t.Errorf("/clusters:\n%s", clusters)
	}
}

// TestUpstreamFailuresAreNeverSuccesses: an upstream that closes before answering is a 503;
// one that dies in the middle of a body leaves the client with an error, not a short 200.
func TestUpstreamFailuresAreNeverSuccesses(t *testing.T) {
	hangup := testutil.StartUpstream(t, "hangup", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, _ := http.NewResponseController(w).Hijack()
		conn.Close()
	}))
	cut := testutil.StartUpstream(t, "cut", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		w.Write([]byte("partial"))
		w.(http.Flusher).Flush()
		time.Sleep(50 * time.Millisecond)
		conn, _, _ := http.NewResponseController(w).Hijack()
		conn.Close()
	}))
	cutChunked := testutil.StartUpstream(t, "cutchunked", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Write([]byte("data: 1\n\n"))
		w.(http.Flusher).Flush()
		time.Sleep(50 * time.Millisecond)
		conn, _, _ := http.NewResponseController(w).Hijack()
		conn.Close()
	}))
	gw := testutil.StartGateway(t, fmt.Sprintf(`
listeners:
  - name: public
    address: 127.0.0.1:0
    virtual_hosts:
      - domains: ["*"]
        routes:
          - {match: {prefix: /hangup}, cluster: hangup}
          - {match: {prefix: /cut}, cluster: cut}
          - {match: {prefix: /chunked}, cluster: cutchunked}
clusters:
  - {name: hangup, endpoints: [%s]}
  - {name: cut, endpoints: [%s]}
  - {name: cutchunked, endpoints: [%s]}
`, hangup.Addr(), cut.Addr(), cutChunked.Addr()))

	resp, body := get(t, gw.URL("public")+"/hangup")
	if resp.StatusCode != 503 || body != "upstream connect error or disconnect/reset before headers. reset reason: connection termination" {
		t.Errorf("hang-up before headers: %d %q", resp.StatusCode, body)
	}
	for _, path := range []string{"/cut", "/chunked"} {
		resp, err := http.Get(gw.URL("public") + path)
		if err != nil {
			continue // the reset arrived before the headers: also a visible failure
		}
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil {
			t.Errorf("%s: the client read a cut body as complete", path)
		}
	}
}

// TestConnectionPoolLimit: max_connections bounds the connections to an endpoint; requests
// beyond it wait for a free connection instead of opening more.
func TestConnectionPoolLimit(t *testing.T) {
	var mu sync.Mutex
	conns := map[string]bool{}
	var active, peak atomic.Int32
	up := testutil.StartUpstream(t, "slow", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		conns[r.RemoteAddr] = true
		mu.Unlock()
		n := active.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
		active.Add(-1)
		io.WriteString(w, "ok")
	}))
	gw := testutil.StartGateway(t, fmt.Sprintf(`
listeners:
  - name: public
    address: 127.0.0.1:0
    virtual_hosts:
      - domains: ["*"]
        routes: [{match: {prefix: /}, cluster: slow}]
clusters:
  - name: slow
    max_connections: 1
    endpoints: [%s]
`, up.Addr()))
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Get(gw.URL("public") + "/")
			if err != nil {
				errs <- err
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(b) != "ok" {
				errs <- fmt.Errorf("status %d body %q", resp.StatusCode, b)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if peak.Load() != 1 || len(conns) != 1 {
		t.Fatalf("upstream saw %d concurrent requests over %d connections; max_connections is 1", peak.Load(), len(conns))
	}
}

// TestClientDisconnectCancelsUpstream: a client that gives up on a slow, non-streaming
// upstream call ends that call (an LLM call that nobody will read stops costing money).
func TestClientDisconnectCancelsUpstream(t *testing.T) {
	canceled := make(chan time.Duration, 1)
	up := testutil.StartUpstream(t, "slow", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		select {
		case <-r.Context().Done():
			canceled <- time.Since(start)
		case <-time.After(5 * time.Second):
			io.WriteString(w, "too late")
		}
	}))
	gw := testutil.StartGateway(t, testutil.ProxyConfig("slow", up.Addr()))
	conn, err := net.Dial("tcp", strings.TrimPrefix(gw.URL("public"), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(conn, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(300 * time.Millisecond) // the request reaches the upstream
	conn.Close()
	select {
	case d := <-canceled:
		t.Logf("upstream call canceled %v after it started", d)
	case <-time.After(3 * time.Second):
		t.Fatal("the upstream call went on after the client left")
	}
}
