package stats

import (
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/pylon-gateway/pylon/internal/stripe"
)

// Striped metrics are for the series every request touches (request totals, status classes,
// active requests, request times). A prometheus counter is one word that every core adds to:
// under load the cache line moves between cores on each request, which costs more than all the
// rest of the counting. A striped metric keeps nStripes cells on separate cache lines, picks
// one by the calling goroutine's stack address (goroutines serving different connections
// mostly land on different cells; package stripe) and sums the cells when scraped.

const nStripes = stripe.N

type cell struct {
	n atomic.Uint64
	_ [56]byte
}

// stripedCounter is a prometheus.Counter whose integer increments go to striped cells.
type stripedCounter struct {
	desc  *prometheus.Desc
	lvs   []string
	cells [nStripes]cell
	frac  atomic.Uint64 // float64 bits of the non-integer adds (rare)
}

func (c *stripedCounter) Inc() { c.cells[stripe.Index()].n.Add(1) }

func (c *stripedCounter) Add(v float64) {
	if v < 0 {
		panic("stats: counter cannot decrease")
	}
	if i := uint64(v); float64(i) == v {
		c.cells[stripe.Index()].n.Add(i)
		return
	}
	addFloat(&c.frac, v)
}

func (c *stripedCounter) value() float64 {
	var n uint64
	for i := range c.cells {
		n += c.cells[i].n.Load()
	}
	return float64(n) + math.Float64frombits(c.frac.Load())
}

func (c *stripedCounter) metric() prometheus.Metric {
	return prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, c.value(), c.lvs...)
}

func (c *stripedCounter) Desc() *prometheus.Desc              { return c.desc }
func (c *stripedCounter) Write(m *dto.Metric) error           { return c.metric().Write(m) }
func (c *stripedCounter) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }
func (c *stripedCounter) Collect(ch chan<- prometheus.Metric) { ch <- c.metric() }

// stripedGauge is a prometheus.Gauge for values moved up and down by whole steps (requests in
// flight). Set replaces the sum (it is not atomic with concurrent Adds).
type stripedGauge struct {
	desc  *prometheus.Desc
	lvs   []string
	cells [nStripes]cell // int64 two's complement
	frac  atomic.Uint64
}

func (g *stripedGauge) Inc() { g.cells[stripe.Index()].n.Add(1) }
func (g *stripedGauge) Dec() { g.cells[stripe.Index()].n.Add(^uint64(0)) }
func (g *stripedGauge) Add(v float64) {
	if i := int64(v); float64(i) == v {
		g.cells[stripe.Index()].n.Add(uint64(i))
		return
	}
	addFloat(&g.frac, v)
}
func (g *stripedGauge) Sub(v float64) { g.Add(-v) }
func (g *stripedGauge) Set(v float64) {
	for i := range g.cells {
		g.cells[i].n.Store(0)
	}
	g.frac.Store(0)
	g.Add(v)
}
func (g *stripedGauge) SetToCurrentTime() {
	g.Set(float64(time.Now().UnixNano()) / 1e9)
}

func (g *stripedGauge) value() float64 {
	var n int64
	for i := range g.cells {
		n += int64(g.cells[i].n.Load())
	}
	return float64(n) + math.Float64frombits(g.frac.Load())
}

func (g *stripedGauge) metric() prometheus.Metric {
	return prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, g.value(), g.lvs...)
}

func (g *stripedGauge) Desc() *prometheus.Desc              { return g.desc }
func (g *stripedGauge) Write(m *dto.Metric) error           { return g.metric().Write(m) }
func (g *stripedGauge) Describe(ch chan<- *prometheus.Desc) { ch <- g.desc }
func (g *stripedGauge) Collect(ch chan<- prometheus.Metric) { ch <- g.metric() }

// stripedHistogram is a prometheus.Observer whose bucket counts and sums are striped. The
// count is the sum of the buckets, so a scrape is always consistent.
type stripedHistogram struct {
	desc    *prometheus.Desc
	lvs     []string
	bounds  []float64
	stripes [nStripes]*histStripe
}

type histStripe struct {
	sum     atomic.Uint64 // float64 bits
	buckets []atomic.Uint64
	_       [96]byte // 128 bytes: a stripe's sum shares no cache line with another's
}

func newStripedHistogram(desc *prometheus.Desc, bounds []float64, lvs []string) *stripedHistogram {
	h := &stripedHistogram{desc: desc, lvs: lvs, bounds: bounds}
	for i := range h.stripes {
		h.stripes[i] = &histStripe{buckets: make([]atomic.Uint64, len(bounds)+1)}
	}
	return h
}

func (h *stripedHistogram) Observe(v float64) {
	b := sort.SearchFloat64s(h.bounds, v) // the first bound >= v: Prometheus buckets are "le"
	s := h.stripes[stripe.Index()]
	s.buckets[b].Add(1)
	addFloat(&s.sum, v)
}

func (h *stripedHistogram) metric() prometheus.Metric {
	counts := make([]uint64, len(h.bounds)+1)
	var sum float64
	for _, s := range h.stripes {
		for i := range s.buckets {
			counts[i] += s.buckets[i].Load()
		}
		sum += math.Float64frombits(s.sum.Load())
	}
	cum := make(map[float64]uint64, len(h.bounds))
	var n uint64
	for i, ub := range h.bounds {
		n += counts[i]
		cum[ub] = n
	}
	n += counts[len(h.bounds)]
	return prometheus.MustNewConstHistogram(h.desc, n, sum, cum, h.lvs...)
}

// stripedVec is a family of striped series, one per label values.
type stripedVec[M interface{ metric() prometheus.Metric }] struct {
	desc   *prometheus.Desc
	make   func(desc *prometheus.Desc, lvs []string) M
	mu     sync.Mutex
	series map[string]M
	order  []M
}

func newStripedVec[M interface{ metric() prometheus.Metric }](desc *prometheus.Desc, mk func(*prometheus.Desc, []string) M) *stripedVec[M] {
	return &stripedVec[M]{desc: desc, make: mk, series: map[string]M{}}
}

// with returns the series for lvs, made on first use (at setup, not per request).
func (v *stripedVec[M]) with(lvs ...string) M {
	key := ""
	for _, s := range lvs {
		key += s + "\xff"
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	m, ok := v.series[key]
	if !ok {
		m = v.make(v.desc, append([]string(nil), lvs...))
		v.series[key] = m
		v.order = append(v.order, m)
	}
	return m
}

func (v *stripedVec[M]) Describe(ch chan<- *prometheus.Desc) { ch <- v.desc }

func (v *stripedVec[M]) Collect(ch chan<- prometheus.Metric) {
	v.mu.Lock()
	series := append([]M(nil), v.order...)
	v.mu.Unlock()
	for _, m := range series {
		ch <- m.metric()
	}
}

// stripedCounterVec and friends adapt stripedVec to the WithLabelValues calls of stats.go.
type stripedCounterVec struct{ *stripedVec[*stripedCounter] }

func newStripedCounterVec(name, help string, labels ...string) stripedCounterVec {
	return stripedCounterVec{newStripedVec(prometheus.NewDesc(name, help, labels, nil),
		func(d *prometheus.Desc, lvs []string) *stripedCounter { return &stripedCounter{desc: d, lvs: lvs} })}
}

func (v stripedCounterVec) WithLabelValues(lvs ...string) prometheus.Counter { return v.with(lvs...) }

type stripedGaugeVec struct{ *stripedVec[*stripedGauge] }

func newStripedGaugeVec(name, help string, labels ...string) stripedGaugeVec {
	return stripedGaugeVec{newStripedVec(prometheus.NewDesc(name, help, labels, nil),
		func(d *prometheus.Desc, lvs []string) *stripedGauge { return &stripedGauge{desc: d, lvs: lvs} })}
}

func (v stripedGaugeVec) WithLabelValues(lvs ...string) prometheus.Gauge { return v.with(lvs...) }

type stripedHistogramVec struct{ *stripedVec[*stripedHistogram] }

func newStripedHistogramVec(name, help string, bounds []float64, labels ...string) stripedHistogramVec {
	return stripedHistogramVec{newStripedVec(prometheus.NewDesc(name, help, labels, nil),
		func(d *prometheus.Desc, lvs []string) *stripedHistogram { return newStripedHistogram(d, bounds, lvs) })}
}

func (v stripedHistogramVec) WithLabelValues(lvs ...string) prometheus.Observer {
	return v.with(lvs...)
}

func addFloat(bits *atomic.Uint64, v float64) {
	for {
		old := bits.Load()
		if bits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

// counterVec, gaugeVec and observerVec are what stats.go needs of a family: the
// client_golang vecs and the striped ones both provide it.
type counterVec interface {
	WithLabelValues(lvs ...string) prometheus.Counter
}

type gaugeVec interface {
	WithLabelValues(lvs ...string) prometheus.Gauge
}

type observerVec interface {
	WithLabelValues(lvs ...string) prometheus.Observer
}
