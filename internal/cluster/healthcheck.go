package cluster

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/pylon-gateway/pylon/internal/config"
	"github.com/pylon-gateway/pylon/internal/lb"
	"github.com/pylon-gateway/pylon/internal/stats"
)

// healthCheckUserAgent is the user-agent of HTTP health checks. It is Envoy's: applications
// and log filters commonly recognise health checks by it.
const healthCheckUserAgent = "Envoy/HC"

// maxHealthCheckBody bounds how much of a health check response is read; the rest is
// dropped with the connection.
const maxHealthCheckBody = 64 << 10

// checkResult is how one health check ended, in Envoy's terms.
type checkResult int

const (
	checkPassed checkResult = iota
	// checkFailed: an HTTP status neither expected nor retriable (Envoy's ACTIVE failure):
	// the endpoint is taken out at once, whatever unhealthy_threshold says.
	checkFailed
	// checkRetriable: a retriable status; it counts towards unhealthy_threshold.
	checkRetriable
	// checkNetworkFailed: no answer (connect failure, reset, timeout); it counts towards
	// unhealthy_threshold.
	checkNetworkFailed
)

// healthChecker actively checks every endpoint of a cluster, one goroutine (a session) per
// endpoint, as Envoy runs one session per host: check, wait an interval, check again.
type healthChecker struct {
	c     *Cluster
	cfg   config.HealthCheck
	st    *stats.HealthCheck
	url   *url.URL // scheme and path (with query) of HTTP checks; nil for TCP checks
	tr    *http.Transport
	dial  *net.Dialer
	codes struct{ expected, retriable []config.StatusRange }

	mu       sync.Mutex
	ctx      context.Context // ends with stop; nil until start
	cancel   context.CancelFunc
	stopped  bool
	sessions map[*lb.Host]context.CancelFunc
	wg       sync.WaitGroup
}

// session is the per-endpoint state of the checks, owned by the session's goroutine.
type session struct {
	first              bool // no check has completed yet
	healthy, unhealthy int  // passing and failing checks in a row
}

func newHealthChecker(c *Cluster, reg *stats.Registry) (*healthChecker, error) {
	cfg := *c.Config.HealthCheck
	hc := &healthChecker{
		c: c, cfg: cfg, st: reg.HealthCheck(c.Name),
		dial:     &net.Dialer{Timeout: c.Config.ConnectTimeout.D()},
		sessions: map[*lb.Host]context.CancelFunc{},
	}
	if cfg.HTTP == nil {
		return hc, nil
	}
	u, err := url.Parse(cfg.HTTP.Path)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: health_check.http.path: %w", c.Name, err)
	}
	u.Scheme = c.scheme
	hc.url = u
	hc.codes.expected, hc.codes.retriable = cfg.HTTP.ExpectedStatuses, cfg.HTTP.RetriableStatuses
	// Health checks have their own connections, kept between checks (Envoy's
	// reuse_connection), so they neither count in the cluster's connection stats nor wait
	// behind its requests. They speak HTTP/1.1 even to HTTP/2 clusters, as Envoy's do.
	hc.tr = &http.Transport{
		Proxy:               nil,
		DialContext:         hc.dial.DialContext,
		MaxIdleConnsPerHost: 1,
		IdleConnTimeout:     2 * max(cfg.Interval.D(), cfg.NoTrafficInterval.D()),
		DisableCompression:  true,
	}
	if c.Config.TLS != nil {
		base, err := upstreamTLS(c.Config.TLS)
		if err != nil {
			return nil, fmt.Errorf("cluster %s: %w", c.Name, err)
		}
		base.NextProtos = []string{"http/1.1"}
		hc.tr.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := hc.dial.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			tc := base.Clone()
			if tc.ServerName == "" {
				// As the cluster's own connections: the endpoint's configured host, else its IP.
				if tc.ServerName = c.set.Load().sni[addr]; tc.ServerName == "" {
					tc.ServerName, _, _ = net.SplitHostPort(addr)
				}
			}
			tlsConn := tls.Client(conn, tc)
			if err := tlsConn.HandshakeContext(ctx); err != nil {
				conn.Close()
				return nil, err
			}
			return tlsConn, nil
		}
	}
	return hc, nil
}

// start checks every endpoint once, waiting (bounded by ctx) until each first check has
// completed, and keeps checking until stop. The first round decides which endpoints a new
// cluster starts with, as Envoy warms a cluster before using it.
func (hc *healthChecker) start(ctx context.Context) {
	hc.mu.Lock()
	if hc.ctx != nil || hc.stopped {
		hc.mu.Unlock()
		return
	}
	hc.ctx, hc.cancel = context.WithCancel(context.Background())
	first := &sync.WaitGroup{}
	s := hc.c.set.Load()
	for _, h := range s.hosts {
		hc.startSession(h, s.states[h], first)
	}
	hc.mu.Unlock()
	done := make(chan struct{})
	go func() {
		first.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// sync starts sessions for endpoints that joined and ends those of endpoints that left.
func (hc *healthChecker) sync(s *hostSet) {
	hc.mu.Lock()
	defer hc.mu.Unlock()
	if hc.ctx == nil || hc.stopped {
		return
	}
	for _, h := range s.hosts {
		if _, ok := hc.sessions[h]; !ok {
			hc.startSession(h, s.states[h], nil)
		}
	}
	for h, cancel := range hc.sessions {
		if s.states[h] == nil {
			cancel()
			delete(hc.sessions, h)
		}
	}
}

// stop ends every session and waits for them.
func (hc *healthChecker) stop() {
	hc.mu.Lock()
	hc.stopped = true
	if hc.cancel != nil {
		hc.cancel()
	}
	hc.mu.Unlock()
	hc.wg.Wait()
	if hc.tr != nil {
		hc.tr.CloseIdleConnections()
	}
}

// startSession runs the checks of h. The caller holds hc.mu. first, when not nil, is told
// when the first check has completed.
func (hc *healthChecker) startSession(h *lb.Host, st *hostState, first *sync.WaitGroup) {
	ctx, cancel := context.WithCancel(hc.ctx)
	hc.sessions[h] = cancel
	hc.wg.Add(1)
	if first != nil {
		first.Add(1)
	}
	go func() {
		defer hc.wg.Done()
		s := &session{first: true}
		for {
			hc.st.Attempt.Inc()
			res := hc.check(ctx, h)
			if ctx.Err() != nil {
				if first != nil {
					first.Done()
				}
				return
			}
			hc.record(h, st, s, res)
			if first != nil {
				first.Done()
				first = nil
			}
			t := time.NewTimer(hc.interval())
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
	}()
}

// interval is the wait before the next check: no_traffic_interval until the cluster has
// carried a request (Envoy spares idle clusters), then interval, plus the jitter.
func (hc *healthChecker) interval() time.Duration {
	d := hc.cfg.Interval.D()
	if !hc.c.sawTraffic.Load() {
		d = hc.cfg.NoTrafficInterval.D()
	}
	if j := hc.cfg.IntervalJitter.D(); j > 0 {
		d += rand.N(j)
	}
	return d
}

// check runs one check of h, bounded by the timeout.
func (hc *healthChecker) check(ctx context.Context, h *lb.Host) checkResult {
	ctx, cancel := context.WithTimeout(ctx, hc.cfg.Timeout.D())
	defer cancel()
	if hc.url == nil {
		conn, err := hc.dial.DialContext(ctx, "tcp", h.Address)
		if err != nil {
			return checkNetworkFailed
		}
		conn.Close()
		return checkPassed
	}
	u := *hc.url
	u.Host = h.Address
	req := (&http.Request{
		Method:     http.MethodGet,
		URL:        &u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     http.Header{"User-Agent": {healthCheckUserAgent}},
		Host:       hc.cfg.HTTP.Host,
	}).WithContext(ctx)
	resp, err := hc.tr.RoundTrip(req)
	if err != nil {
		return checkNetworkFailed
	}
	_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, maxHealthCheckBody))
	resp.Body.Close()
	if err != nil {
		return checkNetworkFailed
	}
	// An upstream that answers with this header wants out now (Envoy's health_check filter
	// in fail mode sends it), whatever the status.
	if _, ok := resp.Header["X-Envoy-Immediate-Health-Check-Fail"]; ok {
		return checkFailed
	}
	switch {
	case inRanges(hc.codes.expected, resp.StatusCode):
		return checkPassed
	case inRanges(hc.codes.retriable, resp.StatusCode):
		return checkRetriable
	}
	return checkFailed
}

func inRanges(rs []config.StatusRange, status int) bool {
	for _, r := range rs {
		if r.Contains(status) {
			return true
		}
	}
	return false
}

// record applies one check result to h with Envoy's rules: the first check of an endpoint
// decides at once; afterwards healthy_threshold passes in a row bring it back and
// unhealthy_threshold failures in a row take it out, except that a failing status takes it
// out at once. A pass also returns an endpoint that outlier detection ejected.
func (hc *healthChecker) record(h *lb.Host, st *hostState, s *session, res checkResult) {
	changed := false
	if res == checkPassed {
		hc.st.Success.Inc()
		s.unhealthy = 0
		if st.has(flagFailedActiveHC) {
			s.healthy++
			if s.first || s.healthy >= hc.cfg.HealthyThreshold {
				changed = st.set(flagFailedActiveHC, false)
			}
		}
		if od := hc.c.od; od != nil && od.unejectOnHealthCheck && !st.has(flagFailedActiveHC) && od.unejectNow(st) {
			changed = true
		}
	} else {
		hc.st.Failure.Inc()
		if res == checkNetworkFailed {
			hc.st.NetworkFailure.Inc()
		}
		s.healthy = 0
		if !st.has(flagFailedActiveHC) {
			s.unhealthy++
			if res == checkFailed || s.unhealthy >= hc.cfg.UnhealthyThreshold {
				changed = st.set(flagFailedActiveHC, true)
			}
		}
	}
	st.set(flagPendingActiveHC, false)
	s.first = false
	if changed {
		hc.c.log.Info("endpoint health changed", "endpoint", h.Address, "health_flags", hc.c.HostHealth(h).Flags())
		hc.c.refresh()
	}
}
