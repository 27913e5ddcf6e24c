package usage

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEmbeddedTable(t *testing.T) {
	tbl, err := ParseTable("prices.yaml", embeddedPrices)
	if err != nil {
		t.Fatalf("embedded prices.yaml does not parse:\n%v", err)
	}
	if tbl.Version() != "2026-11" {
		t.Errorf("Version = %q, want 2026-11", tbl.Version())
	}
	// The families the gateway promises to price out of the box.
	for _, key := range []string{
		"openai/gpt-4o", "openai/gpt-4o-mini", "openai/gpt-4.1", "openai/gpt-4.1-mini", "openai/gpt-4.1-nano",
		"openai/gpt-5", "openai/gpt-5-mini", "openai/gpt-5-nano", "openai/o3", "openai/o4-mini",
		"openai/text-embedding-3-small", "openai/text-embedding-3-large",
		"anthropic/claude-opus-4-1", "anthropic/claude-opus-4-5", "anthropic/claude-sonnet-4-5", "anthropic/claude-sonnet-4",
		"anthropic/claude-haiku-4-5", "anthropic/claude-3-5-haiku",
		"gemini/gemini-2.5-pro", "gemini/gemini-2.5-flash", "gemini/gemini-2.5-flash-lite", "gemini/gemini-2.0-flash",
		"mistral/mistral-large", "mistral/mistral-small",
		"deepseek/deepseek-chat", "deepseek/deepseek-reasoner",
		"groq/llama-3.3-70b-versatile", "groq/llama-3.1-8b-instant",
		"bedrock/anthropic.claude-sonnet-4-5", "bedrock/amazon.nova-pro", "bedrock/amazon.nova-lite",
	} {
		p, ok := tbl.Lookup("", key)
		if !ok || p.Key != key {
			t.Errorf("embedded table lacks %s", key)
			continue
		}
		// Chat models need limits for default max_tokens and trimming.
		if !strings.Contains(key, "embedding") && (p.ContextWindow == 0 || p.Input == 0 || p.Output == 0) {
			t.Errorf("%s: context_window %d, input %s, output %s: want all set", key, p.ContextWindow, p.Input, p.Output)
		}
	}
	// Spot-check values against the rates published when the file was written.
	sonnet, _ := tbl.Lookup("anthropic", "claude-sonnet-4-5")
	if sonnet.Input != usd(t, "3") || sonnet.CacheWrite != usd(t, "3.75") || len(sonnet.Tiers) != 1 || sonnet.Tiers[0].Input != usd(t, "6") {
		t.Errorf("claude-sonnet-4-5 = %+v", sonnet)
	}
	// The YAML alias shares rates but each key keeps its own name.
	if s4, _ := tbl.Lookup("anthropic", "claude-sonnet-4"); s4.Key != "anthropic/claude-sonnet-4" || s4.Output != sonnet.Output {
		t.Errorf("claude-sonnet-4 = %+v", s4)
	}
}

func TestParseTable(t *testing.T) {
	const file = `
version: test-1
models:
  openai/GPT-X:          # keys are case-insensitive
    input: 0.15          # unquoted: read as text, never a float
    output: "0.60"
    cache_read: 0
    context_window: 128000
    max_output_tokens: 16384
  my-finetune:
    input: 1
    output: 2
    cache_write: 1.25
    tiers:
      - {above_input_tokens: 1000, input: 2, output: 4}
      - {above_input_tokens: 5000, input: 3, output: 6, cache_read: 0.5}
`
	tbl, err := ParseTable("t.yaml", []byte(file))
	if err != nil {
		t.Fatal(err)
	}
	if tbl.Version() != "test-1" || tbl.Len() != 2 || strings.Join(tbl.Keys(), ",") != "openai/gpt-x,my-finetune" {
		t.Errorf("version %q, keys %v", tbl.Version(), tbl.Keys())
	}
	x, _ := tbl.Lookup("openai", "gpt-x")
	want := Price{Key: "openai/gpt-x", Rates: Rates{Input: 15 * Cent, Output: 60 * Cent, HasCacheRead: true},
		ContextWindow: 128000, MaxOutputTokens: 16384}
	if x == nil || x.Key != want.Key || x.Rates != want.Rates || x.ContextWindow != want.ContextWindow || x.MaxOutputTokens != want.MaxOutputTokens {
		t.Errorf("gpt-x = %+v\nwant %+v", x, want)
	}
	ft, _ := tbl.Lookup("", "my-finetune")
	if ft == nil || len(ft.Tiers) != 2 || ft.Tiers[1].AboveInputTokens != 5000 || !ft.Tiers[1].HasCacheRead || ft.Tiers[0].HasCacheRead || !ft.HasCacheWrite {
		t.Errorf("my-finetune = %+v", ft)
	}
}

func TestParseTableEmpty(t *testing.T) {
	for _, in := range []string{"", "# only a comment\n", "models:\n", "version: x\nmodels: {}\n"} {
		tbl, err := ParseTable("empty.yaml", []byte(in))
		if err != nil || tbl.Len() != 0 {
			t.Errorf("ParseTable(%q) = %v entries, %v; want an empty table", in, tbl, err)
		}
	}
}

func TestParseTableErrors(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string // each must appear in the error, in this order
	}{
		{"syntax", "models: [", []string{"usage: bad.yaml: yaml: line 1:"}},
		{"not a mapping", "- a\n", []string{`(document) (line 1): want a mapping with the keys version and models`}},
		{"unknown top-level field", "modles: {}\n", []string{`modles (line 1): unknown field "modles" (want version or models)`}},
		{"version not a string", "version: [1]\n", []string{`version (line 1): want a string such as "2026-11"`}},
		{
			"token count not a scalar",
			"models:\n  a/b:\n    input: 1\n    output: 1\n    context_window: [1]\n",
			[]string{`models["a/b"].context_window (line 5): want a whole number of tokens`},
		},
		{
			"signed token count",
			"models:\n  a/b:\n    input: 1\n    output: 1\n    context_window: +5\n",
			[]string{`models["a/b"].context_window (line 5): want a whole number of tokens greater than 0, written as plain digits (got "+5")`},
		},
		{"two documents", "models: {}\n---\nmodels: {}\n", []string{"(document) (line 2): a price file is a single YAML document"}},
		{"models not a mapping", "models: [a]\n", []string{"models (line 1): want a mapping from model key to prices"}},
		{"entry not a mapping", "models:\n  a/b: 3\n", []string{`models["a/b"] (line 2): want a mapping with input, output`}},
		{
			"exponent price",
			"models:\n  openai/gpt-4o:\n    input: 2.5e-6\n    output: 1\n",
			[]string{`usage: bad.yaml: models["openai/gpt-4o"].input (line 3): invalid money "2.5e-6": exponent notation is not allowed`},
		},
		{
			"negative price",
			"models:\n  a/b:\n    input: 1\n    output: -1\n",
			[]string{`models["a/b"].output (line 4): a price cannot be negative (-1)`},
		},
		{
			"boolean price",
			"models:\n  a/b:\n    input: true\n    output: 1\n",
			[]string{`models["a/b"].input (line 3): want a decimal USD amount per 1M tokens`},
		},
		{
			"missing input and output",
			"models:\n  a/b:\n    cache_read: 1\n",
			[]string{`models["a/b"] (line 3): missing input (USD per 1M input tokens)`, `models["a/b"] (line 3): missing output`},
		},
		{
			"unknown field",
			"models:\n  a/b:\n    input: 1\n    output: 1\n    cached: 1\n",
			[]string{`models["a/b"].cached (line 5): unknown field "cached"`},
		},
		{
			"bad token count",
			"models:\n  a/b:\n    input: 1\n    output: 1\n    context_window: 128k\n",
			[]string{`models["a/b"].context_window (line 5): want a whole number of tokens greater than 0, written as plain digits (got "128k")`},
		},
		{
			"zero token count",
			"models:\n  a/b:\n    input: 1\n    output: 1\n    max_output_tokens: 0\n",
			[]string{`models["a/b"].max_output_tokens (line 5): want a whole number of tokens greater than 0`},
		},
		{
			"max output above context",
			"models:\n  a/b:\n    input: 1\n    output: 1\n    context_window: 100\n    max_output_tokens: 200\n",
			[]string{`models["a/b"].max_output_tokens (line 3): max_output_tokens 200 is larger than context_window 100`},
		},
		{
			"duplicate key, any case",
			"models:\n  a/b: {input: 1, output: 1}\n  A/B: {input: 1, output: 1}\n",
			[]string{`models["A/B"] (line 3): model key given twice (first on line 2; keys are case-insensitive)`},
		},
		{"bad key", "models:\n  /gpt: {input: 1, output: 1}\n", []string{`models["/gpt"] (line 2): want provider/model or a bare model name`}},
		{"key with a space", "models:\n  \"gpt 4\": {input: 1, output: 1}\n", []string{`models["gpt 4"] (line 2): a model key has no spaces`}},
		{
			"tiers not a list",
			"models:\n  a/b:\n    input: 1\n    output: 1\n    tiers: {above_input_tokens: 5}\n",
			[]string{`models["a/b"].tiers (line 5): want a list of tiers`},
		},
		{
			"tier without threshold or output",
			"models:\n  a/b:\n    input: 1\n    output: 1\n    tiers:\n      - input: 2\n",
			[]string{`models["a/b"].tiers[0] (line 6): missing output`, `models["a/b"].tiers[0] (line 6): missing above_input_tokens`},
		},
		{
			"tiers out of order",
			"models:\n  a/b:\n    input: 1\n    output: 1\n    tiers:\n      - {above_input_tokens: 500, input: 2, output: 2}\n      - {above_input_tokens: 500, input: 3, output: 3}\n",
			[]string{`models["a/b"].tiers[1].above_input_tokens (line 7): tiers must be sorted by above_input_tokens, strictly ascending (500 after 500)`},
		},
		{
			"tier unknown field",
			"models:\n  a/b:\n    input: 1\n    output: 1\n    tiers:\n      - {above: 500, input: 2, output: 2}\n",
			[]string{`models["a/b"].tiers[0].above (line 6): unknown field "above"`},
		},
		{
			"every problem, sorted by line",
			"models:\n  a/b:\n    input: x\n    output: 1\n  c/d:\n    input: 1\n    output: 1e3\n",
			[]string{`models["a/b"].input (line 3)`, `models["c/d"].output (line 7)`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseTable("bad.yaml", []byte(tt.in))
			if err == nil {
				t.Fatal("ParseTable succeeded")
			}
			msg := err.Error()
			rest := msg
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("error:\n%s\nwant (in order) %q", msg, w)
				}
				rest = rest[i+len(w):]
			}
		})
	}
}

func TestParseTableErrorTypes(t *testing.T) {
	_, err := ParseTable("bad.yaml", []byte("models:\n  a/b:\n    input: 1.5e-6\n    output: 1\n"))
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Path != `models["a/b"].input` || fe.Line != 3 || fe.File != "bad.yaml" {
		t.Fatalf("error %v: want a *FieldError for models[\"a/b\"].input at line 3", err)
	}
	if !errors.Is(err, ErrInvalidMoney) {
		t.Errorf("error %v does not wrap ErrInvalidMoney", err)
	}
}

func TestMergeAndLoadTable(t *testing.T) {
	base, err := ParseTable("base.yaml", []byte(`
version: "1"
models:
  openai/gpt-4o: {input: 2.50, output: 10, cache_read: 1.25, context_window: 128000}
  anthropic/claude-haiku-4-5: {input: 1, output: 5}
`))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "prices.yaml")
	// Negotiated gpt-4o price (replaces the entry whole: no cache_read, no
	// context_window any more) and a self-hosted model.
	if err := os.WriteFile(path, []byte(`
models:
  OpenAI/GPT-4o: {input: 2, output: 8}
  local/llama-3.1-8b: {input: 0, output: 0}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	tbl, err := LoadTable(base, path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(tbl.Keys(), ","), "openai/gpt-4o,anthropic/claude-haiku-4-5,local/llama-3.1-8b"; got != want {
		t.Errorf("keys = %s, want %s (overrides keep their place, new keys go last)", got, want)
	}
	if !strings.HasPrefix(tbl.Version(), "1+sha256:") || len(tbl.Version()) != len("1+sha256:")+12 {
		t.Errorf("version = %q, want 1+sha256:<12 hex>", tbl.Version())
	}
	g, _ := tbl.Lookup("openai", "gpt-4o-2024-08-06")
	if g.Input != 2*Dollar || g.HasCacheRead || g.ContextWindow != 0 {
		t.Errorf("overridden gpt-4o = %+v, want the override's fields only", g)
	}
	if c, known := tbl.Cost("local", "llama-3.1-8b", FromOpenAI(10, 10, 0, 0)); !known || c != 0 {
		t.Errorf("free local model = %s, %v; want a known 0", c, known)
	}
	// The base is untouched.
	if g, _ := base.Lookup("openai", "gpt-4o"); g.Input != usd(t, "2.50") {
		t.Errorf("base changed: %+v", g)
	}

	// A versioned override keeps its version.
	if err := os.WriteFile(path, []byte("version: acme-7\nmodels: {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if tbl, err := LoadTable(base, path); err != nil || tbl.Version() != "1+acme-7" {
		t.Errorf("LoadTable = %v, %v; want version 1+acme-7", tbl, err)
	}
	if tbl, err := LoadTable(base, ""); err != nil || tbl != base {
		t.Errorf("LoadTable with no path = %v, %v; want base", tbl, err)
	}
	if _, err := LoadTable(base, filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "usage: read price overrides:") || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadTable(missing) = %v, want a wrapped not-exist error", err)
	}
	if err := os.WriteFile(path, []byte("models:\n  a/b: {input: 1}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadTable(base, path); err == nil || !strings.Contains(err.Error(), path+`: models["a/b"] (line 2): missing output`) {
		t.Errorf("LoadTable(invalid) = %v, want an error naming the file, key and line", err)
	}
}
