package anthropic

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
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/pylon-gateway/pylon/internal/llm"
	"github.com/pylon-gateway/pylon/internal/llm/schema/anthropic"
	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
)

var update = flag.Bool("update", false, "rewrite the expected.json golden files")

var kindNames = map[llm.Kind]string{
	llm.KindInvalidRequest: "invalid_request", llm.KindAuthentication: "authentication", llm.KindPermission: "permission",
	llm.KindNotFound: "not_found", llm.KindTooLarge: "too_large", llm.KindRateLimit: "rate_limit", llm.KindQuota: "quota",
	llm.KindInternal: "internal", llm.KindUpstream: "upstream", llm.KindOverloaded: "overloaded", llm.KindTimeout: "timeout",
}

// errorJSON is how a golden file shows an *llm.Error.
func errorJSON(t *testing.T, err error) map[string]any {
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

// testCall is the call of a request case; call.json, when present, overrides it.
type testCall struct {
	Model            string `json:"model"`
	DefaultMaxTokens int    `json:"default_max_tokens"`
	Stream           bool   `json:"stream"`
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func exists(path string) bool { _, err := os.Stat(path); return err == nil }

// Each directory of testdata is one case: its input file says what runs (request.json: a
// canonical request translated to an Anthropic body; response.json: an Anthropic message
// decoded; stream.sse: recorded upstream SSE bytes decoded into chunks; error.json: an error
// answer decoded) and expected.json holds the result. go test -update rewrites expected.json.
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
			var got any
			switch {
			case exists(filepath.Join(dir, "request.json")):
				got = runRequest(t, dir)
			case exists(filepath.Join(dir, "response.json")):
				var m anthropic.MessagesResponse
				if err := json.Unmarshal(readFile(t, filepath.Join(dir, "response.json")), &m); err != nil {
					t.Fatal(err)
				}
				got = ConvertResponse(&m, "claude-test", 0)
			case exists(filepath.Join(dir, "stream.sse")):
				in := readFile(t, filepath.Join(dir, "stream.sse"))
				got = runStream(t, io.NopCloser(bytes.NewReader(in)))
				// The same bytes one at a time must give the same chunks.
				if one := runStream(t, io.NopCloser(iotest.OneByteReader(bytes.NewReader(in)))); !reflect.DeepEqual(normalize(t, one), normalize(t, got)) {
					t.Errorf("byte-at-a-time decoding differs:\n%s", pretty(t, one))
				}
			case exists(filepath.Join(dir, "error.json")):
				got = runError(t, dir)
			default:
				t.Fatalf("%s has no input file", dir)
			}
			compareGolden(t, filepath.Join(dir, "expected.json"), got)
		})
	}
}

func runRequest(t *testing.T, dir string) any {
	var req openai.ChatRequest
	if err := json.Unmarshal(readFile(t, filepath.Join(dir, "request.json")), &req); err != nil {
		t.Fatal(err)
	}
	tc := testCall{Model: "claude-sonnet-4-5", DefaultMaxTokens: 8192, Stream: req.Stream}
	if p := filepath.Join(dir, "call.json"); exists(p) {
		if err := json.Unmarshal(readFile(t, p), &tc); err != nil {
			t.Fatal(err)
		}
	}
	body, err := MarshalRequest(&llm.Call{Request: &req, Model: tc.Model, DefaultMaxTokens: tc.DefaultMaxTokens, Stream: tc.Stream})
	if err != nil {
		return map[string]any{"error": errorJSON(t, err)}
	}
	var m any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	return map[string]any{"body": m}
}

func runStream(t *testing.T, body io.ReadCloser) any {
	r := NewStreamReader(body, "claude-test", 200, 0)
	defer r.Close()
	chunks := []*openai.ChatChunk{}
	for range 10000 {
		c, err := r.Next()
		if err == io.EOF {
			return map[string]any{"chunks": chunks, "end": "EOF"}
		}
		if err != nil {
			return map[string]any{"chunks": chunks, "error": errorJSON(t, err)}
		}
		chunks = append(chunks, c)
	}
	t.Fatal("the stream does not end")
	return nil
}

func runError(t *testing.T, dir string) any {
	var in struct {
		Status  int               `json:"status"`
		Headers map[string]string `json:"headers"`
		Body    json.RawMessage   `json:"body"`
	}
	if err := json.Unmarshal(readFile(t, filepath.Join(dir, "error.json")), &in); err != nil {
		t.Fatal(err)
	}
	resp := &http.Response{StatusCode: in.Status, Header: http.Header{}}
	for k, v := range in.Headers {
		resp.Header.Set(k, v)
	}
	body := []byte(in.Body)
	if len(body) > 0 && body[0] == '"' { // a body that is not JSON, given as a string
		var s string
		_ = json.Unmarshal(body, &s)
		body = []byte(s)
	}
	return errorJSON(t, New().DecodeError(resp, body))
}

func pretty(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

func normalize(t *testing.T, v any) any {
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

// Case 1: the URL and headers of the upstream request.
func TestChatRequestHeaders(t *testing.T) {
	req := &openai.ChatRequest{Model: "claude-x", Messages: []openai.Message{{Role: "user", Content: openai.TextContent("Hi")}}}
	for _, stream := range []bool{false, true} {
		hr, err := New().ChatRequest(t.Context(), &llm.Call{Request: req, Model: "claude-sonnet-4-5", BaseURL: "https://api.anthropic.com/v1",
			APIKey: "sk-ant-test", DefaultMaxTokens: 1024, Stream: stream})
		if err != nil {
			t.Fatal(err)
		}
		if hr.Method != "POST" || hr.URL.String() != "https://api.anthropic.com/v1/messages" {
			t.Errorf("request %s %s", hr.Method, hr.URL)
		}
		for k, v := range map[string]string{"X-Api-Key": "sk-ant-test", "Anthropic-Version": "2023-06-01", "Content-Type": "application/json"} {
			if got := hr.Header.Get(k); got != v {
				t.Errorf("%s = %q, want %q", k, got, v)
			}
		}
		if hr.Header.Get("Authorization") != "" {
			t.Error("Authorization must not be sent to Anthropic")
		}
		b, _ := io.ReadAll(hr.Body)
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		if m["model"] != "claude-sonnet-4-5" || m["max_tokens"] != float64(1024) || (m["stream"] == true) != stream {
			t.Errorf("body %s", b)
		}
		if hr.GetBody == nil || hr.ContentLength != int64(len(b)) {
			t.Error("the request body must be replayable (retries) and sized")
		}
	}
}

func TestMissingMaxTokens(t *testing.T) {
	req := &openai.ChatRequest{Model: "claude-x", Messages: []openai.Message{{Role: "user", Content: openai.TextContent("Hi")}}}
	_, err := New().ChatRequest(t.Context(), &llm.Call{Request: req, Model: "m", BaseURL: "http://x"})
	var e *llm.Error
	if !errors.As(err, &e) || e.Kind != llm.KindInvalidRequest || e.Param != "max_tokens" {
		t.Fatalf("got %v, want a 400 naming max_tokens", err)
	}
}

// Case 11: the stop-reason table.
func TestFinishReason(t *testing.T) {
	for in, want := range map[string]string{
		"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "tool_calls", "pause_turn": "stop",
		"refusal": "content_filter", "model_context_window_exceeded": "length", "something_new": "stop",
	} {
		if got := FinishReason(in); got != want {
			t.Errorf("FinishReason(%q) = %q, want %q", in, got, want)
		}
	}
}

// The adapter must not modify the canonical request (a fallback reuses it).
func TestRequestUnmodified(t *testing.T) {
	raw := readFile(t, "testdata/c03_parallel_tools/request.json")
	var req openai.ChatRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		t.Fatal(err)
	}
	before := pretty(t, &req)
	if _, err := MarshalRequest(&llm.Call{Request: &req, Model: "m", DefaultMaxTokens: 10}); err != nil {
		t.Fatal(err)
	}
	if after := pretty(t, &req); !bytes.Equal(before, after) {
		t.Errorf("the request changed:\n%s\n%s", before, after)
	}
}

func TestStreamReadError(t *testing.T) {
	body := io.NopCloser(io.MultiReader(strings.NewReader("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\"}}\n\n"),
		iotest.ErrReader(errors.New("connection reset"))))
	r := NewStreamReader(body, "m", 200, time.Now().Unix())
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	_, err := r.Next()
	var e *llm.Error
	if !errors.As(err, &e) || e.Kind != llm.KindUpstream {
		t.Fatalf("got %v, want an upstream error", err)
	}
	if _, err2 := r.Next(); err2 != err {
		t.Errorf("the error must stick, got %v", err2)
	}
}
