package transform

import (
	"encoding/json"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/pylon-gateway/pylon/internal/config"
	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
)

// clock is the fixed time of the tests: {{date}} is 2026-03-14.
var clock = func() time.Time { return time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC) }

// rules decodes the YAML of an llm.transforms list.
func rules(t testing.TB, doc string) []config.LLMTransform {
	t.Helper()
	var cfg []config.LLMTransform
	if err := yaml.Unmarshal([]byte(doc), &cfg); err != nil {
		t.Fatalf("yaml: %v\n%s", err, doc)
	}
	return cfg
}

func mustSet(t testing.TB, doc string) *Set {
	t.Helper()
	s, err := New(rules(t, doc), WithClock(clock))
	if err != nil {
		t.Fatalf("New: %v\n%s", err, doc)
	}
	return s
}

// parse reads a chat request as the OpenAI dialect does: Raw is the client's body.
func parse(t testing.TB, body string) *openai.ChatRequest {
	t.Helper()
	var r openai.ChatRequest
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("request: %v\n%s", err, body)
	}
	r.Raw = []byte(body)
	return &r
}

// canon is the request's JSON (Raw aside), to compare requests and detect mutations.
func canon(t testing.TB, r *openai.ChatRequest) string {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// compact re-encodes JSON without spaces.
func compact(t testing.TB, s string) string {
	t.Helper()
	var r openai.ChatRequest
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		t.Fatalf("want: %v\n%s", err, s)
	}
	return canon(t, &r)
}
