package gateway

import (
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/pylon-gateway/pylon/internal/llm"
)

func keyedProvider(typ string, weights ...uint64) *provider {
	p := &provider{name: "p", typ: typ}
	for i, w := range weights {
		p.keys = append(p.keys, &apiKey{value: string(rune('a' + i)), weight: w})
		p.total += w
	}
	return p
}

func TestPickKeyWeights(t *testing.T) {
	p := keyedProvider("openai", 1, 3, 6)
	now := time.Now()
	const draws = 30000
	n := map[string]int{}
	for range draws {
		k, e := p.pickKey(now)
		if e != nil {
			t.Fatal(e)
		}
		n[k]++
	}
	for k, w := range map[string]float64{"a": 0.1, "b": 0.3, "c": 0.6} {
		if got := float64(n[k]) / draws; math.Abs(got-w) > 0.02 {
			t.Errorf("key %s picked in %.3f, want %.1f", k, got, w)
		}
	}
}

func TestPickKeySetAside(t *testing.T) {
	p := keyedProvider("openai", 1, 3, 6)
	now := time.Now()
	p.setAside("c", now.Add(time.Minute))
	p.setAside("b", now.Add(10*time.Second))
	for range 1000 {
		if k, e := p.pickKey(now); e != nil || k != "a" {
			t.Fatalf("got %q %v, want the only key left", k, e)
		}
	}
	// b's time is over: it is back, weighted against a.
	seen := map[string]bool{}
	for range 1000 {
		k, _ := p.pickKey(now.Add(11 * time.Second))
		seen[k] = true
	}
	if !seen["a"] || !seen["b"] || seen["c"] {
		t.Errorf("after b's time: %v", seen)
	}
	// Every key set aside: a rate limit that says when the first comes back.
	p.setAside("a", now.Add(5*time.Second))
	k, e := p.pickKey(now)
	if k != "" || e == nil || e.Kind != llm.KindRateLimit || e.RetryAfter != 5*time.Second || !e.Retryable() {
		t.Fatalf("all set aside: %q %+v", k, e)
	}
	// setAside of an unknown key changes nothing.
	p.setAside("zzz", now.Add(time.Hour))
	if _, e := p.pickKey(now.Add(6 * time.Second)); e != nil {
		t.Errorf("a's time is over: %v", e)
	}
}

func TestPickKeyNoKeys(t *testing.T) {
	now := time.Now()
	for _, typ := range []string{"demo", "ollama", "lmstudio", "vllm", "bedrock"} {
		if k, e := keyedProvider(typ).pickKey(now); k != "" || e != nil {
			t.Errorf("%s without keys: %q %v", typ, k, e)
		}
	}
	for _, typ := range []string{"openai", "azure", "anthropic", "mistral", "openai_compatible", "gemini"} {
		k, e := keyedProvider(typ).pickKey(now)
		// The provider's credential is missing: an upstream authentication failure (502 to
		// the client), retryable on another provider.
		if k != "" || e == nil || e.Kind != llm.KindAuthentication || e.Upstream == 0 || !e.Retryable() {
			t.Errorf("%s without keys: %q %+v", typ, k, e)
		}
	}
}

// body is a request body that is not a *bytes.Reader etc., so that net/http does not know its
// length unless told.
func bodyRequest(body io.Reader, length int64) *http.Request {
	r := httptest.NewRequest("POST", "/v1/chat/completions", nil)
	if body != nil {
		r.Body = io.NopCloser(body)
	} else {
		r.Body = nil
	}
	r.ContentLength = length
	return r
}

func TestReadBody(t *testing.T) {
	g := &Gateway{maxBody: 100}
	full := strings.Repeat("x", 100)
	for _, tc := range []struct {
		name   string
		body   io.Reader
		length int64
		kind   llm.Kind // KindInternal here means: no error
		n      int
	}{
		{"known length", strings.NewReader(`{"a":1}`), 7, llm.KindInternal, 7},
		{"unknown length", strings.NewReader(`{"a":1}`), -1, llm.KindInternal, 7},
		{"at the limit", strings.NewReader(full), 100, llm.KindInternal, 100},
		{"at the limit, unknown length", strings.NewReader(full), -1, llm.KindInternal, 100},
		{"one byte at a time", iotest.OneByteReader(strings.NewReader(full)), -1, llm.KindInternal, 100},
		{"announced too large", strings.NewReader(full + "x"), 101, llm.KindTooLarge, 0},
		{"streamed too large", strings.NewReader(full + "x"), -1, llm.KindTooLarge, 0},
		{"streamed too large, one byte at a time", iotest.OneByteReader(strings.NewReader(full + "x")), -1, llm.KindTooLarge, 0},
		{"streamed too large with its last bytes", iotest.DataErrReader(strings.NewReader(full + "xyz")), -1, llm.KindTooLarge, 0},
		{"streamed too large, huge", strings.NewReader(strings.Repeat("y", 1<<20)), -1, llm.KindTooLarge, 0},
		{"empty", strings.NewReader(""), 0, llm.KindInvalidRequest, 0},
		{"empty, unknown length", strings.NewReader(""), -1, llm.KindInvalidRequest, 0},
		{"no body", nil, 0, llm.KindInvalidRequest, 0},
		{"read error", iotest.ErrReader(errors.New("connection reset")), -1, llm.KindInvalidRequest, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, e := g.readBody(bodyRequest(tc.body, tc.length))
			if tc.kind == llm.KindInternal {
				if e != nil || len(b) != tc.n {
					t.Fatalf("got %d bytes, %v", len(b), e)
				}
				return
			}
			if e == nil || e.Kind != tc.kind || b != nil {
				t.Fatalf("got %d bytes, %+v; want kind %v", len(b), e, tc.kind)
			}
			if tc.kind == llm.KindTooLarge && (e.Status() != 413 || !strings.Contains(e.Message, "100")) {
				t.Errorf("413 message %q", e.Message)
			}
		})
	}
}
