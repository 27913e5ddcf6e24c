package usage

import (
	"errors"
	"strings"
	"testing"
)

func FuzzParseMoney(f *testing.F) {
	for _, s := range []string{"0", "0.15", "-2.50", "2.5e-6", "9223372.036854775807", "9223372.036854775808",
		"0.0000000000001", ".5", "1.", "+1", "1_000", "0.1€", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMoney(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidMoney) {
				t.Fatalf("ParseMoney(%q) error %v does not wrap ErrInvalidMoney", s, err)
			}
			return
		}
		// Whatever parses formats back to a string that parses to the same
		// amount, and rounding to 12 places is the identity.
		back, err := ParseMoney(m.String())
		if err != nil || back != m {
			t.Fatalf("ParseMoney(%q) = %d; String %q parses to %d, %v", s, m, m.String(), back, err)
		}
		if !strings.HasPrefix(m.StringFixed(12), m.String()) {
			t.Fatalf("StringFixed(12) = %q does not extend String %q with zeros", m.StringFixed(12), m.String())
		}
		if fixed, err := ParseMoney(m.StringFixed(12)); err != nil || fixed != m {
			t.Fatalf("StringFixed(12) of %d = %q parses to %d, %v", m, m.StringFixed(12), fixed, err)
		}
	})
}

func FuzzLoadTable(f *testing.F) {
	f.Add(embeddedPrices)
	for _, s := range []string{
		"",
		"version: x\nmodels:\n  a/b: {input: 1, output: 2, cache_read: 0.1, tiers: [{above_input_tokens: 10, input: 2, output: 3}]}\n",
		"models:\n  a/b: &x {input: 1, output: 1}\n  c: *x\n",
		"models:\n  a/b:\n    input: 2.5e-6\n",
		"models: [1, 2]\n---\nx: 1\n",
		"models:\n  a: {input: 1, output: 1}\n  A: {input: 1, output: 1}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tbl, err := ParseTable("fuzz.yaml", data)
		if err != nil {
			return
		}
		// Every key of a table that parsed is found, priced without panic,
		// and survives a merge with itself.
		u := Usage{Prompt: 300_000, Completion: 10, CachedPrompt: 100, CacheWrite: 100, Total: 300_010}
		merged := tbl.Merge(tbl)
		if merged.Len() != tbl.Len() {
			t.Fatalf("self-merge changed the key count: %d -> %d", tbl.Len(), merged.Len())
		}
		for _, key := range tbl.Keys() {
			p, ok := tbl.Lookup("", key)
			if !ok {
				t.Fatalf("key %q not found", key)
			}
			if c, known := Cost(u, p); !known || c < 0 {
				t.Fatalf("Cost for %q = %s, %v", key, c, known)
			}
			for i := 1; i < len(p.Tiers); i++ {
				if p.Tiers[i].AboveInputTokens <= p.Tiers[i-1].AboveInputTokens {
					t.Fatalf("%q: tiers out of order: %+v", key, p.Tiers)
				}
			}
		}
	})
}

// FuzzLookup checks that suffix stripping always terminates and never
// panics on odd names.
func FuzzLookup(f *testing.F) {
	for _, s := range []string{"gpt-4o-2024-08-06", "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "arn:a/b", "@", ":", "-", "--preview-01", "x@1@2"} {
		f.Add("bedrock", s)
	}
	tbl := Embedded()
	f.Fuzz(func(t *testing.T, provider, model string) {
		if p, ok := tbl.Lookup(provider, model); ok != (p != nil) {
			t.Fatalf("Lookup(%q, %q) = %v, %v", provider, model, p, ok)
		}
	})
}
