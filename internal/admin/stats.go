package admin

import (
	"fmt"
	"math"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"

	dto "github.com/prometheus/client_model/go"
)

// stat is one value under its Envoy dotted name.
type stat struct {
	name  string
	value string
	used  bool
}

// stats renders /stats: `name: value` lines, Envoy's dotted names, sorted.
func (h *Handler) stats(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var filter *regexp.Regexp
	if f := q.Get("filter"); f != "" {
		re, err := regexp.Compile(f)
		if err != nil {
			http.Error(w, "filter: invalid regular expression: "+err.Error(), http.StatusBadRequest)
			return
		}
		filter = re
	}
	_, usedOnly := q["usedonly"]
	fams, err := h.rt.Stats().Gatherer().Gather()
	if err != nil {
		http.Error(w, "stats: "+err.Error(), http.StatusInternalServerError)
		return
	}
	var out []stat
	for _, f := range fams {
		out = append(out, envoyStats(f)...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	if q.Get("format") == "json" {
		type js struct {
			Name  string `json:"name"`
			Value any    `json:"value"`
		}
		list := []js{}
		for _, s := range out {
			if (filter != nil && !filter.MatchString(s.name)) || (usedOnly && !s.used) {
				continue
			}
			var v any = s.value
			if n, err := strconv.ParseFloat(s.value, 64); err == nil {
				v = n
			}
			list = append(list, js{s.name, v})
		}
		writeJSON(w, map[string]any{"stats": list})
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	for _, s := range out {
		if (filter != nil && !filter.MatchString(s.name)) || (usedOnly && !s.used) {
			continue
		}
		fmt.Fprintf(w, "%s: %s\n", s.name, s.value)
	}
}

// envoyStats maps one Prometheus family back to Envoy's dotted stat names:
// envoy_cluster_upstream_rq_total{envoy_cluster_name="a"} -> cluster.a.upstream_rq_total,
// envoy_http_downstream_rq_xx{class="2",prefix="p"} -> http.p.downstream_rq_2xx,
// envoy_cluster_upstream_rq{code="200"} -> cluster.a.upstream_rq_200. Other families
// (Go runtime, process) keep their Prometheus names.
func envoyStats(f *dto.MetricFamily) []stat {
	var out []stat
	for _, m := range f.GetMetric() {
		name := envoyName(f.GetName(), m.GetLabel())
		switch f.GetType() {
		case dto.MetricType_COUNTER:
			v := m.GetCounter().GetValue()
			out = append(out, stat{name, strconv.FormatFloat(v, 'f', -1, 64), v != 0})
		case dto.MetricType_GAUGE:
			v := m.GetGauge().GetValue()
			out = append(out, stat{name, strconv.FormatFloat(v, 'f', -1, 64), v != 0})
		case dto.MetricType_HISTOGRAM:
			hg := m.GetHistogram()
			out = append(out, stat{name, histogramLine(hg), hg.GetSampleCount() > 0})
		}
	}
	return out
}

// subScopes are Envoy's nested stat scopes, whose dots Prometheus names flatten:
// envoy_cluster_health_check_attempt is cluster.<name>.health_check.attempt.
var subScopes = [][2]string{
	{"health_check_", "health_check."},
	{"outlier_detection_", "outlier_detection."},
	{"circuit_breakers_default_", "circuit_breakers.default."},
}

func envoyName(family string, labels []*dto.LabelPair) string {
	rest, ok := strings.CutPrefix(family, "envoy_")
	if !ok {
		return family
	}
	var scope, scopeName, class, code string
	for _, l := range labels {
		switch l.GetName() {
		case "envoy_http_conn_manager_prefix":
			scope, scopeName = "http", l.GetValue()
		case "envoy_cluster_name":
			scope, scopeName = "cluster", l.GetValue()
		case "envoy_response_code_class":
			class = l.GetValue()
		case "envoy_response_code":
			code = l.GetValue()
		}
	}
	if scope != "" {
		rest = strings.TrimPrefix(rest, scope+"_")
		for _, sub := range subScopes {
			if r, ok := strings.CutPrefix(rest, sub[0]); ok {
				rest = sub[1] + r
				break
			}
		}
	}
	switch {
	case class != "":
		rest = strings.TrimSuffix(rest, "_xx") + "_" + class + "xx"
	case code != "":
		rest = rest + "_" + code
	}
	if scope == "" {
		return rest
	}
	return scope + "." + scopeName + "." + rest
}

// histogramLine renders Envoy's summary of a histogram: interpolated quantiles from the
// cumulative buckets, `P0(nan,v) P25(nan,v) ...` with the interval part left as nan.
func histogramLine(h *dto.Histogram) string {
	n := h.GetSampleCount()
	if n == 0 {
		return "No recorded values"
	}
	qs := []float64{0, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 1}
	var b strings.Builder
	for i, q := range qs {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "P%s(nan,%s)", strconv.FormatFloat(q*100, 'f', -1, 64), strconv.FormatFloat(quantile(h, q), 'g', 4, 64))
	}
	return b.String()
}

func quantile(h *dto.Histogram, q float64) float64 {
	total := float64(h.GetSampleCount())
	rank := q * total
	prevBound, prevCount := 0.0, 0.0
	for _, bk := range h.GetBucket() {
		c := float64(bk.GetCumulativeCount())
		ub := bk.GetUpperBound()
		if c >= rank && c > prevCount {
			return prevBound + (ub-prevBound)*(rank-prevCount)/(c-prevCount)
		}
		prevBound, prevCount = ub, c
	}
	if math.IsInf(prevBound, 1) {
		return math.NaN()
	}
	return prevBound
}
