package usage

import (
	"math"
	"math/bits"
)

// Rates are USD prices per 1M tokens.
//
// CacheRead and CacheWrite are optional in a price file; HasCacheRead and
// HasCacheWrite say whether they were given. When one is missing, Cost bills
// those tokens at Input: that is what providers without a separate cache
// price do (OpenAI and Gemini bill implicit cache writes as plain input), and
// for a provider that does discount cache reads it over-bills rather than
// under-bills, which is the safe side for budgets. A given 0 is a real price
// of zero.
type Rates struct {
	Input         Money
	Output        Money
	CacheRead     Money
	CacheWrite    Money
	HasCacheRead  bool
	HasCacheWrite bool
}

// Tier replaces the base rates of a Price when a call's prompt is longer than
// AboveInputTokens (Gemini 2.5 Pro above 200k tokens, Claude Sonnet 4.x with
// the 1M context window). The whole call is billed at the tier's rates, as
// those providers do, not only the tokens above the threshold.
type Tier struct {
	AboveInputTokens int
	Rates
}

// Price is what one model costs and how much it can take.
type Price struct {
	// Key is the table key the price came from ("openai/gpt-4o"), so a cost
	// can be traced to the line that produced it.
	Key string
	Rates
	// Tiers are sorted by AboveInputTokens, ascending.
	Tiers []Tier
	// ContextWindow is the model's maximum input plus output, in tokens; 0
	// when unknown.
	ContextWindow int
	// MaxOutputTokens is the model's largest completion, in tokens; 0 when
	// unknown. It is the default for an Anthropic max_tokens the client did
	// not send.
	MaxOutputTokens int
}

// RatesFor returns the rates for a call whose prompt has promptTokens tokens
// in all (cached included): the highest tier whose threshold it exceeds, else
// the base rates.
func (p *Price) RatesFor(promptTokens int) Rates {
	for i := len(p.Tiers) - 1; i >= 0; i-- {
		if promptTokens > p.Tiers[i].AboveInputTokens {
			return p.Tiers[i].Rates
		}
	}
	return p.Rates
}

// Cost prices one call. known is false when p is nil (the model is not in
// the table): the caller must record an unknown cost, never a zero one, or
// free-looking traffic would slip past budgets.
//
// The prompt is split into uncached input (at Input), cache reads (at
// CacheRead) and cache writes (at CacheWrite); the completion, reasoning
// included, is billed at Output. The tier is chosen by the whole prompt.
// Each part is rounded to the nearest picodollar, so the result is within a
// few picodollars of the exact price; it saturates at MaxMoney.
func Cost(u Usage, p *Price) (cost Money, known bool) {
	if p == nil {
		return 0, false
	}
	r := p.RatesFor(u.Prompt)
	cacheRead, cacheWrite := r.Input, r.Input
	if r.HasCacheRead {
		cacheRead = r.CacheRead
	}
	if r.HasCacheWrite {
		cacheWrite = r.CacheWrite
	}
	cost = perMillion(u.UncachedPrompt(), r.Input)
	cost = addSat(cost, perMillion(u.CachedPrompt, cacheRead))
	cost = addSat(cost, perMillion(u.CacheWrite, cacheWrite))
	cost = addSat(cost, perMillion(u.Completion, r.Output))
	return cost, true
}

// perMillion returns tokens * price / 1e6, rounded half away from zero. The
// product goes through 128 bits so that no realistic token count overflows
// before the division.
func perMillion(tokens int, price Money) Money {
	if tokens <= 0 || price == 0 {
		return 0
	}
	hi, lo := bits.Mul64(uint64(tokens), price.abs())
	lo, carry := bits.Add64(lo, 500_000, 0)
	hi += carry
	if hi >= 1_000_000 { // the quotient would not fit in 64 bits
		return saturate(price < 0)
	}
	q, _ := bits.Div64(hi, lo, 1_000_000)
	if q > math.MaxInt64 {
		return saturate(price < 0)
	}
	if price < 0 {
		return -Money(q)
	}
	return Money(q)
}

func saturate(neg bool) Money {
	if neg {
		return -MaxMoney
	}
	return MaxMoney
}

// addSat adds two amounts, saturating instead of wrapping.
func addSat(a, b Money) Money {
	s := a + b
	switch {
	case a > 0 && b > 0 && s < 0:
		return MaxMoney
	case a < 0 && b < 0 && s >= 0:
		return -MaxMoney
	}
	return s
}
