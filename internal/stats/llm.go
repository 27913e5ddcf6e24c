package stats

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// LLM holds the LLM gateway's metric families. Labels are the provider and the provider's
// model id, so that dashboards see where calls went and what they cost.
type LLM struct {
	Requests      *prometheus.CounterVec   // provider, model, status
	Tokens        *prometheus.CounterVec   // provider, model, type (prompt, completion, cached, cache_write, reasoning)
	Cost          *prometheus.CounterVec   // provider, model: USD (for dashboards; billing uses exact money)
	CostUnknown   *prometheus.CounterVec   // provider, model: calls whose price is unknown
	TTFT          *prometheus.HistogramVec // provider, model: seconds to the first streamed token
	TPOT          *prometheus.HistogramVec // provider, model: seconds per output token after the first
	Duration      *prometheus.HistogramVec // provider, model: seconds of the whole upstream call
	AddedLatency  prometheus.Histogram     // seconds Pylon added: parsing, routing, translation
	Fallbacks     *prometheus.CounterVec   // model: attempts beyond the first
	AttemptErrors *prometheus.CounterVec   // provider, kind: failed attempts

	CacheHits        *prometheus.CounterVec // provider, model: answers served from the cache
	CacheSavedTokens *prometheus.CounterVec // provider, model: tokens a hit did not spend
	CacheSavedCost   *prometheus.CounterVec // provider, model: USD a hit did not spend

	PIIRedactions *prometheus.CounterVec // detector: values redacted from prompts
}

// LLM returns the registry's LLM metrics, registering them on first use.
func (r *Registry) LLM() *LLM {
	r.llmOnce.Do(r.newLLM)
	return r.llm
}

func (r *Registry) newLLM() {
	pm := []string{"provider", "model"}
	fast := []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
	m := &LLM{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pylon_llm_requests_total",
			Help: "LLM calls by provider, provider model and HTTP status answered."}, []string{"provider", "model", "status"}),
		Tokens: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pylon_llm_tokens_total",
			Help: "Tokens by provider, model and type (prompt, completion, cached, cache_write, reasoning)."}, []string{"provider", "model", "type"}),
		Cost: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pylon_llm_cost_usd_total",
			Help: "Cost in USD by provider and model, from the price table."}, pm),
		CostUnknown: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pylon_llm_cost_unknown_total",
			Help: "Calls whose model has no known price."}, pm),
		TTFT: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "pylon_llm_time_to_first_token_seconds",
			Help: "Time from the request to the first streamed token.", Buckets: fast}, pm),
		TPOT: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "pylon_llm_time_per_output_token_seconds",
			Help:    "Time per output token after the first, for streamed calls.",
			Buckets: []float64{.001, .0025, .005, .01, .02, .04, .08, .16, .32}}, pm),
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "pylon_llm_request_duration_seconds",
			Help: "Duration of the upstream call.", Buckets: fast}, pm),
		AddedLatency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "pylon_llm_gateway_added_latency_seconds",
			Help:    "Time Pylon spent on a call outside the provider: parsing, routing, translation.",
			Buckets: []float64{.00001, .000025, .00005, .0001, .00025, .0005, .001, .0025, .005, .01}}),
		Fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pylon_llm_fallbacks_total",
			Help: "Attempts beyond the first for a public model."}, []string{"model"}),
		AttemptErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pylon_llm_attempt_errors_total",
			Help: "Failed attempts by provider and error kind."}, []string{"provider", "kind"}),
	}
	m.CacheHits = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pylon_llm_cache_hits_total",
		Help: "Chat calls answered from the response cache."}, pm)
	m.CacheSavedTokens = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pylon_llm_cache_saved_tokens_total",
		Help: "Tokens the response cache saved."}, pm)
	m.CacheSavedCost = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pylon_llm_cache_saved_usd_total",
		Help: "Cost in USD the response cache saved."}, pm)
	m.PIIRedactions = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pylon_llm_pii_redactions_total",
		Help: "Values redacted from prompts, by detector."}, []string{"detector"})
	r.reg.MustRegister(m.CacheHits, m.CacheSavedTokens, m.CacheSavedCost, m.PIIRedactions)
	r.reg.MustRegister(m.Requests, m.Tokens, m.Cost, m.CostUnknown, m.TTFT, m.TPOT, m.Duration, m.AddedLatency, m.Fallbacks, m.AttemptErrors)
	r.llm = m
}

// Seconds converts a duration for the histograms.
func Seconds(d time.Duration) float64 { return d.Seconds() }
