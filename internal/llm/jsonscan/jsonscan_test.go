package jsonscan

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

var seeds = []string{
	`{}`, `[]`, `""`, `0`, `-0.5e+10`, `true`, `null`, ` {"a" : [1, {"b":null}], "c":"\u00e9\n"} `,
	`{"id":"x","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}],"usage":null}`,
	`{"a":1,}`, `[1,]`, `01`, `1.`, `1e`, `"\x"`, `"\u12G4"`, "\"a\tb\"", `{"a"}`, `{"a":1 "b":2}`,
	`nul`, `[`, `{"a":`, `tru`, `-`, `"é"`, "\xff", `{"a":1}x`, `{"\"k":2}`,
	`"0123456789abcdef\"0123456789"`, "\"0123456\x1f89abcdef\"", `"01234567\\"`, `"0123456789abcdefé\u00e9ghijklmnop"`,
	"\"abcdefg\x7f\x80\xff\"", `{"abcdefghijkl":"mnopqrstuvwxyz0123456789"}`, `"0123456789012345`,
}

func TestMembers(t *testing.T) {
	for _, s := range seeds {
		check(t, []byte(s))
	}
	deep := strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth)
	if !Valid([]byte(deep)) || Valid([]byte("["+deep+"]")) {
		t.Error("depth limit")
	}
}

// check compares Members with encoding/json (validity) and gjson (members).
func check(t *testing.T, in []byte) {
	t.Helper()
	var keys, vals []string
	ok := Members(in, func(k, v []byte) {
		keys = append(keys, string(k))
		vals = append(vals, string(v))
	})
	if want := json.Valid(in); ok != want {
		t.Fatalf("Members(%q) = %v, json.Valid %v", in, ok, want)
	}
	if !ok {
		return
	}
	r := gjson.ParseBytes(in)
	if !r.IsObject() {
		if keys != nil {
			t.Fatalf("%q: members of a non-object", in)
		}
		return
	}
	n := 0
	r.ForEach(func(k, v gjson.Result) bool {
		if n >= len(keys) || `"`+keys[n]+`"` != k.Raw || vals[n] != v.Raw {
			t.Fatalf("%q: member %d is %q:%q, gjson says %s:%s", in, n, keys, vals, k.Raw, v.Raw)
		}
		n++
		return true
	})
	if n != len(keys) {
		t.Fatalf("%q: %d members, gjson %d", in, len(keys), n)
	}
}

func FuzzMembers(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) { check(t, in) })
}

func BenchmarkMembers(b *testing.B) {
	in := []byte(`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1730000000,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"content":"word "},"logprobs":null,"finish_reason":null}],"usage":null}`)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		Members(in, func(k, v []byte) {})
	}
}

func BenchmarkGJSONValid(b *testing.B) {
	in := []byte(`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1730000000,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"content":"word "},"logprobs":null,"finish_reason":null}],"usage":null}`)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		gjson.ValidBytes(in)
	}
}
