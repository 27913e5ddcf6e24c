package gemini

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"testing/iotest"
	"time"

	"github.com/pylon-gateway/pylon/internal/llm"
	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
)

var update = flag.Bool("update", false, "rewrite the golden expected.json files")

// testAdapter returns an adapter with deterministic ids and clock.
func testAdapter(o Options) *Adapter {
	a := New(o)
	n := 0
	a.newID = func() string { n++; return "gen" + strconv.Itoa(n) }
	a.now = func() time.Time { return time.Unix(1700000000, 0) }
	return a
}

// expected is the golden output of a case; only the parts the case exercises are set.
type expected struct {
	URL      string               `json:"url,omitempty"`
	Request  json.RawMessage      `json:"request,omitempty"`  // the upstream body built from in.json
	Error    *llm.Error           `json:"error,omitempty"`    // the error of the request mapping
	Response *openai.ChatResponse `json:"response,omitempty"` // upstream.json decoded
	Chunks   []*openai.ChatChunk  `json:"chunks,omitempty"`   // upstream.sse decoded
	End      *streamEnd           `json:"end,omitempty"`      // how the stream ended
}

type streamEnd struct {
	EOF   bool       `json:"eof,omitempty"`
	Error *llm.Error `json:"error,omitempty"`
}

// TestGolden runs every testdata/<case>: in.json (a canonical request) gives the upstream
// request; upstream.json (a generateContent answer) gives the canonical response;
// upstream.sse (a stream) gives the chunk sequence, the same when read one byte at a time.
func TestGolden(t *testing.T) {
	dirs, _ := filepath.Glob("testdata/*")
	if len(dirs) == 0 {
		t.Fatal("no golden cases")
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			got := runCase(t, dir, testAdapter(Options{}), nil)
			checkGolden(t, filepath.Join(dir, "expected.json"), got)
			if _, err := os.Stat(filepath.Join(dir, "upstream.sse")); err == nil {
				oneByte := runCase(t, dir, testAdapter(Options{}), iotest.OneByteReader)
				if !bytes.Equal(oneByte, got) {
					t.Errorf("read one byte at a time, the stream gives another result:\n%s", oneByte)
				}
			}
		})
	}
}

func runCase(t *testing.T, dir string, a *Adapter, wrap func(io.Reader) io.Reader) []byte {
	t.Helper()
	var exp expected
	call := &llm.Call{Request: &openai.ChatRequest{}, Model: "gemini-2.5-flash", BaseURL: DefaultBaseURL, APIKey: "k"}
	if in, err := os.ReadFile(filepath.Join(dir, "in.json")); err == nil {
		if err := json.Unmarshal(in, call.Request); err != nil {
			t.Fatalf("in.json: %v", err)
		}
		call.Model, call.Stream = call.Request.Model, call.Request.Stream
		req, err := a.ChatRequest(context.Background(), call)
		if err != nil {
			var le *llm.Error
			if !errors.As(err, &le) {
				t.Fatalf("ChatRequest error is not an *llm.Error: %v", err)
			}
			exp.Error = le
		} else {
			exp.URL = req.URL.String()
			body, _ := io.ReadAll(req.Body)
			exp.Request = body
		}
	}
	if up, err := os.ReadFile(filepath.Join(dir, "upstream.json")); err == nil {
		resp := &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(up))}
		r, err := a.DecodeChat(resp, call)
		if err != nil {
			var le *llm.Error
			errors.As(err, &le)
			exp.Error = le
		}
		exp.Response = r
	}
	if up, err := os.ReadFile(filepath.Join(dir, "upstream.sse")); err == nil {
		var body io.Reader = bytes.NewReader(up)
		if wrap != nil {
			body = wrap(body)
		}
		resp := &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(body)}
		exp.Chunks, exp.End = drain(a.ChatStream(resp, call))
	}
	out, err := json.MarshalIndent(exp, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(out, '\n')
}

// drain reads a stream to its end.
func drain(r llm.ChunkReader) ([]*openai.ChatChunk, *streamEnd) {
	defer r.Close()
	var chunks []*openai.ChatChunk
	for i := 0; i < 10000; i++ {
		c, err := r.Next()
		if err == io.EOF {
			return chunks, &streamEnd{EOF: true}
		}
		if err != nil {
			var le *llm.Error
			if !errors.As(err, &le) {
				le = &llm.Error{Message: "not an *llm.Error: " + err.Error()}
			}
			return chunks, &streamEnd{Error: le}
		}
		chunks = append(chunks, c)
	}
	return chunks, &streamEnd{Error: &llm.Error{Message: "the stream never ends"}}
}

func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(want, got) {
		t.Errorf("%s differs (run with -update to accept):\n got: %s\nwant: %s", path, got, want)
	}
}
