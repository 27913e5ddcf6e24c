package fakellm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// The credentials and region the Bedrock fake verifies SigV4 signatures with. Point the
// adapter (or AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION) at them.
const (
	BedrockAccessKeyID     = "AKIDFAKEPYLON0000000"
	BedrockSecretAccessKey = "fake/secret/key/for/pylon/tests/0000000000"
	BedrockRegion          = "us-east-1"
	// BedrockSessionToken is accepted (not required) as X-Amz-Security-Token.
	BedrockSessionToken = "fake-session-token"
)

// Bedrock starts a fake of the Bedrock Runtime Converse API: POST /model/{modelId}/converse
// and /model/{modelId}/converse-stream (the id path-escaped). Every request must be signed
// with SigV4 (service bedrock, region BedrockRegion) using the Bedrock* credentials: the
// fake recomputes the signature with the same signer and answers 403
// InvalidSignatureException on a mismatch. When Key is set, "Authorization: Bearer <Key>"
// (a Bedrock API key) is accepted instead.
//
// Errors carry the type in x-amzn-errortype (ErrType, default from the status) and
// {"message"} in the body. Streams are binary event-stream frames: messageStart, text
// deltas (block 0, no start event), tool-use blocks (start, two input fragments, stop),
// messageStop and metadata with the usage. With FailAfter, ErrType names a stream
// exception (throttlingException...) sent as an exception frame.
func Bedrock(t testing.TB) *Server {
	s := &Server{}
	var n atomic.Int64
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Amzn-Requestid", "fake-request-"+strconv.FormatInt(n.Add(1), 10))
		s.serveBedrock(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func bedrockErrorType(status int) string {
	switch status {
	case 400:
		return "ValidationException"
	case 403:
		return "AccessDeniedException"
	case 404:
		return "ResourceNotFoundException"
	case 408:
		return "ModelTimeoutException"
	case 424:
		return "ModelErrorException"
	case 429:
		return "ThrottlingException"
	case 503:
		return "ServiceUnavailableException"
	}
	return "InternalServerException"
}

func bedrockError(w http.ResponseWriter, status int, typ, msg string, retryAfter time.Duration) {
	if typ == "" {
		typ = bedrockErrorType(status)
	}
	if retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((retryAfter+time.Second-1)/time.Second)))
	}
	w.Header().Set("X-Amzn-Errortype", typ+":http://internal.amazon.com/coral/com.amazon.bedrock/")
	writeJSON(w, status, map[string]any{"message": msg})
}

// verifySigV4 recomputes the signature of r over the headers it says it signed.
func verifySigV4(r *http.Request, body []byte) string {
	auth := r.Header.Get("Authorization")
	const algo = "AWS4-HMAC-SHA256 "
	if !strings.HasPrefix(auth, algo) {
		return "Missing Authentication Token"
	}
	var signed []string
	for _, f := range strings.Split(strings.TrimPrefix(auth, algo), ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(f), "SignedHeaders="); ok {
			signed = strings.Split(v, ";")
		}
	}
	when, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return "missing or bad X-Amz-Date"
	}
	creds := aws.Credentials{AccessKeyID: BedrockAccessKeyID, SecretAccessKey: BedrockSecretAccessKey}
	if tok := r.Header.Get("X-Amz-Security-Token"); tok != "" {
		if tok != BedrockSessionToken {
			return "The security token included in the request is invalid."
		}
		creds.SessionToken = tok
	}
	u := &url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	re, _ := http.NewRequest(r.Method, u.String(), bytes.NewReader(body))
	re.Host = r.Host
	re.ContentLength = r.ContentLength
	for _, h := range signed {
		if h != "host" && h != "content-length" {
			re.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, re, hex.EncodeToString(sum[:]), "bedrock", BedrockRegion, when); err != nil {
		return err.Error()
	}
	if re.Header.Get("Authorization") != auth {
		return "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method."
	}
	return ""
}

func (s *Server) serveBedrock(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rep := s.next(r, body)
	if bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		if s.Key == "" || bearer != s.Key {
			bedrockError(w, 403, "UnrecognizedClientException", "The security token included in the request is invalid.", 0)
			return
		}
	} else if msg := verifySigV4(r, body); msg != "" {
		typ := "InvalidSignatureException"
		if strings.HasPrefix(msg, "Missing") {
			typ = "MissingAuthenticationTokenException"
		}
		bedrockError(w, 403, typ, msg, 0)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), "/model/")
	i := strings.LastIndexByte(rest, '/')
	if !ok || r.Method != http.MethodPost || i <= 0 {
		bedrockError(w, 404, "UnknownOperationException", "unknown operation "+r.Method+" "+r.URL.Path, 0)
		return
	}
	model, _ := url.PathUnescape(rest[:i])
	op := rest[i+1:]
	if rep.Status != 0 && rep.Status != 200 {
		msg := rep.ErrMessage
		if msg == "" {
			msg = "fake error"
		}
		bedrockError(w, rep.Status, rep.ErrType, msg, rep.RetryAfter)
		return
	}
	var req struct {
		Messages []json.RawMessage `json:"messages"`
	}
	if err := json.Unmarshal(body, &req); err != nil || len(req.Messages) == 0 {
		bedrockError(w, 400, "ValidationException", "The provided request is not valid", 0)
		return
	}
	switch op {
	case "converse":
		bedrockChat(w, model, rep)
	case "converse-stream":
		bedrockStream(w, rep)
	default:
		bedrockError(w, 404, "UnknownOperationException", "unknown operation "+op, 0)
	}
}

func bedrockStop(rep Reply) string {
	if rep.StopReason != "" {
		return rep.StopReason
	}
	if len(rep.ToolCalls) > 0 {
		return "tool_use"
	}
	return "end_turn"
}

func bedrockUsage(rep Reply) map[string]any {
	u := map[string]any{"inputTokens": rep.PromptTokens, "outputTokens": rep.CompletionTokens,
		"totalTokens": rep.PromptTokens + rep.CompletionTokens + rep.CachedTokens}
	if rep.CachedTokens > 0 {
		u["cacheReadInputTokens"] = rep.CachedTokens
	}
	return u
}

func bedrockToolID(tc ToolCall, i int) string {
	if tc.ID != "" {
		return tc.ID
	}
	return "tooluse_fake" + strconv.Itoa(i)
}

func bedrockChat(w http.ResponseWriter, model string, rep Reply) {
	var content []any
	if rep.Reasoning != "" {
		content = append(content, map[string]any{"reasoningContent": map[string]any{"reasoningText": map[string]any{"text": rep.Reasoning, "signature": "fake-sig"}}})
	}
	if rep.Text != "" {
		content = append(content, map[string]any{"text": rep.Text})
	}
	for i, tc := range rep.ToolCalls {
		input := json.RawMessage(tc.Arguments)
		if !json.Valid(input) {
			input = json.RawMessage("{}")
		}
		content = append(content, map[string]any{"toolUse": map[string]any{"toolUseId": bedrockToolID(tc, i), "name": tc.Name, "input": input}})
	}
	writeJSON(w, 200, map[string]any{
		"output":     map[string]any{"message": map[string]any{"role": "assistant", "content": content}},
		"stopReason": bedrockStop(rep), "usage": bedrockUsage(rep), "metrics": map[string]any{"latencyMs": 42},
	})
}

// BedrockFrame encodes one event-stream frame: an event (msgType "event") or an exception.
func BedrockFrame(msgType, name string, payload any) []byte {
	var h eventstream.Headers
	h.Set(":message-type", eventstream.StringValue(msgType))
	if msgType == "exception" {
		h.Set(":exception-type", eventstream.StringValue(name))
	} else {
		h.Set(":event-type", eventstream.StringValue(name))
	}
	h.Set(":content-type", eventstream.StringValue("application/json"))
	b, _ := json.Marshal(payload)
	var buf bytes.Buffer
	if err := eventstream.NewEncoder().Encode(&buf, eventstream.Message{Headers: h, Payload: b}); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

func bedrockStream(w http.ResponseWriter, rep Reply) {
	w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
	w.WriteHeader(200)
	send := func(msgType, name string, payload map[string]any) {
		payload["p"] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0"[:1+len(name)%20] // random-length padding, as Bedrock sends
		w.Write(BedrockFrame(msgType, name, payload))
		flush(w)
		if rep.ChunkDelay > 0 {
			time.Sleep(rep.ChunkDelay)
		}
	}
	send("event", "messageStart", map[string]any{"role": "assistant"})
	block := 0
	if rep.Reasoning != "" {
		send("event", "contentBlockDelta", map[string]any{"contentBlockIndex": block, "delta": map[string]any{"reasoningContent": map[string]any{"text": rep.Reasoning}}})
		send("event", "contentBlockDelta", map[string]any{"contentBlockIndex": block, "delta": map[string]any{"reasoningContent": map[string]any{"signature": "fake-sig"}}})
		send("event", "contentBlockStop", map[string]any{"contentBlockIndex": block})
		block++
	}
	deltas := words(rep.Text, rep.Chunks)
	for n, part := range deltas {
		if rep.TruncateAfter > 0 && n == rep.TruncateAfter {
			return
		}
		if rep.ErrType != "" && n == rep.FailAfter {
			send("exception", rep.ErrType, map[string]any{"message": "fake mid-stream error"})
			return
		}
		send("event", "contentBlockDelta", map[string]any{"contentBlockIndex": block, "delta": map[string]any{"text": part}})
	}
	if len(deltas) > 0 {
		send("event", "contentBlockStop", map[string]any{"contentBlockIndex": block})
		block++
	}
	for i, tc := range rep.ToolCalls {
		send("event", "contentBlockStart", map[string]any{"contentBlockIndex": block,
			"start": map[string]any{"toolUse": map[string]any{"toolUseId": bedrockToolID(tc, i), "name": tc.Name}}})
		half := len(tc.Arguments) / 2
		for _, frag := range []string{tc.Arguments[:half], tc.Arguments[half:]} {
			if frag != "" {
				send("event", "contentBlockDelta", map[string]any{"contentBlockIndex": block, "delta": map[string]any{"toolUse": map[string]any{"input": frag}}})
			}
		}
		send("event", "contentBlockStop", map[string]any{"contentBlockIndex": block})
		block++
	}
	send("event", "messageStop", map[string]any{"stopReason": bedrockStop(rep)})
	send("event", "metadata", map[string]any{"usage": bedrockUsage(rep), "metrics": map[string]any{"latencyMs": 42}})
}
