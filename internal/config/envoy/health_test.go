package envoy

import (
	"strings"
	"testing"
)

// healthCluster is the web cluster with extra fields (indented as cluster fields); its
// first extra line is line 26 of the document.
func healthCluster(fields string) string {
	return minimal("", simpleRoutes, `
    - name: web
`+strings.TrimRight(fields, "\n")+`
      load_assignment:
        cluster_name: web
        endpoints:
          - lb_endpoints:
              - endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: 8081}}}`)
}

// hc is a health check with every required field and the given extra lines.
func hc(extra string) string {
	return `      health_checks:
        - timeout: 1s
          interval: 5s
          unhealthy_threshold: 2
          healthy_threshold: 2
` + extra
}

func TestHealthErrors(t *testing.T) {
	const cl = "static_resources.clusters[0]"
	tests := []struct {
		name, fields, path string
		line               int
		msg                string
	}{
		{"two health checks", hc("          tcp_health_check: {}\n") + "        - {timeout: 1s, interval: 5s, unhealthy_threshold: 2, healthy_threshold: 2, tcp_health_check: {}}\n",
			cl + ".health_checks[1]", 32, "not supported yet: Pylon runs one health check per cluster"},
		{"grpc health check", hc("          grpc_health_check: {}\n"), cl + ".health_checks[0].grpc_health_check", 31, "does not implement HealthCheck.grpc_health_check"},
		{"tcp send", hc("          tcp_health_check: {send: {text: \"0102\"}}\n"), cl + ".health_checks[0].tcp_health_check.send", 31, "does not implement TcpHealthCheck.send"},
		{"http method", hc("          http_health_check: {path: /, method: HEAD}\n"), cl + ".health_checks[0].http_health_check.method", 31, "health checks use GET"},
		{"http2 codec", hc("          http_health_check: {path: /, codec_client_type: HTTP2}\n"), cl + ".health_checks[0].http_health_check.codec_client_type", 31, "health checks speak HTTP/1.1"},
		{"request headers", hc("          http_health_check: {path: /, request_headers_to_add: [{header: {key: a, value: b}}]}\n"),
			cl + ".health_checks[0].http_health_check.request_headers_to_add", 31, "does not implement HttpHealthCheck.request_headers_to_add"},
		{"empty status range", hc("          http_health_check: {path: /, expected_statuses: [{start: 300, end: 200}]}\n"),
			cl + ".health_checks[0].http_health_check.expected_statuses[0]", 31, "expecting start < end, but found start=300 and end=200"},
		{"threshold 0", strings.Replace(hc("          tcp_health_check: {}\n"), "          healthy_threshold: 2", "          healthy_threshold: 0", 1),
			cl + ".health_checks[0].healthy_threshold", 30, "0 is not supported"},
		{"reuse_connection false", hc("          reuse_connection: false\n          tcp_health_check: {}\n"), cl + ".health_checks[0].reuse_connection", 31, "always reuse their connection"},
		{"interval required (Envoy's PGV)", strings.Replace(hc("          tcp_health_check: {}\n"), "          interval: 5s\n", "", 1),
			cl + ".health_checks[0].interval", 27, "required"},
		{"split_external_local_origin_errors", "      outlier_detection: {split_external_local_origin_errors: true}\n",
			cl + ".outlier_detection.split_external_local_origin_errors", 26, "does not implement OutlierDetection.split_external_local_origin_errors"},
		{"max_ejection_time below base", "      outlier_detection: {base_ejection_time: 60s, max_ejection_time: 30s}\n",
			cl + ".outlier_detection.max_ejection_time", 26, "must not be shorter than base_ejection_time"},
		{"locality weighted lb", "      common_lb_config: {locality_weighted_lb_config: {}}\n",
			cl + ".common_lb_config.locality_weighted_lb_config", 26, "does not implement CommonLbConfig.locality_weighted_lb_config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantErr(t, healthCluster(tt.fields), tt.path, tt.line, tt.msg) })
	}
}
