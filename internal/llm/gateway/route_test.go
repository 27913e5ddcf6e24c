package gateway

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/pylon-gateway/pylon/internal/config"
)

// testRouter builds a router over providers of the given types (name -> type), in the
// order of cfg.Providers.
func testRouter(t *testing.T, cfg *config.Config) *router {
	t.Helper()
	providers := map[string]*provider{}
	for i := range cfg.Providers {
		p := &cfg.Providers[i]
		providers[p.Name] = &provider{name: p.Name, typ: p.Type}
	}
	return newRouter(cfg, providers, newCooldowns(), nil)
}

func keys(ts []target) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.key()
	}
	return out
}

func routedConfig() *config.Config {
	return &config.Config{
		Providers: []config.Provider{
			{Name: "oa", Type: "openai", Models: []string{"gpt-4o", "shared"}},
			{Name: "az", Type: "azure", Models: []string{"shared"}},
			{Name: "claude", Type: "anthropic"},
			{Name: "local", Type: "vllm", Models: []string{"llama-3.1-8b"}},
		},
		Models: []config.Model{
			{Name: "chat", Targets: []config.ModelTarget{
				{Provider: "local", Model: "llama-3.1-8b", Weight: 1, Priority: 1},
				{Provider: "oa", Model: "gpt-4o-mini", Weight: 80},
				{Provider: "az", Model: "gpt-4o-mini", Weight: 20},
				{Provider: "missing", Model: "x", Weight: 5}, // a provider that failed to build is left out
			}, Fallbacks: []string{"claude/claude-haiku-4-5", "missing/x", "oa/gpt-4o"}},
		},
	}
}

func TestPlanRoute(t *testing.T) {
	r := testRouter(t, routedConfig())
	now := time.Now()
	first := map[string]int{}
	const draws = 20000
	for range draws {
		p := keys(r.plan("chat", now))
		if len(p) != 5 {
			t.Fatalf("plan %v", p)
		}
		// The priority 0 group (shuffled), then priority 1, then the fallbacks in order.
		if g := []string{p[0], p[1]}; !slices.Contains(g, "oa/gpt-4o-mini") || !slices.Contains(g, "az/gpt-4o-mini") {
			t.Fatalf("plan %v", p)
		}
		if want := []string{"local/llama-3.1-8b", "claude/claude-haiku-4-5", "oa/gpt-4o"}; !slices.Equal(p[2:], want) {
			t.Fatalf("plan %v, want ... %v", p, want)
		}
		first[p[0]]++
	}
	// Weights 80:20: the heavier target comes first 80% of the time.
	if got := float64(first["oa/gpt-4o-mini"]) / draws; math.Abs(got-0.8) > 0.02 {
		t.Errorf("oa first in %.3f of the plans, want 0.80", got)
	}
}

// Weighted sampling without replacement: with weights 1, 2, 7 the first pick follows the
// weights, the second follows them among the rest.
func TestAppendWeightedDistribution(t *testing.T) {
	p := &provider{name: "p"}
	ts := []target{{provider: p, model: "a", weight: 1}, {provider: p, model: "b", weight: 2}, {provider: p, model: "c", weight: 7}}
	const draws = 30000
	first := map[string]int{}
	secondAfterC := map[string]int{}
	for range draws {
		out := appendWeighted(nil, ts)
		if len(out) != 3 {
			t.Fatalf("%v", keys(out))
		}
		seen := map[string]bool{}
		for _, o := range out {
			seen[o.model] = true
		}
		if len(seen) != 3 {
			t.Fatalf("not a permutation: %v", keys(out))
		}
		first[out[0].model]++
		if out[0].model == "c" {
			secondAfterC[out[1].model]++
		}
	}
	for m, w := range map[string]float64{"a": 0.1, "b": 0.2, "c": 0.7} {
		if got := float64(first[m]) / draws; math.Abs(got-w) > 0.02 {
			t.Errorf("%s first in %.3f, want %.2f", m, got, w)
		}
	}
	n := float64(secondAfterC["a"] + secondAfterC["b"])
	if got := float64(secondAfterC["b"]) / n; math.Abs(got-2.0/3) > 0.03 {
		t.Errorf("b second after c in %.3f, want 0.67", got)
	}
	if ts[0].model != "a" || ts[1].model != "b" || ts[2].model != "c" {
		t.Error("appendWeighted reordered its input")
	}
}

// Zero weights: a target of weight 0 comes after those with a weight; when every weight is
// zero the order is kept.
func TestAppendWeightedZero(t *testing.T) {
	p := &provider{name: "p"}
	for range 1000 {
		out := appendWeighted(nil, []target{{provider: p, model: "z1"}, {provider: p, model: "a", weight: 3}, {provider: p, model: "z2"}, {provider: p, model: "b", weight: 1}})
		if m := []string{out[2].model, out[3].model}; !slices.Equal(m, []string{"z1", "z2"}) {
			t.Fatalf("zero-weight targets not last: %v", keys(out))
		}
		out = appendWeighted(nil, []target{{provider: p, model: "x"}, {provider: p, model: "y"}, {provider: p, model: "z"}})
		if got := keys(out); !slices.Equal(got, []string{"p/x", "p/y", "p/z"}) {
			t.Fatalf("all zero: %v", got)
		}
	}
	if out := appendWeighted([]target{{provider: p, model: "pre"}}, []target{{provider: p, model: "only"}}); len(out) != 2 || out[1].model != "only" {
		t.Errorf("one target: %v", keys(out))
	}
	if out := appendWeighted(nil, nil); len(out) != 0 {
		t.Errorf("no target: %v", keys(out))
	}
}

func TestPlanNames(t *testing.T) {
	cfg := routedConfig()
	r := testRouter(t, cfg)
	now := time.Now()
	for _, tc := range []struct {
		model string
		want  []string // nil: unknown; sorted when several
	}{
		{"gpt-4o", []string{"oa/gpt-4o"}},                                            // a provider model by its bare name
		{"shared", []string{"az/shared", "oa/shared"}},                               // served by two providers
		{"llama-3.1-8b", []string{"local/llama-3.1-8b"}},                             // a provider model of a keyless server
		{"claude/claude-opus-4-1", []string{"claude/claude-opus-4-1"}},               // provider/model
		{"local/meta-llama/Llama-3.1-8B", []string{"local/meta-llama/Llama-3.1-8B"}}, // the model may hold slashes
		{"gpt-4.1-nano", []string{"oa/gpt-4.1-nano"}},                                // prefix claims
		{"o3-mini", []string{"oa/o3-mini"}},
		{"claude-sonnet-4-5", []string{"claude/claude-sonnet-4-5"}},
		{"gemini-2.5-pro", nil}, // claimed by a type no provider has
		{"nobody/gpt-4o", nil},  // an unknown provider is not a claim
		{"claude/", nil},
		{"mystery-model", nil},
		{"", nil},
	} {
		got := r.plan(tc.model, now)
		if tc.want == nil {
			if got != nil {
				t.Errorf("plan(%q) = %v, want nil", tc.model, keys(got))
			}
			continue
		}
		k := keys(got)
		slices.Sort(k)
		if !slices.Equal(k, tc.want) {
			t.Errorf("plan(%q) = %v, want %v", tc.model, k, tc.want)
		}
	}

	// Without an openai provider, Azure claims the OpenAI names; the first in config order wins.
	r = testRouter(t, &config.Config{Providers: []config.Provider{{Name: "az2", Type: "azure"}, {Name: "az1", Type: "azure"}, {Name: "mis", Type: "mistral"}, {Name: "gem", Type: "gemini"}}})
	for model, want := range map[string]string{"gpt-4o": "az2/gpt-4o", "chatgpt-4o-latest": "az2/chatgpt-4o-latest", "mistral-large-latest": "mis/mistral-large-latest",
		"codestral-latest": "mis/codestral-latest", "text-embedding-004": "gem/text-embedding-004", "gemini-2.0-flash": "gem/gemini-2.0-flash"} {
		if got := keys(r.plan(model, now)); len(got) != 1 || got[0] != want {
			t.Errorf("plan(%q) = %v, want %s", model, got, want)
		}
	}
	// The longer claim wins whatever the provider order.
	r2 := testRouter(t, &config.Config{Providers: []config.Provider{{Name: "oa", Type: "openai"}, {Name: "gem", Type: "gemini"}}})
	for model, want := range map[string]string{"text-embedding-3-small": "oa/text-embedding-3-small", "text-embedding-004": "gem/text-embedding-004"} {
		if got := keys(r2.plan(model, now)); len(got) != 1 || got[0] != want {
			t.Errorf("plan(%q) = %v, want %s", model, got, want)
		}
	}
	if got := r.plan("claude-haiku-4-5", now); got != nil {
		t.Errorf("claude without an anthropic provider: %v", keys(got))
	}

	if got := testRouter(t, cfg).models(); !slices.Equal(got, []string{"chat", "gpt-4o", "llama-3.1-8b", "shared"}) {
		t.Errorf("models %v", got)
	}
}

func TestPlanCooldown(t *testing.T) {
	r := testRouter(t, routedConfig())
	now := time.Now()
	oa := r.routes["chat"].targets[0] // priority 0 sorts before the local target
	if oa.key() != "oa/gpt-4o-mini" {
		t.Fatalf("targets %v", keys(r.routes["chat"].targets))
	}
	r.cooldown.set(oa, now.Add(time.Minute))
	for range 200 {
		p := keys(r.plan("chat", now))
		// Cooling down: moved last, not dropped; the others keep their order.
		if len(p) != 5 || p[4] != "oa/gpt-4o-mini" || p[0] != "az/gpt-4o-mini" || p[1] != "local/llama-3.1-8b" {
			t.Fatalf("plan with oa cooling down: %v", p)
		}
	}
	// Expired: back in its place.
	later := now.Add(2 * time.Minute)
	seenFirst := false
	for range 200 {
		p := keys(r.plan("chat", later))
		if p[4] == "oa/gpt-4o-mini" {
			t.Fatalf("expired cooldown still applies: %v", p)
		}
		seenFirst = seenFirst || p[0] == "oa/gpt-4o-mini"
	}
	if !seenFirst {
		t.Error("oa never first after its cooldown expired")
	}
	// Cleared: back at once.
	r.cooldown.set(oa, now.Add(time.Minute))
	r.cooldown.clear(oa)
	if p := keys(r.plan("chat", now)); p[4] == "oa/gpt-4o-mini" {
		t.Errorf("cleared cooldown still applies: %v", p)
	}
	// A single target is served even when cooling down.
	r.cooldown.set(target{provider: r.providers["oa"], model: "gpt-4o"}, now.Add(time.Minute))
	if p := keys(r.plan("gpt-4o", now)); len(p) != 1 {
		t.Errorf("single target: %v", p)
	}
	// Every target cooling down: all kept, in order.
	for _, tg := range append(append([]target{}, r.routes["chat"].targets...), r.routes["chat"].fallbacks...) {
		r.cooldown.set(tg, now.Add(time.Minute))
	}
	if p := r.plan("chat", now); len(p) != 5 || p[2].key() != "local/llama-3.1-8b" {
		t.Errorf("all cooling down: %v", keys(p))
	}
}

// The cooldowns are shared and may be used from many requests at once.
func TestCooldownsConcurrent(t *testing.T) {
	r := testRouter(t, routedConfig())
	now := time.Now()
	tg := r.routes["chat"].targets[0]
	done := make(chan bool)
	for i := range 4 {
		go func() {
			for range 500 {
				if i%2 == 0 {
					r.cooldown.set(tg, now.Add(time.Second))
				} else {
					r.cooldown.clear(tg)
				}
				r.plan("chat", now)
			}
			done <- true
		}()
	}
	for range 4 {
		<-done
	}
}

func TestAllowedModel(t *testing.T) {
	for _, tc := range []struct {
		model   string
		allowed []string
		ok      bool
	}{
		{"anything", nil, true},
		{"gpt-4o", []string{"gpt-4o"}, true},
		{"gpt-4o-mini", []string{"gpt-4o"}, false},
		{"gpt-4o-mini", []string{"claude-*", "gpt-*"}, true},
		{"gpt-", []string{"gpt-*"}, true},
		{"gpt", []string{"gpt-*"}, false},
		{"oa/gpt-4o", []string{"oa/*"}, true},
		{"az/gpt-4o", []string{"oa/*"}, false},
		{"x", []string{"*"}, true},
		{"", []string{"*"}, true},
		{"gpt-4o", []string{"*gpt-4o"}, false}, // only a trailing * is a pattern
	} {
		if got := allowedModel(tc.model, tc.allowed); got != tc.ok {
			t.Errorf("allowedModel(%q, %v) = %v", tc.model, tc.allowed, got)
		}
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		method, path string
		want         endpoint
		id           string
	}{
		{"POST", "/v1/chat/completions", epChat, ""},
		{"POST", "/openai/v1/chat/completions", epChat, ""},
		{"POST", "/llm/chat/completions", epChat, ""},
		{"POST", "/v1/messages", epMessages, ""},
		{"POST", "/anthropic/v1/messages/count_tokens", epCountTokens, ""},
		{"POST", "/v1/completions", epCompletions, ""},
		{"POST", "/v1/embeddings", epEmbeddings, ""},
		{"POST", "/v1/responses", epResponses, ""},
		{"GET", "/v1/models", epModels, ""},
		{"GET", "/x/y/v1/models", epModels, ""},
		{"GET", "/v1/models/gpt-4o", epModel, "gpt-4o"},
		{"GET", "/v1/models/oa/gpt-4o", epModel, "oa/gpt-4o"},
		{"DELETE", "/v1/models/gpt-4o", epUnknown, ""},
		{"POST", "/v1/chat/completions/", epUnknown, ""},
		{"POST", "/v1/audio/speech", epUnknown, ""},
		{"GET", "/", epUnknown, ""},
	} {
		ep, id := classify(tc.method, tc.path)
		if ep != tc.want || id != tc.id {
			t.Errorf("classify(%s %s) = %v %q, want %v %q", tc.method, tc.path, ep, id, tc.want, tc.id)
		}
	}
}
