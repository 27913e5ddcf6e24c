package transform

import (
	"errors"
	"strings"
	"testing"

	"github.com/pylon-gateway/pylon/internal/config"
)

// llmDoc is a valid config whose llm.transforms is rules (a flow sequence) and whose
// routes are named support and help.
func llmDoc(rules string) string {
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
  transforms: ` + rules + "\n"
}

// TestConfigAgrees: config validation (internal/config) and New refuse the same rules,
// naming the same field, and accept the same rules; the syntax lives in both places.
func TestConfigAgrees(t *testing.T) {
	for _, tt := range newErrorCases {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Load([]byte(llmDoc(tt.rules)))
			var errs config.Errors
			if !errors.As(err, &errs) {
				t.Fatalf("config.Load = %v, want errors", err)
			}
			found := false
			for _, e := range errs {
				found = found || strings.HasPrefix(e.Path, strings.TrimSuffix(tt.path, "[0]")) || strings.HasPrefix(tt.path, e.Path)
			}
			if !found {
				t.Errorf("config errors %v do not name %s", errs, tt.path)
			}
		})
	}
	valid := []string{
		`[{name: a, match: {models: ["gpt-*"], routes: [support]}, vars: {x: y}, header_max_bytes: 64,
  prompt: [{action: system_prepend, text: "{{var.x}} {{model}} {{date}} {{datetime}} {{header.X-A|none}}"},
           {action: system_suffix, text: s, separator: ""}, {action: user_template, text: "{{ input }}"}],
  body: {set: {temperature: 1, top_p: 0.5, stop: x, metadata.app: p, logprobs: true, seed: 3, user: u},
         default: {max_tokens: 10}, max: {max_tokens: 100}, remove: [top_k]},
  request_headers: {add: [{name: x-a, value: b, append: false}], remove: [x-b]},
  response_headers: {add: [{name: x-c, value: d}], remove: [server]}}]`,
	}
	for _, doc := range valid {
		cfg, err := config.Load([]byte(llmDoc(doc)))
		if err != nil {
			t.Fatalf("config.Load: %v", err)
		}
		if _, err := New(cfg.LLM.Transforms); err != nil {
			t.Fatalf("New: %v", err)
		}
	}
}

// TestBodyParamsCovered: every parameter config accepts has a setter here.
func TestBodyParamsCovered(t *testing.T) {
	for name, kind := range config.LLMBodyParams {
		var v any
		switch kind {
		case "number", "integer":
			v = 1
		case "bool":
			v = true
		case "string", "strings":
			v = "x"
		default:
			t.Fatalf("unknown kind %q of %s", kind, name)
		}
		o, err := bodyValue(name, opSet, v)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		req := parse(t, plainReq)
		r := *req
		if !applyParam(&r, &o) {
			t.Errorf("set %s changed nothing", name)
		}
	}
}
