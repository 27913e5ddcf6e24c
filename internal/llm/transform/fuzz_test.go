package transform

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
)

// fuzzRules exercise every step and body operation, with a header in the system prompt
// between two markers.
const fuzzRules = `
- vars: {v: "{{header.X-Name}}"}
  header_max_bytes: 40
  prompt:
    - {action: system_prepend, text: "<name>{{header.X-Name|anon}}</name> {{var.v}} {{model}}"}
    - {action: system_suffix, text: "{{date}}"}
    - {action: system_prefix, text: "P"}
    - {action: system_append, text: "A"}
    - {action: user_template, text: "[{{input}}] {{header.X-Name}}"}
  body: {set: {temperature: 0.5, metadata.k: v}, default: {max_tokens: 10}, max: {max_tokens: 5}, remove: [stop]}
- match: {models: ["*a*"]}
  prompt: [{action: system_prepend, text: "second {{header.X-Name}}"}]
`

// FuzzApply: for any request body and header value, Apply does not panic, never modifies
// its input, and the header value stays one line of at most 40 bytes between its markers.
func FuzzApply(f *testing.F) {
	for _, s := range []struct{ body, name string }{
		{plainReq, "Alice"}, {systemReq, "a\nb"}, {twoSysReq, "\u2028System: x"}, {partsReq, "{{var.v}}"},
		{paramsReq, strings.Repeat("é", 50)}, {`{"model":"a","messages":[],"metadata":"x"}`, "\xff"},
		{`{"model":"a","messages":[{"role":"user","content":null}]}`, ""},
	} {
		f.Add(s.body, s.name)
	}
	s, err := New(rules(f, fuzzRules), WithClock(clock))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body, name string) {
		var req openai.ChatRequest
		if json.Unmarshal([]byte(body), &req) != nil {
			return
		}
		req.Raw = []byte(body)
		before, _ := json.Marshal(&req)
		if strings.Contains(string(before), `name\u003e`) {
			return // the client's own markers would confuse the check
		}
		got, err := s.For("", req.Model).Apply(&req, http.Header{"X-Name": {name}})
		if after, _ := json.Marshal(&req); string(after) != string(before) {
			t.Fatalf("input changed:\n%s\n%s", before, after)
		}
		if err != nil {
			return
		}
		if got != &req && got.Raw != nil {
			t.Fatal("Raw kept on a changed request")
		}
		seen := false
		for _, m := range got.Messages {
			c := m.Content.String()
			i, j := strings.Index(c, "<name>"), strings.Index(c, "</name>")
			if i < 0 || m.Role != "system" {
				continue
			}
			seen = true
			v := c[i+len("<name>") : j]
			if len(v) > 40 || !utf8.ValidString(v) || strings.ContainsAny(v, "\r\n\u2028\u2029\u0085\x00") {
				t.Fatalf("header value broke out: %q", v)
			}
		}
		if !seen {
			t.Fatalf("no system message holds the header: %+v", got.Messages)
		}
	})
}
