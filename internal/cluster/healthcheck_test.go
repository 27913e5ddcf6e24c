package cluster

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/pylon-gateway/pylon/internal/lb"
)

func counter(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func gauge(t *testing.T, g prometheus.Gauge) float64 {
	t.Helper()
	var m dto.Metric
	if err := g.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetGauge().GetValue()
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestHTTPCheckResults(t *testing.T) {
	tests := []struct {
		name    string
		fields  string
		status  int
		header  string
		slow    bool
		want    checkResult
		wantReq func(*http.Request) string // "" when the request is as expected
	}{
		{name: "200 passes by default", status: 200, want: checkPassed},
		{name: "204 fails by default", status: 204, want: checkFailed},
		{name: "503 fails", status: 503, want: checkFailed},
		{name: "expected range", fields: `expected_statuses: [200, "204-206"]`, status: 205, want: checkPassed},
		{name: "outside the expected range", fields: `expected_statuses: ["200-299"]`, status: 301, want: checkFailed},
		{name: "retriable", fields: `retriable_statuses: [503]`, status: 503, want: checkRetriable},
		{name: "immediate fail header", status: 200, header: "X-Envoy-Immediate-Health-Check-Fail", want: checkFailed},
		{name: "timeout", status: 200, slow: true, want: checkNetworkFailed},
		{name: "request", status: 200, want: checkPassed, wantReq: func(r *http.Request) string {
			switch {
			case r.Method != "GET" || r.URL.RequestURI() != "/healthz?probe=1":
				return "got " + r.Method + " " + r.URL.RequestURI()
			case r.Host != "c":
				return "host " + r.Host + ", want the cluster name"
			case r.UserAgent() != "Envoy/HC":
				return "user-agent " + r.UserAgent()
			}
			return ""
		}},
		{name: "host header", fields: "host: health.internal", status: 200, want: checkPassed, wantReq: func(r *http.Request) string {
			if r.Host != "health.internal" {
				return "host " + r.Host
			}
			return ""
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var problem atomic.Value
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.wantReq != nil {
					problem.Store(tt.wantReq(r))
				}
				if tt.slow {
					select {
					case <-r.Context().Done():
					case <-time.After(2 * time.Second):
					}
				}
				if tt.header != "" {
					w.Header().Set(tt.header, "true")
				}
				w.WriteHeader(tt.status)
			}))
			defer srv.Close()
			timeout := "2s" // generous: the machine may be busy
			if tt.slow {
				timeout = "100ms"
			}
			c := testCluster(t, 0, "endpoints: ["+srv.Listener.Addr().String()+"]\nhealth_check:\n  timeout: "+timeout+"\n  http:\n    path: /healthz?probe=1\n"+indentLines(tt.fields, "    "))
			if got := c.hc.check(context.Background(), c.Hosts()[0]); got != tt.want {
				t.Errorf("check = %v, want %v", got, tt.want)
			}
			if p, _ := problem.Load().(string); p != "" {
				t.Error(p)
			}
		})
	}
}

func TestTCPCheck(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	closed := ln.Addr().String()
	c := testCluster(t, 0, "endpoints: ["+closed+"]\nhealth_check: {tcp: {}, timeout: 1s}")
	if got := c.hc.check(context.Background(), c.Hosts()[0]); got != checkPassed {
		t.Errorf("open port: %v, want passed", got)
	}
	ln.Close()
	if got := c.hc.check(context.Background(), c.Hosts()[0]); got != checkNetworkFailed {
		t.Errorf("closed port: %v, want network failure", got)
	}
}

// TestHealthThresholds replays check results through Envoy's rules and checks whether the
// endpoint is healthy after each.
func TestHealthThresholds(t *testing.T) {
	const (
		P = checkPassed
		F = checkFailed
		R = checkRetriable
		N = checkNetworkFailed
	)
	tests := []struct {
		name    string
		results []checkResult
		want    string // healthy (h) or not (u) after each result
	}{
		{"first pass is enough", []checkResult{P, P}, "hh"},
		{"first failure keeps it out", []checkResult{N, P, P}, "uuh"},
		{"network failures need the threshold", []checkResult{P, N, N, N, P, P}, "hhhuuh"},
		{"a pass resets the failure count", []checkResult{P, N, N, P, N, N, N}, "hhhhhhu"},
		{"retriable statuses need the threshold", []checkResult{P, R, R, R}, "hhhu"},
		{"a failing status is immediate", []checkResult{P, F, P, P}, "huuh"},
		{"a failure resets the pass count", []checkResult{P, F, P, F, P, P}, "huuuuh"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testCluster(t, 1, "health_check: {tcp: {}, healthy_threshold: 2, unhealthy_threshold: 3}")
			h := c.Hosts()[0]
			st := c.set.Load().states[h]
			if !st.has(flagFailedActiveHC) || !st.has(flagPendingActiveHC) {
				t.Fatalf("a new endpoint should start failed and pending, flags %b", st.flags.Load())
			}
			s := &session{first: true}
			got := ""
			for _, r := range tt.results {
				c.hc.record(h, st, s, r)
				if st.has(flagPendingActiveHC) {
					t.Fatal("still pending after a check")
				}
				if h.Healthy() {
					got += "h"
				} else {
					got += "u"
				}
			}
			if got != tt.want {
				t.Errorf("health after each result = %s, want %s", got, tt.want)
			}
		})
	}
}

// TestHealthCheckLifecycle runs real checks: Start waits for the first round, an endpoint
// leaves when its checks fail and comes back when they pass, and Close ends the sessions.
func TestHealthCheckLifecycle(t *testing.T) {
	var failing atomic.Bool
	var checks atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		checks.Add(1)
		if failing.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	good := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer good.Close()
	c := testCluster(t, 0, "endpoints: ["+srv.Listener.Addr().String()+", "+good.Listener.Addr().String()+"]\n"+
		"health_check: {http: {path: /}, interval: 10ms, no_traffic_interval: 10ms, timeout: 1s, healthy_threshold: 2}")
	if got := picks(c, 10); got["<nil>"] != 0 || len(got) != 2 {
		t.Fatalf("before Start, every endpoint is unchecked and the cluster in panic mode: %v", got)
	}
	c.Start(context.Background())
	bad := c.Hosts()[0]
	if h := c.HostHealth(bad); !h.Healthy() || h.PendingActiveHC {
		t.Fatalf("after Start the first check has run: %+v", h)
	}
	failing.Store(true)
	eventually(t, "the failing endpoint to leave", func() bool { return !c.HostHealth(bad).Healthy() })
	if f := c.HostHealth(bad).Flags(); f != "/failed_active_hc" {
		t.Errorf("health_flags = %q", f)
	}
	if got := picks(c, 20); got[bad.Address] != 0 {
		t.Errorf("picks %v: the failing endpoint is still picked", got)
	}
	failing.Store(false)
	eventually(t, "the endpoint to come back", func() bool { return c.HostHealth(bad).Healthy() })
	if v := counter(t, c.hc.st.Failure); v < 1 {
		t.Errorf("health_check.failure = %v", v)
	}
	if a, s := counter(t, c.hc.st.Attempt), counter(t, c.hc.st.Success); a < s+1 || s < 3 {
		t.Errorf("health_check.attempt = %v, success = %v", a, s)
	}
	c.Close()
	n := checks.Load()
	time.Sleep(50 * time.Millisecond)
	if d := checks.Load() - n; d > 0 {
		t.Errorf("%d checks after Close", d)
	}
}

func TestStartBoundedByContext(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer srv.Close()
	c := testCluster(t, 0, "endpoints: ["+srv.Listener.Addr().String()+"]\nhealth_check: {http: {path: /}, timeout: 10s}")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	c.Start(ctx)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Start took %v; it should give up with its context", d)
	}
	srv.CloseClientConnections()
}

func TestHealthCheckFollowsMembership(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	c := testCluster(t, 0, "endpoints: ["+srv.Listener.Addr().String()+"]\nhealth_check: {http: {path: /}, interval: 10ms, no_traffic_interval: 10ms}")
	c.Start(context.Background())
	old := c.Hosts()
	added := lb.NewHost(old[0].Address, old[0].Hostname, 1) // a new endpoint, as DNS would add
	if err := c.setHosts([]*lb.Host{added}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the new endpoint to be checked", func() bool { return c.HostHealth(added).Healthy() })
	c.hc.mu.Lock()
	_, stale := c.hc.sessions[old[0]]
	n := len(c.hc.sessions)
	c.hc.mu.Unlock()
	if stale || n != 1 {
		t.Errorf("sessions: %d, the removed endpoint's still running: %v", n, stale)
	}
	if !strings.Contains(c.String(), "1 endpoints") {
		t.Errorf("String() = %q", c.String())
	}
}
