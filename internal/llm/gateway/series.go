package gateway

import (
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// targetSeries are the metric series of one target (provider, model id), each looked up
// in its vector on first use and kept: WithLabelValues hashes and validates the labels and
// takes a lock on every call, which a call would otherwise do several times. A series is
// only created when first used, as WithLabelValues would, so /metrics shows the same.
type targetSeries struct {
	ok, partial                                       lazyCounter // requests, by status
	prompt, completion, cached, cacheWrite, reasoning lazyCounter // tokens, by type
	cost, costUnknown                                 lazyCounter
	duration, ttft, tpot                              lazyObserver
}

// seriesCache maps a provider's model ids to their series. Reads take no lock: the map is
// replaced, never changed, when a model is added.
type seriesCache struct {
	mu sync.Mutex
	m  atomic.Pointer[map[string]*targetSeries]
}

// of returns the series of model.
func (c *seriesCache) of(model string) *targetSeries {
	if m := c.m.Load(); m != nil {
		if s := (*m)[model]; s != nil {
			return s
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.m.Load()
	if old != nil {
		if s := (*old)[model]; s != nil {
			return s
		}
	}
	next := make(map[string]*targetSeries, 1)
	if old != nil {
		for k, v := range *old {
			next[k] = v
		}
	}
	s := new(targetSeries)
	next[model] = s
	c.m.Store(&next)
	return s
}

type lazyCounter struct {
	p atomic.Pointer[prometheus.Counter]
}

// get returns the counter of the label values of v (c is "" for a vector of two labels).
func (l *lazyCounter) get(v *prometheus.CounterVec, a, b, c string) prometheus.Counter {
	if p := l.p.Load(); p != nil {
		return *p
	}
	return l.lookup(v, a, b, c)
}

// lookup is get's first call, apart so that the label slice is only built then.
func (l *lazyCounter) lookup(v *prometheus.CounterVec, a, b, c string) prometheus.Counter {
	var ctr prometheus.Counter
	if c == "" {
		ctr = v.WithLabelValues(a, b)
	} else {
		ctr = v.WithLabelValues(a, b, c)
	}
	l.p.Store(&ctr)
	return ctr
}

type lazyObserver struct {
	p atomic.Pointer[prometheus.Observer]
}

// get returns the observer of the label values of v.
func (l *lazyObserver) get(v *prometheus.HistogramVec, a, b string) prometheus.Observer {
	if p := l.p.Load(); p != nil {
		return *p
	}
	return l.lookup(v, a, b)
}

func (l *lazyObserver) lookup(v *prometheus.HistogramVec, a, b string) prometheus.Observer {
	o := v.WithLabelValues(a, b)
	l.p.Store(&o)
	return o
}
