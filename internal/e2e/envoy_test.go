package e2e_test

import (
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/pylon-gateway/pylon/internal/testutil"
)

// TestEnvoyConfigRunsUnchanged serves examples/envoy.yaml (an Envoy v3 bootstrap) with only
// its ports moved to free ones: proxying with a prefix rewrite, a direct response, and
// Envoy's local rate limit with its per-route bucket.
func TestEnvoyConfigRunsUnchanged(t *testing.T) {
	src, err := os.ReadFile("../../examples/envoy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	up := testutil.StartUpstream(t, "service", nil)
	_, upPort, _ := net.SplitHostPort(up.Addr())
	addr, admin := freeAddr(t), freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	_, adminPort, _ := net.SplitHostPort(admin)
	cfg := strings.NewReplacer("port_value: 10000", "port_value: "+port, "port_value: 9902", "port_value: "+adminPort,
		"port_value: 8081", "port_value: "+upPort).Replace(string(src))
	path := writeConfig(t, cfg)
	if out, err := exec.Command(pylonBin, "validate", "-c", path).CombinedOutput(); err != nil {
		t.Fatalf("validate: %v\n%s", err, out)
	}
	_, out := pylonProcess(t, "serve", "-c", path)
	waitReady(t, "http://"+admin+"/ready")

	if resp, body := get(t, "http://"+addr+"/healthz"); resp.StatusCode != 200 || body != "ok" || resp.Header.Get("Server") != "envoy" {
		t.Errorf("/healthz: %d %q server %q", resp.StatusCode, body, resp.Header.Get("Server"))
	}
	for i := 1; i <= 3; i++ {
		resp, body := get(t, "http://"+addr+"/api/users")
		want := 200
		if i == 3 {
			want = 429
		}
		if resp.StatusCode != want {
			t.Fatalf("request %d to /api/: %d %q, want %d\n%s", i, resp.StatusCode, body, want, out)
		}
		if i < 3 && up.Last().RequestURI != "/users" {
			t.Errorf("prefix_rewrite: upstream saw %q", up.Last().RequestURI)
		}
		if i == 3 && body != "local_rate_limited" {
			t.Errorf("429 body %q", body)
		}
	}
	// Routes without a bucket are not limited (Envoy's filter_enabled defaults to 0%).
	for i := 0; i < 5; i++ {
		if resp, _ := get(t, "http://"+addr+"/other"); resp.StatusCode != 200 {
			t.Fatalf("/other: %d", resp.StatusCode)
		}
	}
	if v := statFrom(t, admin, "http.ingress_http.downstream_rq_total"); v == "" || v == "0" {
		t.Errorf("stats under the Envoy stat_prefix: %q", v)
	}
}

// TestEnvoyConfigErrors: what Envoy rejects, or what Pylon does not implement yet, is refused
// with the Envoy field path and line.
func TestEnvoyConfigErrors(t *testing.T) {
	src, err := os.ReadFile("../../examples/envoy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, from, to, want string }{
		{"v2 per_filter_config", "typed_per_filter_config:", "per_filter_config:", "per_filter_config was removed in Envoy v3: use typed_per_filter_config"},
		{"not implemented yet", "connect_timeout: 0.25s", "connect_timeout: 0.25s\n      health_checks: [{timeout: 1s, interval: 5s, unhealthy_threshold: 3, healthy_threshold: 1, grpc_health_check: {}}]", "static_resources.clusters[0].health_checks[0].grpc_health_check"},
		{"unknown field", "stat_prefix: ingress_http", "stat_prefix: ingress_http\n                bogus_field: 1", "bogus_field"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConfig(t, strings.Replace(string(src), tc.from, tc.to, 1))
			out, err := exec.Command(pylonBin, "validate", "-c", path).CombinedOutput()
			if err == nil || !strings.Contains(string(out), tc.want) || !strings.Contains(string(out), "(line ") {
				t.Fatalf("err %v, output lacks %q with a line:\n%s", err, tc.want, out)
			}
		})
	}
}

func statFrom(t *testing.T, admin, name string) string {
	t.Helper()
	_, body := get(t, "http://"+admin+"/stats")
	for _, line := range strings.Split(body, "\n") {
		if k, v, ok := strings.Cut(line, ": "); ok && k == name {
			return v
		}
	}
	return ""
}
