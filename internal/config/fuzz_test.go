package config_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/pylon-gateway/pylon/internal/config"
)

// FuzzLoad checks that Load never panics nor hangs, that it always explains a rejection
// with Errors, and that an accepted config holds the invariants the rest of Pylon relies on.
func FuzzLoad(f *testing.F) {
	seeds := []string{
		fullConfig, // CERT and KEY do not exist: rejected
		listenerDoc("", ""),
		routeDoc("- {match: {prefix: /}, cluster: a, regex_rewrite: {pattern: \"/(a)\", substitution: '\\1'}}"),
		routeDoc("- {match: {regex: /x, case_sensitive: false}, redirect: {scheme_redirect: HTTP}}"),
		routeDoc("- {match: {prefix: /}, weighted_clusters: [{name: a, weight: 1}, {name: c}], filters: {authz: {}}}"),
		"listeners: [{name: l, address: ':0', virtual_hosts: [{domains: ['*'], routes: [{match: {prefix: /}, direct_response: {status: 200}}]}]}]\n",
		"listeners:\n  - name: l\n    address: [1\n",
		"a: &a [*a]\n",
		"x: &x {a: *x}\nlisteners: [*x]\n",
		"drain_timeout: 1.5\nclusters: [{name: c, endpoints: [{address: '1.2.3.4:80', weight: 2}, '1.2.3.4:81']}]\n",
		"- a\n",
		"---\nlisteners: []\n---\nfoo: 1\n",
		"",
	}
	for _, c := range validationCases {
		if len(c.doc) < 4096 {
			seeds = append(seeds, c.doc)
		}
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := config.Load(data)
		if err != nil {
			var errs config.Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("err = %v (%T), want a non-empty config.Errors", err, err)
			}
			for _, e := range errs {
				if e.Path == "" || e.Msg == "" || e.Line < 0 {
					t.Fatalf("incomplete error %#v", e)
				}
			}
			// Errors are deterministic (no map order leaks into them).
			if _, err2 := config.Load(data); err2 == nil || err2.Error() != err.Error() {
				t.Fatalf("second load: %v\nfirst: %v", err2, err)
			}
			return
		}
		checkInvariants(t, cfg)
	})
}

// checkInvariants checks what a config accepted by Load guarantees.
func checkInvariants(t *testing.T, cfg *config.Config) {
	t.Helper()
	if cfg.DrainTimeout <= 0 {
		t.Errorf("drain_timeout = %v", cfg.DrainTimeout)
	}
	if len(cfg.Listeners) == 0 {
		t.Fatal("no listeners")
	}
	clusters := map[string]bool{}
	for _, c := range cfg.Clusters {
		if c.Name == "" || clusters[c.Name] {
			t.Errorf("cluster name %q empty or duplicate", c.Name)
		}
		clusters[c.Name] = true
		if c.Type != "static" && c.Type != "dns" {
			t.Errorf("cluster %s: type %q", c.Name, c.Type)
		}
		if c.LB == "" || c.ConnectTimeout <= 0 || c.DNSRefreshRate <= 0 || c.IdleTimeout <= 0 ||
			c.MaxConnections <= 0 || c.MaxIdleConnections <= 0 {
			t.Errorf("cluster %s: defaults not applied: %+v", c.Name, c)
		}
		for _, e := range c.Endpoints {
			if e.Address == "" || e.Weight == 0 {
				t.Errorf("cluster %s: endpoint %+v", c.Name, e)
			}
		}
	}
	for _, l := range cfg.Listeners {
		if l.Name == "" || l.Address == "" {
			t.Errorf("listener %q at %q: a name and an address are required", l.Name, l.Address)
		}
		if l.StatPrefix == "" || l.HTTP2 == nil || l.UseRemoteAddress == nil || l.ServerName == "" ||
			l.MaxRequestHeadersKB < 1 || l.MaxRequestHeadersKB > 8192 {
			t.Errorf("listener %s: defaults not applied: %+v", l.Name, l)
		}
		if l.TLS != nil && l.TLS.MinVersion != "1.2" && l.TLS.MinVersion != "1.3" {
			t.Errorf("listener %s: tls.min_version %q", l.Name, l.TLS.MinVersion)
		}
		filters := map[string]bool{}
		for _, f := range l.Filters {
			if f.Name == "" {
				t.Errorf("listener %s: unnamed filter", l.Name)
			}
			filters[f.Name] = true
		}
		if len(l.VirtualHosts) == 0 {
			t.Errorf("listener %s: no virtual hosts", l.Name)
		}
		for _, vh := range l.VirtualHosts {
			if len(vh.Domains) == 0 {
				t.Errorf("listener %s: a virtual host without domains", l.Name)
			}
			for _, r := range vh.Routes {
				checkRoute(t, &r, clusters, filters)
			}
		}
	}
}

func checkRoute(t *testing.T, r *config.Route, clusters, filters map[string]bool) {
	t.Helper()
	actions := 0
	if r.Cluster != "" {
		actions++
		if !clusters[r.Cluster] {
			t.Errorf("route %q: unknown cluster %q", r.Name, r.Cluster)
		}
	}
	if len(r.WeightedClusters) > 0 {
		actions++
		for _, wc := range r.WeightedClusters {
			if !clusters[wc.Name] {
				t.Errorf("route %q: unknown weighted cluster %q", r.Name, wc.Name)
			}
		}
	}
	if r.DirectResponse != nil {
		actions++
	}
	if r.Redirect != nil {
		actions++
		if r.Redirect.ResponseCode == 0 {
			t.Errorf("route %q: redirect response_code not defaulted", r.Name)
		}
	}
	if actions != 1 {
		t.Errorf("route %q: %d actions", r.Name, actions)
	}
	if r.Match.CaseSensitive == nil {
		t.Errorf("route %q: case_sensitive not defaulted", r.Name)
	}
	forwards := r.Cluster != "" || len(r.WeightedClusters) > 0
	if forwards != (r.Timeout != nil) {
		t.Errorf("route %q: timeout %v for a route that forwards=%v", r.Name, r.Timeout, forwards)
	}
	m := r.Match
	paths := 0
	for _, s := range []string{m.Prefix, m.Path, m.Regex, m.PathSeparatedPrefix} {
		if s != "" {
			paths++
		}
	}
	if paths != 1 {
		t.Errorf("route %q: %d path conditions", r.Name, paths)
	}
	for name := range r.Filters {
		if !filters[name] {
			t.Errorf("route %q: per-route config of filter %q, not in the listener", r.Name, name)
		}
	}
	for _, h := range m.Headers {
		if strings.HasPrefix(h.Name, ":") {
			switch strings.ToLower(h.Name) {
			case ":authority", ":method", ":path", ":scheme":
			default:
				t.Errorf("route %q: header condition on %q", r.Name, h.Name)
			}
		}
	}
}
