package pii

import (
	"regexp"
	"strings"
	"sync"
	"testing"
)

const modeText = "mail alice@example.com, again alice@example.com, then bob@example.org; card 4111 1111 1111 1111"

func TestModeMask(t *testing.T) {
	r := MustNew(Config{})
	got, c := r.Redact(modeText, nil)
	want := "mail [EMAIL], again [EMAIL], then [EMAIL]; card [CARD]"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if c[DetEmail] != 3 || c[DetCard] != 1 {
		t.Errorf("counts %v", c)
	}
}

func TestModeHash(t *testing.T) {
	r := MustNew(Config{Mode: ModeHash, HashKey: []byte("k1")})
	got, _ := r.Redact(modeText, nil)
	re := regexp.MustCompile(`^mail \[EMAIL:([0-9a-f]{8})\], again \[EMAIL:([0-9a-f]{8})\], then \[EMAIL:([0-9a-f]{8})\]; card \[CARD:[0-9a-f]{8}\]$`)
	m := re.FindStringSubmatch(got)
	if m == nil {
		t.Fatalf("got %q", got)
	}
	if m[1] != m[2] || m[1] == m[3] {
		t.Errorf("hashes %v: same value must hash the same, different values differently", m[1:])
	}
	// Stable for one key, different under another key, length configurable.
	again, _ := MustNew(Config{Mode: ModeHash, HashKey: []byte("k1")}).Redact(modeText, nil)
	other, _ := MustNew(Config{Mode: ModeHash, HashKey: []byte("k2")}).Redact(modeText, nil)
	if again != got || other == got {
		t.Errorf("hash not keyed and stable: %q / %q / %q", got, again, other)
	}
	long, _ := MustNew(Config{Mode: ModeHash, HashKey: []byte("k1"), HashLen: 16}).Redact("alice@example.com", nil)
	if !regexp.MustCompile(`^\[EMAIL:[0-9a-f]{16}\]$`).MatchString(long) || !strings.HasPrefix(long, "[EMAIL:"+m[1]) {
		t.Errorf("hash_len 16: %q", long)
	}
}

func TestModeToken(t *testing.T) {
	r := MustNew(Config{Mode: ModeToken})
	v := NewVault()
	got, _ := r.Redact(modeText, v)
	want := "mail ⟦EMAIL_1⟧, again ⟦EMAIL_1⟧, then ⟦EMAIL_2⟧; card ⟦CARD_1⟧"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if v.Len() != 3 || v.MaxTokenLen() != len("⟦EMAIL_1⟧") {
		t.Errorf("vault len %d max %d", v.Len(), v.MaxTokenLen())
	}
	if s, ok := v.Lookup("⟦EMAIL_2⟧"); !ok || s != "bob@example.org" {
		t.Errorf("lookup = %q %v", s, ok)
	}
	if back := Restore(got, v); back != modeText {
		t.Errorf("restore = %q", back)
	}
	// Without a vault, token mode masks.
	if got, _ := r.Redact(modeText, nil); got != "mail [EMAIL], again [EMAIL], then [EMAIL]; card [CARD]" {
		t.Errorf("no vault: %q", got)
	}
}

func TestModesPerDetector(t *testing.T) {
	r := MustNew(Config{Mode: ModeToken, Modes: map[string]Mode{DetCard: ModeMask, DetEmail: ModeHash}, HashKey: []byte("k")})
	v := NewVault()
	got, _ := r.Redact("a@example.com 4111111111111111 +1 415 555 2671", v)
	if !regexp.MustCompile(`^\[EMAIL:[0-9a-f]{8}\] \[CARD\] ⟦PHONE_1⟧$`).MatchString(got) {
		t.Errorf("got %q", got)
	}
}

// TestLiteralTokensEscaped: token-shaped text the user typed is never restored as
// someone else's value.
func TestLiteralTokensEscaped(t *testing.T) {
	r := MustNew(Config{Mode: ModeToken})
	v := NewVault()
	in := "what is ⟦EMAIL_1⟧? my mail is alice@example.com"
	got, c := r.Redact(in, v)
	if strings.Contains(got, "⟦EMAIL_1⟧") && !strings.HasSuffix(got, "⟦EMAIL_1⟧") {
		t.Errorf("literal kept as a live token: %q", got)
	}
	if c.Total() != 1 {
		t.Errorf("counts %v: the literal is not PII", c)
	}
	if back := Restore(got, v); back != in {
		t.Errorf("restore = %q, want %q", back, in)
	}
}

func TestVaultEntriesLoad(t *testing.T) {
	r := MustNew(Config{Mode: ModeToken})
	v := NewVault()
	out, _ := r.Redact("a@example.com b@example.com", v)
	w := NewVault()
	if err := w.Load(v.Entries()); err != nil {
		t.Fatal(err)
	}
	if Restore(out, w) != "a@example.com b@example.com" {
		t.Errorf("restore with loaded vault")
	}
	out2, _ := r.Redact("c@example.com a@example.com", w)
	if out2 != "⟦EMAIL_3⟧ ⟦EMAIL_1⟧" {
		t.Errorf("numbering after load: %q", out2)
	}
	if err := w.Load(map[string]string{"EMAIL_1": "x"}); err == nil {
		t.Error("malformed token loaded")
	}
	if err := w.Load(map[string]string{"⟦EMAIL_1⟧": "other@example.com"}); err == nil {
		t.Error("rebinding a token loaded")
	}
}

func TestRedactorConcurrent(t *testing.T) {
	r := MustNew(Config{Mode: ModeToken, Modes: map[string]Mode{DetCard: ModeHash}, HashKey: []byte("k")})
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				v := NewVault()
				out, _ := r.Redact(piiPrompt, v)
				if Restore(out, v) == out || strings.Contains(out, "alice@example.com") {
					t.Error("not redacted")
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestRedactJSON(t *testing.T) {
	r := MustNew(Config{Mode: ModeToken})
	v := NewVault()
	in := `{"to": "alice@example.com", "note": "call \"+1 415 555 2671\"\nplease", "card": 4111111111111111, "n": 3, "key": {"email@example.com": true}}`
	got, c := r.RedactJSON(in, v)
	want := `{"to": "⟦EMAIL_1⟧", "note": "call \"⟦PHONE_1⟧\"\nplease", "card": "⟦CARD_1⟧", "n": 3, "key": {"email@example.com": true}}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if c.Total() != 3 {
		t.Errorf("counts %v", c)
	}
	// Not JSON: redacted as text.
	if got, _ := r.RedactJSON("{to: alice@example.com", v); got != "{to: ⟦EMAIL_1⟧" {
		t.Errorf("invalid JSON: %q", got)
	}
}
