// Package stats holds Pylon's metrics, named as Envoy names them so that dashboards and alerts
// written for Envoy work unchanged: Prometheus families carry Envoy's `envoy_` names and tag
// labels (envoy_http_conn_manager_prefix, envoy_cluster_name, envoy_response_code...), and the
// admin /stats page renders the same values under Envoy's dotted names
// (http.<prefix>.downstream_rq_2xx, cluster.<name>.upstream_rq_200...).
//
// Hot paths never look metrics up by label: a listener or cluster resolves its children once,
// when its snapshot is built, and then only does atomic adds.
package stats

import (
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// EnvoyBuckets are Envoy's default histogram bucket bounds, in milliseconds.
var EnvoyBuckets = []float64{0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000}

const (
	labelHTTP    = "envoy_http_conn_manager_prefix"
	labelCluster = "envoy_cluster_name"
	labelClass   = "envoy_response_code_class"
	labelCode    = "envoy_response_code"
)

// Registry owns every metric family. There is one per process; snapshots share it so that
// counters survive a config reload.
type Registry struct {
	reg *prometheus.Registry

	http    httpVecs
	cluster clusterVecs
	res     resilienceVecs
	health  healthVecs

	llmOnce sync.Once
	llm     *LLM

	mu        sync.Mutex
	listeners map[string]*Listener
	clusters  map[string]*Cluster
}

// The series every request touches are striped (striped.go); the others are client_golang's.
type httpVecs struct {
	cxTotal, rqHTTP2, noRoute, noCluster, rqRedirect, rqDirect, rqTimeout, rxReset, txReset *prometheus.CounterVec
	rqTotal, rqHTTP1, rqFast, rqXX                                                          counterVec
	cxActive                                                                                *prometheus.GaugeVec
	rqActive                                                                                gaugeVec
	rqTime                                                                                  observerVec
}

type clusterVecs struct {
	cxTotal, cxConnectFail, cxConnectTimeout, rqTimeout, cxDestroy, rqReset *prometheus.CounterVec
	rqTotal, rqXX, rqCode                                                   counterVec
	cxActive, membershipTotal, membershipHealthy                            *prometheus.GaugeVec
	rqActive                                                                gaugeVec
	rqTime                                                                  observerVec
}

// New creates a registry with the Go runtime and process collectors and every Pylon family.
func New() *Registry {
	r := &Registry{reg: prometheus.NewRegistry(), listeners: map[string]*Listener{}, clusters: map[string]*Cluster{}}
	r.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	hc := func(name, help string) *prometheus.CounterVec {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "envoy_http_" + name, Help: help}, []string{labelHTTP})
		r.reg.MustRegister(v)
		return v
	}
	hg := func(name, help string) *prometheus.GaugeVec {
		v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "envoy_http_" + name, Help: help}, []string{labelHTTP})
		r.reg.MustRegister(v)
		return v
	}
	hcs := func(name, help string) counterVec {
		v := newStripedCounterVec("envoy_http_"+name, help, labelHTTP)
		r.reg.MustRegister(v)
		return v
	}
	r.http = httpVecs{
		cxTotal:    hc("downstream_cx_total", "Downstream connections accepted."),
		rqTotal:    hcs("downstream_rq_total", "Downstream requests."),
		rqHTTP1:    hcs("downstream_rq_http1_total", "Downstream HTTP/1.x requests."),
		rqHTTP2:    hc("downstream_rq_http2_total", "Downstream HTTP/2 requests."),
		rqFast:     hcs("downstream_rq_fast_path_total", "Downstream requests forwarded by Pylon's fast path (from their raw bytes; not an Envoy stat)."),
		noRoute:    hc("no_route", "Requests that matched no route."),
		noCluster:  hc("no_cluster", "Requests whose route named a cluster that does not exist."),
		rqRedirect: hc("rq_redirect", "Requests answered with a redirect."),
		rqDirect:   hc("rq_direct_response", "Requests answered with a direct response."),
		rqTimeout:  hc("downstream_rq_timeout", "Requests closed by a request timeout."),
		rxReset:    hc("downstream_rq_rx_reset", "Requests reset by the client."),
		txReset:    hc("downstream_rq_tx_reset", "Requests reset by Pylon."),
		cxActive:   hg("downstream_cx_active", "Open downstream connections."),
	}
	httpActive := newStripedGaugeVec("envoy_http_downstream_rq_active", "Downstream requests in flight.", labelHTTP)
	httpXX := newStripedCounterVec("envoy_http_downstream_rq_xx", "Downstream responses by status class.", labelClass, labelHTTP)
	httpTime := newStripedHistogramVec("envoy_http_downstream_rq_time", "Request time, first byte in to last byte out, in milliseconds.", EnvoyBuckets, labelHTTP)
	r.reg.MustRegister(httpActive, httpXX, httpTime)
	r.http.rqActive, r.http.rqXX, r.http.rqTime = httpActive, httpXX, httpTime

	cc := func(name, help string) *prometheus.CounterVec {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "envoy_cluster_" + name, Help: help}, []string{labelCluster})
		r.reg.MustRegister(v)
		return v
	}
	cg := func(name, help string) *prometheus.GaugeVec {
		v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "envoy_cluster_" + name, Help: help}, []string{labelCluster})
		r.reg.MustRegister(v)
		return v
	}
	r.cluster = clusterVecs{
		cxTotal:           cc("upstream_cx_total", "Upstream connections opened."),
		cxConnectFail:     cc("upstream_cx_connect_fail", "Upstream connect failures."),
		cxConnectTimeout:  cc("upstream_cx_connect_timeout", "Upstream connect timeouts."),
		cxDestroy:         cc("upstream_cx_destroy", "Upstream connections closed."),
		rqTimeout:         cc("upstream_rq_timeout", "Upstream requests that hit the route timeout."),
		rqReset:           cc("upstream_rq_rx_reset", "Upstream requests reset by the upstream before a complete response."),
		cxActive:          cg("upstream_cx_active", "Open upstream connections."),
		membershipTotal:   cg("membership_total", "Endpoints in the cluster."),
		membershipHealthy: cg("membership_healthy", "Healthy endpoints in the cluster."),
	}
	clTotal := newStripedCounterVec("envoy_cluster_upstream_rq_total", "Upstream requests.", labelCluster)
	clActive := newStripedGaugeVec("envoy_cluster_upstream_rq_active", "Upstream requests in flight.", labelCluster)
	clXX := newStripedCounterVec("envoy_cluster_upstream_rq_xx", "Upstream responses by status class.", labelClass, labelCluster)
	clCode := newStripedCounterVec("envoy_cluster_upstream_rq", "Upstream responses by status code.", labelCode, labelCluster)
	clTime := newStripedHistogramVec("envoy_cluster_upstream_rq_time", "Upstream request time to response headers, in milliseconds.", EnvoyBuckets, labelCluster)
	r.reg.MustRegister(clTotal, clActive, clXX, clCode, clTime)
	r.cluster.rqTotal, r.cluster.rqActive, r.cluster.rqXX, r.cluster.rqCode, r.cluster.rqTime = clTotal, clActive, clXX, clCode, clTime
	r.res = newResilienceVecs(r.reg)
	r.health = newHealthVecs(r.reg)
	return r
}

// Gatherer exposes the registry for /stats and /stats/prometheus.
func (r *Registry) Gatherer() prometheus.Gatherer { return r.reg }

// Register adds a collector from another package (its families keep their own names).
func (r *Registry) Register(c prometheus.Collector) error { return r.reg.Register(c) }

// Listener holds one HTTP connection manager's metrics, resolved once.
type Listener struct {
	CxTotal, RqTotal, RqHTTP1, RqHTTP2, NoRoute, NoCluster, RqRedirect, RqDirectResponse, RqTimeout, RxReset, TxReset prometheus.Counter
	CxActive, RqActive                                                                                                prometheus.Gauge
	rqXX                                                                                                              [6]prometheus.Counter
	rqTime                                                                                                            prometheus.Observer
	// RqIdleTimeout counts requests closed by the stream idle timeout (downstream_rq_idle_timeout).
	RqIdleTimeout prometheus.Counter
	// RqFast counts the requests the fast path took (downstream_rq_fast_path_total, Pylon's own).
	RqFast prometheus.Counter
}

// Listener returns the metrics of the connection manager with this stat prefix.
func (r *Registry) Listener(prefix string) *Listener {
	r.mu.Lock()
	defer r.mu.Unlock()
	if l, ok := r.listeners[prefix]; ok {
		return l
	}
	h := &r.http
	l := &Listener{
		CxTotal: h.cxTotal.WithLabelValues(prefix), RqTotal: h.rqTotal.WithLabelValues(prefix),
		RqHTTP1: h.rqHTTP1.WithLabelValues(prefix), RqHTTP2: h.rqHTTP2.WithLabelValues(prefix),
		NoRoute: h.noRoute.WithLabelValues(prefix), NoCluster: h.noCluster.WithLabelValues(prefix),
		RqRedirect: h.rqRedirect.WithLabelValues(prefix), RqDirectResponse: h.rqDirect.WithLabelValues(prefix),
		RqTimeout: h.rqTimeout.WithLabelValues(prefix), RxReset: h.rxReset.WithLabelValues(prefix),
		TxReset: h.txReset.WithLabelValues(prefix), CxActive: h.cxActive.WithLabelValues(prefix),
		RqActive: h.rqActive.WithLabelValues(prefix), rqTime: h.rqTime.WithLabelValues(prefix),
		RqIdleTimeout: r.res.rqIdleTimeout.WithLabelValues(prefix),
		RqFast:        h.rqFast.WithLabelValues(prefix),
	}
	for c := 1; c <= 5; c++ {
		l.rqXX[c] = h.rqXX.WithLabelValues(string(rune('0'+c)), prefix)
	}
	r.listeners[prefix] = l
	return l
}

// Response counts a finished downstream request by status class and records its duration.
func (l *Listener) Response(status int, d time.Duration) {
	if c := status / 100; c >= 1 && c <= 5 {
		l.rqXX[c].Inc()
	}
	l.rqTime.Observe(float64(d.Microseconds()) / 1000)
}

// Cluster holds one cluster's metrics, resolved once.
type Cluster struct {
	RqTotal, CxTotal, CxConnectFail, CxConnectTimeout, CxDestroy, RqTimeout, RqReset prometheus.Counter
	RqActive, CxActive, MembershipTotal, MembershipHealthy                           prometheus.Gauge
	Resilience                                                                       // retries, timeouts, circuit breakers

	name   string
	vec    counterVec
	rqXX   [6]prometheus.Counter
	rqTime prometheus.Observer
	mu     sync.Mutex                                 // serializes additions to codes
	codes  atomic.Pointer[map[int]prometheus.Counter] // copy on write: read without locking
}

// Cluster returns the metrics of the named cluster.
func (r *Registry) Cluster(name string) *Cluster {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.clusters[name]; ok {
		return c
	}
	v := &r.cluster
	c := &Cluster{
		RqTotal: v.rqTotal.WithLabelValues(name), CxTotal: v.cxTotal.WithLabelValues(name),
		CxConnectFail: v.cxConnectFail.WithLabelValues(name), CxConnectTimeout: v.cxConnectTimeout.WithLabelValues(name),
		CxDestroy: v.cxDestroy.WithLabelValues(name), RqTimeout: v.rqTimeout.WithLabelValues(name),
		RqReset: v.rqReset.WithLabelValues(name), RqActive: v.rqActive.WithLabelValues(name),
		CxActive: v.cxActive.WithLabelValues(name), MembershipTotal: v.membershipTotal.WithLabelValues(name),
		MembershipHealthy: v.membershipHealthy.WithLabelValues(name), rqTime: v.rqTime.WithLabelValues(name),
		name: name, vec: v.rqCode,
		Resilience: r.res.cluster(name),
	}
	for k := 1; k <= 5; k++ {
		c.rqXX[k] = v.rqXX.WithLabelValues(string(rune('0'+k)), name)
	}
	r.clusters[name] = c
	return c
}

// Response counts an upstream response by code and class and records the time to headers.
func (c *Cluster) Response(status int, d time.Duration) {
	if k := status / 100; k >= 1 && k <= 5 {
		c.rqXX[k].Inc()
	}
	c.code(status).Inc()
	c.rqTime.Observe(float64(d.Microseconds()) / 1000)
}

func (c *Cluster) code(status int) prometheus.Counter {
	if m := c.codes.Load(); m != nil {
		if ctr, ok := (*m)[status]; ok {
			return ctr
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.codes.Load()
	if old != nil {
		if ctr, ok := (*old)[status]; ok {
			return ctr
		}
	}
	m := make(map[int]prometheus.Counter, 1)
	if old != nil {
		maps.Copy(m, *old)
	}
	ctr := c.vec.WithLabelValues(itoa3(status), c.name)
	m[status] = ctr
	c.codes.Store(&m)
	return ctr
}

func itoa3(n int) string {
	if n < 100 || n > 999 {
		n = 0
		return "0"
	}
	return string([]byte{byte('0' + n/100), byte('0' + n/10%10), byte('0' + n%10)})
}
