package pii

import (
	"encoding/json"
	"strings"
	"testing"
)

// tokenVault returns a vault made by redacting a prompt, a reply a model could write
// with its tokens (adjacent ones, one at each end, near look-alikes and non-ASCII text),
// and that reply restored.
func tokenVault(t testing.TB) (v *Vault, restored, reply string) {
	t.Helper()
	r := MustNew(Config{Mode: ModeToken})
	v = NewVault()
	prompt := "I am alice@example.com, card 4111 1111 1111 1111, phone +1 (415) 555-2671; bob@example.org is my boss."
	if red, _ := r.Redact(prompt, v); red != "I am ⟦EMAIL_1⟧, card ⟦CARD_1⟧, phone ⟦PHONE_1⟧; ⟦EMAIL_2⟧ is my boss." {
		t.Fatalf("fixture: %q", red)
	}
	reply = "⟦EMAIL_1⟧: your card ⟦CARD_1⟧ ✓ and “⟦PHONE_1⟧”; cc ⟦EMAIL_2⟧⟦PHONE_1⟧⟦EMAIL_1⟧ ⟦EMAIL_3⟧ ⟦EMAIL_⟧ ⟦email_1⟧ ⟦⟦CARD_1⟧⟧ — done ⟦EMAIL_2⟧"
	restored = "alice@example.com: your card 4111 1111 1111 1111 ✓ and “+1 (415) 555-2671”; cc bob@example.org+1 (415) 555-2671alice@example.com ⟦EMAIL_3⟧ ⟦EMAIL_⟧ ⟦email_1⟧ ⟦4111 1111 1111 1111⟧ — done bob@example.org"
	return v, restored, reply
}

func TestRestore(t *testing.T) {
	v, orig, red := tokenVault(t)
	if got := Restore(red, v); got != orig {
		t.Errorf("Restore = %q, want %q", got, orig)
	}
	for _, s := range []string{"", "plain text", "⟦EMAIL_9⟧ unknown", "⟦email_1⟧", "⟦EMAIL_1", "EMAIL_1⟧", "⟦⟦EMAIL_1⟧⟧", "⟦EMAIL_1⟧⟦EMAIL_1⟧"} {
		want := strings.ReplaceAll(s, "⟦EMAIL_1⟧", "alice@example.com")
		if got := Restore(s, v); got != want {
			t.Errorf("Restore(%q) = %q, want %q", s, got, want)
		}
	}
	if got := Restore(red, nil); got != red {
		t.Errorf("nil vault changed the text")
	}
}

func TestRestoreJSON(t *testing.T) {
	r := MustNew(Config{Mode: ModeToken})
	v := NewVault()
	key := "-----BEGIN PRIVATE KEY-----\nMIIEvQ\"x\\\n-----END PRIVATE KEY-----"
	red, _ := r.Redact(key, v)
	args := `{"key": "` + red + `", "n": 1}`
	got := RestoreJSON(args, v)
	var m struct{ Key string }
	if err := json.Unmarshal([]byte(got), &m); err != nil || m.Key != key {
		t.Errorf("RestoreJSON = %s (%v)", got, err)
	}
}

// TestRestorerEverySplit feeds the reply in two and three pieces at every byte boundary,
// and byte by byte, and wants exactly the original.
func TestRestorerEverySplit(t *testing.T) {
	v, orig, red := tokenVault(t)
	bound := v.MaxTokenLen()
	run := func(pieces []string) string {
		r := NewRestorer(v)
		var b strings.Builder
		for _, p := range pieces {
			b.WriteString(r.Write(p))
			if r.Pending() >= bound {
				t.Fatalf("holding %d bytes, bound %d", r.Pending(), bound)
			}
		}
		b.WriteString(r.Flush())
		return b.String()
	}
	for i := 0; i <= len(red); i++ {
		if got := run([]string{red[:i], red[i:]}); got != orig {
			t.Fatalf("split at %d: %q", i, got)
		}
		for j := i; j <= len(red); j++ {
			if got := run([]string{red[:i], red[i:j], red[j:]}); got != orig {
				t.Fatalf("split at %d,%d: %q", i, j, got)
			}
		}
	}
	if got := run(strings.Split(red, "")); got != orig {
		t.Fatalf("rune by rune: %q", got)
	}
	var bytes []string
	for i := range len(red) {
		bytes = append(bytes, red[i:i+1])
	}
	if got := run(bytes); got != orig {
		t.Fatalf("byte by byte: %q", got)
	}
}

// TestRestorerNoDelay: text that cannot begin a token is released at once.
func TestRestorerNoDelay(t *testing.T) {
	v, _, _ := tokenVault(t)
	r := NewRestorer(v)
	for _, c := range []struct{ in, out string }{
		{"Hello", "Hello"}, {" “world” — ", " “world” — "}, {"⟦x⟧ ok", "⟦x⟧ ok"}, {"[EMAIL] ", "[EMAIL] "},
		{"⟦", ""}, {"lower⟧", "⟦lower⟧"}, {"\xe2", ""}, {"\x9f", ""}, {"\xa7 end", "⟧ end"},
	} {
		if got := r.Write(c.in); got != c.out {
			t.Errorf("Write(%q) = %q, want %q", c.in, got, c.out)
		}
	}
	// An open bracket is held until it can no longer start a token.
	r = NewRestorer(v)
	if got := r.Write("a ⟦EMA"); got != "a " {
		t.Errorf("held %q", got)
	}
	if got := r.Write("Ilx"); got != "⟦EMAIlx" {
		t.Errorf("released %q", got)
	}
	// With an empty vault nothing is ever held.
	r = NewRestorer(NewVault())
	if got := r.Write("⟦EMAIL_"); got != "⟦EMAIL_" {
		t.Errorf("empty vault held %q", got)
	}
}

func TestToolArgsRestorer(t *testing.T) {
	r := MustNew(Config{Mode: ModeToken})
	v := NewVault()
	args0, _ := r.RedactJSON(`{"to":"alice@example.com","body":"line1\nline2 +1 415 555 2671"}`, v)
	args1, _ := r.RedactJSON(`{"iban":"DE89 3704 0044 0532 0130 00"}`, v)
	want0 := `{"to":"alice@example.com","body":"line1\nline2 +1 415 555 2671"}`
	want1 := `{"iban":"DE89 3704 0044 0532 0130 00"}`
	for step := 1; step <= 7; step++ {
		tr := NewToolArgsRestorer(v)
		var got [2]strings.Builder
		a, b := args0, args1
		for a != "" || b != "" { // interleave the two calls
			n := min(step, len(a))
			got[0].WriteString(tr.Write(0, a[:n]))
			a = a[n:]
			n = min(step, len(b))
			got[1].WriteString(tr.Write(1, b[:n]))
			b = b[n:]
		}
		for _, d := range tr.FlushAll() {
			got[d.Index].WriteString(d.Function.Arguments)
		}
		if got[0].String() != want0 || got[1].String() != want1 {
			t.Errorf("step %d: %s | %s", step, got[0].String(), got[1].String())
		}
	}
}
