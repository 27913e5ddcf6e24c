package router

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pylon-gateway/pylon/internal/config"
)

// clustersYAML declares every cluster name the tests route to.
const clustersYAML = `
clusters:
  - {name: a, endpoints: [127.0.0.1:1]}
  - {name: b, endpoints: [127.0.0.1:1]}
  - {name: c, endpoints: [127.0.0.1:1]}
  - {name: d, endpoints: [127.0.0.1:1]}
  - {name: v1, endpoints: [127.0.0.1:1]}
  - {name: v2, endpoints: [127.0.0.1:1]}
  - {name: svc, endpoints: [127.0.0.1:1]}
`

// configFor wraps listener fields (virtual_hosts: ... and friends, unindented) into a whole
// config document and loads it with config.Load.
func configFor(t testing.TB, listener string) *config.Config {
	t.Helper()
	var b strings.Builder
	b.WriteString("listeners:\n  - name: l\n    address: 127.0.0.1:8080\n")
	for _, line := range strings.Split(strings.Trim(listener, "\n"), "\n") {
		b.WriteString("    " + line + "\n")
	}
	b.WriteString(clustersYAML)
	cfg, err := config.Load([]byte(b.String()))
	if err != nil {
		t.Fatalf("config.Load: %v\n%s", err, b.String())
	}
	return cfg
}

func tableFor(t testing.TB, listener string) *Table {
	t.Helper()
	cfg := configFor(t, listener)
	tb, err := New(cfg, "listeners[0]", &cfg.Listeners[0])
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return tb
}

// request builds a server-side request: target is the request-target as sent, headers are
// name, value pairs.
func request(method, host, target string, headers ...string) *http.Request {
	r := httptest.NewRequest(method, "/", nil)
	r.RequestURI = target
	r.Host = host
	r.Header = http.Header{}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	return r
}

// routeName is the name of the matched route, or "" for none.
func routeName(r *Route) string {
	if r == nil {
		return ""
	}
	return r.Name
}
