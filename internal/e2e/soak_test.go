package e2e_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestSoak drives a pylon process (the binary TestMain builds) in front of three upstream
// endpoints for SOAK (a Go duration) while endpoints die and come back and the config is
// reloaded, and checks that the retry policy saves every request and that the process's
// goroutines and memory stay flat. It is skipped unless SOAK is set:
//
//	SOAK=5m go test -run TestSoak -timeout 10m -v ./internal/e2e/
//
// Knobs: SOAK_RPS (requests per second, default 500), SOAK_WORKERS (concurrent clients,
// default 16).
//
// What happens, on a timeline from the end of a 5s warm-up:
//   - load: SOAK_RPS GETs per second, each answered by an endpoint with a short body written
//     in one write (so a response is never cut half-way by a kill);
//   - every 15s one endpoint (a, b, c in turn) is killed: its listener and every connection
//     are closed at once, so it refuses new connections and in-flight requests on it are
//     reset before any response byte; 5s later it listens again on the same port;
//   - every 10s the config file is rewritten (renamed into place, picked up by the file
//     watcher), alternating two valid configs that differ in the load-balancing policy
//     (round_robin / least_request, so the cluster is rebuilt) and an x-config response
//     header.
//
// The route's retry policy is retry_on connect-failure,reset,5xx with 3 retries, a per-try
// timeout and a short backoff; the cluster has active health checks (1s), outlier detection
// (consecutive_5xx 3, max_ejection_percent 50) and max_retries 1000 (Envoy's default of 3
// concurrent retries would turn a kill under load into retry overflows). With one endpoint
// down at a time, every failure is one the policy can save: a refused connection, or a reset
// before response headers. What no policy can save is a response cut after its headers went
// to the client; the test counts those apart ("cut mid-response") and expects none, by the
// upstream's design.
//
// It reports requests sent, succeeded, failed, p50/p99 latency, and pylon's goroutines and
// RSS (go_goroutines and process_resident_memory_bytes from /stats/prometheus) after the
// warm-up, in the middle, and at the end once the load has stopped, and asserts that the
// goroutines come back to the start figure (within 10) and that RSS grows by less than
// 32 MiB from start to end and 16 MiB over the second half.
func TestSoak(t *testing.T) {
	soak := os.Getenv("SOAK")
	if soak == "" {
		t.Skip("set SOAK to a duration to run the soak, e.g. SOAK=5m go test -run TestSoak -timeout 10m -v ./internal/e2e/")
	}
	duration, err := time.ParseDuration(soak)
	if err != nil || duration < 10*time.Second {
		t.Fatalf("SOAK=%q: want a duration of at least 10s", soak)
	}
	rps := envInt(t, "SOAK_RPS", 500)
	workers := envInt(t, "SOAK_WORKERS", 16)

	eps := []*soakEndpoint{newSoakEndpoint(t, "a"), newSoakEndpoint(t, "b"), newSoakEndpoint(t, "c")}
	addr, admin := freeAddr(t), freeAddr(t)
	config := func(n int) string {
		lb, tag := "round_robin", "a"
		if n%2 == 1 {
			lb, tag = "least_request", "b"
		}
		return fmt.Sprintf(`# soak config %d
admin: {address: %s}
listeners:
  - name: public
    address: %s
    virtual_hosts:
      - domains: ["*"]
        response_headers_to_add: [{name: x-config, value: %s}]
        routes:
          - match: {prefix: /}
            cluster: svc
            timeout: 10s
            retry:
              on: [connect-failure, reset, 5xx]
              attempts: 3
              per_try_timeout: 2s
              backoff: {base_interval: 5ms, max_interval: 50ms}
clusters:
  - name: svc
    lb: %s
    endpoints: [%s, %s, %s]
    circuit_breakers: {max_retries: 1000}
    health_check: {http: {path: /healthz}, interval: 1s, no_traffic_interval: 1s, timeout: 500ms, unhealthy_threshold: 1, healthy_threshold: 1}
    outlier_detection: {consecutive_5xx: 3, interval: 1s, base_ejection_time: 5s, max_ejection_percent: 50}
`, n, admin, addr, tag, lb, eps[0].addr, eps[1].addr, eps[2].addr)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "pylon.yaml")
	writeAtomically(t, path, config(0))
	cmd, out := pylonProcess(t, "serve", "-c", path, "--log-level", "warn")
	waitReady(t, "http://"+admin+"/ready")
	defer func() {
		if t.Failed() {
			t.Logf("pylon output (last 4 KiB):\n%s", tail(out.String(), 4096))
		}
	}()

	// Load: SOAK_RPS tokens a second go to the workers, paced on the clock (a late tick
	// hands out what is due) so that a busy machine does not silently lower the rate.
	client := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers}}
	var (
		sent, ok, byConfigA, byConfigB atomic.Int64
		mu                             sync.Mutex
		latencies                      = make([]time.Duration, 0, rps*int(duration/time.Second+10))
		failures                       []string
		saveable, cut                  int
	)
	tokens := make(chan struct{}, workers)
	stopLoad := make(chan struct{})
	var loadWG sync.WaitGroup
	loadWG.Add(1)
	go func() {
		defer loadWG.Done()
		defer close(tokens)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		begin, issued := time.Now(), 0
		for {
			select {
			case <-stopLoad:
				return
			case <-tick.C:
				for due := int(time.Since(begin).Seconds() * float64(rps)); issued < due; issued++ {
					select {
					case tokens <- struct{}{}:
					case <-stopLoad:
						return
					}
				}
			}
		}
	}()
	for range workers {
		loadWG.Add(1)
		go func() {
			defer loadWG.Done()
			for range tokens {
				sent.Add(1)
				start := time.Now()
				status, cfg, cutErr, err := soakRequest(client, "http://"+addr+"/work")
				d := time.Since(start)
				mu.Lock()
				switch {
				case err == nil && status == 200:
					ok.Add(1)
					latencies = append(latencies, d)
				case cutErr:
					cut++
					failures = append(failures, fmt.Sprintf("%s cut mid-response: %v", start.Format("15:04:05.000"), err))
				default:
					saveable++
					failures = append(failures, fmt.Sprintf("%s status %d: %v", start.Format("15:04:05.000"), status, err))
				}
				mu.Unlock()
				switch cfg {
				case "a":
					byConfigA.Add(1)
				case "b":
					byConfigB.Add(1)
				}
			}
		}()
	}

	sample := func(when string) soakSample {
		s := soakSample{when: when, at: time.Now()}
		_, body := get(t, "http://"+admin+"/stats/prometheus")
		for _, line := range strings.Split(body, "\n") {
			if v, found := strings.CutPrefix(line, "go_goroutines "); found {
				s.goroutines, _ = strconv.ParseFloat(v, 64)
			}
			if v, found := strings.CutPrefix(line, "process_resident_memory_bytes "); found {
				s.rss, _ = strconv.ParseFloat(v, 64)
			}
		}
		s.vmRSSKiB = procStatusKB(t, cmd.Process.Pid, "VmRSS")
		return s
	}

	time.Sleep(5 * time.Second) // warm-up: connections, pools and buffers exist
	var samples []soakSample
	startSample := sample("start")
	samples = append(samples, startSample)
	t0 := time.Now()
	killTick, reloadTick, sampleTick := time.NewTicker(15*time.Second), time.NewTicker(10*time.Second), time.NewTicker(30*time.Second)
	defer killTick.Stop()
	defer reloadTick.Stop()
	defer sampleTick.Stop()
	end := time.After(duration)
	middle := time.After(duration / 2)
	var middleSample soakSample
	kills, reloads, reloadsSeen := 0, 0, 0
	var chaosWG sync.WaitGroup
	version := func() int {
		_, body := get(t, "http://"+admin+"/config_dump")
		var d struct{ Version int }
		json.Unmarshal([]byte(body), &d)
		return d.Version
	}
loop:
	for {
		select {
		case <-end:
			break loop
		case <-middle:
			middleSample = sample("middle")
			samples = append(samples, middleSample)
		case <-sampleTick.C:
			samples = append(samples, sample(fmt.Sprintf("t+%ds", int(time.Since(t0).Seconds()))))
		case <-killTick.C:
			ep := eps[kills%len(eps)]
			kills++
			ep.kill()
			chaosWG.Add(1)
			time.AfterFunc(5*time.Second, func() {
				defer chaosWG.Done()
				ep.restart(t)
			})
		case <-reloadTick.C:
			reloads++
			before := version()
			writeAtomically(t, path, config(reloads))
			for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				if version() > before {
					reloadsSeen++
					break
				}
			}
		}
	}
	elapsed := time.Since(t0)
	close(stopLoad)
	loadWG.Wait()
	chaosWG.Wait()
	client.CloseIdleConnections()

	// End: the load has stopped; give the process a few seconds to close what it must.
	var endSample soakSample
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		endSample = sample("end")
		if endSample.goroutines <= startSample.goroutines+10 || time.Now().After(deadline) {
			break
		}
	}
	samples = append(samples, endSample)

	slices.Sort(latencies)
	pct := func(p float64) time.Duration {
		if len(latencies) == 0 {
			return 0
		}
		return latencies[min(len(latencies)-1, int(p*float64(len(latencies))))]
	}
	served := make([]string, len(eps))
	for i, ep := range eps {
		served[i] = fmt.Sprintf("%s %d", ep.name, ep.served.Load())
	}
	var report strings.Builder
	fmt.Fprintf(&report, "soak: %v of load (plus 5s warm-up), %d req/s target, %.0f req/s achieved, %d workers\n",
		elapsed.Round(time.Second), rps, float64(sent.Load())/(elapsed+5*time.Second).Seconds(), workers)
	fmt.Fprintf(&report, "  requests sent %d, succeeded %d, failed %d (saveable by the retry policy %d, cut mid-response %d)\n",
		sent.Load(), ok.Load(), saveable+cut, saveable, cut)
	fmt.Fprintf(&report, "  latency p50 %v, p99 %v, max %v\n", pct(0.50).Round(time.Microsecond), pct(0.99).Round(time.Microsecond), pct(1).Round(time.Microsecond))
	fmt.Fprintf(&report, "  endpoint kills %d (5s down each), config reloads %d (%d confirmed by /config_dump), answers by config a %d, b %d\n",
		kills, reloads, reloadsSeen, byConfigA.Load(), byConfigB.Load())
	fmt.Fprintf(&report, "  endpoint requests: %s\n", strings.Join(served, ", "))
	fmt.Fprintf(&report, "  %-8s %10s %12s %12s\n", "sample", "goroutines", "RSS (prom)", "VmRSS")
	for _, s := range samples {
		fmt.Fprintf(&report, "  %-8s %10.0f %9.1f MiB %8.1f MiB\n", s.when, s.goroutines, s.rss/(1<<20), float64(s.vmRSSKiB)/1024)
	}
	var counters []string
	for _, name := range []string{"upstream_rq_retry", "upstream_rq_retry_success", "upstream_rq_retry_overflow",
		"upstream_cx_connect_fail", "outlier_detection.ejections_enforced_total", "health_check.attempt", "health_check.failure", "health_check.network_failure"} {
		counters = append(counters, name+" "+statFrom(t, admin, "cluster.svc."+name))
	}
	fmt.Fprintf(&report, "  pylon counters (cluster svc): %s\n", strings.Join(counters, ", "))
	t.Log("\n" + report.String())

	if saveable > 0 || cut > 0 {
		t.Errorf("%d requests failed (%d the retry policy should have saved, %d cut mid-response); first ones:\n  %s",
			saveable+cut, saveable, cut, strings.Join(failures[:min(len(failures), 20)], "\n  "))
	}
	if ok.Load() < int64(float64(rps)*elapsed.Seconds()*0.5) {
		t.Errorf("only %d requests succeeded in %v: the load did not run at about %d req/s", ok.Load(), elapsed, rps)
	}
	if kills == 0 || reloadsSeen == 0 || reloadsSeen < reloads {
		t.Errorf("chaos did not happen as planned: %d kills, %d of %d reloads confirmed", kills, reloadsSeen, reloads)
	}
	if endSample.goroutines > startSample.goroutines+10 {
		t.Errorf("goroutines: %v at the start, %v at the end: a leak", startSample.goroutines, endSample.goroutines)
	}
	const mib = 1 << 20
	if endSample.rss-startSample.rss > 32*mib {
		t.Errorf("RSS grew from %.1f MiB to %.1f MiB", startSample.rss/mib, endSample.rss/mib)
	}
	if middleSample.rss > 0 && endSample.rss-middleSample.rss > 16*mib {
		t.Errorf("RSS grew by %.1f MiB over the second half (%.1f -> %.1f MiB): still growing", (endSample.rss-middleSample.rss)/mib, middleSample.rss/mib, endSample.rss/mib)
	}
}

type soakSample struct {
	when            string
	at              time.Time
	goroutines, rss float64
	vmRSSKiB        int
}

// soakRequest sends one GET. cut reports an error after the response headers arrived: the
// response was cut mid-way, which no retry policy can save.
func soakRequest(c *http.Client, url string) (status int, config string, cut bool, err error) {
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", false, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, "", true, err
	}
	if resp.StatusCode != 200 {
		return resp.StatusCode, "", false, fmt.Errorf("body %q", b)
	}
	if !strings.HasPrefix(string(b), "ok ") {
		return resp.StatusCode, "", false, fmt.Errorf("unexpected body %q", b)
	}
	return 200, resp.Header.Get("X-Config"), false, nil
}

// soakEndpoint is an upstream that can be killed (listener and every connection closed at
// once: new connections are refused) and restarted on the same address.
type soakEndpoint struct {
	name, addr string
	served     atomic.Int64
	mu         sync.Mutex
	srv        *http.Server
}

func newSoakEndpoint(t *testing.T, name string) *soakEndpoint {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &soakEndpoint{name: name, addr: ln.Addr().String()}
	e.serve(ln)
	t.Cleanup(e.kill)
	return e
}

func (e *soakEndpoint) serve(ln net.Listener) {
	body := []byte("ok " + e.name)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			return
		}
		e.served.Add(1)
		// Headers and body leave in one write when the handler returns.
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	})}
	e.mu.Lock()
	e.srv = srv
	e.mu.Unlock()
	go srv.Serve(ln)
}

func (e *soakEndpoint) kill() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.srv != nil {
		e.srv.Close()
		e.srv = nil
	}
}

func (e *soakEndpoint) restart(t *testing.T) {
	var err error
	for range 50 {
		var ln net.Listener
		if ln, err = net.Listen("tcp", e.addr); err == nil {
			e.serve(ln)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("restarting endpoint %s on %s: %v", e.name, e.addr, err)
}

// writeAtomically replaces path with text by renaming a temporary file over it, as config
// management tools do, so that a reload never reads a half-written file.
func writeAtomically(t *testing.T, path, text string) {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
