package session

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
)

// TestStoredMessageInStep: storedMessage has openai.Message's fields, with
// the same JSON names, the content aside.
func TestStoredMessageInStep(t *testing.T) {
	a, b := reflect.TypeFor[openai.Message](), reflect.TypeFor[storedMessage]()
	if a.NumField() != b.NumField() {
		t.Fatalf("openai.Message has %d fields, storedMessage %d: update decode.go", a.NumField(), b.NumField())
	}
	for i := range a.NumField() {
		fa, fb := a.Field(i), b.Field(i)
		if fa.Name != fb.Name || fa.Tag != fb.Tag || (fa.Name != "Content" && fa.Type != fb.Type) {
			t.Errorf("field %d: %s %s %s vs %s %s %s", i, fa.Name, fa.Type, fa.Tag, fb.Name, fb.Type, fb.Tag)
		}
	}
}

// FuzzDecodeMessage: decodeMessage agrees with encoding/json on any input
// that encoding/json accepts.
func FuzzDecodeMessage(f *testing.F) {
	for _, m := range append(conversation(), fullMessage(), user("a \"quoted\" \\ back\nslash é ☃ \u2028"), openai.Message{Role: "assistant"}) {
		b, _ := json.Marshal(m)
		f.Add(b)
	}
	f.Add([]byte(`{"role":"user","content":null}`))
	f.Add([]byte(`{"role":"user","content":"\xff\xfe"}`))
	f.Add([]byte(`{"role":"user","content":"a\u0000b"}`))
	f.Add([]byte(`{"role":"user","content":[]}`))
	f.Add([]byte(`{"role":"user","content":5}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var want openai.Message
		if json.Unmarshal(b, &want) != nil {
			return
		}
		var got openai.Message
		if err := decodeMessage(b, &got); err != nil {
			t.Fatalf("decodeMessage(%q): %v; encoding/json accepts it", b, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("decodeMessage(%q)\n got %#v\nwant %#v", b, got, want)
		}
	})
}
