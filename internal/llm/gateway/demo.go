package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
)

// demoTransport is the in-process server of the demo provider: it answers OpenAI chat
// completions (streamed or not), completions and embeddings without any network or key,
// so that a newcomer gets a real answer from the embedded default config. It goes through
// the same adapter, decoding and translation as a real provider.
type demoTransport struct{}

func (demoTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	var in openai.ChatRequest
	if err := json.Unmarshal(body, &in); err != nil {
		return demoResponse(400, "application/json", `{"error":{"message":"demo: the body is not a chat request","type":"invalid_request_error","param":null,"code":null}}`), nil
	}
	switch {
	case strings.HasSuffix(req.URL.Path, "/chat/completions"):
	case strings.HasSuffix(req.URL.Path, "/embeddings"):
		return demoResponse(200, "application/json", `{"object":"list","model":"demo","data":[{"object":"embedding","index":0,"embedding":[0.1,0.2,0.3]}],"usage":{"prompt_tokens":1,"total_tokens":1}}`), nil
	default:
		return demoResponse(404, "application/json", `{"error":{"message":"demo: unknown endpoint","type":"invalid_request_error","param":null,"code":null}}`), nil
	}
	reply := demoReply(&in)
	prompt := 0
	for _, m := range in.Messages {
		prompt += 4 + (len(m.Content.String())+3)/4
	}
	words := strings.SplitAfter(reply, " ")
	usage := fmt.Sprintf(`{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d}`, prompt, len(words), prompt+len(words))
	id := fmt.Sprintf("chatcmpl-demo%d", time.Now().UnixNano())
	now := time.Now().Unix()
	if !in.Stream {
		msg, _ := json.Marshal(reply)
		return demoResponse(200, "application/json", fmt.Sprintf(`{"id":%q,"object":"chat.completion","created":%d,"model":"demo","choices":[{"index":0,"message":{"role":"assistant","content":%s},"finish_reason":"stop"}],"usage":%s}`,
			id, now, msg, usage)), nil
	}
	var b bytes.Buffer
	chunk := func(delta, finish string) {
		fmt.Fprintf(&b, `data: {"id":%q,"object":"chat.completion.chunk","created":%d,"model":"demo","choices":[{"index":0,"delta":%s,"finish_reason":%s}]}`+"\n\n", id, now, delta, finish)
	}
	chunk(`{"role":"assistant","content":""}`, "null")
	for _, w := range words {
		s, _ := json.Marshal(w)
		chunk(`{"content":`+string(s)+`}`, "null")
	}
	chunk(`{}`, `"stop"`)
	if in.IncludeUsage() {
		fmt.Fprintf(&b, `data: {"id":%q,"object":"chat.completion.chunk","created":%d,"model":"demo","choices":[],"usage":%s}`+"\n\n", id, now, usage)
	}
	b.WriteString("data: [DONE]\n\n")
	return demoResponse(200, "text/event-stream", b.String()), nil
}

// demoReply is the demo model's answer: it says what it is and echoes the last user turn.
func demoReply(in *openai.ChatRequest) string {
	last := ""
	for i := len(in.Messages) - 1; i >= 0; i-- {
		if in.Messages[i].Role == "user" {
			last = in.Messages[i].Content.String()
			break
		}
	}
	if len(last) > 200 {
		last = last[:200] + "..."
	}
	return "Hello from Pylon's built-in demo model. You said: \"" + last + "\". " +
		"Add a provider (set OPENAI_API_KEY or ANTHROPIC_API_KEY, or see docs/llm.md) to get real answers."
}

func demoResponse(status int, ctype, body string) *http.Response {
	return &http.Response{StatusCode: status, Status: http.StatusText(status), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {ctype}}, Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body))}
}
