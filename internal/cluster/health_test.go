package cluster

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/pylon-gateway/pylon/internal/config"
	"github.com/pylon-gateway/pylon/internal/lb"
	"github.com/pylon-gateway/pylon/internal/stats"
)

// testCluster loads a cluster named c from the YAML of its fields (defaults applied, as
// config.Load does) and builds it, with n static endpoints 127.0.0.1:1..n unless the YAML
// lists its own. It is closed when the test ends.
func testCluster(t testing.TB, n int, fields string) *Cluster {
	t.Helper()
	var eps []string
	for i := 1; i <= n; i++ {
		eps = append(eps, fmt.Sprintf("127.0.0.1:%d", i))
	}
	if !strings.Contains(fields, "endpoints:") {
		fields = "endpoints: [" + strings.Join(eps, ", ") + "]\n" + fields
	}
	doc := `listeners:
  - {name: l, address: "127.0.0.1:0", virtual_hosts: [{domains: ["*"], routes: [{match: {prefix: /}, direct_response: {status: 200}}]}]}
clusters:
  - name: c
` + indentLines(fields, "    ")
	cfg, err := config.Load([]byte(doc))
	if err != nil {
		t.Fatalf("config: %v\n%s", err, doc)
	}
	c, err := New(cfg.Clusters[0], stats.New(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func indentLines(s, pad string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		if l != "" {
			b.WriteString(pad + l)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// picks returns how many of n picks went to each endpoint address.
func picks(c *Cluster, n int) map[string]int {
	got := map[string]int{}
	for range n {
		if h := c.Pick(nil, ""); h != nil {
			got[h.Address]++
		} else {
			got["<nil>"]++
		}
	}
	return got
}

// setFlag raises or clears a flag on the endpoint of the given index and rebuilds.
func setFlag(c *Cluster, i int, f healthFlag, on bool) {
	s := c.set.Load()
	s.states[s.hosts[i]].set(f, on)
	c.refresh()
}

func TestInPanic(t *testing.T) {
	tests := []struct {
		healthy, total int
		threshold      float64
		want           bool
	}{
		{0, 0, 50, false},     // no endpoints: nothing to spread over
		{0, 1, 50, true},      // the only endpoint is unhealthy: it still gets traffic
		{1, 2, 50, false},     // 50% is not below 50%
		{1, 3, 50, true},      // 33%
		{2, 4, 0, false},      // 0 disables panic mode
		{0, 4, 0, false},      // even with nothing healthy
		{3, 4, 100, false},    // 75% * 1.4 > 100%: Envoy's overprovisioning keeps it out of panic
		{5, 7, 100, false},    // 71.4% * 1.4 = 100%
		{7, 10, 100, true},    // 70% * 1.4 = 98%
		{4, 10, 45, true},     // 40%
		{9, 10, 95, false},    // 90%, overprovisioned
		{1, 1000, 0.2, true},  // 0.1%
		{2, 1000, 0.2, false}, // 0.2%
	}
	for _, tt := range tests {
		if got := inPanic(tt.healthy, tt.total, tt.threshold); got != tt.want {
			t.Errorf("inPanic(%d of %d healthy, threshold %v) = %v, want %v", tt.healthy, tt.total, tt.threshold, got, tt.want)
		}
	}
}

func TestHealthFlagsString(t *testing.T) {
	tests := []struct {
		h    HostHealth
		want string
	}{
		{HostHealth{}, "healthy"},
		{HostHealth{FailedActiveHC: true}, "/failed_active_hc"},
		{HostHealth{FailedOutlierCheck: true}, "/failed_outlier_check"},
		{HostHealth{FailedActiveHC: true, FailedOutlierCheck: true}, "/failed_active_hc/failed_outlier_check"},
		{HostHealth{FailedActiveHC: true, PendingActiveHC: true}, "/failed_active_hc/pending_active_hc"},
	}
	for _, tt := range tests {
		if got := tt.h.Flags(); got != tt.want {
			t.Errorf("%+v.Flags() = %q, want %q", tt.h, got, tt.want)
		}
	}
}

func TestUnhealthyEndpointsLeaveTheBalancer(t *testing.T) {
	for _, policy := range []string{lb.RoundRobin, lb.LeastRequest, lb.Random, lb.RingHash, lb.Maglev} {
		t.Run(policy, func(t *testing.T) {
			c := testCluster(t, 4, "lb: "+policy)
			setFlag(c, 0, flagFailedActiveHC, true)
			setFlag(c, 1, flagFailedOutlierCheck, true)
			got := picks(c, 400)
			if got["127.0.0.1:1"]+got["127.0.0.1:2"] != 0 || got["127.0.0.1:3"] == 0 || got["127.0.0.1:4"] == 0 {
				t.Errorf("picks %v: want only the healthy :3 and :4", got)
			}
			if v := gauge(t, c.Stats.MembershipHealthy); v != 2 {
				t.Errorf("membership_healthy = %v, want 2", v)
			}
			setFlag(c, 0, flagFailedActiveHC, false)
			if got := picks(c, 400); got["127.0.0.1:1"] == 0 {
				t.Errorf("picks %v: :1 is healthy again and should be picked", got)
			}
		})
	}
}

func TestPanicModeSpreadsOverEveryEndpoint(t *testing.T) {
	tests := []struct {
		name      string
		fields    string
		unhealthy int // of 4 endpoints
		wantPanic bool
		wantNil   bool
	}{
		{"half healthy", "", 2, false, false},
		{"one healthy", "", 3, true, false},
		{"none healthy", "", 4, true, false},
		{"panic disabled", "healthy_panic_threshold: 0", 4, false, true},
		{"higher threshold", "healthy_panic_threshold: 60", 2, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testCluster(t, 4, tt.fields)
			for i := range tt.unhealthy {
				setFlag(c, i, flagFailedActiveHC, true)
			}
			got := picks(c, 400)
			if tt.wantNil {
				if got["<nil>"] != 400 {
					t.Errorf("picks %v: want no host (503 no healthy upstream)", got)
				}
				return
			}
			if tt.wantPanic && len(got) != 4 {
				t.Errorf("picks %v: in panic mode every endpoint should be picked", got)
			}
			if !tt.wantPanic && len(got) != 4-tt.unhealthy {
				t.Errorf("picks %v: want only the %d healthy endpoints", got, 4-tt.unhealthy)
			}
			if p := counter(t, c.lbPanic); (p == 400) != tt.wantPanic || (p != 0 && p != 400) {
				t.Errorf("lb_healthy_panic = %v after 400 picks, panic %v", p, tt.wantPanic)
			}
		})
	}
}
