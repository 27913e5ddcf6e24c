package pii

import (
	"encoding/json"
	"strings"
	"testing"
)

var fuzzSeeds = []string{
	"", "plain", piiPrompt[:300], benignText,
	"⟦EMAIL_1⟧ alice@example.com ⟦EMAIL_1⟧⟦", "⟦⟦A_1⟧⟧⟧ \xe2\x9f", "\xe2\x9f\xa6EMAIL_1\xe2\x9f\xa7",
	"4111 1111 1111 1111 4111-1111-1111-1111", "+1 (415) 555-2671 2024-01-15",
	`{"api_key": "a8f3K29dk3LmQ0zP7xYw", "n": 4111111111111111, "s": "x\"y"}`,
	"fe80::1:2001:db8::1 ::::::: 1.2.3.4.5", "DE89 3704 0044 0532 0130 00",
	"-----BEGIN PRIVATE KEY-----\nabc", "eyJhbGciOiJIUzI1NiJ9.eyJ4IjoxfQ.", "password=" + strings.Repeat("a1", 40),
}

// FuzzRedact: no panic, and with reversible tokens restore(redact(s)) == s for any s.
func FuzzRedact(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	tok := MustNew(Config{Mode: ModeToken})
	mask := MustNew(Config{Mode: ModeHash, HashKey: []byte("k"), Custom: []CustomPattern{{Name: "c", Pattern: `[0-9]{3}`}}})
	f.Fuzz(func(t *testing.T, s string) {
		v := NewVault()
		red, _ := tok.Redact(s, v)
		if back := Restore(red, v); back != s {
			t.Fatalf("restore(redact(%q)) = %q via %q", s, back, red)
		}
		mask.Redact(s, nil)
		if json.Valid([]byte(s)) {
			out, _ := tok.RedactJSON(s, NewVault())
			if !json.Valid([]byte(out)) {
				t.Fatalf("RedactJSON broke JSON: %q -> %q", s, out)
			}
		}
		sr := tok.NewStreamRedactor(NewVault())
		for _, p := range splitEvery(s, 5) {
			sr.Write(p)
		}
		sr.Flush()
	})
}

// FuzzRestorer: any split of a reply restores as the whole reply does.
func FuzzRestorer(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s, uint8(3), uint8(7))
	}
	f.Add("⟦EMAIL_1⟧⟦PHONE_1⟧⟦CARD_12⟧", uint8(1), uint8(2))
	r := MustNew(Config{Mode: ModeToken})
	v := NewVault()
	r.Redact(piiPrompt, v) // a vault with tokens of several labels
	f.Fuzz(func(t *testing.T, s string, a, b uint8) {
		want := Restore(s, v)
		wantJSON := RestoreJSON(s, v)
		for _, jsonMode := range []bool{false, true} {
			rs := NewRestorer(v)
			if jsonMode {
				rs = NewJSONRestorer(v)
			}
			var out strings.Builder
			rest, steps := s, []int{int(a%16) + 1, int(b%16) + 1}
			for k := 0; rest != ""; k++ {
				n := min(steps[k%2], len(rest))
				out.WriteString(rs.Write(rest[:n]))
				rest = rest[n:]
				if rs.Pending() >= max(v.MaxTokenLen(), 1) {
					t.Fatalf("holding %d bytes", rs.Pending())
				}
			}
			out.WriteString(rs.Flush())
			if w := map[bool]string{false: want, true: wantJSON}[jsonMode]; out.String() != w {
				t.Fatalf("json=%v split %d/%d of %q: %q, want %q", jsonMode, a, b, s, out.String(), w)
			}
		}
	})
}
