package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"testing"
	"time"

	"github.com/pylon-gateway/pylon/internal/lb"
	"github.com/pylon-gateway/pylon/internal/stats"
)

func TestOutcomeStatus(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"connect failure", &ConnectError{Addr: "a", Err: errors.New("connection refused")}, 503},
		{"connect timeout", &ConnectError{Addr: "a", Timeout: true, Err: os.ErrDeadlineExceeded}, 504},
		{"route timeout", fmt.Errorf("proxy: %w", context.DeadlineExceeded), 504},
		{"net timeout", &net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}, 504},
		{"reset", io.ErrUnexpectedEOF, 503},
		{"client gone", fmt.Errorf("proxy: %w", context.Canceled), 0},
		{"dial abandoned by the client", &ConnectError{Addr: "a", Err: context.Canceled}, 0},
	}
	for _, tt := range tests {
		if got := outcomeStatus(tt.err); got != tt.want {
			t.Errorf("%s: outcomeStatus(%v) = %d, want %d", tt.name, tt.err, got, tt.want)
		}
	}
}

// TestConsecutiveFailures feeds statuses to one endpoint of four and checks whether it ends
// up ejected, and for which reason.
func TestConsecutiveFailures(t *testing.T) {
	tests := []struct {
		name     string
		fields   string
		statuses []int
		want     stats.EjectionType // -1: not ejected
	}{
		{"5 5xx", "", []int{500, 500, 500, 500, 500}, stats.EjectConsecutive5xx},
		{"4 5xx", "", []int{500, 500, 500, 500}, -1},
		{"a success in between", "", []int{500, 500, 200, 500, 500, 500}, -1},
		{"4xx is a success", "", []int{500, 500, 404, 500, 500, 500}, -1},
		{"threshold 3", "consecutive_5xx: 3", []int{503, 500, 502}, stats.EjectConsecutive5xx},
		{"consecutive_5xx off", "consecutive_5xx: 0", []int{500, 500, 500, 500, 500, 500}, -1},
		// Gateway failures are detected but, by default, not enforced (0%); they count as 5xx too.
		{"gateway failures not enforced", "consecutive_5xx: 0", []int{502, 503, 504, 502, 503}, -1},
		{"gateway failures enforced", "consecutive_5xx: 0\nenforcing_consecutive_gateway_failure: 100", []int{502, 503, 504, 502, 503}, stats.EjectConsecutiveGatewayFailure},
		{"a 500 breaks a gateway run", "consecutive_5xx: 0\nenforcing_consecutive_gateway_failure: 100", []int{502, 503, 500, 504, 502, 503}, -1},
		{"5xx not enforced", "enforcing_consecutive_5xx: 0", []int{500, 500, 500, 500, 500}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testCluster(t, 4, "outlier_detection:\n  always_eject_one_host: true\n"+indentLines(tt.fields, "  "))
			h := c.Hosts()[0]
			for _, s := range tt.statuses {
				c.ReportOutcome(h, s, nil)
			}
			ejected := c.HostHealth(h).FailedOutlierCheck
			if ejected != (tt.want >= 0) {
				t.Fatalf("ejected = %v, want %v", ejected, tt.want >= 0)
			}
			od := c.od.st
			for typ := range stats.EjectionType(4) {
				want := 0.0
				if typ == tt.want {
					want = 1
				}
				if got := counter(t, od.Enforced[typ]); got != want {
					t.Errorf("ejections_enforced_%s = %v, want %v", typ, got, want)
				}
			}
			if ejected {
				if got := picks(c, 100); got[h.Address] != 0 {
					t.Errorf("picks %v: the ejected endpoint is still picked", got)
				}
				if v := gauge(t, od.EjectionsActive); v != 1 {
					t.Errorf("ejections_active = %v", v)
				}
			}
		})
	}
}

func TestMaxEjectionPercent(t *testing.T) {
	tests := []struct {
		endpoints int
		fields    string
		want      int // endpoints ejected when all of them fail
	}{
		{2, "", 0},                            // 1 of 2 is 50% > 10%
		{10, "", 1},                           // 1 of 10 is 10%
		{20, "", 2},                           // 10%
		{2, "max_ejection_percent: 50", 1},    // 50%
		{2, "always_eject_one_host: true", 1}, // one, whatever the percentage
		{4, "max_ejection_percent: 100", 4},
		{4, "max_ejection_percent: 0", 0},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d endpoints %s", tt.endpoints, tt.fields), func(t *testing.T) {
			c := testCluster(t, tt.endpoints, "outlier_detection:\n  consecutive_5xx: 1\n"+indentLines(tt.fields, "  "))
			for _, h := range c.Hosts() {
				c.ReportOutcome(h, 500, nil)
			}
			ejected := 0
			for _, h := range c.Hosts() {
				if c.HostHealth(h).FailedOutlierCheck {
					ejected++
				}
			}
			if ejected != tt.want {
				t.Errorf("ejected %d, want %d", ejected, tt.want)
			}
			if got := counter(t, c.od.st.EjectionsOverflow); got != float64(tt.endpoints-tt.want) {
				t.Errorf("ejections_overflow = %v, want %d", got, tt.endpoints-tt.want)
			}
		})
	}
}

// TestEjectionTime drives the interval timer by hand: an ejection lasts base_ejection_time
// times the number of recent ejections, capped by max_ejection_time, and the multiplier
// shrinks by one each interval the endpoint stays healthy.
func TestEjectionTime(t *testing.T) {
	c := testCluster(t, 4, `outlier_detection:
  consecutive_5xx: 1
  interval: 1s
  base_ejection_time: 10s
  max_ejection_time: 25s
  always_eject_one_host: true`)
	h := c.Hosts()[0]
	st := c.set.Load().states[h]
	ejectedFor := func() time.Duration {
		t.Helper()
		c.ReportOutcome(h, 500, nil)
		if !st.has(flagFailedOutlierCheck) {
			t.Fatal("not ejected")
		}
		c.od.mu.Lock()
		at := st.od.ejectedAt
		c.od.mu.Unlock()
		for d := time.Second; d <= time.Minute; d += time.Second {
			c.od.tick(at.Add(d))
			if !st.has(flagFailedOutlierCheck) {
				return d
			}
		}
		t.Fatal("never returned")
		return 0
	}
	for i, want := range []time.Duration{10 * time.Second, 20 * time.Second, 25 * time.Second, 25 * time.Second} {
		if got := ejectedFor(); got != want {
			t.Errorf("ejection %d lasted %v, want %v", i+1, got, want)
		}
	}
	if st.od.ejections != 4 {
		t.Errorf("ejections = %d", st.od.ejections)
	}
	// Healthy for a while: each interval takes one off the multiplier, from 4 down to 1
	// after three intervals, so the next ejection (which adds one first) lasts 2 x 10s.
	c.od.mu.Lock()
	back := st.od.unejectedAt
	c.od.mu.Unlock()
	for d := time.Second; d <= 3*time.Second; d += time.Second {
		c.od.tick(back.Add(d))
	}
	if got := ejectedFor(); got != 20*time.Second {
		t.Errorf("after three healthy intervals the ejection lasted %v, want 20s", got)
	}
}

// TestSuccessRate is Envoy's worked example: success rates 50, 100, 100, 100, 100 give a
// mean of 90, a standard deviation of 20 and, with the factor 1.9, a threshold of 52.
func TestSuccessRate(t *testing.T) {
	tests := []struct {
		name   string
		fields string
		rates  []int // successes of 100 requests, per endpoint
		want   []bool
		avg    float64
	}{
		{"one outlier", "", []int{50, 100, 100, 100, 100}, []bool{true, false, false, false, false}, 90},
		{"no outlier", "", []int{90, 95, 100, 100, 100}, []bool{false, false, false, false, false}, 97},
		{"too few endpoints", "success_rate_minimum_hosts: 6", []int{50, 100, 100, 100, 100}, []bool{false, false, false, false, false}, -1},
		{"too few requests", "success_rate_request_volume: 101", []int{50, 100, 100, 100, 100}, []bool{false, false, false, false, false}, -1},
		{"not enforced", "enforcing_success_rate: 0", []int{50, 100, 100, 100, 100}, []bool{false, false, false, false, false}, 90},
		{"failure percentage", "enforcing_failure_percentage: 100\nenforcing_success_rate: 0\nfailure_percentage_threshold: 40", []int{50, 61, 100, 100, 100}, []bool{true, false, false, false, false}, 82.2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testCluster(t, len(tt.rates), "outlier_detection:\n  consecutive_5xx: 0\n  max_ejection_percent: 100\n"+indentLines(tt.fields, "  "))
			hosts := c.Hosts()
			for i, ok := range tt.rates {
				for j := range 100 {
					status := 200
					if j >= ok {
						status = 500
					}
					c.ReportOutcome(hosts[i], status, nil)
				}
			}
			c.od.tick(time.Now())
			for i, want := range tt.want {
				if got := c.HostHealth(hosts[i]).FailedOutlierCheck; got != want {
					t.Errorf("endpoint %d (%d%%): ejected %v, want %v", i, tt.rates[i], got, want)
				}
			}
			avg, thr, _ := c.SuccessRateFigures()
			if fmt.Sprintf("%.1f", avg) != fmt.Sprintf("%.1f", tt.avg) {
				t.Errorf("success_rate_average = %v (threshold %v), want %v", avg, thr, tt.avg)
			}
			if tt.name == "one outlier" {
				if math.Abs(thr-52) > 1e-9 {
					t.Errorf("success_rate_ejection_threshold = %v, want 52", thr)
				}
				if sr := c.HostHealth(hosts[1]).SuccessRate; sr != 100 {
					t.Errorf("success_rate of a healthy endpoint = %v", sr)
				}
			}
		})
	}
}

func TestHealthCheckUnejects(t *testing.T) {
	for _, uneject := range []bool{true, false} {
		t.Run(fmt.Sprint(uneject), func(t *testing.T) {
			c := testCluster(t, 1, fmt.Sprintf(`health_check: {tcp: {}}
outlier_detection: {consecutive_5xx: 1, max_ejection_percent: 100, successful_active_health_check_uneject_host: %v}`, uneject))
			h := c.Hosts()[0]
			st := c.set.Load().states[h]
			s := &session{first: true}
			c.hc.record(h, st, s, checkPassed)
			c.ReportOutcome(h, 503, nil)
			if !c.HostHealth(h).FailedOutlierCheck {
				t.Fatal("not ejected")
			}
			c.hc.record(h, st, s, checkPassed)
			if got := c.HostHealth(h).FailedOutlierCheck; got == uneject {
				t.Errorf("after a passing check, ejected = %v", got)
			}
		})
	}
}

func TestReportOutcomeWithoutDetection(t *testing.T) {
	c := testCluster(t, 2, "")
	h := c.Hosts()[0]
	for range 10 {
		c.ReportOutcome(h, 500, nil)
		c.ReportOutcome(h, 0, io.ErrUnexpectedEOF)
	}
	c.ReportOutcome(nil, 500, nil)
	c.ReportOutcome(lb.NewHost("10.0.0.1:1", "", 1), 500, nil) // not an endpoint of c
	if !c.HostHealth(h).Healthy() {
		t.Error("without outlier_detection nothing is ejected")
	}
}

func BenchmarkReportOutcome(b *testing.B) {
	c := testCluster(b, 4, "outlier_detection: {}")
	h := c.Hosts()[0]
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.ReportOutcome(h, 200, nil)
		}
	})
}
