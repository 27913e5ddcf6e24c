package openai

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/pylon-gateway/pylon/internal/llm"
)

// The raw fast path changes the client's bytes only where it must: key order, spacing and
// unknown fields stay as the client wrote them.
func TestRawFastPathBytes(t *testing.T) {
	for _, tc := range []struct {
		name, profile string
		stream        bool
		in, want      string
	}{
		{"model only", "openai", false,
			`{ "model" : "alias",  "messages":[{"role":"user","content":"Hi"}], "zz_unknown":{"k":[1, 2]} }`,
			`{ "model" : "gpt-4o-mini",  "messages":[{"role":"user","content":"Hi"}], "zz_unknown":{"k":[1, 2]} }`},
		{"usage injected", "openai", true,
			`{"stream":true,"model":"alias","messages":[{"role":"user","content":"Hi"}]}`,
			`{"stream":true,"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}],"stream_options":{"include_usage":true}}`},
		{"usage asked by the client", "openai", true,
			`{"stream":true,"stream_options":{"include_usage":true},"model":"alias","messages":[{"role":"user","content":"Hi"}]}`,
			`{"stream":true,"stream_options":{"include_usage":true},"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}]}`},
		{"other stream options kept", "openai", true,
			`{"stream":true,"stream_options":{"include_obfuscation":false},"model":"alias","messages":[{"role":"user","content":"Hi"}]}`,
			`{"stream":true,"stream_options":{"include_obfuscation":false,"include_usage":true},"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}]}`},
		{"no developer on openai stays raw", "openai", false,
			`{"model":"alias","messages":[{"role":"developer","content":"x"},{"role":"user","content":"Hi"}]}`,
			`{"model":"gpt-4o-mini","messages":[{"role":"developer","content":"x"},{"role":"user","content":"Hi"}]}`},
		{"reasoning kept raw for deepseek", "deepseek", false,
			`{"model":"alias","messages":[{"role":"assistant","content":"a","reasoning_content":"r"},{"role":"user","content":"Hi"}]}`,
			`{"model":"gpt-4o-mini","messages":[{"role":"assistant","content":"a","reasoning_content":"r"},{"role":"user","content":"Hi"}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := New(tc.profile)
			if err != nil {
				t.Fatal(err)
			}
			req := parseClient(t, []byte(tc.in), true)
			hr, err := a.ChatRequest(t.Context(), &llm.Call{Request: req, Model: "gpt-4o-mini", BaseURL: "http://x/v1", Stream: tc.stream})
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(hr.Body)
			if string(got) != tc.want {
				t.Errorf("body\n got %s\nwant %s", got, tc.want)
			}
			if string(req.Raw) != tc.in {
				t.Errorf("the client's body changed: %s", req.Raw)
			}
		})
	}
}

// Case 25: Mistral's ids are 9 alphanumerics, the same for a call and its result, distinct
// for distinct calls; ids that fit are kept.
func TestShortID(t *testing.T) {
	seen := map[string]string{}
	for _, id := range []string{"call_abc123XYZ", "call_abc123XYZ2", "toolu_01A09q90qw90lq917835lq9", "c1", "c2", "", "call_1", "call_2",
		strings.Repeat("x", 1000), "ünïcødé-id"} {
		s := shortID(id)
		if !isShortID(s) {
			t.Errorf("shortID(%q) = %q: not 9 alphanumerics", id, s)
		}
		if s != shortID(id) {
			t.Errorf("shortID(%q) is not deterministic", id)
		}
		if prev, ok := seen[s]; ok {
			t.Errorf("shortID(%q) = shortID(%q) = %q", id, prev, s)
		}
		seen[s] = id
	}
	for _, id := range []string{"Ab3dE6gH9", "000000000", "zzzzzzzzz"} {
		if shortID(id) != id {
			t.Errorf("shortID(%q) = %q, want it kept", id, shortID(id))
		}
	}
	for _, id := range []string{"Ab3dE6gH", "Ab3dE6gH9a", "Ab3dE6g_9", "Ab3dE6g 9"} {
		if isShortID(id) {
			t.Errorf("isShortID(%q)", id)
		}
	}
}

// The credential header of each profile: bearer by default, api-key for Azure, nothing for
// servers that take no key, and nothing when there is no key.
func TestAuthorize(t *testing.T) {
	want := map[string]string{"azure": "api-key", "ollama": "none", "lmstudio": "none"}
	for name, p := range Profiles {
		if p.Name != name {
			t.Errorf("Profiles[%q].Name = %q", name, p.Name)
		}
		a, err := New(name)
		if err != nil {
			t.Fatal(err)
		}
		h := http.Header{}
		a.Authorize(h, "k1")
		switch want[name] {
		case "api-key":
			if h.Get("Api-Key") != "k1" || h.Get("Authorization") != "" {
				t.Errorf("%s: headers %v", name, h)
			}
		case "none":
			if len(h) != 0 {
				t.Errorf("%s: headers %v", name, h)
			}
		default:
			if h.Get("Authorization") != "Bearer k1" || h.Get("Api-Key") != "" {
				t.Errorf("%s: headers %v", name, h)
			}
		}
		h = http.Header{}
		a.Authorize(h, "")
		if len(h) != 0 {
			t.Errorf("%s: no key, headers %v", name, h)
		}
	}
	if _, err := New("nope"); err == nil {
		t.Error("New of an unknown type must fail")
	}
}

func TestDecodeError(t *testing.T) {
	for _, tc := range []struct {
		name    string
		status  int
		headers map[string]string
		body    string
		want    llm.Error
	}{
		{"400 with param", 400, nil,
			`{"error":{"message":"Invalid type for 'messages[1].content'.","type":"invalid_request_error","param":"messages[1].content","code":"invalid_type"}}`,
			llm.Error{Kind: llm.KindInvalidRequest, Message: "Invalid type for 'messages[1].content'.", Param: "messages[1].content", Code: "invalid_type", Upstream: 400}},
		{"400 context length", 400, nil,
			`{"error":{"message":"This model's maximum context length is 128000 tokens.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}`,
			llm.Error{Kind: llm.KindInvalidRequest, Message: "This model's maximum context length is 128000 tokens.", Param: "messages", Code: "context_length_exceeded", Upstream: 400}},
		{"401 invalid key", 401, nil,
			`{"error":{"message":"Incorrect API key provided.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`,
			llm.Error{Kind: llm.KindAuthentication, Message: "Incorrect API key provided.", Code: "invalid_api_key", Upstream: 401}},
		{"403 region", 403, nil,
			`{"error":{"message":"Country, region, or territory not supported","type":"request_forbidden","param":null,"code":"unsupported_country_region_territory"}}`,
			llm.Error{Kind: llm.KindPermission, Message: "Country, region, or territory not supported", Code: "unsupported_country_region_territory", Upstream: 403}},
		{"404 model", 404, nil,
			`{"error":{"message":"The model 'gpt-9' does not exist","type":"invalid_request_error","param":null,"code":"model_not_found"}}`,
			llm.Error{Kind: llm.KindNotFound, Message: "The model 'gpt-9' does not exist", Code: "model_not_found", Upstream: 404}},
		{"429 retry-after seconds", 429, map[string]string{"Retry-After": "7"},
			`{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}`,
			llm.Error{Kind: llm.KindRateLimit, Message: "Rate limit reached", Code: "rate_limit_exceeded", RetryAfter: 7 * time.Second, Upstream: 429}},
		{"429 retry-after-ms wins", 429, map[string]string{"Retry-After": "7", "Retry-After-Ms": "1500"},
			`{"error":{"message":"Rate limit reached","type":"tokens","param":null,"code":"rate_limit_exceeded"}}`,
			llm.Error{Kind: llm.KindRateLimit, Message: "Rate limit reached", Code: "rate_limit_exceeded", RetryAfter: 1500 * time.Millisecond, Upstream: 429}},
		{"429 insufficient_quota by type", 429, nil,
			`{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","param":null,"code":null}}`,
			llm.Error{Kind: llm.KindQuota, Message: "You exceeded your current quota", Upstream: 429}},
		{"429 insufficient_quota by code", 429, map[string]string{"Retry-After": "1"},
			`{"error":{"message":"You exceeded your current quota","type":"billing","param":null,"code":"insufficient_quota"}}`,
			llm.Error{Kind: llm.KindQuota, Message: "You exceeded your current quota", Code: "insufficient_quota", RetryAfter: time.Second, Upstream: 429}},
		{"500", 500, nil,
			`{"error":{"message":"The server had an error","type":"server_error","param":null,"code":null}}`,
			llm.Error{Kind: llm.KindUpstream, Message: "The server had an error", Upstream: 500}},
		{"503 overloaded", 503, map[string]string{"Retry-After": "2"},
			`{"error":{"message":"The engine is currently overloaded","type":"server_error","param":null,"code":null}}`,
			llm.Error{Kind: llm.KindOverloaded, Message: "The engine is currently overloaded", RetryAfter: 2 * time.Second, Upstream: 503}},
		{"529", 529, nil, `{"error":{"message":"Overloaded","type":"overloaded_error"}}`,
			llm.Error{Kind: llm.KindOverloaded, Message: "Overloaded", Upstream: 529}},
		{"504 timeout", 504, nil, ``,
			llm.Error{Kind: llm.KindTimeout, Message: "upstream answered 504", Upstream: 504}},
		{"non-JSON body", 502, nil, `<html><body>502 Bad Gateway</body></html>`,
			llm.Error{Kind: llm.KindUpstream, Message: "upstream answered 502", Upstream: 502}},
		{"numeric code (OpenRouter)", 402, nil, `{"error":{"code":402,"message":"Insufficient credits"}}`,
			llm.Error{Kind: llm.KindUpstream, Message: "Insufficient credits", Upstream: 402}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := &http.Response{StatusCode: tc.status, Header: http.Header{}}
			for k, v := range tc.headers {
				resp.Header.Set(k, v)
			}
			a, _ := New("openai")
			got := a.DecodeError(resp, []byte(tc.body))
			if *got != tc.want {
				t.Errorf("got  %+v\nwant %+v", *got, tc.want)
			}
			if got.Kind == llm.KindQuota && got.Retryable() {
				t.Error("a quota error must not be retried")
			}
		})
	}
}

// After an error the reader keeps returning it: what follows an error event (even a
// [DONE]) never turns the stream into a complete one.
func TestStreamErrorSticks(t *testing.T) {
	for _, in := range []string{
		"data: {\"error\":{\"message\":\"boom\",\"type\":\"server_error\"}}\n\ndata: [DONE]\n\n",
		"data: not json\n\ndata: [DONE]\n\n",
	} {
		a, _ := New("openai")
		r := a.ChatStream(&http.Response{Body: io.NopCloser(strings.NewReader(in))}, &llm.Call{})
		_, err := r.Next()
		var e *llm.Error
		if !errors.As(err, &e) || e.Kind != llm.KindUpstream {
			t.Fatalf("got %v, want an upstream error", err)
		}
		if _, err2 := r.Next(); err2 != err {
			t.Errorf("the error must stick, got %v", err2)
		}
	}
}

func TestStreamReadError(t *testing.T) {
	body := io.NopCloser(io.MultiReader(strings.NewReader("data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":null}]}\n\n"),
		iotest.ErrReader(errors.New("connection reset"))))
	a, _ := New("openai")
	r := a.ChatStream(&http.Response{Body: body}, &llm.Call{})
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	_, err := r.Next()
	var e *llm.Error
	if !errors.As(err, &e) || e.Kind != llm.KindUpstream || !strings.Contains(e.Message, "connection reset") {
		t.Fatalf("got %v, want an upstream error", err)
	}
}

type closeRecorder struct {
	io.Reader
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

func TestStreamCloseClosesBody(t *testing.T) {
	body := &closeRecorder{Reader: bytes.NewReader(nil)}
	a, _ := New("openai")
	r := a.ChatStream(&http.Response{Body: body}, &llm.Call{})
	if err := r.Close(); err != nil || !body.closed {
		t.Errorf("Close: %v, body closed %v", err, body.closed)
	}
}

// An answer larger than the bound is refused, whether its length is announced or not.
func TestDecodeChatTooLarge(t *testing.T) {
	a, _ := New("openai")
	for _, n := range []int64{maxBody + 1, -1} {
		body := io.LimitReader(zeros{}, maxBody+10)
		_, err := a.DecodeChat(&http.Response{StatusCode: 200, Body: io.NopCloser(body), ContentLength: n}, &llm.Call{})
		var e *llm.Error
		if !errors.As(err, &e) || e.Kind != llm.KindUpstream || !strings.Contains(e.Message, "larger than") {
			t.Errorf("length %d: got %v", n, err)
		}
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }
