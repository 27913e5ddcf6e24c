package gateway

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pylon-gateway/pylon/internal/config"
	openaiadapter "github.com/pylon-gateway/pylon/internal/llm/provider/openai"
	"github.com/pylon-gateway/pylon/internal/stats"
	"github.com/pylon-gateway/pylon/internal/stream"
)

// stubUpstream answers every request with one canned body, as a fake OpenAI would, after
// reading the request body as a transport does.
type stubUpstream struct {
	body   []byte
	header http.Header
}

func (s *stubUpstream) RoundTrip(req *http.Request) (*http.Response, error) {
	io.Copy(io.Discard, req.Body)
	req.Body.Close()
	return &http.Response{StatusCode: 200, Header: s.header, ContentLength: int64(len(s.body)),
		Body: io.NopCloser(bytes.NewReader(s.body)), Request: req}, nil
}

// discardWriter is a flushable ResponseWriter that keeps nothing but the status.
type discardWriter struct {
	h      http.Header
	status int
	n      int
	buf    bytes.Buffer
	keep   bool
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) WriteHeader(s int)   { w.status = s }
func (w *discardWriter) Write(b []byte) (int, error) {
	w.n += len(b)
	if w.keep {
		w.buf.Write(b)
	}
	return len(b), nil
}
func (w *discardWriter) Flush() {}

const benchUpstreamChat = `{"id":"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","object":"chat.completion","created":1741569952,"model":"gpt-4o-mini-2024-07-18",` +
	`"choices":[{"index":0,"message":{"role":"assistant","content":"Hello! How can I assist you today? I am happy to help with anything you need.","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],` +
	`"usage":{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},` +
	`"service_tier":"default","system_fingerprint":"fp_06737a9306"}`

// benchUpstreamStream is an OpenAI stream: the role chunk, 8 content chunks, the finish
// chunk, the usage chunk and [DONE].
func benchUpstreamStream() []byte {
	const h = `"id":"chatcmpl-1","object":"chat.completion.chunk","created":1730000000,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_1"`
	var sb strings.Builder
	sb.WriteString(`data: {` + h + `,"choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}` + "\n\n")
	for i := range 8 {
		sb.WriteString(`data: {` + h + `,"choices":[{"index":0,"delta":{"content":"word` + strconv.Itoa(i) + ` "},"logprobs":null,"finish_reason":null}],"usage":null}` + "\n\n")
	}
	sb.WriteString(`data: {` + h + `,"choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}` + "\n\n")
	sb.WriteString(`data: {` + h + `,"choices":[],"usage":{"prompt_tokens":25,"completion_tokens":8,"total_tokens":33,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0}}}` + "\n\n")
	sb.WriteString("data: [DONE]\n\n")
	return []byte(sb.String())
}

const benchClientBody = `{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful assistant."},` +
	`{"role":"user","content":"Say hello in one short sentence, then tell me a fun fact about the ocean."}],"temperature":0.7,"max_tokens":256%s}`

// benchGateway is a gateway with one OpenAI provider answered by upstream, with metrics on
// as in production.
func benchGateway(b *testing.B, upstream []byte, ct string) *Gateway {
	b.Helper()
	cfg := &config.Config{Providers: []config.Provider{{Name: "oa", Type: "demo", Models: []string{"gpt-4o-mini"},
		Timeout: config.Duration(time.Minute)}}}
	cfg.LLM.MaxRequestBytes = 1 << 20
	g, err := New(cfg, Options{Stats: stats.New()})
	if err != nil {
		b.Fatal(err)
	}
	p := g.providers["oa"]
	a, _ := openaiadapter.New("openai")
	p.adapter, p.typ = a, "openai"
	p.baseURL = "https://api.openai.com/v1"
	p.keys = []*apiKey{{value: "sk-test", weight: 1}}
	p.total = 1
	p.transport = &stubUpstream{body: upstream, header: http.Header{"Content-Type": {ct}}}
	return g
}

func benchServe(b *testing.B, g *Gateway, body string, check func(*discardWriter)) {
	w := &discardWriter{h: http.Header{}}
	info := &stream.Info{}
	rd := strings.NewReader(body)
	r, _ := http.NewRequest(http.MethodPost, "http://pylon/v1/chat/completions", rd)
	r.Header.Set("Content-Type", "application/json")
	// One warm-up call, checked.
	w.keep = true
	g.ServeLLM(w, r, info, nil)
	if w.status != 200 {
		b.Fatalf("status %d: %s", w.status, w.buf.String())
	}
	check(w)
	w.keep = false
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		clear(w.h)
		w.status, w.n = 0, 0
		rd.Reset(body)
		r.Body = io.NopCloser(rd)
		r.ContentLength = int64(len(body))
		*info = stream.Info{Start: time.Now()}
		g.ServeLLM(w, r, info, nil)
		if w.status != 200 {
			b.Fatalf("status %d", w.status)
		}
	}
}

// BenchmarkServeChat serves an OpenAI chat completion against an OpenAI provider in
// process: parse, route, build the upstream request, decode and write the answer.
func BenchmarkServeChat(b *testing.B) {
	g := benchGateway(b, []byte(benchUpstreamChat), "application/json")
	body := strings.Replace(benchClientBody, "%s", "", 1)
	benchServe(b, g, body, func(w *discardWriter) {
		if !strings.Contains(w.buf.String(), `"content":"Hello! How can I assist`) {
			b.Fatalf("answer %s", w.buf.String())
		}
	})
}

// BenchmarkServeChatStream is BenchmarkServeChat streamed, the client asking for usage or not.
func BenchmarkServeChatStream(b *testing.B) {
	for _, bc := range []struct{ name, extra string }{
		{"plain", `,"stream":true`},
		{"usage", `,"stream":true,"stream_options":{"include_usage":true}`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			g := benchGateway(b, benchUpstreamStream(), "text/event-stream")
			body := strings.Replace(benchClientBody, "%s", bc.extra, 1)
			benchServe(b, g, body, func(w *discardWriter) {
				out := w.buf.String()
				if strings.Count(out, "data: ") != 12+strings.Count(bc.extra, "include_usage")-1 || !strings.HasSuffix(out, "data: [DONE]\n\n") {
					b.Fatalf("stream %s", out)
				}
			})
		})
	}
}
