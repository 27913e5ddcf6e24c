package pii

import (
	"fmt"
	"testing"
)

func TestSmoke(t *testing.T) {
	r := MustNew(Config{Mode: ModeToken})
	for _, s := range []string{
		"mail alice.smith+tag@example.co.uk now",
		"card 4111 1111 1111 1111 exp 12/26",
		"card 4111111111111112 bad",
		"iban DE89 3704 0044 0532 0130 00 ok",
		"iban GB82WEST12345698765432.",
		"ssn 123-45-6789, nino AB 12 34 56 C, dni 12345678Z, nie X1234567L, nir 1 85 05 78 006 084 36",
		"ip 192.168.1.10 and 10.0.0.0.1 and 1.2.3 and fe80::1 and 2001:db8::8a2e:370:7334 std::vector",
		"call +1 (415) 555-2671 or 020 7946 0958 or (212) 555-0100; date 2024-01-15, order 212-555-0100",
		"key sk-proj-abc123DEF456ghi789JKL012mno345 and sk-ant-api03-abcdefghij1234567890ABCDEFGHIJ",
		"AKIAIOSFODNN7EXAMPLE aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		"ghp_abcdefghijklmnopqrstuvwxyz0123456789 xoxb-1234567890-abcdefghij AIzaSyA1234567890abcdefghijklmnopqrstuv",
		"jwt eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
		"api_key=a8f3K29dk3LmQ0zP7xYw password: hunter2 token: 550e8400-e29b-41d4-a716-446655440000",
		"-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY----- done",
	} {
		v := NewVault()
		out, c := r.Redact(s, v)
		fmt.Printf("%s\n => %s %v\n", s, out, c)
		if Restore(out, v) != s {
			t.Errorf("restore mismatch")
		}
	}
}
