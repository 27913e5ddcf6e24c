package bedrock

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
	"github.com/pylon-gateway/pylon/internal/testutil/fakellm"
)

var update = flag.Bool("update", false, "rewrite the golden expected.json files")

var signTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// testAdapter returns an adapter with the fake's credentials, deterministic ids and clock.
func testAdapter() *Adapter {
	a := New(Options{Region: fakellm.BedrockRegion, AccessKeyID: fakellm.BedrockAccessKeyID, SecretAccessKey: fakellm.BedrockSecretAccessKey})
	n := 0
	a.newID = func() string { n++; return "gen" + strconv.Itoa(n) }
	a.now = func() time.Time { return signTime }
	return a
}

// frame is one event-stream frame of an upstream.frames.json file.
type frame struct {
	Type    string          `json:"type"` // event (default) or exception
	Name    string          `json:"name"` // :event-type or :exception-type
	Payload json.RawMessage `json:"payload"`
}

// encodeFrames builds the binary stream of a frames file.
func encodeFrames(t testing.TB, path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var frames []frame
	if err := json.Unmarshal(b, &frames); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []byte
	for _, f := range frames {
		if f.Type == "" {
			f.Type = "event"
		}
		out = append(out, fakellm.BedrockFrame(f.Type, f.Name, f.Payload)...)
	}
	return out
}

type expected struct {
	URL      string               `json:"url,omitempty"`
	Request  json.RawMessage      `json:"request,omitempty"`
	Error    *llm.Error           `json:"error,omitempty"`
	Response *openai.ChatResponse `json:"response,omitempty"`
	Chunks   []*openai.ChatChunk  `json:"chunks,omitempty"`
	End      *streamEnd           `json:"end,omitempty"`
}

type streamEnd struct {
	EOF   bool       `json:"eof,omitempty"`
	Error *llm.Error `json:"error,omitempty"`
}

// TestGolden runs every testdata/<case>: in.json (a canonical request) gives the Converse
// body; upstream.json (a Converse answer) gives the canonical response;
// upstream.frames.json (event-stream frames) gives the chunk sequence, the same when the
// bytes arrive one at a time or split at any point.
func TestGolden(t *testing.T) {
	dirs, _ := filepath.Glob("testdata/*")
	if len(dirs) == 0 {
		t.Fatal("no golden cases")
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			got := runCase(t, dir, nil)
			checkGolden(t, filepath.Join(dir, "expected.json"), got)
			if _, err := os.Stat(filepath.Join(dir, "upstream.frames.json")); err == nil {
				if b := runCase(t, dir, iotest.OneByteReader); !bytes.Equal(b, got) {
					t.Errorf("read one byte at a time, the stream gives another result:\n%s", b)
				}
				data := encodeFrames(t, filepath.Join(dir, "upstream.frames.json"))
				for k := 1; k < len(data); k++ {
					split := func(r io.Reader) io.Reader { return &splitReader{data: data, at: k} }
					if b := runCase(t, dir, split); !bytes.Equal(b, got) {
						t.Fatalf("split at byte %d, the stream gives another result:\n%s", k, b)
					}
				}
			}
		})
	}
}

// splitReader returns data in two reads, split at a byte offset.
type splitReader struct {
	data []byte
	at   int
	off  int
}

func (r *splitReader) Read(p []byte) (int, error) {
	if r.off >= len(r.data) {
		return 0, io.EOF
	}
	end := len(r.data)
	if r.off < r.at {
		end = r.at
	}
	n := copy(p, r.data[r.off:end])
	r.off += n
	return n, nil
}

func runCase(t *testing.T, dir string, wrap func(io.Reader) io.Reader) []byte {
	t.Helper()
	a := testAdapter()
	var exp expected
	call := &llm.Call{Request: &openai.ChatRequest{}, Model: "anthropic.claude-sonnet-4-5-20250929-v1:0", BaseURL: BaseURL("us-east-1")}
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
	header := http.Header{"X-Amzn-Requestid": {"req-1"}}
	if up, err := os.ReadFile(filepath.Join(dir, "upstream.json")); err == nil {
		resp := &http.Response{StatusCode: 200, Header: header, Body: io.NopCloser(bytes.NewReader(up))}
		r, err := a.DecodeChat(resp, call)
		if err != nil {
			errors.As(err, &exp.Error)
		}
		exp.Response = r
	}
	if _, err := os.Stat(filepath.Join(dir, "upstream.frames.json")); err == nil {
		var body io.Reader = bytes.NewReader(encodeFrames(t, filepath.Join(dir, "upstream.frames.json")))
		if wrap != nil {
			body = wrap(body)
		}
		resp := &http.Response{StatusCode: 200, Header: header, Body: io.NopCloser(body)}
		exp.Chunks, exp.End = drain(a.ChatStream(resp, call))
	}
	out, err := json.MarshalIndent(exp, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(out, '\n')
}

func drain(r llm.ChunkReader) ([]*openai.ChatChunk, *streamEnd) {
	defer r.Close()
	var chunks []*openai.ChatChunk
	for i := 0; i < 100000; i++ {
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
