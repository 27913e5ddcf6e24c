package transform

import (
	"net/http"
	"testing"
)

// BenchmarkApply: a typical rule (a system prompt with a header and the date, a user
// template, two body parameters) on a short conversation.
func BenchmarkApply(b *testing.B) {
	s := mustSet(b, `
- match: {models: ["gpt-*"]}
  vars: {company: Acme}
  prompt:
    - {action: system_prefix, text: "You are {{var.company}}'s assistant. Today is {{date}}. The user is {{header.X-User-Name|a guest}}."}
    - {action: user_template, text: "Question: {{input}}"}
  body: {default: {max_tokens: 1024}, max: {temperature: 1}}
`)
	h := http.Header{"X-User-Name": {"Alice"}}
	for _, bc := range []struct{ name, body string }{{"system_and_user", twoSysReq}, {"params", paramsReq}} {
		req := parse(b, bc.body)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.For("r", req.Model).Apply(req, h); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("no_match", func(b *testing.B) {
		req := parse(b, plainReq)
		req.Model = "claude"
		b.ReportAllocs()
		for b.Loop() {
			_, _ = s.For("r", req.Model).Apply(req, h)
		}
	})
}

func BenchmarkHeaderText(b *testing.B) {
	for _, bc := range []struct{ name, v string }{{"plain", "Alice Smith"}, {"dirty", "Al\tice\u2028 Smith\x00 and more text"}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			vals := []string{bc.v}
			for b.Loop() {
				headerText(vals, DefaultHeaderMaxBytes)
			}
		})
	}
}
