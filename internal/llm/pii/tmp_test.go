package pii

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestTmpAdversarial(t *testing.T) {
	r := MustNew(Config{Mode: ModeToken})
	for _, unit := range []string{"1 ", "a@", ":", "⟦A", "-----BEGIN PRIVATE KEY-----", "1.", "ab:", "key=", "eyJhbGciOiJIUzI1NiJ9.", "AB12", "0", "a", "+1 ", "sk-", "⟦", "1-", "secret ", "x@y.co "} {
		s := strings.Repeat(unit, 32768/len(unit))
		st := time.Now()
		v := NewVault()
		out, _ := r.Redact(s, v)
		d1 := time.Since(st)
		st = time.Now()
		sr := r.NewStreamRedactor(NewVault())
		for _, p := range splitEvery(s, 5) {
			sr.Write(p)
		}
		sr.Flush()
		d2 := time.Since(st)
		st = time.Now()
		rs := NewRestorer(v)
		for _, p := range splitEvery(out, 5) {
			rs.Write(p)
		}
		fmt.Printf("%-30q redact %v stream %v restore %v\n", unit, d1, d2, time.Since(st))
	}
}
