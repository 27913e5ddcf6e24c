package openai

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"testing/iotest"

	"github.com/pylon-gateway/pylon/internal/llm"
	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
)

var update = flag.Bool("update", false, "rewrite the expected.json golden files")

var kindNames = map[llm.Kind]string{
	llm.KindInvalidRequest: "invalid_request", llm.KindAuthentication: "authentication", llm.KindPermission: "permission",
	llm.KindNotFound: "not_found", llm.KindTooLarge: "too_large", llm.KindRateLimit: "rate_limit", llm.KindQuota: "quota",
	llm.KindInternal: "internal", llm.KindUpstream: "upstream", llm.KindOverloaded: "overloaded", llm.KindTimeout: "timeout",
}

// errorJSON is how a golden file shows an *llm.Error.
func errorJSON(t testing.TB, err error) map[string]any {
	t.Helper()
	var e *llm.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *llm.Error", err, err)
	}
	m := map[string]any{"kind": kindNames[e.Kind], "status": e.Status(), "message": e.Message}
	if e.Param != "" {
		m["param"] = e.Param
	}
	if e.Code != "" {
		m["code"] = e.Code
	}
	if e.RetryAfter != 0 {
		m["retry_after"] = e.RetryAfter.String()
	}
	if e.Upstream != 0 {
		m["upstream"] = e.Upstream
	}
	return m
}

// testCall is the call of a case; call.json, when present, overrides the defaults.
type testCall struct {
	Profile    string `json:"profile"`     // a key of Profiles (default openai)
	APIVersion string `json:"api_version"` // Azure
	Model      string `json:"model"`       // the provider's model id
	BaseURL    string `json:"base_url"`
	APIKey     string `json:"api_key"`
	Stream     *bool  `json:"stream"` // default: the request's stream
	// Raw says whether the client spoke OpenAI (its body is kept as ChatRequest.Raw);
	// false is a request that came from another dialect (default true).
	Raw *bool `json:"raw"`
}

func loadCall(t *testing.T, dir string) testCall {
	t.Helper()
	tc := testCall{Profile: "openai", Model: "gpt-4o-mini", BaseURL: "https://api.example.com/v1", APIKey: "sk-test"}
	if p := filepath.Join(dir, "call.json"); exists(p) {
		if err := json.Unmarshal(readFile(t, p), &tc); err != nil {
			t.Fatal(err)
		}
	}
	return tc
}

func (tc testCall) adapter(t testing.TB) *Adapter {
	t.Helper()
	a, err := New(tc.Profile)
	if err != nil {
		t.Fatal(err)
	}
	a.APIVersion = tc.APIVersion
	return a
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func exists(path string) bool { _, err := os.Stat(path); return err == nil }

// Each directory of testdata is one case; its input file says what runs, call.json the
// profile and call (see testCall), expected.json the result (go test -update rewrites it):
//   - in.json: a client's OpenAI body, turned into the upstream request (URL, credential
//     headers, body);
//   - upstream.sse: recorded upstream SSE bytes decoded into chunks, whole and one byte at
//     a time;
//   - upstream.json: a non-streamed upstream answer (200) decoded by DecodeChat, then
//     completed with ChatResponse.Decode.
func TestGolden(t *testing.T) {
	dirs, _ := filepath.Glob("testdata/*")
	if len(dirs) == 0 {
		t.Fatal("no golden cases")
	}
	for _, dir := range dirs {
		if filepath.Base(dir) == "fuzz" { // the fuzzers' corpus
			continue
		}
		t.Run(filepath.Base(dir), func(t *testing.T) {
			tc := loadCall(t, dir)
			var got any
			switch {
			case exists(filepath.Join(dir, "in.json")):
				got = runRequest(t, tc, readFile(t, filepath.Join(dir, "in.json")))
			case exists(filepath.Join(dir, "upstream.sse")):
				in := readFile(t, filepath.Join(dir, "upstream.sse"))
				a := tc.adapter(t)
				got = runStream(t, a, io.NopCloser(bytes.NewReader(in)))
				// The same bytes one at a time must give the same chunks.
				if one := runStream(t, a, io.NopCloser(iotest.OneByteReader(bytes.NewReader(in)))); !reflect.DeepEqual(normalize(t, one), normalize(t, got)) {
					t.Errorf("byte-at-a-time decoding differs:\n%s", pretty(t, one))
				}
			case exists(filepath.Join(dir, "upstream.json")):
				got = runDecode(t, tc, readFile(t, filepath.Join(dir, "upstream.json")))
			default:
				t.Fatalf("%s has no input file", dir)
			}
			compareGolden(t, filepath.Join(dir, "expected.json"), got)
		})
	}
}

// parseClient parses a client's body as the OpenAI dialect does (without its validation,
// which has its own tests), keeping the body as Raw when the client spoke OpenAI.
func parseClient(t testing.TB, body []byte, raw bool) *openai.ChatRequest {
	t.Helper()
	var req openai.ChatRequest
	if err := json.Unmarshal(body, &req); err != nil {
		t.Fatal(err)
	}
	if raw {
		req.Raw = body
	}
	return &req
}

func runRequest(t *testing.T, tc testCall, body []byte) any {
	req := parseClient(t, body, tc.Raw == nil || *tc.Raw)
	before := pretty(t, req)
	rawBefore := append([]byte(nil), req.Raw...)
	stream := req.Stream
	if tc.Stream != nil {
		stream = *tc.Stream
	}
	c := &llm.Call{Request: req, Model: tc.Model, BaseURL: tc.BaseURL, APIKey: tc.APIKey, Stream: stream}
	hr, err := tc.adapter(t).ChatRequest(t.Context(), c)
	if err != nil {
		return map[string]any{"error": errorJSON(t, err)}
	}
	// The adapter must not modify the canonical request: a fallback reuses it.
	if after := pretty(t, req); !bytes.Equal(before, after) || !bytes.Equal(rawBefore, req.Raw) {
		t.Errorf("the request changed:\n%s\n%s", before, after)
	}
	b, err := io.ReadAll(hr.Body)
	if err != nil {
		t.Fatal(err)
	}
	if hr.GetBody == nil || hr.ContentLength != int64(len(b)) {
		t.Error("the request body must be replayable (retries) and sized")
	}
	var m any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("body %q: %v", b, err)
	}
	hdr := map[string]string{}
	for _, k := range []string{"Authorization", "Api-Key", "Content-Type", "Accept"} {
		if v := hr.Header.Get(k); v != "" {
			hdr[k] = v
		}
	}
	return map[string]any{"method": hr.Method, "url": hr.URL.String(), "headers": hdr, "body": m}
}

// streamOut is how a golden file shows a decoded chunk: the canonical chunk, and the raw
// event data relayed to OpenAI clients when the adapter kept it.
type streamOut struct {
	Chunk *openai.ChatChunk `json:"chunk"`
	Raw   json.RawMessage   `json:"raw,omitempty"`
}

func runStream(t testing.TB, a *Adapter, body io.ReadCloser) any {
	t.Helper()
	r := a.ChatStream(&http.Response{StatusCode: 200, Body: body}, &llm.Call{Model: "m", Stream: true})
	defer r.Close()
	chunks := []streamOut{}
	for range 10000 {
		c, err := r.Next()
		if err == io.EOF {
			return map[string]any{"chunks": chunks, "end": "EOF"}
		}
		if err != nil {
			return map[string]any{"chunks": chunks, "error": errorJSON(t, err)}
		}
		if c.Raw != nil && !json.Valid(c.Raw) {
			t.Fatalf("raw chunk %q is not JSON", c.Raw)
		}
		if err := c.Decode(); err != nil { // lazy chunks: what a non-OpenAI dialect sees
			t.Fatalf("decode %q: %v", c.Raw, err)
		}
		chunks = append(chunks, streamOut{Chunk: c, Raw: json.RawMessage(c.Raw)})
	}
	t.Fatal("the stream does not end")
	return nil
}

func runDecode(t *testing.T, tc testCall, body []byte) any {
	decode := func(length int64) (*openai.ChatResponse, error) {
		resp := &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(iotest.HalfReader(bytes.NewReader(body))), ContentLength: length}
		return tc.adapter(t).DecodeChat(resp, &llm.Call{Model: tc.Model})
	}
	out, err := decode(int64(len(body)))
	// A chunked answer (length unknown) decodes the same.
	if out2, err2 := decode(-1); !reflect.DeepEqual(normalize(t, out2), normalize(t, out)) || (err == nil) != (err2 == nil) {
		t.Errorf("decoding with an unknown length differs: %v %v", out2, err2)
	}
	if err != nil {
		return map[string]any{"error": errorJSON(t, err)}
	}
	m := map[string]any{"raw_kept": out.Raw != nil, "usage": out.Usage}
	if out.Raw != nil {
		if !bytes.Equal(out.Raw, body) {
			t.Error("Raw is not the upstream body")
		}
		m["choices_before_decode"] = out.Choices != nil
	}
	if err := out.Decode(); err != nil {
		t.Fatal(err)
	}
	m["decoded"] = out
	return m
}

func pretty(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

func normalize(t testing.TB, v any) any {
	t.Helper()
	var out any
	if err := json.Unmarshal(pretty(t, v), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// compareGolden compares v with the golden file as JSON values (formatting is free).
func compareGolden(t *testing.T, path string, v any) {
	t.Helper()
	got := pretty(t, v)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	var w any
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if !reflect.DeepEqual(w, normalize(t, v)) {
		t.Errorf("%s differs:\n--- got\n%s--- want\n%s", path, got, want)
	}
}
