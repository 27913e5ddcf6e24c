package router

import (
	"fmt"
	"strings"
	"testing"
)

const benchVhosts = `
virtual_hosts:
  - name: api
    domains: [api.example.com, "api.example.com:8080"]
    routes:
      - {match: {path: /healthz}, direct_response: {status: 200, body: ok}}
      - {match: {prefix: /admin, headers: [{name: x-internal, exact: "true"}]}, cluster: a}
      - {match: {prefix: /v1/users, methods: [GET, POST]}, cluster: b}
      - {match: {prefix: /v1/}, cluster: c}
      - {match: {prefix: /}, cluster: d}
  - name: www
    domains: [www.example.com, example.com]
    routes: [{match: {prefix: /}, cluster: a}]
  - name: tenants
    domains: ["*.tenants.example.com", "*.example.com"]
    routes:
      - {match: {prefix: /v1/, case_sensitive: false}, cluster: b}
      - {match: {prefix: /}, cluster: c}
  - name: staging
    domains: ["staging.*"]
    routes: [{match: {prefix: /}, cluster: d}]
  - name: default
    domains: ["*"]
    routes: [{match: {prefix: /}, cluster: d}]
`

func benchMatch(b *testing.B, tb *Table, host, target, want string, headers ...string) {
	req := request("GET", host, target, headers...)
	if r := tb.Match(req); r == nil || r.VirtualHost != want {
		b.Fatalf("setup: %s%s matched %+v, want vhost %s", host, target, r, want)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if tb.Match(req) == nil {
			b.Fatal("no match")
		}
	}
}

func BenchmarkMatchExactHost(b *testing.B) {
	tb := tableFor(b, benchVhosts)
	benchMatch(b, tb, "api.example.com", "/v1/orders/123?expand=items", "api")
}

func BenchmarkMatchWildcard(b *testing.B) {
	tb := tableFor(b, benchVhosts)
	b.Run("suffix", func(b *testing.B) {
		benchMatch(b, tb, "acme.tenants.example.com", "/v1/orders", "tenants")
	})
	b.Run("suffix-upper-case", func(b *testing.B) {
		benchMatch(b, tb, "ACME.Tenants.Example.com", "/V1/orders", "tenants")
	})
	b.Run("prefix", func(b *testing.B) {
		benchMatch(b, tb, "staging.internal", "/x", "staging")
	})
	b.Run("catch-all", func(b *testing.B) {
		benchMatch(b, tb, "unknown.org:8080", "/x", "default")
	})
}

func BenchmarkMatch50Routes(b *testing.B) {
	var s strings.Builder
	s.WriteString("virtual_hosts:\n  - name: big\n    domains: [\"*\"]\n    routes:\n")
	for i := range 49 {
		fmt.Fprintf(&s, "      - {match: {prefix: /service-%02d/}, cluster: a}\n", i)
	}
	s.WriteString("      - {match: {prefix: /last/}, cluster: b}\n")
	tb := tableFor(b, s.String())
	b.Run("prefix", func(b *testing.B) {
		benchMatch(b, tb, "example.com", "/last/resource?x=1", "big")
	})
	b.Run("headers-query", func(b *testing.B) {
		tb := tableFor(b, strings.Replace(s.String(), "{prefix: /last/}",
			`{prefix: /last/, headers: [{name: x-tenant, prefix: acme}], query: [{name: v, exact: "2"}]}`, 1))
		benchMatch(b, tb, "example.com", "/last/resource?a=1&v=2", "big", "x-tenant", "acme-corp")
	})
}
