// Package anthropic is the adapter of Anthropic's Messages API (POST {BaseURL}/messages):
// it translates a canonical (OpenAI-shaped) chat request into an Anthropic request, and
// Anthropic's answers, streams and errors back into the canonical form.
//
// The mapping follows docs/reference providers.md §4.1: system and developer messages are
// hoisted into system in order, tool results are gathered into one user message ahead of
// any user text, the streamed tool indexes are dense and independent of Anthropic's block
// indexes, prompt tokens include cache reads and writes, and a stream is a success only when
// message_stop arrived.
package anthropic

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/pylon-gateway/pylon/internal/llm"
	"github.com/pylon-gateway/pylon/internal/llm/schema/anthropic"
)

// Adapter speaks Anthropic's Messages API. The zero value is ready to use; it is stateless
// and safe for concurrent use.
type Adapter struct{}

var _ llm.Adapter = (*Adapter)(nil)

// New returns an Adapter.
func New() *Adapter { return &Adapter{} }

// ChatRequest builds POST {BaseURL}/messages with the translated body.
func (a *Adapter) ChatRequest(ctx context.Context, c *llm.Call) (*http.Request, error) {
	body, err := MarshalRequest(c)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.BaseURL+"/messages", bytes.NewReader(body))
	if err != nil {
		return nil, llm.Errorf(llm.KindInternal, "anthropic: building request: %v", err)
	}
	h := req.Header
	if c.APIKey != "" {
		h["X-Api-Key"] = []string{c.APIKey}
	}
	h["Anthropic-Version"] = []string{anthropic.Version}
	h["Content-Type"] = []string{"application/json"}
	if c.Stream {
		h["Accept"] = []string{"text/event-stream"}
	} else {
		h["Accept"] = []string{"application/json"}
	}
	return req, nil
}

// MarshalRequest returns the JSON body of the upstream request of c.
func MarshalRequest(c *llm.Call) ([]byte, error) {
	r, e := TranslateRequest(c)
	if e != nil {
		return nil, e
	}
	b, err := json.Marshal(r)
	if err != nil {
		// Only a RawMessage that is not JSON gets here (a client schema, say).
		return nil, llm.Errorf(llm.KindInvalidRequest, "anthropic: encoding request: %v", err)
	}
	return b, nil
}

// DecodeError maps an Anthropic error answer to an Error. The error type decides the kind
// when Pylon knows it, the status otherwise; 529 is overload, a spend-limit 429 is a quota
// (not retryable), retry-after is kept.
func (a *Adapter) DecodeError(resp *http.Response, body []byte) *llm.Error {
	var er struct {
		Error struct {
			Type    string `json:"type"`
			Message string `json:"message"`
			Details struct {
				ErrorCode string `json:"error_code"`
			} `json:"details"`
		} `json:"error"`
	}
	_ = json.Unmarshal(body, &er) // a body that is not Anthropic's: the status decides
	e := errorFor(er.Error.Type, er.Error.Message, resp.StatusCode)
	e.Upstream = resp.StatusCode
	if er.Error.Details.ErrorCode == "enforced_spend_limit_reached" {
		e.Kind = llm.KindQuota
		e.Code = "insufficient_quota"
	}
	if e.Kind == llm.KindRateLimit || e.Kind == llm.KindOverloaded {
		e.RetryAfter = llm.ParseRetryAfter(resp.Header, time.Now())
	}
	return e
}

// errorFor maps an Anthropic error type (and the HTTP status, 0 inside a stream) to an Error.
func errorFor(typ, msg string, status int) *llm.Error {
	var k llm.Kind
	switch typ {
	case "invalid_request_error":
		k = llm.KindInvalidRequest
		switch status {
		case 404:
			k = llm.KindNotFound
		case 413:
			k = llm.KindTooLarge
		}
	case "authentication_error":
		k = llm.KindAuthentication
	case "permission_error":
		k = llm.KindPermission
	case "not_found_error":
		k = llm.KindNotFound
	case "request_too_large":
		k = llm.KindTooLarge
	case "rate_limit_error":
		k = llm.KindRateLimit
	case "billing_error":
		k = llm.KindQuota
	case "overloaded_error":
		k = llm.KindOverloaded
	case "timeout_error":
		k = llm.KindTimeout
	case "api_error", "conflict_error":
		k = llm.KindUpstream
	default:
		if status == 0 || status == 200 {
			k = llm.KindUpstream
		} else {
			k = llm.KindForStatus(status)
		}
	}
	if msg == "" {
		if typ != "" {
			msg = typ
		} else {
			msg = http.StatusText(status)
			if msg == "" {
				msg = "upstream error"
			}
		}
	}
	e := &llm.Error{Kind: k, Message: msg} // the provider's own words reach the client
	switch {
	case k == llm.KindNotFound && strings.Contains(msg, "model"):
		e.Code = "model_not_found"
	case k == llm.KindInvalidRequest && strings.Contains(msg, "prompt is too long"):
		e.Code = "context_length_exceeded"
	case k == llm.KindQuota:
		e.Code = "insufficient_quota"
	}
	return e
}
