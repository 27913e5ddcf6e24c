package gateway

import (
	"net/http"
	"strconv"
	"time"

	"github.com/pylon-gateway/pylon/internal/llm"
	"github.com/pylon-gateway/pylon/internal/llm/pii"
	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
	"github.com/pylon-gateway/pylon/internal/llm/transform"
	"github.com/pylon-gateway/pylon/internal/llm/usage"
)

// accounting gathers what one call used and cost, and records it once the call ends.
type accounting struct {
	g            *Gateway
	start        time.Time
	model        string // the public model the client asked for
	target       target
	attempts     int
	upstream     time.Duration // time spent waiting on providers, every attempt
	outputChunks int
	cacheKey     string               // where to cache the answer; "" for nowhere
	semVec       []float32            // the question's embedding, for the semantic cache
	semScope     string               // the semantic cache's scope of the question
	vault        *pii.Vault           // the call's reversible PII tokens, nil without redaction
	session      *sessionCall         // the call's session, nil without one
	transform    *transform.Transform // the transforms that apply to the call, nil for none
	upHeaders    http.Header          // headers for the provider (external context in header mode)

	recorded bool
	usage    usage.Usage
	cost     usage.Money
	known    bool
	// settle starts settling the call's reservation, nil without one or once started. It
	// reads only recorded, usage and cost, which finish writes once.
	settle func()
}

// startSettle starts settling the call's reservation, once.
func (a *accounting) startSettle() {
	if s := a.settle; s != nil {
		a.settle = nil
		s()
	}
}

// normalize turns the canonical usage (OpenAI semantics plus the cache-write extension)
// into usage.Usage.
func normalize(u *openai.Usage) usage.Usage {
	return usage.Usage{
		Prompt:       u.PromptTokens,
		Completion:   u.CompletionTokens,
		CachedPrompt: u.Cached(),
		CacheWrite:   u.CacheWrite(),
		Reasoning:    u.Reasoning(),
		Total:        u.PromptTokens + u.CompletionTokens,
	}
}

// finish records the call's usage and cost (u may be nil: the provider reported none).
func (a *accounting) finish(u *openai.Usage, ok bool) {
	if a.recorded {
		return
	}
	a.recorded = true
	defer a.startSettle() // usage and cost are final: the reservation may settle
	p := a.target.provider
	if u != nil {
		a.usage = normalize(u)
		price, _ := a.g.prices.Lookup(p.typ, a.target.model)
		a.cost, a.known = usage.Cost(a.usage, price)
	}
	m := a.g.metrics
	if m == nil {
		return
	}
	s, name, model := p.series.of(a.target.model), p.name, a.target.model
	if ok {
		s.ok.get(m.Requests, name, model, "200").Inc()
	} else {
		s.partial.get(m.Requests, name, model, "partial").Inc()
	}
	if u != nil {
		tk := m.Tokens
		s.prompt.get(tk, name, model, "prompt").Add(float64(a.usage.Prompt))
		s.completion.get(tk, name, model, "completion").Add(float64(a.usage.Completion))
		if a.usage.CachedPrompt > 0 {
			s.cached.get(tk, name, model, "cached").Add(float64(a.usage.CachedPrompt))
		}
		if a.usage.CacheWrite > 0 {
			s.cacheWrite.get(tk, name, model, "cache_write").Add(float64(a.usage.CacheWrite))
		}
		if a.usage.Reasoning > 0 {
			s.reasoning.get(tk, name, model, "reasoning").Add(float64(a.usage.Reasoning))
		}
		if a.known {
			// Float only for the dashboard counter; billing keeps exact Money.
			s.cost.get(m.Cost, name, model, "").Add(float64(a.cost) / float64(usage.Dollar))
		} else {
			s.costUnknown.get(m.CostUnknown, name, model, "").Inc()
		}
	}
	if d := time.Since(a.start) - a.upstream; d > 0 {
		m.AddedLatency.Observe(d.Seconds())
	}
	s.duration.get(m.Duration, name, model).Observe(a.upstream.Seconds())
}

// streamed records the time to first token and the time per output token.
func (a *accounting) streamed(first time.Time, u *openai.Usage) {
	m := a.g.metrics
	if m == nil || first.IsZero() || a.target.provider == nil {
		return
	}
	p := a.target.provider
	s := p.series.of(a.target.model)
	s.ttft.get(m.TTFT, p.name, a.target.model).Observe(first.Sub(a.start).Seconds())
	n := a.outputChunks
	if u != nil && u.CompletionTokens > 0 {
		n = u.CompletionTokens
	}
	if n > 1 {
		s.tpot.get(m.TPOT, p.name, a.target.model).Observe(time.Since(first).Seconds() / float64(n-1))
	}
}

// failed records a call that ended in an error.
func (a *accounting) failed(e *llm.Error) {
	m := a.g.metrics
	if m == nil {
		return
	}
	prov, model := "", a.model
	if a.target.provider != nil {
		prov, model = a.target.provider.name, a.target.model
	}
	m.Requests.WithLabelValues(prov, model, strconv.Itoa(e.Status())).Inc()
}

// setHeaders adds what is known before the body: for non-streamed answers, the usage and
// the cost (a price unknown is said so, never shown as zero).
func (a *accounting) setHeaders(h http.Header) {
	if !a.recorded {
		return
	}
	h["X-Pylon-Tokens"] = []string{strconv.Itoa(a.usage.Prompt) + " prompt, " + strconv.Itoa(a.usage.Completion) + " completion"}
	if a.known {
		h["X-Pylon-Cost-Usd"] = []string{a.cost.String()}
	} else {
		h["X-Pylon-Cost-Usd"] = []string{"unknown"}
	}
}
