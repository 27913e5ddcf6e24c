package lb

import (
	"encoding/binary"
	"net/http"
	"strings"
	"testing"

	"github.com/cespare/xxhash/v2"
)

// FuzzHashPolicy feeds arbitrary header and cookie values through a policy. It checks that
// nothing panics, that hashing is deterministic, that a header hashes its values joined by
// ",", and that a cookie placed among others is found with its value intact.
func FuzzHashPolicy(f *testing.F) {
	f.Add("alice", "xyz", "a=1")
	f.Add("", "", "")
	f.Add("a,b", `"quoted"`, "junk; ==; ;")
	f.Add("\x00\xff", "x=y", "s=shadow")
	f.Add(strings.Repeat("v", 300), "\t", "; s")
	f.Fuzz(func(t *testing.T, header, cookie, other string) {
		r, _ := http.NewRequest("GET", "http://example.com/", nil)
		r.Header["X-Key"] = []string{header, other}
		r.Header["Cookie"] = []string{other, "s=" + cookie + "; t=1"}
		r.Header["X-Other"] = []string{other}

		p := NewHashPolicy([]HashSource{{Header: "x-key"}, {Cookie: "s"}, {SourceIP: true}})
		h1, ok1 := p.Hash(r, "192.0.2.1")
		h2, ok2 := p.Hash(r, "192.0.2.1")
		if h1 != h2 || ok1 != ok2 {
			t.Fatal("hashing is not deterministic")
		}
		if want := xxhash.Sum64String(header + "," + other); !ok1 || h1 != want {
			t.Fatalf("header hash = %x, %v; want xxhash(%q) = %x", h1, ok1, header+","+other, want)
		}
		single, ok := NewHashPolicy([]HashSource{{Header: "X-Other"}}).Hash(r, "")
		if !ok || single != xxhash.Sum64String(other) {
			t.Fatal("single-valued header hash is not xxhash of the value")
		}

		// The cookie: unless the other line already carries an "s" cookie (first one wins),
		// the value read back is the one set, with blanks trimmed and one pair of quotes
		// stripped; an empty value or one that breaks the pair (";") is absent or cut.
		got, found := cookieValue(r.Header, "s")
		if strings.Contains(got, ";") {
			t.Fatalf("cookie value %q spans a separator", got)
		}
		if !cookieInLine(other, "s") && !strings.ContainsAny(cookie, ";") {
			want := trimBlanks(cookie)
			if len(want) >= 2 && want[0] == '"' && want[len(want)-1] == '"' {
				want = want[1 : len(want)-1]
			}
			if found != (want != "") || got != want {
				t.Fatalf("cookie s=%q read back as %q, %v; want %q", cookie, got, found, want)
			}
		}
		hc, okc := NewHashPolicy([]HashSource{{Cookie: "s"}}).Hash(r, "")
		if okc != found || (found && hc != xxhash.Sum64String(got)) {
			t.Fatal("cookie hash disagrees with the cookie value")
		}
	})
}

// cookieInLine reports whether line holds a pair named name (by the same splitting rules).
func cookieInLine(line, name string) bool {
	for _, part := range strings.Split(line, ";") {
		if k, _, ok := strings.Cut(part, "="); ok && trimBlanks(k) == name {
			return true
		}
	}
	return false
}

// FuzzNew builds every policy over fuzzed weights and options and checks that Pick never
// panics and never returns a host outside the set (nor nil when the set is not empty).
func FuzzNew(f *testing.F) {
	f.Add([]byte{1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0}, uint64(42), uint16(0), uint16(0))
	f.Add([]byte{}, uint64(0), uint16(0), uint16(0))
	f.Add([]byte{0, 0, 0, 0}, uint64(1), uint16(1), uint16(1))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0}, ^uint64(0), uint16(3), uint16(5))
	f.Add([]byte{0x03, 0x11, 0x01, 0x00, 0xe3, 0x10, 0x01, 0x00}, uint64(7), uint16(0), uint16(0))
	f.Fuzz(func(t *testing.T, raw []byte, hash uint64, minRing, maxRing uint16) {
		// Four bytes a weight (so that weights large enough for the live EDF scheduler and
		// a capped ring occur), at most 64 hosts to keep each run fast.
		var weights []uint32
		for len(raw) >= 4 && len(weights) < 64 {
			weights = append(weights, binary.LittleEndian.Uint32(raw))
			raw = raw[4:]
		}
		hosts := mkHosts(weights...)
		member := make(map[*Host]bool, len(hosts))
		for _, h := range hosts {
			member[h] = true
		}
		// An unset maximum would let a lopsided weight set build Envoy's 8M-point ring on
		// every run; the capping logic is the same at 64K.
		if maxRing == 0 {
			maxRing = 1 << 12
		}
		opts := Options{MinRingSize: int(minRing), MaxRingSize: int(maxRing)}
		for _, policy := range allPolicies {
			b, err := New(policy, hosts, opts)
			if err != nil {
				if policy != RingHash {
					t.Fatalf("%s: %v", policy, err)
				}
				continue
			}
			for i := range 64 {
				h := b.Pick(&Context{Hash: hash + uint64(i)*0x9e3779b97f4a7c15, HasHash: i%4 != 3})
				if len(hosts) == 0 {
					if h != nil {
						t.Fatalf("%s: Pick on no hosts returned %v", policy, h)
					}
					continue
				}
				if !member[h] {
					t.Fatalf("%s over weights %v: Pick returned %v, not one of the hosts", policy, weights, h)
				}
				if policy == LeastRequest && i%8 == 0 {
					h.Acquire()
				}
			}
		}
	})
}
