package gateway

import (
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// The cached series are the vectors' own, created on first use only, from any goroutine.
func TestSeriesCache(t *testing.T) {
	v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "c"}, []string{"provider", "model", "status"})
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "h"}, []string{"provider", "model"})
	var c seriesCache
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			model := []string{"a", "b"}[i%2]
			for range 100 {
				s := c.of(model)
				s.ok.get(v, "p", model, "200").Inc()
				s.duration.get(h, "p", model).Observe(1)
			}
		}()
	}
	wg.Wait()
	for _, model := range []string{"a", "b"} {
		var m dto.Metric
		v.WithLabelValues("p", model, "200").Write(&m)
		if got := m.GetCounter().GetValue(); got != 400 {
			t.Errorf("%s: %v requests, want 400", model, got)
		}
	}
	ch := make(chan prometheus.Metric, 10)
	v.Collect(ch)
	if n := len(ch); n != 2 {
		t.Errorf("%d series, want only the 2 used", n)
	}
	if c.of("a") != c.of("a") || c.of("a") == c.of("b") {
		t.Error("one series set per model")
	}
}
