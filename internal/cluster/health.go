package cluster

import (
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/pylon-gateway/pylon/internal/lb"
)

// healthFlag is one reason for an endpoint not to be healthy, as Envoy's Host::HealthFlag.
// An endpoint with none of unhealthyFlags is healthy and takes traffic.
type healthFlag uint32

const (
	// flagFailedActiveHC: the active health check failed. An endpoint of a cluster with health
	// checking starts with it, so it takes traffic only once a check passed (Envoy's
	// FAILED_ACTIVE_HC, set on every new host when the cluster has a health checker).
	flagFailedActiveHC healthFlag = 1 << iota
	// flagFailedOutlierCheck: ejected by outlier detection.
	flagFailedOutlierCheck
	// flagPendingActiveHC: not health checked yet. It only informs the admin page.
	flagPendingActiveHC
)

// unhealthyFlags are the flags that take an endpoint out of the load balancer.
const unhealthyFlags = flagFailedActiveHC | flagFailedOutlierCheck

// hostState is the cluster's view of one endpoint's health. It lives as long as the endpoint
// (a DNS re-resolution that keeps an address keeps its state), shared by every hostSet.
type hostState struct {
	flags atomic.Uint32
	od    outlierMonitor
}

func (s *hostState) has(f healthFlag) bool { return healthFlag(s.flags.Load())&f != 0 }

func (s *hostState) healthy() bool { return !s.has(unhealthyFlags) }

// set raises or clears f and reports whether that changed it.
func (s *hostState) set(f healthFlag, on bool) bool {
	for {
		old := s.flags.Load()
		nw := old &^ uint32(f)
		if on {
			nw = old | uint32(f)
		}
		if nw == old {
			return false
		}
		if s.flags.CompareAndSwap(old, nw) {
			return true
		}
	}
}

// newHostState is the state of an endpoint the cluster has just learnt of.
func (c *Cluster) newHostState() *hostState {
	st := &hostState{}
	st.od.successRate = -1
	if c.hc != nil {
		st.flags.Store(uint32(flagFailedActiveHC | flagPendingActiveHC))
	}
	return st
}

// HostHealth is one endpoint's health, for the admin pages.
type HostHealth struct {
	FailedActiveHC, FailedOutlierCheck, PendingActiveHC bool
	// SuccessRate is the endpoint's success rate, in percent, over the last outlier detection
	// interval, or -1 when none was computed (too few requests, or no outlier detection).
	SuccessRate float64
}

// Healthy reports whether the endpoint takes traffic outside panic mode.
func (h HostHealth) Healthy() bool { return !h.FailedActiveHC && !h.FailedOutlierCheck }

// Flags renders Envoy's health_flags: "healthy", or every flag that is set, each with a
// leading "/", in Envoy's order ("/failed_active_hc/failed_outlier_check").
func (h HostHealth) Flags() string {
	s := ""
	if h.FailedActiveHC {
		s += "/failed_active_hc"
	}
	if h.FailedOutlierCheck {
		s += "/failed_outlier_check"
	}
	if h.PendingActiveHC {
		s += "/pending_active_hc"
	}
	if s == "" {
		return "healthy"
	}
	return s
}

// HostHealth returns the health of one of the cluster's endpoints.
func (c *Cluster) HostHealth(h *lb.Host) HostHealth {
	out := HostHealth{SuccessRate: -1}
	st := c.set.Load().states[h]
	if st == nil {
		return out
	}
	f := healthFlag(st.flags.Load())
	out.FailedActiveHC = f&flagFailedActiveHC != 0
	out.FailedOutlierCheck = f&flagFailedOutlierCheck != 0
	out.PendingActiveHC = f&flagPendingActiveHC != 0
	if c.od != nil {
		c.od.mu.Lock()
		out.SuccessRate = st.od.successRate
		c.od.mu.Unlock()
	}
	return out
}

// setHosts makes hosts the cluster's endpoints. Hosts it already had keep their state; new
// ones start as newHostState says.
func (c *Cluster) setHosts(hosts []*lb.Host) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var prev map[*lb.Host]*hostState
	if old := c.set.Load(); old != nil {
		prev = old.states
	}
	states := make(map[*lb.Host]*hostState, len(hosts))
	for _, h := range hosts {
		st := prev[h]
		if st == nil {
			st = c.newHostState()
		}
		states[h] = st
	}
	if err := c.rebuild(hosts, states); err != nil {
		return err
	}
	if c.hc != nil {
		c.hc.sync(c.set.Load())
	}
	return nil
}

// refresh rebuilds the balancer after an endpoint's health changed.
func (c *Cluster) refresh() {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.set.Load()
	if err := c.rebuild(s.hosts, s.states); err != nil {
		c.log.Error("rebuilding the load balancer", "error", err)
	}
}

// rebuild stores a new hostSet over hosts: a balancer over the healthy ones or, in panic
// mode, over all of them. The caller holds c.mu, so that two rebuilds cannot interleave and
// store a view older than the flags. The balancer is reused when the eligible endpoints did
// not change (a health change in panic mode), so its rotation carries on.
func (c *Cluster) rebuild(hosts []*lb.Host, states map[*lb.Host]*hostState) error {
	healthy := make([]*lb.Host, 0, len(hosts))
	passing, ejected := 0, 0
	for _, h := range hosts {
		st := states[h]
		h.SetHealthy(st.healthy())
		if st.healthy() {
			healthy = append(healthy, h)
		}
		if !st.has(flagFailedActiveHC) {
			passing++
		}
		if st.has(flagFailedOutlierCheck) {
			ejected++
		}
	}
	panicMode := inPanic(len(healthy), len(hosts), c.panicThreshold)
	eligible := healthy
	if panicMode {
		eligible = hosts
	}
	old := c.set.Load()
	var b lb.Balancer
	if old != nil && slices.Equal(old.eligible, eligible) {
		b = old.balancer
	} else {
		opts := lb.Options{}
		if rh := c.Config.RingHash; rh != nil {
			opts.MinRingSize, opts.MaxRingSize = rh.MinimumRingSize, rh.MaximumRingSize
		}
		var err error
		if b, err = lb.New(c.Config.LB, eligible, opts); err != nil {
			return fmt.Errorf("cluster %s: %w", c.Name, err)
		}
	}
	sni := make(map[string]string, len(hosts))
	for _, h := range hosts {
		sni[h.Address] = h.Hostname
	}
	c.set.Store(&hostSet{hosts: hosts, states: states, eligible: slices.Clip(eligible), panic: panicMode, balancer: b, sni: sni})
	c.Stats.MembershipTotal.Set(float64(len(hosts)))
	c.Stats.MembershipHealthy.Set(float64(len(healthy)))
	if c.hc != nil {
		c.hc.st.Healthy.Set(float64(passing))
	}
	if c.od != nil {
		c.od.st.EjectionsActive.Set(float64(ejected))
	}
	return nil
}

// inPanic reports whether a cluster with healthy of total endpoints healthy is in Envoy's
// panic mode, where the balancer ignores health: when healthy/total is below threshold (a
// percentage; 0 disables panic mode). As in Envoy, there is no panic while the healthy
// endpoints, scaled by the overprovisioning factor of 1.4, make up the whole cluster: with a
// threshold above 71%, 72% healthy is enough.
func inPanic(healthy, total int, threshold float64) bool {
	if total == 0 || threshold <= 0 || 140*healthy >= 100*total {
		return false
	}
	return 100*float64(healthy) < threshold*float64(total)
}
