package e2e_test

import (
	"strings"
	"testing"
	"time"

	"github.com/pylon-gateway/pylon/internal/testutil"
)

func TestDbgHCReload(t *testing.T) {
	a := startHealthUpstream(t, "a")
	cfg := func(lb string) string {
		return healthConfig("lb: "+lb+"\nhealth_check: {http: {path: /healthz}, interval: 100ms, timeout: 1s, unhealthy_threshold: 1, healthy_threshold: 1}", a.Addr())
	}
	g := testutil.StartGateway(t, cfg("round_robin"))
	addr := strings.TrimPrefix(g.URL("public"), "http://")
	admin := strings.TrimPrefix(g.AdminURL(), "http://")
	pin := func(s string) string {
		s = strings.Replace(s, "address: 127.0.0.1:0", "address: "+addr, 1)
		return strings.Replace(s, "admin: {address: 127.0.0.1:0}", "admin: {address: "+admin+"}", 1)
	}
	g.Rewrite(pin(cfg("round_robin")))
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			get(t, "http://"+addr+"/x")
			time.Sleep(10 * time.Millisecond)
		}
	}()
	time.Sleep(500 * time.Millisecond)
	t.Log("before", g.Stat("cluster.svc.health_check.attempt"), a.checks.Load())
	g.Rewrite(pin(cfg("least_request")))
	time.Sleep(500 * time.Millisecond)
	t.Log("after lb change", g.Stat("cluster.svc.health_check.attempt"), a.checks.Load())
	time.Sleep(500 * time.Millisecond)
	t.Log("later", g.Stat("cluster.svc.health_check.attempt"), g.Stat("cluster.svc.upstream_rq_total"), a.checks.Load())
}
