package stats

import "github.com/prometheus/client_golang/prometheus"

// resilienceVecs are the families of retries, timeouts and circuit breakers, under Envoy's
// names (cluster.<name>.upstream_rq_retry, cluster.<name>.circuit_breakers.default.rq_open...).
type resilienceVecs struct {
	rqRetry, rqRetrySuccess, rqRetryOverflow, rqRetryLimitExceeded, rqPerTryTimeout *prometheus.CounterVec
	rqPendingOverflow, rqPendingTotal, cxOverflow, retryOrShadowAbandoned           *prometheus.CounterVec
	rqPendingActive, cbCxOpen, cbRqPendingOpen, cbRqOpen, cbRqRetryOpen             *prometheus.GaugeVec
	rqIdleTimeout                                                                   *prometheus.CounterVec // http.<prefix>.
}

func newResilienceVecs(reg *prometheus.Registry) resilienceVecs {
	cc := func(name, help string) *prometheus.CounterVec {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "envoy_cluster_" + name, Help: help}, []string{labelCluster})
		reg.MustRegister(v)
		return v
	}
	cg := func(name, help string) *prometheus.GaugeVec {
		v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "envoy_cluster_" + name, Help: help}, []string{labelCluster})
		reg.MustRegister(v)
		return v
	}
	idle := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "envoy_http_downstream_rq_idle_timeout", Help: "Requests closed by the stream idle timeout."}, []string{labelHTTP})
	reg.MustRegister(idle)
	return resilienceVecs{
		rqRetry:                cc("upstream_rq_retry", "Upstream request retries."),
		rqRetrySuccess:         cc("upstream_rq_retry_success", "Retries that got a response that was not retried again."),
		rqRetryOverflow:        cc("upstream_rq_retry_overflow", "Retries not made because the max_retries circuit breaker was open."),
		rqRetryLimitExceeded:   cc("upstream_rq_retry_limit_exceeded", "Requests that still wanted a retry when none was left."),
		rqPerTryTimeout:        cc("upstream_rq_per_try_timeout", "Upstream tries that hit the per-try timeout."),
		rqPendingOverflow:      cc("upstream_rq_pending_overflow", "Requests failed fast by the max_pending_requests or max_requests circuit breaker."),
		rqPendingTotal:         cc("upstream_rq_pending_total", "Requests that waited for a connection."),
		cxOverflow:             cc("upstream_cx_overflow", "Times the max_connections circuit breaker made a request wait."),
		retryOrShadowAbandoned: cc("retry_or_shadow_abandoned", "Retries or mirrors given up because the request body was too large to buffer."),
		rqPendingActive:        cg("upstream_rq_pending_active", "Requests waiting for a connection."),
		cbCxOpen:               cg("circuit_breakers_default_cx_open", "1 when the max_connections circuit breaker is open."),
		cbRqPendingOpen:        cg("circuit_breakers_default_rq_pending_open", "1 when the max_pending_requests circuit breaker is open."),
		cbRqOpen:               cg("circuit_breakers_default_rq_open", "1 when the max_requests circuit breaker is open."),
		cbRqRetryOpen:          cg("circuit_breakers_default_rq_retry_open", "1 when the max_retries circuit breaker is open."),
		rqIdleTimeout:          idle,
	}
}

// Resilience holds a cluster's retry, timeout and circuit-breaker metrics.
type Resilience struct {
	RqRetry, RqRetrySuccess, RqRetryOverflow, RqRetryLimitExceeded, RqPerTryTimeout prometheus.Counter
	RqPendingOverflow, RqPendingTotal, CxOverflow, RetryOrShadowAbandoned           prometheus.Counter
	RqPendingActive, CBCxOpen, CBRqPendingOpen, CBRqOpen, CBRqRetryOpen             prometheus.Gauge
}

func (v *resilienceVecs) cluster(name string) Resilience {
	return Resilience{
		RqRetry: v.rqRetry.WithLabelValues(name), RqRetrySuccess: v.rqRetrySuccess.WithLabelValues(name),
		RqRetryOverflow: v.rqRetryOverflow.WithLabelValues(name), RqRetryLimitExceeded: v.rqRetryLimitExceeded.WithLabelValues(name),
		RqPerTryTimeout: v.rqPerTryTimeout.WithLabelValues(name), RqPendingOverflow: v.rqPendingOverflow.WithLabelValues(name),
		RqPendingTotal: v.rqPendingTotal.WithLabelValues(name), CxOverflow: v.cxOverflow.WithLabelValues(name),
		RetryOrShadowAbandoned: v.retryOrShadowAbandoned.WithLabelValues(name), RqPendingActive: v.rqPendingActive.WithLabelValues(name),
		CBCxOpen: v.cbCxOpen.WithLabelValues(name), CBRqPendingOpen: v.cbRqPendingOpen.WithLabelValues(name),
		CBRqOpen: v.cbRqOpen.WithLabelValues(name), CBRqRetryOpen: v.cbRqRetryOpen.WithLabelValues(name),
	}
}
