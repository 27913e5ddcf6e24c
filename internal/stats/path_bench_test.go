package stats

import (
	"testing"
	"time"
)

// BenchmarkRequestStats is what one proxied request costs in stats: the listener's and the
// cluster's counters, gauges and histograms, as internal/proxy updates them.
func BenchmarkRequestStats(b *testing.B) {
	r := New()
	l, c := r.Listener("bench"), r.Cluster("up")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l.RqTotal.Inc()
			l.RqActive.Inc()
			l.RqHTTP1.Inc()
			l.RqFast.Inc()
			c.RqTotal.Inc()
			c.RqActive.Inc()
			c.Response(200, 300*time.Microsecond)
			c.RqActive.Dec()
			l.RqActive.Dec()
			l.Response(200, 500*time.Microsecond)
		}
	})
}
