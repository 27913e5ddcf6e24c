package extcontext

import (
	"context"
	"net/http"
	"testing"

	"github.com/pylon-gateway/pylon/internal/config"
)

// BenchmarkFetchCached: the hot path of a call whose context is cached.
func BenchmarkFetchCached(b *testing.B) {
	svc := newService(b)
	c, err := New(&config.LLMContext{URL: svc.URL, ForwardHeaders: []string{"X-Tenant"}})
	if err != nil {
		b.Fatal(err)
	}
	r := get(http.Header{"X-Tenant": {"acme"}})
	req := chat("")
	if _, err := c.Fetch(context.Background(), r, req, "s1"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		res, _ := c.Fetch(context.Background(), r, req, "s1")
		if !res.Cached {
			b.Fatal("miss")
		}
		c.Inject(req, res)
	}
}
