package cluster

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pylon-gateway/pylon/internal/lb"
	"github.com/pylon-gateway/pylon/internal/stats"
)

// ReportOutcome tells the cluster how one upstream try on h ended: the response status, or
// the error when there was no response (connect failure, reset, timeout). Outlier detection
// feeds on it. The proxy calls it once per try, retries included.
//
// As in Envoy (without split_external_local_origin_errors), a try without a response counts
// as a 503 (connect failure, reset) or a 504 (timeout), so both count as 5xx and as gateway
// failures. A try the client abandoned (context.Canceled) is not the endpoint's fault and
// does not count.
func (c *Cluster) ReportOutcome(h *lb.Host, status int, err error) {
	od := c.od
	if od == nil || h == nil {
		return
	}
	if err != nil {
		if status = outcomeStatus(err); status == 0 {
			return
		}
	}
	if st := c.set.Load().states[h]; st != nil {
		od.put(h, st, status)
	}
}

// outcomeStatus is the status Envoy's outlier detection counts for a try that got no
// response, or 0 for one that must not count.
func outcomeStatus(err error) int {
	var ce *ConnectError
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled):
		return 0
	case errors.As(err, &ce):
		if ce.Timeout {
			return 504
		}
		return 503
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return 504
	}
	return 503
}

// outlierMonitor is the outlier detection state of one endpoint.
type outlierMonitor struct {
	// Written on every response, so atomics rather than the detector's mutex.
	consec5xx, consecGateway atomic.Uint32
	bucket                   atomic.Uint64 // this interval's responses: total<<32 | successes

	// Guarded by outlierDetector.mu.
	ejectedAt, unejectedAt time.Time
	jitter                 time.Duration
	backoff                int64   // multiplier of base_ejection_time (Envoy's ejectTimeBackoff)
	ejections              int     // times ejected (Envoy's num_ejections)
	total, successes       uint64  // the last full interval's responses
	successRate            float64 // percent over the last interval, -1 when not computed
}

// outlierDetector ejects endpoints whose responses fail, with Envoy's algorithms: consecutive
// 5xx, consecutive gateway failures, success rate (mean - stdev_factor * stdev) and failure
// percentage. An ejected endpoint leaves the balancer for base_ejection_time times its
// backoff, which grows with each ejection and shrinks with each interval it stays healthy.
type outlierDetector struct {
	c  *Cluster
	st *stats.Outlier

	consec5xx, consecGateway uint32
	interval, base, maxTime  time.Duration
	maxJitter                time.Duration
	maxPercent               int
	alwaysEjectOne           bool
	srMinHosts, srVolume     int
	srStdevFactor            float64
	fpThreshold              int
	fpMinHosts, fpVolume     int
	enforcing                [4]int // by stats.EjectionType, percent
	unejectOnHealthCheck     bool

	mu                       sync.Mutex
	srAverage, srEjectionMin float64 // the last interval's figures, -1 when not computed

	startOnce sync.Once
	stopOnce  sync.Once
	stopCh    chan struct{}
	done      chan struct{}
}

func newOutlierDetector(c *Cluster, reg *stats.Registry) *outlierDetector {
	cfg := c.Config.OutlierDetection
	od := &outlierDetector{
		c: c, st: reg.Outlier(c.Name),
		consec5xx: uint32(*cfg.Consecutive5xx), consecGateway: uint32(*cfg.ConsecutiveGatewayFailure),
		interval: cfg.Interval.D(), base: cfg.BaseEjectionTime.D(), maxTime: cfg.MaxEjectionTime.D(),
		maxJitter: cfg.MaxEjectionTimeJitter.D(), maxPercent: min(100, *cfg.MaxEjectionPercent),
		alwaysEjectOne: cfg.AlwaysEjectOneHost,
		srMinHosts:     *cfg.SuccessRateMinimumHosts, srVolume: *cfg.SuccessRateRequestVolume,
		srStdevFactor: *cfg.SuccessRateStdevFactor,
		fpThreshold:   *cfg.FailurePercentageThreshold,
		fpMinHosts:    *cfg.FailurePercentageMinimumHosts, fpVolume: *cfg.FailurePercentageRequestVolume,
		unejectOnHealthCheck: *cfg.SuccessfulActiveHealthCheckUnejectHost,
		srAverage:            -1, srEjectionMin: -1,
		stopCh: make(chan struct{}), done: make(chan struct{}),
	}
	od.enforcing[stats.EjectConsecutive5xx] = *cfg.EnforcingConsecutive5xx
	od.enforcing[stats.EjectConsecutiveGatewayFailure] = cfg.EnforcingConsecutiveGatewayFailure
	od.enforcing[stats.EjectSuccessRate] = *cfg.EnforcingSuccessRate
	od.enforcing[stats.EjectFailurePercentage] = cfg.EnforcingFailurePercentage
	return od
}

// start runs the interval timer until stop.
func (od *outlierDetector) start() {
	od.startOnce.Do(func() {
		go func() {
			defer close(od.done)
			t := time.NewTicker(od.interval)
			defer t.Stop()
			for {
				select {
				case <-od.stopCh:
					return
				case now := <-t.C:
					od.tick(now)
				}
			}
		}()
	})
}

func (od *outlierDetector) stop() {
	od.stopOnce.Do(func() { close(od.stopCh) })
	od.startOnce.Do(func() { close(od.done) }) // never started: nothing to wait for
	<-od.done
}

// put counts one response of an endpoint.
func (od *outlierDetector) put(h *lb.Host, st *hostState, status int) {
	m := &st.od
	if status < 500 || status > 599 {
		m.bucket.Add(1<<32 | 1)
		// Loads first: most responses succeed, and a store on every one would make the
		// endpoint's counters a contended cache line.
		if m.consec5xx.Load() != 0 {
			m.consec5xx.Store(0)
		}
		if m.consecGateway.Load() != 0 {
			m.consecGateway.Store(0)
		}
		return
	}
	m.bucket.Add(1 << 32)
	if status == 502 || status == 503 || status == 504 {
		if n := m.consecGateway.Add(1); n == od.consecGateway {
			od.onConsecutive(h, st, stats.EjectConsecutiveGatewayFailure)
		}
	} else if m.consecGateway.Load() != 0 {
		m.consecGateway.Store(0)
	}
	// A threshold of 0 never matches: that kind of detection is off.
	if n := m.consec5xx.Add(1); n == od.consec5xx {
		od.onConsecutive(h, st, stats.EjectConsecutive5xx)
	}
}

// onConsecutive handles an endpoint that reached a consecutive-failure threshold.
func (od *outlierDetector) onConsecutive(h *lb.Host, st *hostState, t stats.EjectionType) {
	od.mu.Lock()
	s := od.c.set.Load()
	if s.states[h] != st || st.has(flagFailedOutlierCheck) {
		od.mu.Unlock()
		return // gone from the cluster, or already ejected
	}
	od.st.Detected[t].Inc()
	ejected := od.eject(s, h, st, t, time.Now())
	// Reset the counter so that a new run of failures is detected even without a success
	// in between (Envoy does the same).
	if t == stats.EjectConsecutive5xx {
		st.od.consec5xx.Store(0)
	} else {
		st.od.consecGateway.Store(0)
	}
	od.mu.Unlock()
	if ejected {
		od.c.refresh()
	}
}

// eject ejects h unless max_ejection_percent or the enforcing percentage forbids it, and
// reports whether it did. The caller holds od.mu.
func (od *outlierDetector) eject(s *hostSet, h *lb.Host, st *hostState, t stats.EjectionType, now time.Time) bool {
	active := 0
	for _, other := range s.states {
		if other.has(flagFailedOutlierCheck) {
			active++
		}
	}
	// Envoy counts the ejection about to be made: with 10% allowed, 10 endpoints are needed
	// before any may be ejected, unless always_eject_one_host.
	allowed := 100*(active+1) <= od.maxPercent*len(s.hosts) || (od.alwaysEjectOne && active == 0)
	if !allowed {
		od.st.EjectionsOverflow.Inc()
		return false
	}
	if p := od.enforcing[t]; p < 100 && (p <= 0 || rand.IntN(100) >= p) {
		return false
	}
	od.st.EjectionsEnforcedTotal.Inc()
	od.st.Enforced[t].Inc()
	st.set(flagFailedOutlierCheck, true)
	m := &st.od
	m.ejections++
	m.ejectedAt = now
	m.jitter = 0
	if od.maxJitter > 0 {
		m.jitter = rand.N(od.maxJitter + 1)
	}
	if time.Duration(m.backoff)*od.base < od.maxTime+od.base {
		m.backoff++
	}
	od.c.log.Info("endpoint ejected by outlier detection", "endpoint", h.Address, "type", t.String(),
		"ejections", m.ejections, "for", od.ejectionTime(m))
	return true
}

// ejectionTime is how long an endpoint stays ejected: base_ejection_time times its backoff,
// capped by max_ejection_time, plus its jitter.
func (od *outlierDetector) ejectionTime(m *outlierMonitor) time.Duration {
	return min(time.Duration(m.backoff)*od.base, od.maxTime) + m.jitter
}

// uneject returns an ejected endpoint. The caller holds od.mu.
func (od *outlierDetector) uneject(st *hostState, now time.Time) {
	st.set(flagFailedOutlierCheck, false)
	// Fresh counters, so that a few failures right after the return do not eject it again
	// because the counters were close to their thresholds.
	st.od.consec5xx.Store(0)
	st.od.consecGateway.Store(0)
	st.od.unejectedAt = now
}

// unejectNow returns an ejected endpoint (an active health check of it passed) and reports
// whether it was ejected.
func (od *outlierDetector) unejectNow(st *hostState) bool {
	if !st.has(flagFailedOutlierCheck) {
		return false
	}
	od.mu.Lock()
	defer od.mu.Unlock()
	if !st.has(flagFailedOutlierCheck) {
		return false
	}
	od.uneject(st, time.Now())
	return true
}

// tick is Envoy's interval timer: it returns endpoints whose ejection time is over, closes
// the interval's success-rate counts, runs success-rate and failure-percentage detection on
// them, and lowers the backoff of endpoints that stayed healthy for an interval.
func (od *outlierDetector) tick(now time.Time) {
	od.mu.Lock()
	s := od.c.set.Load()
	changed := false
	for _, h := range s.hosts {
		st := s.states[h]
		m := &st.od
		if st.has(flagFailedOutlierCheck) && now.Sub(m.ejectedAt) >= od.ejectionTime(m) {
			od.uneject(st, now)
			changed = true
		}
		b := m.bucket.Swap(0)
		m.total, m.successes = b>>32, b&(1<<32-1)
		m.successRate = -1
	}
	if od.rateEjections(s, now) {
		changed = true
	}
	for _, h := range s.hosts {
		st := s.states[h]
		m := &st.od
		if !st.has(flagFailedOutlierCheck) && m.backoff > 0 && !m.unejectedAt.IsZero() && now.Sub(m.unejectedAt) >= od.interval {
			m.backoff--
		}
	}
	od.mu.Unlock()
	if changed {
		od.c.refresh()
	}
}

// rateEjections is Envoy's success-rate and failure-percentage detection over the interval
// that just closed, and reports whether it ejected an endpoint. Only endpoints with at least
// the request volume count, and the detection runs only with at least the minimum number of
// such endpoints. The caller holds od.mu.
func (od *outlierDetector) rateEjections(s *hostSet, now time.Time) bool {
	od.srAverage, od.srEjectionMin = -1, -1
	if len(s.hosts) < od.srMinHosts && len(s.hosts) < od.fpMinHosts {
		return false
	}
	type rated struct {
		h    *lb.Host
		st   *hostState
		rate float64
	}
	var sr, fp []rated
	sum := 0.0
	for _, h := range s.hosts {
		st := s.states[h]
		m := &st.od
		if st.has(flagFailedOutlierCheck) || m.total == 0 {
			continue
		}
		rate := 100 * float64(m.successes) / float64(m.total)
		if m.total >= uint64(min(od.srVolume, od.fpVolume)) {
			m.successRate = rate
		}
		if m.total >= uint64(od.srVolume) {
			sr = append(sr, rated{h, st, rate})
			sum += rate
		}
		if m.total >= uint64(od.fpVolume) {
			fp = append(fp, rated{h, st, rate})
		}
	}
	ejected := false
	if len(sr) > 0 && len(sr) >= od.srMinHosts {
		mean := sum / float64(len(sr))
		variance := 0.0
		for _, r := range sr {
			variance += (r.rate - mean) * (r.rate - mean)
		}
		threshold := mean - od.srStdevFactor*math.Sqrt(variance/float64(len(sr)))
		od.srAverage, od.srEjectionMin = mean, threshold
		for _, r := range sr {
			if r.rate < threshold && !r.st.has(flagFailedOutlierCheck) {
				od.st.Detected[stats.EjectSuccessRate].Inc()
				ejected = od.eject(s, r.h, r.st, stats.EjectSuccessRate, now) || ejected
			}
		}
	}
	if len(fp) > 0 && len(fp) >= od.fpMinHosts {
		for _, r := range fp {
			if 100-r.rate >= float64(od.fpThreshold) && !r.st.has(flagFailedOutlierCheck) {
				od.st.Detected[stats.EjectFailurePercentage].Inc()
				ejected = od.eject(s, r.h, r.st, stats.EjectFailurePercentage, now) || ejected
			}
		}
	}
	return ejected
}

// SuccessRateFigures returns the cluster's success-rate average and ejection threshold over
// the last outlier detection interval (Envoy's /clusters outlier::success_rate_average and
// success_rate_ejection_threshold), -1 when not computed; ok is false without outlier
// detection.
func (c *Cluster) SuccessRateFigures() (average, threshold float64, ok bool) {
	if c.od == nil {
		return -1, -1, false
	}
	c.od.mu.Lock()
	defer c.od.mu.Unlock()
	return c.od.srAverage, c.od.srEjectionMin, true
}
