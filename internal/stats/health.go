package stats

import "github.com/prometheus/client_golang/prometheus"

// healthVecs are the families of active health checking, outlier detection and panic mode,
// under Envoy's names (cluster.<name>.health_check.attempt,
// cluster.<name>.outlier_detection.ejections_active, cluster.<name>.lb_healthy_panic...).
type healthVecs struct {
	hcAttempt, hcSuccess, hcFailure, hcNetworkFailure *prometheus.CounterVec
	hcHealthy                                         *prometheus.GaugeVec

	odActive                    *prometheus.GaugeVec
	odEnforcedTotal, odOverflow *prometheus.CounterVec
	odEnforced, odDetected      [numEjectionTypes]*prometheus.CounterVec

	lbHealthyPanic *prometheus.CounterVec
}

// EjectionType is why outlier detection ejected an endpoint; it names the
// ejections_{enforced,detected}_<type> counters.
type EjectionType int

// The ejection types Pylon detects, as Envoy's OutlierEjectionType.
const (
	EjectConsecutive5xx EjectionType = iota
	EjectConsecutiveGatewayFailure
	EjectSuccessRate
	EjectFailurePercentage
	numEjectionTypes
)

var ejectionNames = [numEjectionTypes]string{"consecutive_5xx", "consecutive_gateway_failure", "success_rate", "failure_percentage"}

// String is the type's name in stats and logs.
func (t EjectionType) String() string { return ejectionNames[t] }

func newHealthVecs(reg *prometheus.Registry) healthVecs {
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
	v := healthVecs{
		hcAttempt:        cc("health_check_attempt", "Active health checks started."),
		hcSuccess:        cc("health_check_success", "Active health checks that passed."),
		hcFailure:        cc("health_check_failure", "Active health checks that failed, network failures included."),
		hcNetworkFailure: cc("health_check_network_failure", "Active health checks that failed to connect or timed out."),
		hcHealthy:        cg("health_check_healthy", "Endpoints that pass active health checking."),
		odActive:         cg("outlier_detection_ejections_active", "Endpoints ejected by outlier detection now."),
		odEnforcedTotal:  cc("outlier_detection_ejections_enforced_total", "Ejections made, of every type."),
		odOverflow:       cc("outlier_detection_ejections_overflow", "Ejections not made because of max_ejection_percent."),
		lbHealthyPanic:   cc("lb_healthy_panic", "Requests balanced over every endpoint because too few were healthy."),
	}
	for t := range numEjectionTypes {
		v.odEnforced[t] = cc("outlier_detection_ejections_enforced_"+t.String(), "Ejections made for "+t.String()+".")
		v.odDetected[t] = cc("outlier_detection_ejections_detected_"+t.String(), "Outliers detected for "+t.String()+", ejected or not.")
	}
	return v
}

// HealthCheck holds a cluster's active health checking metrics.
type HealthCheck struct {
	Attempt, Success, Failure, NetworkFailure prometheus.Counter
	Healthy                                   prometheus.Gauge
}

// HealthCheck returns the health checking metrics of the named cluster. Like Envoy, which
// creates them only for a cluster with a health checker, call it only for those.
func (r *Registry) HealthCheck(cluster string) *HealthCheck {
	v := &r.health
	return &HealthCheck{
		Attempt: v.hcAttempt.WithLabelValues(cluster), Success: v.hcSuccess.WithLabelValues(cluster),
		Failure: v.hcFailure.WithLabelValues(cluster), NetworkFailure: v.hcNetworkFailure.WithLabelValues(cluster),
		Healthy: v.hcHealthy.WithLabelValues(cluster),
	}
}

// Outlier holds a cluster's outlier detection metrics.
type Outlier struct {
	EjectionsActive                           prometheus.Gauge
	EjectionsEnforcedTotal, EjectionsOverflow prometheus.Counter
	// Enforced and Detected are indexed by EjectionType.
	Enforced, Detected [numEjectionTypes]prometheus.Counter
}

// Outlier returns the outlier detection metrics of the named cluster; call it only for a
// cluster with outlier detection.
func (r *Registry) Outlier(cluster string) *Outlier {
	v := &r.health
	o := &Outlier{
		EjectionsActive:        v.odActive.WithLabelValues(cluster),
		EjectionsEnforcedTotal: v.odEnforcedTotal.WithLabelValues(cluster),
		EjectionsOverflow:      v.odOverflow.WithLabelValues(cluster),
	}
	for t := range numEjectionTypes {
		o.Enforced[t] = v.odEnforced[t].WithLabelValues(cluster)
		o.Detected[t] = v.odDetected[t].WithLabelValues(cluster)
	}
	return o
}

// LBHealthyPanic returns the named cluster's lb_healthy_panic counter.
func (r *Registry) LBHealthyPanic(cluster string) prometheus.Counter {
	return r.health.lbHealthyPanic.WithLabelValues(cluster)
}
