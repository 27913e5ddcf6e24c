package stats

import (
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// TestStripedMatchesClientGolang feeds the same operations, from many goroutines, to striped
// metrics and to client_golang's, and requires the same exposition.
func TestStripedMatchesClientGolang(t *testing.T) {
	striped, plain := prometheus.NewRegistry(), prometheus.NewRegistry()

	sc := newStripedCounterVec("c_total", "help", "l")
	pc := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "c_total", Help: "help"}, []string{"l"})
	sg := newStripedGaugeVec("g", "help", "l")
	pg := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "g", Help: "help"}, []string{"l"})
	sh := newStripedHistogramVec("h", "help", EnvoyBuckets, "l")
	ph := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "h", Help: "help", Buckets: EnvoyBuckets}, []string{"l"})
	striped.MustRegister(sc, sg, sh)
	plain.MustRegister(pc, pg, ph)

	values := []float64{0, 0.25, 0.5, 0.75, 1, 3, 5, 5.5, 99, 100, 250, 4000, 3600000, 1e9}
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			l := []string{"a", "b"}[g%2]
			for i := range 500 {
				for _, c := range []prometheus.Counter{sc.WithLabelValues(l), pc.WithLabelValues(l)} {
					c.Inc()
					if i%100 == 0 {
						c.Add(2)
					}
				}
				for _, ga := range []prometheus.Gauge{sg.WithLabelValues(l), pg.WithLabelValues(l)} {
					ga.Inc()
					if i%3 != 0 {
						ga.Dec()
					}
				}
				v := values[i%len(values)]
				sh.WithLabelValues(l).Observe(v)
				ph.WithLabelValues(l).Observe(v)
			}
		})
	}
	wg.Wait()
	if got, want := expose(t, striped), expose(t, plain); got != want {
		t.Errorf("striped:\n%s\nclient_golang:\n%s", got, want)
	}
	// 8 goroutines per label, each 500 increments and 5 adds of 2.
	if got := expose(t, striped); !strings.Contains(got, `c_total{l="a"} 4080`) {
		t.Errorf("counter a: want 4080 in\n%s", got)
	}
}

// expose renders a registry in the text exposition format.
func expose(t *testing.T, g prometheus.Gatherer) string {
	t.Helper()
	fams, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, f := range fams {
		if _, err := expfmt.MetricFamilyToText(&b, f); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

func BenchmarkStripedCounterParallel(b *testing.B) {
	c := newStripedCounterVec("c_total", "help", "l").WithLabelValues("a")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.Inc()
		}
	})
}

func BenchmarkPrometheusCounterParallel(b *testing.B) {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "c_total", Help: "help"}, []string{"l"}).WithLabelValues("a")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.Inc()
		}
	})
}

func BenchmarkStripedHistogramParallel(b *testing.B) {
	h := newStripedHistogramVec("h", "help", EnvoyBuckets, "l").WithLabelValues("a")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			h.Observe(3)
		}
	})
}

func BenchmarkPrometheusHistogramParallel(b *testing.B) {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "h", Help: "help", Buckets: EnvoyBuckets}, []string{"l"}).WithLabelValues("a")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			h.Observe(3)
		}
	})
}
