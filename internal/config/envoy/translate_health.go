package envoy

import (
	"fmt"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/pylon-gateway/pylon/internal/config"
)

// clusterHealth translates a cluster's health_checks, outlier_detection and
// common_lb_config.healthy_panic_threshold.
func (t *translator) clusterHealth(p, pl string, cl *clusterv3.Cluster, out *config.Cluster) {
	switch hcs := cl.GetHealthChecks(); len(hcs) {
	case 0:
	case 1:
		out.HealthCheck = t.healthCheck(p+".health_checks[0]", pl+".health_check", hcs[0])
		t.m(pl+".health_check", p+".health_checks[0]")
	default:
		t.fail(p+".health_checks[1]", "not supported yet: Pylon runs one health check per cluster")
	}
	if od := cl.GetOutlierDetection(); od != nil {
		out.OutlierDetection = t.outlierDetection(p+".outlier_detection", pl+".outlier_detection", od)
		t.m(pl+".outlier_detection", p+".outlier_detection")
	}
	if lc := cl.GetCommonLbConfig(); lc != nil {
		lp := p + ".common_lb_config"
		t.only(lp, lc, "healthy_panic_threshold")
		if v := lc.GetHealthyPanicThreshold(); v != nil {
			out.HealthyPanicThreshold = ptr(v.GetValue())
			t.m(pl+".healthy_panic_threshold", lp+".healthy_panic_threshold")
		}
	}
}

func (t *translator) healthCheck(p, pl string, hc *corev3.HealthCheck) *config.HealthCheck {
	t.only(p, hc, "timeout", "interval", "interval_jitter", "no_traffic_interval", "unhealthy_threshold",
		"healthy_threshold", "reuse_connection", "http_health_check", "tcp_health_check")
	out := &config.HealthCheck{
		Timeout:           dur(hc.GetTimeout()),
		Interval:          dur(hc.GetInterval()),
		IntervalJitter:    dur(hc.GetIntervalJitter()),
		NoTrafficInterval: dur(hc.GetNoTrafficInterval()),
	}
	for _, f := range []string{"timeout", "interval", "interval_jitter", "no_traffic_interval"} {
		t.m(pl+"."+f, p+"."+f)
	}
	for _, f := range []struct {
		name string
		v    *wrapperspb.UInt32Value
		to   *int
	}{
		{"healthy_threshold", hc.GetHealthyThreshold(), &out.HealthyThreshold},
		{"unhealthy_threshold", hc.GetUnhealthyThreshold(), &out.UnhealthyThreshold},
	} {
		if f.v.GetValue() == 0 {
			// Envoy's 0 never reaches the threshold; Pylon reads 0 as its default.
			t.fail(p+"."+f.name, "0 is not supported: the threshold must be at least 1")
			continue
		}
		*f.to = int(f.v.GetValue())
		t.m(pl+"."+f.name, p+"."+f.name)
	}
	if rc := hc.GetReuseConnection(); rc != nil && !rc.GetValue() {
		t.fail(p+".reuse_connection", "not supported yet: health checks always reuse their connection")
	}
	switch {
	case hc.GetHttpHealthCheck() != nil:
		hp := p + ".http_health_check"
		h := hc.GetHttpHealthCheck()
		t.only(hp, h, "path", "host", "expected_statuses", "retriable_statuses", "codec_client_type", "method")
		if h.GetCodecClientType() != typev3.CodecClientType_HTTP1 {
			t.fail(hp+".codec_client_type", "not supported yet: health checks speak HTTP/1.1")
		}
		if m := h.GetMethod(); m != corev3.RequestMethod_METHOD_UNSPECIFIED && m != corev3.RequestMethod_GET {
			t.fail(hp+".method", "not supported yet: health checks use GET")
		}
		out.HTTP = &config.HTTPHealthCheck{
			Path:              h.GetPath(),
			Host:              h.GetHost(),
			ExpectedStatuses:  t.statusRanges(hp+".expected_statuses", h.GetExpectedStatuses()),
			RetriableStatuses: t.statusRanges(hp+".retriable_statuses", h.GetRetriableStatuses()),
		}
		for _, f := range []string{"path", "host", "expected_statuses", "retriable_statuses"} {
			t.m(pl+".http."+f, hp+"."+f)
		}
	case hc.GetTcpHealthCheck() != nil:
		// Only a connect check: send and receive stay errors that name them.
		t.only(p+".tcp_health_check", hc.GetTcpHealthCheck())
		out.TCP = &config.TCPHealthCheck{}
		t.m(pl+".tcp", p+".tcp_health_check")
	}
	return out
}

// statusRanges turns Envoy's half-open [start, end) ranges into inclusive ones.
func (t *translator) statusRanges(p string, rs []*typev3.Int64Range) []config.StatusRange {
	var out []config.StatusRange
	for i, r := range rs {
		if r.GetStart() >= r.GetEnd() {
			// Envoy's message for a range with nothing in it.
			t.fail(fmt.Sprintf("%s[%d]", p, i), "Invalid http status range: expecting start < end, but found start=%d and end=%d", r.GetStart(), r.GetEnd())
			continue
		}
		out = append(out, config.StatusRange{Min: int(r.GetStart()), Max: int(r.GetEnd() - 1)})
	}
	return out
}

func (t *translator) outlierDetection(p, pl string, od *clusterv3.OutlierDetection) *config.OutlierDetection {
	t.only(p, od, "consecutive_5xx", "consecutive_gateway_failure", "interval", "base_ejection_time",
		"max_ejection_time", "max_ejection_time_jitter", "max_ejection_percent", "always_eject_one_host",
		"success_rate_minimum_hosts", "success_rate_request_volume", "success_rate_stdev_factor",
		"failure_percentage_threshold", "failure_percentage_minimum_hosts", "failure_percentage_request_volume",
		"enforcing_consecutive_5xx", "enforcing_consecutive_gateway_failure", "enforcing_success_rate",
		"enforcing_failure_percentage", "successful_active_health_check_uneject_host")
	out := &config.OutlierDetection{
		Interval:              dur(od.GetInterval()),
		BaseEjectionTime:      dur(od.GetBaseEjectionTime()),
		MaxEjectionTime:       dur(od.GetMaxEjectionTime()),
		MaxEjectionTimeJitter: dur(od.GetMaxEjectionTimeJitter()),
	}
	for _, f := range []string{"interval", "base_ejection_time", "max_ejection_time", "max_ejection_time_jitter"} {
		t.m(pl+"."+f, p+"."+f)
	}
	// An unset wrapper keeps the Pylon field unset, so that Pylon's defaults (Envoy's) apply.
	for _, f := range []struct {
		name string
		v    *wrapperspb.UInt32Value
		to   **int
	}{
		{"consecutive_5xx", od.GetConsecutive_5Xx(), &out.Consecutive5xx},
		{"consecutive_gateway_failure", od.GetConsecutiveGatewayFailure(), &out.ConsecutiveGatewayFailure},
		{"max_ejection_percent", od.GetMaxEjectionPercent(), &out.MaxEjectionPercent},
		{"success_rate_minimum_hosts", od.GetSuccessRateMinimumHosts(), &out.SuccessRateMinimumHosts},
		{"success_rate_request_volume", od.GetSuccessRateRequestVolume(), &out.SuccessRateRequestVolume},
		{"failure_percentage_threshold", od.GetFailurePercentageThreshold(), &out.FailurePercentageThreshold},
		{"failure_percentage_minimum_hosts", od.GetFailurePercentageMinimumHosts(), &out.FailurePercentageMinimumHosts},
		{"failure_percentage_request_volume", od.GetFailurePercentageRequestVolume(), &out.FailurePercentageRequestVolume},
		{"enforcing_consecutive_5xx", od.GetEnforcingConsecutive_5Xx(), &out.EnforcingConsecutive5xx},
		{"enforcing_success_rate", od.GetEnforcingSuccessRate(), &out.EnforcingSuccessRate},
	} {
		if f.v != nil {
			*f.to = ptr(int(f.v.GetValue()))
			t.m(pl+"."+f.name, p+"."+f.name)
		}
	}
	if v := od.GetEnforcingConsecutiveGatewayFailure(); v != nil {
		out.EnforcingConsecutiveGatewayFailure = int(v.GetValue())
		t.m(pl+".enforcing_consecutive_gateway_failure", p+".enforcing_consecutive_gateway_failure")
	}
	if v := od.GetEnforcingFailurePercentage(); v != nil {
		out.EnforcingFailurePercentage = int(v.GetValue())
		t.m(pl+".enforcing_failure_percentage", p+".enforcing_failure_percentage")
	}
	if v := od.GetSuccessRateStdevFactor(); v != nil {
		// Envoy writes the factor times 1000.
		out.SuccessRateStdevFactor = ptr(float64(v.GetValue()) / 1000)
		t.m(pl+".success_rate_stdev_factor", p+".success_rate_stdev_factor")
	}
	if v := od.GetAlwaysEjectOneHost(); v != nil {
		out.AlwaysEjectOneHost = v.GetValue()
		t.m(pl+".always_eject_one_host", p+".always_eject_one_host")
	}
	if v := od.GetSuccessfulActiveHealthCheckUnejectHost(); v != nil {
		out.SuccessfulActiveHealthCheckUnejectHost = ptr(v.GetValue())
		t.m(pl+".successful_active_health_check_uneject_host", p+".successful_active_health_check_uneject_host")
	}
	return out
}
