package pii

import (
	"strings"
	"testing"
)

// TestStreamRedactorEverySplit: for values that fit the window (or have no spaces), a
// stream split anywhere redacts exactly as the whole text.
func TestStreamRedactorEverySplit(t *testing.T) {
	r := MustNew(Config{Mode: ModeToken})
	texts := []string{
		"Sure! Write to alice@example.com or call +1 (415) 555-2671. Card 4111 1111 1111 1111 ends the list.",
		"IBAN DE89 3704 0044 0532 0130 00, key sk-proj-abc123DEF456ghi789JKL012mno345 and token eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
		"password: hunter2 then -----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\nMIIEowIBAAKCAQEA\nMIIEowIBAAKCAQEA\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY----- ok",
		"no pii here, just a long answer about 2024-01-15 and version 1.2.3 with “quotes” and émojis 🎉 at the end",
	}
	for _, text := range texts {
		want, _ := r.Redact(text, NewVault())
		for i := 0; i <= len(text); i++ {
			for _, pieces := range [][]string{{text[:i], text[i:]}, append(splitEvery(text[:i], 3), text[i:]), append(splitEvery(text[:i], 1), text[i:])} {
				s := r.NewStreamRedactor(NewVault())
				var b strings.Builder
				for _, p := range pieces {
					b.WriteString(s.Write(p))
				}
				b.WriteString(s.Flush())
				if got := b.String(); got != want {
					t.Fatalf("split %d (%d pieces):\n got %q\nwant %q", i, len(pieces), got, want)
				}
			}
		}
	}
}

// TestStreamRedactorBound: text is released once it is further back than the window.
func TestStreamRedactorBound(t *testing.T) {
	r := MustNew(Config{StreamWindow: 16})
	s := r.NewStreamRedactor(nil)
	var out strings.Builder
	fed := 0
	for _, w := range strings.Fields(strings.Repeat("lorem ipsum dolor sit amet ", 10)) {
		out.WriteString(s.Write(w + " "))
		fed += len(w) + 1
		if held := fed - out.Len(); held > 16+streamBatch+len("lorem ") {
			t.Fatalf("holding %d bytes", held)
		}
	}
	out.WriteString(s.Flush())
	if out.String() != strings.Repeat("lorem ipsum dolor sit amet ", 10) {
		t.Errorf("got %q", out.String())
	}
	if s.Counts() != nil {
		t.Errorf("counts %v", s.Counts())
	}
	// A private key block is held whole, then redacted.
	s = r.NewStreamRedactor(nil)
	out.Reset()
	block := "-----BEGIN PRIVATE KEY-----\n" + strings.Repeat("MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n", 20) + "-----END PRIVATE KEY-----"
	for _, line := range strings.SplitAfter("text "+block+" after", "\n") {
		out.WriteString(s.Write(line))
	}
	out.WriteString(s.Flush())
	if out.String() != "text [PRIVATE_KEY] after" {
		t.Errorf("got %q", out.String())
	}
}
