package pii

import (
	"strings"
	"testing"

	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
)

// cleanPrompt is about 2 KB of ordinary prompt text without PII but with the near misses
// that wake prefilters up: numbers, dates, colons, a version, a UUID.
var cleanPrompt = strings.Repeat(`You are a helpful assistant for the billing team. Summarise the ticket below in three
bullet points, then propose a next step. Keep the tone friendly: the customer has been
waiting since 2024-03-14 and wrote twice. Version 2.4.1 of the app shows error 502 when
the export runs for more than 30 seconds; about 12% of 4000 exports fail. Note: the
request id is 550e8400-e29b-41d4-a716-446655440000 and max_tokens: 512 is enough.
`, 5)[:2048]

// piiPrompt is the same size with PII of most kinds.
var piiPrompt = (`Customer Alice Smith (alice@example.com, +1 (415) 555-2671) paid with card
4111 1111 1111 1111 and wants a refund to IBAN DE89 3704 0044 0532 0130 00. Her SSN is
123-45-6789. The server at 192.168.1.10 logged api_key=a8f3K29dk3LmQ0zP7xYw and the token
ghp_abcdefghijklmnopqrstuvwxyz0123456789. Reply to bob@example.org or 020 7946 0958.
` + cleanPrompt)[:2048]

func BenchmarkRedact(b *testing.B) {
	r := MustNew(Config{Mode: ModeToken})
	for _, bc := range []struct{ name, text string }{{"clean_2KB", cleanPrompt}, {"pii_2KB", piiPrompt}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.text)))
			for b.Loop() {
				r.Redact(bc.text, NewVault())
			}
		})
	}
}

func BenchmarkRedactChat(b *testing.B) {
	r := MustNew(Config{Mode: ModeToken})
	req := &openai.ChatRequest{Model: "m", Messages: []openai.Message{
		{Role: "system", Content: openai.TextContent(cleanPrompt)},
		{Role: "user", Content: openai.TextContent(piiPrompt)},
	}}
	b.ReportAllocs()
	for b.Loop() {
		r.RedactChat(req, NewVault())
	}
}

// BenchmarkRestorer measures one Write of a ~4-byte delta, the size of a model token.
func BenchmarkRestorer(b *testing.B) {
	r := MustNew(Config{Mode: ModeToken})
	v := NewVault()
	red, _ := r.Redact(piiPrompt, v)
	for _, bc := range []struct{ name, text string }{{"no_tokens", cleanPrompt}, {"tokens", red}} {
		chunks := splitEvery(bc.text, 4)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			rs := NewRestorer(v)
			i := 0
			for b.Loop() {
				rs.Write(chunks[i])
				if i++; i == len(chunks) {
					rs.Flush()
					i = 0
				}
			}
		})
	}
}

// BenchmarkStreamRedactor measures one Write of a ~4-byte delta.
func BenchmarkStreamRedactor(b *testing.B) {
	r := MustNew(Config{Mode: ModeToken})
	for _, bc := range []struct{ name, text string }{{"clean", cleanPrompt}, {"pii", piiPrompt}} {
		chunks := splitEvery(bc.text, 4)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			s := r.NewStreamRedactor(NewVault())
			i := 0
			for b.Loop() {
				s.Write(chunks[i])
				if i++; i == len(chunks) {
					s.Flush()
					i = 0
				}
			}
		})
	}
}

func splitEvery(s string, n int) []string {
	var out []string
	for len(s) > n {
		out = append(out, s[:n])
		s = s[n:]
	}
	return append(out, s)
}
