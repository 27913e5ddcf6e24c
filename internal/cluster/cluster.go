// Package cluster turns a configured cluster into live upstream state: its endpoints (static
// or resolved through DNS), the load balancer over them, and the HTTP transport (connection
// pool, upstream TLS, HTTP/2) used to reach them.
//
// A Cluster outlives config reloads when its config is unchanged, so pools stay warm and
// counters keep counting; the runtime reference-counts it across snapshots.
package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pylon-gateway/pylon/internal/config"
	"github.com/pylon-gateway/pylon/internal/lb"
	"github.com/pylon-gateway/pylon/internal/stats"
	"github.com/pylon-gateway/pylon/internal/upstream/h1"
)

// Cluster is a named group of upstream endpoints.
type Cluster struct {
	Name   string
	Config config.Cluster
	Stats  *stats.Cluster
	// Breaker is the cluster's circuit breakers (breaker.go).
	Breaker *Breaker

	hashPolicy *lb.HashPolicy
	transport  roundTripper
	scheme     string // "http" or "https"
	log        *slog.Logger

	set atomic.Pointer[hostSet]
	mu  sync.Mutex // serializes the rebuilds of set (health.go)

	hc             *healthChecker   // nil without health_check
	od             *outlierDetector // nil without outlier_detection
	panicThreshold float64          // healthy_panic_threshold, percent
	lbPanic        prometheus.Counter
	sawTraffic     atomic.Bool // a connection was opened for a request (health checks' no_traffic_interval)
	started        sync.Once

	refs    atomic.Int64
	stopDNS context.CancelFunc
	dnsDone chan struct{}
	closed  sync.Once
}

// hostSet is one immutable view of the endpoints and the balancer built over them.
type hostSet struct {
	hosts    []*lb.Host
	states   map[*lb.Host]*hostState // the health of each of hosts
	eligible []*lb.Host              // the hosts the balancer picks from
	panic    bool                    // eligible is every host, healthy or not
	balancer lb.Balancer
	sni      map[string]string // address -> server name for upstream TLS
}

// New builds a cluster from its config without side effects beyond loading TLS files; DNS
// resolution starts with Start.
func New(cfg config.Cluster, reg *stats.Registry, log *slog.Logger) (*Cluster, error) {
	c := &Cluster{Name: cfg.Name, Config: cfg, Stats: reg.Cluster(cfg.Name), log: log.With("cluster", cfg.Name), scheme: "http"}
	var sources []lb.HashSource
	for _, h := range cfg.HashPolicy {
		sources = append(sources, lb.HashSource{Header: h.Header, Cookie: h.Cookie, SourceIP: h.SourceIP})
	}
	if len(sources) > 0 {
		c.hashPolicy = lb.NewHashPolicy(sources)
	}
	tr, err := c.newTransport()
	if err != nil {
		return nil, err
	}
	c.transport = tr
	c.Breaker = NewBreaker(cfg.CircuitBreakers, !cfg.HTTP2, c.Stats)
	c.panicThreshold = config.DefaultHealthyPanicThreshold
	if cfg.HealthyPanicThreshold != nil {
		c.panicThreshold = *cfg.HealthyPanicThreshold
	}
	c.lbPanic = reg.LBHealthyPanic(cfg.Name)
	if cfg.HealthCheck != nil {
		if c.hc, err = newHealthChecker(c, reg); err != nil {
			return nil, err
		}
	}
	if cfg.OutlierDetection != nil {
		c.od = newOutlierDetector(c, reg)
	}
	if cfg.Type == "static" {
		hosts := make([]*lb.Host, 0, len(cfg.Endpoints))
		for _, e := range cfg.Endpoints {
			host, _, _ := net.SplitHostPort(e.Address)
			hosts = append(hosts, c.newHost(e.Address, host, e.Weight))
		}
		if err := c.setHosts(hosts); err != nil {
			return nil, err
		}
	} else if err := c.setHosts(nil); err != nil {
		return nil, err
	}
	return c, nil
}

// Start begins the cluster's background work: DNS resolution for dns clusters, active
// health checks and the outlier detection timer. The first DNS resolution, then the first
// health check of every endpoint, complete (or fail) before Start returns, bounded by ctx, so
// that a new cluster starts with the endpoints known to be up (Envoy warms a cluster before
// using it). The work then runs until Close, not until ctx ends: ctx is the caller's (one
// config apply), while a cluster outlives the apply and is reused by later ones. Start on a
// cluster already started does nothing.
func (c *Cluster) Start(ctx context.Context) {
	c.started.Do(func() {
		if c.Config.Type == "dns" {
			first, cancelFirst := context.WithTimeout(ctx, 5*time.Second)
			c.resolve(first)
			cancelFirst()
			dctx, cancel := context.WithCancel(context.Background())
			c.stopDNS, c.dnsDone = cancel, make(chan struct{})
			go c.dnsLoop(dctx)
		}
		if c.hc != nil {
			c.hc.start(ctx)
		}
		if c.od != nil {
			c.od.start()
		}
	})
}

func (c *Cluster) dnsLoop(ctx context.Context) {
	defer close(c.dnsDone)
	t := time.NewTicker(c.Config.DNSRefreshRate.D())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			rctx, cancel := context.WithTimeout(ctx, c.Config.DNSRefreshRate.D())
			c.resolve(rctx)
			cancel()
		}
	}
}

// resolve looks every endpoint up; each address becomes a host with the endpoint's weight.
// Hosts whose address is unchanged are kept (with their counters). On failure of one name
// its previous addresses are kept, as Envoy keeps the last good resolution.
func (c *Cluster) resolve(ctx context.Context) {
	old := c.set.Load()
	prev := map[string]*lb.Host{}
	byName := map[string][]*lb.Host{}
	for _, h := range old.hosts {
		prev[h.Address] = h
		byName[h.Hostname] = append(byName[h.Hostname], h)
	}
	var hosts []*lb.Host
	seen := map[string]bool{}
	changed := false
	for _, e := range c.Config.Endpoints {
		name, port, _ := net.SplitHostPort(e.Address)
		ips, err := net.DefaultResolver.LookupIPAddr(ctx, name)
		if err != nil || len(ips) == 0 {
			c.log.Warn("dns resolution failed; keeping the previous addresses", "host", name, "error", err)
			for _, h := range byName[name] {
				if !seen[h.Address] {
					seen[h.Address] = true
					hosts = append(hosts, h)
				}
			}
			continue
		}
		for _, ip := range ips {
			addr := net.JoinHostPort(ip.IP.String(), port)
			if seen[addr] {
				continue
			}
			seen[addr] = true
			h, ok := prev[addr]
			if !ok || h.Weight != e.Weight {
				h = c.newHost(addr, name, e.Weight)
				changed = true
			}
			hosts = append(hosts, h)
		}
	}
	if !changed && len(hosts) == len(old.hosts) {
		return
	}
	if err := c.setHosts(hosts); err != nil {
		c.log.Error("rebuilding the load balancer", "error", err)
		return
	}
	c.log.Info("dns endpoints updated", "endpoints", len(hosts))
}

// Hosts returns the current endpoints (for the admin /clusters page).
func (c *Cluster) Hosts() []*lb.Host { return c.set.Load().hosts }

// Pick chooses the endpoint for a request; nil means no healthy upstream. In panic mode
// (too few healthy endpoints) it picks among all of them.
func (c *Cluster) Pick(r *http.Request, remoteIP string) *lb.Host {
	s := c.set.Load()
	if s.panic {
		c.lbPanic.Inc()
	}
	if c.hashPolicy == nil {
		return s.balancer.Pick(nil) // no hash: nothing to allocate
	}
	lc := &lb.Context{}
	lc.Hash, lc.HasHash = c.hashPolicy.Hash(r, remoteIP)
	return s.balancer.Pick(lc)
}

// Transport is the round tripper for this cluster's endpoints.
func (c *Cluster) Transport() http.RoundTripper { return c.transport }

// Scheme is "https" when the cluster originates TLS.
func (c *Cluster) Scheme() string { return c.scheme }

// Acquire and Release count the snapshots that hold this cluster; the last Release closes it.
func (c *Cluster) Acquire() { c.refs.Add(1) }

// Release drops a reference and closes the cluster when none is left.
func (c *Cluster) Release() {
	if c.refs.Add(-1) <= 0 {
		c.Close()
	}
}

// Close stops DNS resolution, health checks and outlier detection, and closes idle
// connections. In-flight requests finish.
func (c *Cluster) Close() {
	c.closed.Do(func() {
		if c.stopDNS != nil {
			c.stopDNS()
			<-c.dnsDone
		}
		if c.hc != nil {
			c.hc.stop()
		}
		if c.od != nil {
			c.od.stop()
		}
		c.transport.CloseIdleConnections()
	})
}

// roundTripper is what both transports offer: the lean HTTP/1.1 one (h1.Transport) and
// net/http's, kept for HTTP/2.
type roundTripper interface {
	http.RoundTripper
	CloseIdleConnections()
}

// ConnectError marks a failure to connect to an endpoint (as opposed to a failure after the
// connection was made): the proxy answers these with Envoy's "connection failure" reply.
type ConnectError struct {
	Addr    string
	Timeout bool
	Err     error
}

func (e *ConnectError) Error() string { return "connect to " + e.Addr + ": " + e.Err.Error() }
func (e *ConnectError) Unwrap() error { return e.Err }

// newTransport builds the cluster's transport. HTTP/1.1 clusters use h1.Transport, whose
// calling goroutine writes the request and reads the response itself (no per-connection
// goroutines, no channel hand-offs: a third of net/http's CPU per request); HTTP/2 clusters
// use net/http's transport.
func (c *Cluster) newTransport() (roundTripper, error) {
	cfg := c.Config
	d := &net.Dialer{Timeout: cfg.ConnectTimeout.D(), KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:                 nil,
		MaxIdleConns:          0,
		MaxIdleConnsPerHost:   cfg.MaxIdleConnections,
		MaxConnsPerHost:       cfg.MaxConnections,
		IdleConnTimeout:       cfg.IdleTimeout.D(),
		ExpectContinueTimeout: 0,
		DisableCompression:    true,
		WriteBufferSize:       32 << 10,
		ReadBufferSize:        32 << 10,
	}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := d.DialContext(ctx, network, addr)
		if err != nil {
			c.Stats.CxConnectFail.Inc()
			var ne net.Error
			timeout := errors.As(err, &ne) && ne.Timeout() && ctx.Err() == nil
			if timeout {
				c.Stats.CxConnectTimeout.Inc()
			}
			return nil, &ConnectError{Addr: addr, Timeout: timeout, Err: err}
		}
		c.sawTraffic.Store(true)
		c.Stats.CxTotal.Inc()
		c.Stats.CxActive.Inc()
		return &countedConn{Conn: conn, st: c.Stats}, nil
	}
	tr.DialContext = dial
	protos := new(http.Protocols)
	if cfg.TLS == nil {
		if !cfg.HTTP2 {
			return c.h1Transport(func(ctx context.Context, addr string) (net.Conn, error) { return dial(ctx, "tcp", addr) }), nil
		}
		protos.SetUnencryptedHTTP2(true)
		tr.Protocols = protos
		return tr, nil
	}
	c.scheme = "https"
	base, err := upstreamTLS(cfg.TLS)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", c.Name, err)
	}
	if cfg.HTTP2 {
		base.NextProtos = []string{"h2", "http/1.1"}
		protos.SetHTTP2(true)
		protos.SetHTTP1(true)
		tr.ForceAttemptHTTP2 = true
	} else {
		base.NextProtos = []string{"http/1.1"}
		protos.SetHTTP1(true)
	}
	tr.Protocols = protos
	tr.TLSClientConfig = base
	// The dial address is an IP; the server name comes from the endpoint's configured host
	// (or the sni setting), so one transport serves every endpoint with its own name.
	dialTLS := func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		tc := base.Clone()
		if tc.ServerName == "" {
			name := c.set.Load().sni[addr]
			if name == "" {
				name, _, _ = net.SplitHostPort(addr)
			}
			tc.ServerName = name
		}
		tlsConn := tls.Client(conn, tc)
		hctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout.D())
		defer cancel()
		if err := tlsConn.HandshakeContext(hctx); err != nil {
			conn.Close()
			c.Stats.CxConnectFail.Inc()
			return nil, &ConnectError{Addr: addr, Err: fmt.Errorf("TLS error: %w", err)}
		}
		return tlsConn, nil
	}
	if !cfg.HTTP2 {
		return c.h1Transport(func(ctx context.Context, addr string) (net.Conn, error) { return dialTLS(ctx, "tcp", addr) }), nil
	}
	tr.DialTLSContext = dialTLS
	return tr, nil
}

func (c *Cluster) h1Transport(dial func(ctx context.Context, addr string) (net.Conn, error)) *h1.Transport {
	return &h1.Transport{
		Dial:                dial,
		MaxConnsPerHost:     c.Config.MaxConnections,
		MaxIdleConnsPerHost: c.Config.MaxIdleConnections,
		IdleTimeout:         c.Config.IdleTimeout.D(),
		// Buffers are held for a connection's life, idle ones included: 24 KiB a
		// connection. Larger bodies bypass them (reads into the proxy's copy buffer,
		// writes of a full buffer at a time), so larger buffers buy little but memory.
		ReadBufferSize:  16 << 10,
		WriteBufferSize: 8 << 10,
	}
}

func upstreamTLS(t *config.UpstreamTLS) (*tls.Config, error) {
	tc := &tls.Config{ServerName: t.SNI, InsecureSkipVerify: t.InsecureSkipVerify, MinVersion: tls.VersionTLS12}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls.ca_file: no PEM certificate in %s", t.CAFile)
		}
		tc.RootCAs = pool
	}
	if t.Cert != "" {
		kp, err := tls.LoadX509KeyPair(t.Cert, t.Key)
		if err != nil {
			return nil, fmt.Errorf("tls: client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{kp}
	}
	return tc, nil
}

// countedConn keeps upstream_cx_active honest: it drops by one when the pool closes the conn.
type countedConn struct {
	net.Conn
	st   *stats.Cluster
	once sync.Once
}

// NetConn exposes the socket, so the transport can check an idle connection is still open
// before reusing it.
func (c *countedConn) NetConn() net.Conn { return c.Conn }

func (c *countedConn) Close() error {
	c.once.Do(func() {
		c.st.CxActive.Dec()
		c.st.CxDestroy.Inc()
	})
	return c.Conn.Close()
}

// String describes the cluster for logs.
func (c *Cluster) String() string {
	return c.Name + " (" + c.Config.Type + ", " + strconv.Itoa(len(c.Hosts())) + " endpoints)"
}

// PickPlain chooses the endpoint for a request that is not at hand as an http.Request: ok
// is false when the cluster hashes requests (use Pick). A nil host means no healthy upstream.
func (c *Cluster) PickPlain() (h *lb.Host, ok bool) {
	if c.hashPolicy != nil {
		return nil, false
	}
	s := c.set.Load()
	if s.panic {
		c.lbPanic.Inc()
	}
	return s.balancer.Pick(nil), true
}

// newHost makes an endpoint; its in-flight count is striped unless the balancer reads it.
func (c *Cluster) newHost(address, hostname string, weight uint32) *lb.Host {
	h := lb.NewHost(address, hostname, weight)
	h.SpreadActive = c.Config.LB != lb.LeastRequest
	return h
}

// H1 is the cluster's HTTP/1.1 transport, nil when the cluster speaks HTTP/2 upstream.
func (c *Cluster) H1() *h1.Transport {
	t, _ := c.transport.(*h1.Transport)
	return t
}
