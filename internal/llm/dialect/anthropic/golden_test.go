package anthropic

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pylon-gateway/pylon/internal/llm"
	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
)

var update = flag.Bool("update", false, "rewrite the expected golden files")

var kinds = map[string]llm.Kind{
	"invalid_request": llm.KindInvalidRequest, "authentication": llm.KindAuthentication, "permission": llm.KindPermission,
	"not_found": llm.KindNotFound, "too_large": llm.KindTooLarge, "rate_limit": llm.KindRateLimit, "quota": llm.KindQuota,
	"internal": llm.KindInternal, "upstream": llm.KindUpstream, "overloaded": llm.KindOverloaded, "timeout": llm.KindTimeout,
}

// testError is how a golden input names an *llm.Error.
type testError struct {
	Kind         string `json:"kind"`
	Message      string `json:"message"`
	RetryAfterMS int    `json:"retry_after_ms"`
	Upstream     int    `json:"upstream"`
}

func (e testError) err() *llm.Error {
	return &llm.Error{Kind: kinds[e.Kind], Message: e.Message, RetryAfter: time.Duration(e.RetryAfterMS) * time.Millisecond, Upstream: e.Upstream}
}

func errorOut(e *llm.Error) map[string]any {
	for name, k := range kinds {
		if k == e.Kind {
			m := map[string]any{"kind": name, "message": e.Message}
			if e.Param != "" {
				m["param"] = e.Param
			}
			return m
		}
	}
	return nil
}

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func exists(path string) bool { _, err := os.Stat(path); return err == nil }

func pretty(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// golden compares got with the file: as JSON values for .json, byte for byte otherwise.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
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
	if strings.HasSuffix(path, ".json") {
		var g, w any
		if json.Unmarshal(got, &g) != nil || json.Unmarshal(want, &w) != nil {
			t.Fatalf("%s: not JSON", path)
		}
		if reflect.DeepEqual(g, w) {
			return
		}
	} else if bytes.Equal(got, want) {
		return
	}
	t.Errorf("%s differs:\n--- got\n%s--- want\n%s", path, got, want)
}

// Each directory of testdata is one case; its input file says what runs:
// request.json (an Anthropic request parsed into the canonical form), count_tokens.json,
// response.json ({request, response}: a canonical answer written as an Anthropic message),
// chunks.json ({request, chunks, fail?}: canonical chunks written as an Anthropic stream,
// expected.sse), error.json (an *llm.Error written as an Anthropic error answer).
func TestGolden(t *testing.T) {
	dirs, _ := filepath.Glob("testdata/*")
	if len(dirs) == 0 {
		t.Fatal("no golden cases")
	}
	d := New()
	for _, dir := range dirs {
		if filepath.Base(dir) == "fuzz" { // the fuzzers' corpus
			continue
		}
		t.Run(filepath.Base(dir), func(t *testing.T) {
			in := func(name string) string { return filepath.Join(dir, name) }
			switch {
			case exists(in("request.json")), exists(in("count_tokens.json")):
				var req *openai.ChatRequest
				var e *llm.Error
				if exists(in("request.json")) {
					req, e = d.ParseChat(read(t, in("request.json")))
				} else {
					req, e = d.ParseCountTokens(read(t, in("count_tokens.json")))
				}
				out := map[string]any{"canonical": req}
				if e != nil {
					out = map[string]any{"error": errorOut(e)}
				}
				golden(t, in("expected.json"), pretty(t, out))
			case exists(in("response.json")):
				var c struct {
					Request  openai.ChatRequest  `json:"request"`
					Response openai.ChatResponse `json:"response"`
				}
				if err := json.Unmarshal(read(t, in("response.json")), &c); err != nil {
					t.Fatal(err)
				}
				w := httptest.NewRecorder()
				if err := d.WriteChat(w, &c.Response, &c.Request); err != nil {
					t.Fatal(err)
				}
				if w.Code != 200 || w.Header().Get("Content-Type") != "application/json" {
					t.Errorf("status %d, headers %v", w.Code, w.Header())
				}
				golden(t, in("expected.json"), w.Body.Bytes())
			case exists(in("chunks.json")):
				var c struct {
					Request openai.ChatRequest  `json:"request"`
					Chunks  []*openai.ChatChunk `json:"chunks"`
					Fail    *testError          `json:"fail"`
				}
				if err := json.Unmarshal(read(t, in("chunks.json")), &c); err != nil {
					t.Fatal(err)
				}
				w := httptest.NewRecorder()
				sw := d.NewStream(w, &c.Request)
				for _, ch := range c.Chunks {
					if err := sw.WriteChunk(ch); err != nil {
						t.Fatal(err)
					}
				}
				if c.Fail != nil {
					if err := sw.Fail(c.Fail.err()); err != nil {
						t.Fatal(err)
					}
				} else if err := sw.Close(); err != nil {
					t.Fatal(err)
				}
				if len(c.Chunks) > 0 {
					if w.Code != 200 || w.Header().Get("Content-Type") != "text/event-stream" || w.Header().Get("Cache-Control") != "no-cache" || !w.Flushed {
						t.Errorf("status %d, headers %v, flushed %v", w.Code, w.Header(), w.Flushed)
					}
				}
				golden(t, in("expected.sse"), w.Body.Bytes())
			case exists(in("error.json")):
				var te testError
				if err := json.Unmarshal(read(t, in("error.json")), &te); err != nil {
					t.Fatal(err)
				}
				w := httptest.NewRecorder()
				w.Header().Set("Request-Id", "req_test")
				d.WriteError(w, te.err())
				var body any
				if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
					t.Fatalf("error body %q: %v", w.Body, err)
				}
				hdr := map[string]string{}
				for _, k := range []string{"Content-Type", "Retry-After", "X-Should-Retry"} {
					if v := w.Header().Get(k); v != "" {
						hdr[k] = v
					}
				}
				golden(t, in("expected.json"), pretty(t, map[string]any{"status": w.Code, "headers": hdr, "body": body}))
			default:
				t.Fatalf("%s has no input file", dir)
			}
		})
	}
}

// Fail before anything was written answers with a plain error (status and retry-after).
func TestFailBeforeStart(t *testing.T) {
	w := httptest.NewRecorder()
	sw := New().NewStream(w, &openai.ChatRequest{Model: "claude-x"})
	if sw.Started() {
		t.Fatal("started before the first chunk")
	}
	if err := sw.Fail(&llm.Error{Kind: llm.KindOverloaded, Message: "Overloaded", RetryAfter: 2 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if w.Code != 503 || w.Header().Get("Retry-After") != "2" || w.Header().Get("Content-Type") != "application/json" ||
		!strings.Contains(w.Body.String(), `"type":"overloaded_error"`) {
		t.Errorf("%d %v %s", w.Code, w.Header(), w.Body)
	}
}

// Headers are written once, on the first chunk.
func TestStreamHeadersOnFirstChunkOnly(t *testing.T) {
	rec := &countingWriter{ResponseRecorder: httptest.NewRecorder()}
	sw := New().NewStream(rec, &openai.ChatRequest{Model: "m"})
	if rec.headers != 0 || rec.Body.Len() != 0 {
		t.Fatal("NewStream wrote")
	}
	for range 3 {
		_ = sw.WriteChunk(&openai.ChatChunk{ID: "x", Choices: []openai.ChunkChoice{{Delta: openai.Delta{Content: openai.Ptr("a")}}}})
	}
	_ = sw.Close()
	if rec.headers != 1 || !sw.Started() {
		t.Errorf("WriteHeader called %d times", rec.headers)
	}
	if err := sw.WriteChunk(&openai.ChatChunk{}); err == nil {
		t.Error("a write after Close must fail")
	}
}

type countingWriter struct {
	*httptest.ResponseRecorder
	headers int
}

func (c *countingWriter) WriteHeader(code int) { c.headers++; c.ResponseRecorder.WriteHeader(code) }

// Interleaved arguments of two tool calls cannot be expressed as Anthropic blocks.
func TestStreamInterleavedTools(t *testing.T) {
	sw := New().NewStream(httptest.NewRecorder(), &openai.ChatRequest{Model: "m"})
	tc := func(i int, id, args string) *openai.ChatChunk {
		return &openai.ChatChunk{Choices: []openai.ChunkChoice{{Delta: openai.Delta{ToolCalls: []openai.ToolCallDelta{{Index: i, ID: id, Function: openai.FunctionCallDelta{Name: "f", Arguments: args}}}}}}}
	}
	for _, c := range []*openai.ChatChunk{tc(0, "a", "{"), tc(1, "b", "{")} {
		if err := sw.WriteChunk(c); err != nil {
			t.Fatal(err)
		}
	}
	if err := sw.WriteChunk(tc(0, "", "}")); err == nil {
		t.Error("interleaved arguments must be an error")
	}
}

var _ http.Flusher = (*countingWriter)(nil)
