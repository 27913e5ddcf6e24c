package config_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/pylon-gateway/pylon/internal/config"
)

// healthDoc is a document whose cluster a has the given extra fields (indented as cluster
// fields).
func healthDoc(fields string) string {
	return clusterDoc("- name: a\n  endpoints: [\"127.0.0.1:9000\"]\n" + indent(fields, 2))
}

// healthValidationCases hold one case for every rule of validator.health.
var healthValidationCases = []ruleCase{
	{"panic threshold", healthDoc("healthy_panic_threshold: 101 " + marker), C + ".healthy_panic_threshold", "must be a percentage between 0 and 100, got 101"},
	{"panic threshold negative", healthDoc("healthy_panic_threshold: -1 " + marker), C + ".healthy_panic_threshold", "got -1"},
	{"health_check without a kind", healthDoc("health_check: {interval: 1s} " + marker), C + ".health_check", "exactly one of http or tcp is required"},
	{"health_check with two kinds", healthDoc("health_check: {tcp: {}, http: {path: /}} " + marker), C + ".health_check", "exactly one of http or tcp is required"},
	{"http path missing", healthDoc("health_check:\n  http: {host: x} " + marker), C + ".health_check.http.path", `must start with "/", got ""`},
	{"http path relative", healthDoc("health_check:\n  http:\n    path: healthz " + marker), C + ".health_check.http.path", `got "healthz"`},
	{"http host", healthDoc("health_check:\n  http:\n    path: /\n    host: \"a b\" " + marker), C + ".health_check.http.host", `invalid host "a b"`},
	{"expected status", healthDoc("health_check:\n  http:\n    path: /\n    expected_statuses: [200, 600] " + marker), C + ".health_check.http.expected_statuses[1]", "statuses must be between 100 and 599"},
	{"expected range empty", healthDoc("health_check:\n  http:\n    path: /\n    expected_statuses: [\"299-200\"] " + marker), C + ".health_check.http.expected_statuses[0]", "the range 299-200 is empty"},
	{"retriable status", healthDoc("health_check:\n  http:\n    path: /\n    retriable_statuses: [99] " + marker), C + ".health_check.http.retriable_statuses[0]", "between 100 and 599"},
	{"status not a number", healthDoc("health_check:\n  http:\n    path: /\n    expected_statuses: [ok] " + marker), C + ".health_check.http.expected_statuses[0]", `invalid status "ok"`},
	{"interval", healthDoc("health_check:\n  tcp: {}\n  interval: -1s " + marker), C + ".health_check.interval", "must be positive"},
	{"timeout", healthDoc("health_check:\n  tcp: {}\n  timeout: -1s " + marker), C + ".health_check.timeout", "must be positive"},
	{"no_traffic_interval", healthDoc("health_check:\n  tcp: {}\n  no_traffic_interval: -1s " + marker), C + ".health_check.no_traffic_interval", "must be positive"},
	{"interval_jitter", healthDoc("health_check:\n  tcp: {}\n  interval_jitter: -1s " + marker), C + ".health_check.interval_jitter", "must not be negative"},
	{"healthy_threshold", healthDoc("health_check:\n  tcp: {}\n  healthy_threshold: -1 " + marker), C + ".health_check.healthy_threshold", "must be positive"},
	{"unhealthy_threshold", healthDoc("health_check:\n  tcp: {}\n  unhealthy_threshold: -2 " + marker), C + ".health_check.unhealthy_threshold", "must be positive"},
	{"outlier interval", healthDoc("outlier_detection:\n  interval: -1s " + marker), C + ".outlier_detection.interval", "must be positive"},
	{"base_ejection_time", healthDoc("outlier_detection:\n  base_ejection_time: -1s " + marker), C + ".outlier_detection.base_ejection_time", "must be positive"},
	{"max_ejection_time shorter than base", healthDoc("outlier_detection:\n  base_ejection_time: 60s\n  max_ejection_time: 30s " + marker), C + ".outlier_detection.max_ejection_time", "must not be shorter than base_ejection_time (1m0s)"},
	{"max_ejection_time_jitter", healthDoc("outlier_detection:\n  max_ejection_time_jitter: -1s " + marker), C + ".outlier_detection.max_ejection_time_jitter", "must not be negative"},
	{"consecutive_5xx", healthDoc("outlier_detection:\n  consecutive_5xx: -1 " + marker), C + ".outlier_detection.consecutive_5xx", "must not be negative"},
	{"success_rate_request_volume", healthDoc("outlier_detection:\n  success_rate_request_volume: -1 " + marker), C + ".outlier_detection.success_rate_request_volume", "must not be negative"},
	{"max_ejection_percent", healthDoc("outlier_detection:\n  max_ejection_percent: 101 " + marker), C + ".outlier_detection.max_ejection_percent", "must be a percentage between 0 and 100, got 101"},
	{"enforcing_consecutive_gateway_failure", healthDoc("outlier_detection:\n  enforcing_consecutive_gateway_failure: -5 " + marker), C + ".outlier_detection.enforcing_consecutive_gateway_failure", "got -5"},
	{"stdev factor negative", healthDoc("outlier_detection:\n  success_rate_stdev_factor: -1 " + marker), C + ".outlier_detection.success_rate_stdev_factor", "must not be negative"},
	{"stdev factor in Envoy's unit", healthDoc("outlier_detection:\n  success_rate_stdev_factor: 1900 " + marker), C + ".outlier_detection.success_rate_stdev_factor", "Envoy's 1900 is 1.9"},
	{"unknown outlier field", healthDoc("outlier_detection:\n  consecutive5xx: 3 " + marker), C + ".outlier_detection.consecutive5xx", `unknown field "consecutive5xx"`},
}

func TestHealthValidationRules(t *testing.T) {
	seen := map[string]bool{}
	for _, tt := range healthValidationCases {
		if seen[tt.name] {
			t.Fatalf("duplicate case name %q", tt.name)
		}
		seen[tt.name] = true
		t.Run(tt.name, func(t *testing.T) {
			errs := loadErrors(t, tt.doc)
			wantError(t, errs, tt.path, markedLine(t, tt.doc), tt.frag)
		})
	}
}

func TestHealthDefaults(t *testing.T) {
	cfg := mustLoad(t, healthDoc(`health_check: {http: {path: /healthz}}
outlier_detection: {}`))
	c := cfg.Clusters[0]
	check := func(name string, got, want any) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	check("healthy_panic_threshold", *c.HealthyPanicThreshold, 50.0)
	hc := c.HealthCheck
	check("interval", hc.Interval.D(), 5*time.Second)
	check("timeout", hc.Timeout.D(), time.Second)
	check("no_traffic_interval", hc.NoTrafficInterval.D(), 60*time.Second)
	check("interval_jitter", hc.IntervalJitter.D(), time.Duration(0))
	check("healthy_threshold", hc.HealthyThreshold, 2)
	check("unhealthy_threshold", hc.UnhealthyThreshold, 3)
	check("http.host (the cluster name)", hc.HTTP.Host, "a")
	check("http.expected_statuses (200 only)", hc.HTTP.ExpectedStatuses, []config.StatusRange{{Min: 200, Max: 200}})
	od := c.OutlierDetection
	for _, f := range []struct {
		name string
		got  any
		want any
	}{
		{"consecutive_5xx", *od.Consecutive5xx, 5},
		{"consecutive_gateway_failure", *od.ConsecutiveGatewayFailure, 5},
		{"interval", od.Interval.D(), 10 * time.Second},
		{"base_ejection_time", od.BaseEjectionTime.D(), 30 * time.Second},
		{"max_ejection_time", od.MaxEjectionTime.D(), 300 * time.Second},
		{"max_ejection_time_jitter", od.MaxEjectionTimeJitter.D(), time.Duration(0)},
		{"max_ejection_percent", *od.MaxEjectionPercent, 10},
		{"success_rate_minimum_hosts", *od.SuccessRateMinimumHosts, 5},
		{"success_rate_request_volume", *od.SuccessRateRequestVolume, 100},
		{"success_rate_stdev_factor", *od.SuccessRateStdevFactor, 1.9},
		{"failure_percentage_threshold", *od.FailurePercentageThreshold, 85},
		{"failure_percentage_minimum_hosts", *od.FailurePercentageMinimumHosts, 5},
		{"failure_percentage_request_volume", *od.FailurePercentageRequestVolume, 50},
		{"enforcing_consecutive_5xx", *od.EnforcingConsecutive5xx, 100},
		{"enforcing_consecutive_gateway_failure", od.EnforcingConsecutiveGatewayFailure, 0},
		{"enforcing_success_rate", *od.EnforcingSuccessRate, 100},
		{"enforcing_failure_percentage", od.EnforcingFailurePercentage, 0},
		{"successful_active_health_check_uneject_host", *od.SuccessfulActiveHealthCheckUnejectHost, true},
	} {
		check("outlier_detection."+f.name, f.got, f.want)
	}

	// Explicit zeros stay zeros; a long base_ejection_time raises the default cap.
	cfg = mustLoad(t, healthDoc(`healthy_panic_threshold: 0
outlier_detection: {consecutive_5xx: 0, max_ejection_percent: 0, enforcing_success_rate: 0, base_ejection_time: 10m}`))
	c = cfg.Clusters[0]
	check("healthy_panic_threshold (0)", *c.HealthyPanicThreshold, 0.0)
	check("consecutive_5xx (0)", *c.OutlierDetection.Consecutive5xx, 0)
	check("max_ejection_percent (0)", *c.OutlierDetection.MaxEjectionPercent, 0)
	check("enforcing_success_rate (0)", *c.OutlierDetection.EnforcingSuccessRate, 0)
	check("max_ejection_time (base is longer than 300s)", c.OutlierDetection.MaxEjectionTime.D(), 10*time.Minute)
	if cfg.Clusters[0].HealthCheck != nil {
		t.Error("no health_check: none is made up")
	}
}

func TestStatusRangeForms(t *testing.T) {
	cfg := mustLoad(t, healthDoc(`health_check:
  http:
    path: /
    expected_statuses: [200, "204", "300-308", " 400 - 404 "]`))
	want := []config.StatusRange{{Min: 200, Max: 200}, {Min: 204, Max: 204}, {Min: 300, Max: 308}, {Min: 400, Max: 404}}
	if got := cfg.Clusters[0].HealthCheck.HTTP.ExpectedStatuses; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("expected_statuses = %v, want %v", got, want)
	}
	for _, tt := range []struct {
		r    config.StatusRange
		in   int
		want bool
	}{{want[2], 299, false}, {want[2], 300, true}, {want[2], 308, true}, {want[2], 309, false}} {
		if got := tt.r.Contains(tt.in); got != tt.want {
			t.Errorf("%v.Contains(%d) = %v", tt.r, tt.in, got)
		}
	}
}
