package config_test

import (
	"testing"
	"time"

	"github.com/pylon-gateway/pylon/internal/config"
)

// llmDoc is a valid LLM gateway document with routes named support and help, followed by
// llm (indented under `llm:`).
func llmDoc(llm string) string {
	return `listeners:
  - name: l
    address: 127.0.0.1:8080
    virtual_hosts:
      - domains: ["*"]
        routes:
          - {name: support, match: {prefix: /support}, llm: {}}
          - {name: help, match: {prefix: /}, llm: {}}
providers: [{name: demo, type: demo}]
llm:
` + indent(llm, 2)
}

const TR = "llm.transforms[0]"

func TestLLMTransformValidation(t *testing.T) {
	tests := []ruleCase{
		{"prompt action", llmDoc("transforms:\n  - prompt:\n      - {action: wrap, text: x} " + marker), TR + ".prompt[0].action", `must be one of system_prepend, system_append, system_prefix, system_suffix, user_template, got "wrap"`},
		{"prompt text", llmDoc("transforms:\n  - prompt:\n      - {action: system_prepend, text: \"\"} " + marker), TR + ".prompt[0].text", "is required"},
		{"prompt placeholder", llmDoc("transforms:\n  - prompt:\n      - {action: system_prepend, text: \"{{ usr }}\"} " + marker), TR + ".prompt[0].text", "unknown placeholder {{usr}}"},
		{"prompt unclosed", llmDoc("transforms:\n  - prompt:\n      - {action: system_prepend, text: \"hi {{model\"} " + marker), TR + ".prompt[0].text", "unclosed {{"},
		{"prompt var", llmDoc("transforms:\n  - vars: {a: b}\n    prompt:\n      - {action: system_prepend, text: \"{{var.c}}\"} " + marker), TR + ".prompt[0].text", `no variable "c" in vars`},
		{"prompt header", llmDoc("transforms:\n  - prompt:\n      - {action: system_prepend, text: \"{{header.}}\"} " + marker), TR + ".prompt[0].text", `invalid header name ""`},
		{"input outside user_template", llmDoc("transforms:\n  - prompt:\n      - {action: system_append, text: \"{{input}}\"} " + marker), TR + ".prompt[0].text", "only known in a user_template"},
		{"user_template without input", llmDoc("transforms:\n  - prompt:\n      - {action: user_template, text: \"hi\"} " + marker), TR + ".prompt[0].text", "must hold {{input}}"},
		{"separator", llmDoc("transforms:\n  - prompt:\n      - {action: system_prepend, text: x, separator: \" \"} " + marker), TR + ".prompt[0].separator", "system_prefix and system_suffix only"},
		{"header_max_bytes", llmDoc("transforms:\n  - header_max_bytes: -1 " + marker), TR + ".header_max_bytes", "must not be negative"},
		{"match model", llmDoc("transforms:\n  - match: {models: [\"\"]} " + marker), TR + ".match.models[0]", "must not be empty"},
		{"match route", llmDoc("transforms:\n  - match: {routes: [nope]} " + marker), TR + ".match.routes[0]", `no route is named "nope"`},
		{"body param", llmDoc("transforms:\n  - body:\n      set: {temprature: 1} " + marker), TR + ".body.set.temprature", `unknown parameter "temprature": want metadata.KEY or one of`},
		{"body integer", llmDoc("transforms:\n  - body:\n      set: {max_tokens: 1.5} " + marker), TR + ".body.set.max_tokens", "want an integer, got 1.5"},
		{"body number", llmDoc("transforms:\n  - body:\n      default: {temperature: .nan} " + marker), TR + ".body.default.temperature", "want a number"},
		{"body bool", llmDoc("transforms:\n  - body:\n      set: {logprobs: yes please} " + marker), TR + ".body.set.logprobs", "want true or false"},
		{"body stop", llmDoc("transforms:\n  - body:\n      set: {stop: [1, 2]} " + marker), TR + ".body.set.stop", "want a string or a list of strings"},
		{"body metadata", llmDoc("transforms:\n  - body:\n      set: {metadata.app: 3} " + marker), TR + ".body.set.metadata.app", "want a string"},
		{"body max string", llmDoc("transforms:\n  - body:\n      max: {user: x} " + marker), TR + ".body.max.user", "numeric parameters only"},
		{"body set and default", llmDoc("transforms:\n  - body:\n      set: {n: 1}\n      default: {n: 2} " + marker), TR + ".body.default.n", "n is also in body.set"},
		{"body remove and max", llmDoc("transforms:\n  - body:\n      remove: [n]\n      max: {n: 2} " + marker), TR + ".body.max.n", "n is also in body.remove"},
		{"body remove", llmDoc("transforms:\n  - body:\n      remove: [messages] " + marker), TR + ".body.remove[0]", `unknown parameter "messages"`},
		{"request header reserved", llmDoc("transforms:\n  - request_headers:\n      add:\n        - {name: Authorization, value: x} " + marker), TR + ".request_headers.add[0].name", `header "Authorization" cannot be changed by a transform`},
		{"request header value", llmDoc("transforms:\n  - request_headers:\n      add:\n        - {name: x-a, value: \"\"} " + marker), TR + ".request_headers.add[0].value", "is required"},
		{"response header name", llmDoc("transforms:\n  - response_headers:\n      remove: [\"a b\"] " + marker), TR + ".response_headers.remove[0]", `invalid header name "a b"`},
		{"response header reserved", llmDoc("transforms:\n  - response_headers:\n      remove: [content-type] " + marker), TR + ".response_headers.remove[0]", "cannot be changed"},

		{"context url", llmDoc("context:\n  url: ftp://ctx " + marker), "llm.context.url", `must be an http:// or https:// URL, got "ftp://ctx"`},
		{"context url missing", llmDoc("context: " + marker + "\n  method: GET"), "llm.context.url", "is required"},
		{"context method", llmDoc("context:\n  url: http://ctx\n  method: PUT " + marker), "llm.context.method", `must be GET or POST, got "PUT"`},
		{"context key_from", llmDoc("context:\n  url: http://ctx\n  key_from: cookie " + marker), "llm.context.key_from", `must be session, user or header:NAME, got "cookie"`},
		{"context key_from header", llmDoc("context:\n  url: http://ctx\n  key_from: \"header:a b\" " + marker), "llm.context.key_from", `invalid header name "a b"`},
		{"context inject", llmDoc("context:\n  url: http://ctx\n  inject: user " + marker), "llm.context.inject", `must be system or header:NAME, got "user"`},
		{"context inject reserved", llmDoc("context:\n  url: http://ctx\n  inject: \"header:x-api-key\" " + marker), "llm.context.inject", "cannot be set by the context"},
		{"context timeout", llmDoc("context:\n  url: http://ctx\n  timeout: -1s " + marker), "llm.context.timeout", "must not be negative"},
		{"context ttl", llmDoc("context:\n  url: http://ctx\n  ttl: -1s " + marker), "llm.context.ttl", "must not be negative"},
		{"context template", llmDoc("context:\n  url: http://ctx\n  template: \"no slot\" " + marker), "llm.context.template", "must hold {{context}}"},
		{"context on_failure", llmDoc("context:\n  url: http://ctx\n  on_failure: retry " + marker), "llm.context.on_failure", `must be continue or refuse, got "retry"`},
		{"context forward_headers", llmDoc("context:\n  url: http://ctx\n  forward_headers: [\"a:b\"] " + marker), "llm.context.forward_headers[0]", `invalid header name "a:b"`},
		{"context api_key", llmDoc("context:\n  url: http://ctx\n  api_key: {env: A, value: b} " + marker), "llm.context.api_key", "mutually exclusive"},
		{"context match", llmDoc("context:\n  url: http://ctx\n  match: {routes: [nope]} " + marker), "llm.context.match.routes[0]", `no route is named "nope"`},
		{"context sizes", llmDoc("context:\n  url: http://ctx\n  max_entries: -1 " + marker), "llm.context.max_entries", "must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := loadErrors(t, tt.doc)
			wantError(t, errs, tt.path, markedLine(t, tt.doc), tt.frag)
		})
	}
}

func TestLLMTransformLoad(t *testing.T) {
	cfg := mustLoad(t, llmDoc(`transforms:
  - name: support
    match: {models: ["gpt-*", "*-mini"], routes: [support]}
    vars: {company: Acme}
    header_max_bytes: 64
    prompt:
      - {action: system_prepend, text: "You are {{var.company}}'s assistant ({{model}}, {{date}}, {{datetime}})."}
      - {action: system_suffix, text: "The user is {{header.X-User-Name|a guest}}.", separator: " "}
      - {action: user_template, text: "Question: {{ input }}"}
    body:
      set: {temperature: 0.2, stop: ["\n\n"], metadata.app: pylon, logprobs: false}
      default: {max_tokens: 1024}
      max: {max_tokens: 4096, top_p: 1}
      remove: [seed, metadata.debug]
    request_headers: {add: [{name: x-team, value: ai, append: false}], remove: [x-client-debug]}
    response_headers: {add: [{name: x-served-by, value: pylon}], remove: [x-upstream]}
  - prompt: [{action: system_append, text: plain}]
context:
  url: https://ctx.internal/v1/context
  method: POST
  key_from: header:X-User-Id
  ttl: 0s
  inject: header:X-User-Context
  on_failure: refuse
  forward_headers: [X-Tenant]
  api_key: {value: k}
  match: {routes: [help]}`))
	if n := len(cfg.LLM.Transforms); n != 2 {
		t.Fatalf("%d transforms", n)
	}
	tr := cfg.LLM.Transforms[0]
	if tr.Body.Set["temperature"] != 0.2 || tr.Body.Default["max_tokens"] != 1024 || *tr.Prompt[1].Separator != " " ||
		tr.RequestHeaders.Add[0].Append == nil || *tr.RequestHeaders.Add[0].Append {
		t.Errorf("transform decoded as %+v", tr)
	}
	xc := cfg.LLM.Context
	if xc.Method != "POST" || xc.TTL == nil || *xc.TTL != 0 || xc.Timeout.D() != config.DefaultContextTimeout ||
		xc.MaxEntries != config.DefaultContextMaxEntries || xc.CacheBytes != config.DefaultContextCacheBytes ||
		xc.MaxBytes != config.DefaultContextMaxBytes || xc.Template != config.DefaultContextTemplate {
		t.Errorf("context = %+v", xc)
	}
}

func TestLLMContextDefaults(t *testing.T) {
	cfg := mustLoad(t, llmDoc("context: {url: http://ctx}"))
	xc := cfg.LLM.Context
	want := config.LLMContext{URL: "http://ctx", Method: "GET", KeyFrom: "session", Timeout: config.Duration(500 * time.Millisecond),
		MaxEntries: 10000, CacheBytes: 16 << 20, MaxBytes: 16 << 10, Inject: "system", Template: config.DefaultContextTemplate, OnFailure: "continue"}
	if xc.TTL == nil || xc.TTL.D() != time.Minute {
		t.Fatalf("ttl = %v, want 1m", xc.TTL)
	}
	got := *xc
	got.TTL = nil
	if got.URL != want.URL || got.Method != want.Method || got.KeyFrom != want.KeyFrom || got.Timeout != want.Timeout ||
		got.MaxEntries != want.MaxEntries || got.CacheBytes != want.CacheBytes || got.MaxBytes != want.MaxBytes ||
		got.Inject != want.Inject || got.Template != want.Template || got.OnFailure != want.OnFailure {
		t.Errorf("defaults = %+v\nwant       %+v", got, want)
	}
}
