package admin

import (
	"testing"

	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"
)

func TestEnvoyName(t *testing.T) {
	lp := func(kv ...string) []*dto.LabelPair {
		var out []*dto.LabelPair
		for i := 0; i+1 < len(kv); i += 2 {
			out = append(out, &dto.LabelPair{Name: proto.String(kv[i]), Value: proto.String(kv[i+1])})
		}
		return out
	}
	cases := []struct {
		family string
		labels []*dto.LabelPair
		want   string
	}{
		{"envoy_http_downstream_rq_total", lp("envoy_http_conn_manager_prefix", "public"), "http.public.downstream_rq_total"},
		{"envoy_http_downstream_rq_xx", lp("envoy_response_code_class", "2", "envoy_http_conn_manager_prefix", "public"), "http.public.downstream_rq_2xx"},
		{"envoy_cluster_upstream_rq", lp("envoy_response_code", "503", "envoy_cluster_name", "svc"), "cluster.svc.upstream_rq_503"},
		{"envoy_cluster_upstream_rq_xx", lp("envoy_response_code_class", "5", "envoy_cluster_name", "svc"), "cluster.svc.upstream_rq_5xx"},
		{"envoy_cluster_upstream_cx_active", lp("envoy_cluster_name", "a.b"), "cluster.a.b.upstream_cx_active"},
		{"envoy_cluster_health_check_attempt", lp("envoy_cluster_name", "svc"), "cluster.svc.health_check.attempt"},
		{"envoy_cluster_outlier_detection_ejections_active", lp("envoy_cluster_name", "svc"), "cluster.svc.outlier_detection.ejections_active"},
		{"envoy_cluster_circuit_breakers_default_rq_open", lp("envoy_cluster_name", "svc"), "cluster.svc.circuit_breakers.default.rq_open"},
		{"envoy_cluster_lb_healthy_panic", lp("envoy_cluster_name", "svc"), "cluster.svc.lb_healthy_panic"},
		{"go_goroutines", nil, "go_goroutines"},
	}
	for _, c := range cases {
		if got := envoyName(c.family, c.labels); got != c.want {
			t.Errorf("envoyName(%s) = %q, want %q", c.family, got, c.want)
		}
	}
}

func TestHistogramQuantiles(t *testing.T) {
	h := &dto.Histogram{SampleCount: proto.Uint64(100), Bucket: []*dto.Bucket{
		{UpperBound: proto.Float64(1), CumulativeCount: proto.Uint64(50)},
		{UpperBound: proto.Float64(10), CumulativeCount: proto.Uint64(100)},
	}}
	if q := quantile(h, 0.5); q != 1 {
		t.Errorf("P50 = %v, want 1", q)
	}
	if q := quantile(h, 0.75); q != 5.5 {
		t.Errorf("P75 = %v, want 5.5 (linear within the bucket)", q)
	}
	if got := histogramLine(&dto.Histogram{SampleCount: proto.Uint64(0)}); got != "No recorded values" {
		t.Errorf("empty histogram: %q", got)
	}
}
