package usage

import (
	"math"
	"testing"
)

// usd parses a decimal amount for test tables; it fails the test on a typo.
func usd(t testing.TB, s string) Money {
	t.Helper()
	m, err := ParseMoney(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestCost(t *testing.T) {
	flat := &Price{Key: "openai/gpt-4o", Rates: Rates{
		Input: usd(t, "2.50"), Output: usd(t, "10"), CacheRead: usd(t, "1.25"), HasCacheRead: true,
	}}
	claude := &Price{Key: "anthropic/claude-sonnet-4-5",
		Rates: Rates{Input: usd(t, "3"), Output: usd(t, "15"), CacheRead: usd(t, "0.30"), CacheWrite: usd(t, "3.75"), HasCacheRead: true, HasCacheWrite: true},
		Tiers: []Tier{{AboveInputTokens: 200_000,
			Rates: Rates{Input: usd(t, "6"), Output: usd(t, "22.50"), CacheRead: usd(t, "0.60"), CacheWrite: usd(t, "7.50"), HasCacheRead: true, HasCacheWrite: true}}},
	}
	noCache := &Price{Key: "x/no-cache", Rates: Rates{Input: usd(t, "1"), Output: usd(t, "2")}}
	freeCache := &Price{Key: "x/free-cache", Rates: Rates{Input: usd(t, "1"), Output: usd(t, "2"), HasCacheRead: true}}
	twoTiers := &Price{Key: "x/two-tiers", Rates: Rates{Input: usd(t, "1"), Output: usd(t, "1")},
		Tiers: []Tier{
			{AboveInputTokens: 100, Rates: Rates{Input: usd(t, "2"), Output: usd(t, "2")}},
			{AboveInputTokens: 1000, Rates: Rates{Input: usd(t, "3"), Output: usd(t, "3")}},
		}}
	fractional := &Price{Key: "x/fractional", Rates: Rates{Input: usd(t, "0.000001"), Output: usd(t, "0.0000015")}}

	tests := []struct {
		name  string
		u     Usage
		p     *Price
		want  string
		known bool
	}{
		{"unknown model is unknown, not free", FromOpenAI(1000, 1000, 0, 0), nil, "0", false},
		{"zero usage of a known model is a known zero", Usage{}, flat, "0", true},
		{"flat: 1M in, 1M out", FromOpenAI(1_000_000, 1_000_000, 0, 0), flat, "12.5", true},
		// 600 uncached * 2.50 + 400 cached * 1.25 + 100 out * 10, per 1M.
		{"flat: cached at cache_read", FromOpenAI(1000, 100, 400, 0), flat, "0.003", true},
		{"reasoning is inside completion, billed once", FromOpenAI(0, 100, 0, 90), flat, "0.001", true},
		// 5*3 + 100*0.30 + 20*3.75 + 3*15 = 15+30+75+45 = 165 per 1M.
		{"anthropic: reads and writes", FromAnthropic(5, 3, 100, 20), claude, "0.000165", true},
		{"tier: exactly at the threshold stays base", FromAnthropic(200_000, 0, 0, 0), claude, "0.6", true},
		{"tier: one above the threshold bills the whole call at the tier", FromAnthropic(200_001, 1000, 0, 0), claude, "1.222506", true},
		// The threshold counts cached tokens too: 1000 uncached*6 + 199001 cached*0.60 + 1000 out*22.50.
		{"tier: chosen by the whole prompt, cache included", FromAnthropic(1000, 1000, 199_001, 0), claude, "0.1479006", true},
		{"two tiers: below both", Usage{Prompt: 100, Total: 100}, twoTiers, "0.0001", true},
		{"two tiers: middle", Usage{Prompt: 101, Total: 101}, twoTiers, "0.000202", true},
		{"two tiers: top", Usage{Prompt: 1001, Total: 1001}, twoTiers, "0.003003", true},
		{"no cache prices: reads and writes bill at input", FromAnthropic(0, 0, 500, 500), noCache, "0.001", true},
		{"a given zero cache_read is free", FromOpenAI(1000, 0, 1000, 0), freeCache, "0", true},
		// 1 token at $0.000001/1M is 1e-12 USD; 1 at 0.0000015 rounds 1.5 pUSD to 2.
		{"sub-picodollar parts round half up", FromOpenAI(1, 1, 0, 0), fractional, "0.000000000003", true},
		{"a huge count saturates instead of wrapping", Usage{Prompt: math.MaxInt64, Completion: math.MaxInt64}, flat, MaxMoney.String(), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, known := Cost(tt.u, tt.p)
			if got.String() != tt.want || known != tt.known {
				t.Errorf("Cost = %s, %v; want %s, %v", got, known, tt.want, tt.known)
			}
		})
	}
}

func TestPerMillionSigns(t *testing.T) {
	// Table prices are never negative, but Money is signed (refunds,
	// adjustments) and the helper must not wrap on a negative rate.
	if got := perMillion(3, -Dollar); got != -3*Microdollar {
		t.Errorf("perMillion(3, -$1) = %s, want -0.000003", got)
	}
	if got := perMillion(math.MaxInt64, -Dollar); got != -MaxMoney {
		t.Errorf("perMillion(huge, -$1) = %s, want -MaxMoney", got)
	}
	if got := addSat(-MaxMoney, -MaxMoney); got != -MaxMoney {
		t.Errorf("addSat negative overflow = %s", got)
	}
}

func TestTableCost(t *testing.T) {
	tbl := Embedded()
	got, known := tbl.Cost("openai", "gpt-4o-mini-2024-07-18", FromOpenAI(1_000_000, 1_000_000, 0, 0))
	if !known || got != usd(t, "0.75") {
		t.Errorf("gpt-4o-mini 1M+1M = %s, %v; want 0.75, true", got, known)
	}
	if _, known := tbl.Cost("openai", "gpt-17-ultra", FromOpenAI(1, 1, 0, 0)); known {
		t.Error("an unknown model has a known cost")
	}
}

func BenchmarkCost(b *testing.B) {
	tbl := Embedded()
	u := FromAnthropic(1200, 350, 90_000, 2_000)
	b.ReportAllocs()
	for b.Loop() {
		p, _ := tbl.Lookup("anthropic", "claude-sonnet-4-5-20250929")
		if _, ok := Cost(u, p); !ok {
			b.Fatal("unknown")
		}
	}
}
