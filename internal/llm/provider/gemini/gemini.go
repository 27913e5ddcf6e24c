// Package gemini is the adapter for Google's Gemini API, on AI Studio (an API key in
// x-goog-api-key) and on Vertex AI (an OAuth2 access token as a bearer): it maps canonical
// chat requests to generateContent, and answers, streams and errors back.
package gemini

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/pylon-gateway/pylon/internal/llm"
	"github.com/pylon-gateway/pylon/internal/llm/schema/gemini"
)

// DefaultBaseURL is the AI Studio endpoint.
const DefaultBaseURL = "https://generativelanguage.googleapis.com/v1beta"

// VertexBaseURL returns the Vertex AI endpoint of Google's models in a project and region.
func VertexBaseURL(project, region string) string {
	host := region + "-aiplatform.googleapis.com"
	if region == "global" {
		host = "aiplatform.googleapis.com"
	}
	return "https://" + host + "/v1/projects/" + url.PathEscape(project) + "/locations/" + url.PathEscape(region) + "/publishers/google/models"
}

// Options configure an Adapter.
type Options struct {
	// Vertex sends Call.APIKey as "Authorization: Bearer" (an OAuth2 access token) instead
	// of x-goog-api-key.
	Vertex bool
	// SignatureInID carries a function call's thoughtSignature inside the tool call id given
	// to the client ("call_<random>__thought__<signature>"), so that it comes back on the
	// next turn through any OpenAI client. Off, ids are "call_<random>" and the next turn
	// sends the documented skip signature instead.
	SignatureInID bool
}

// Adapter speaks Gemini's generateContent API.
type Adapter struct {
	opts  Options
	newID func() string    // random id suffix; replaced in tests
	now   func() time.Time // created timestamps; replaced in tests
}

var _ llm.Adapter = (*Adapter)(nil)

// New returns an adapter.
func New(o Options) *Adapter {
	return &Adapter{opts: o, newID: randomID, now: time.Now}
}

// signatureSep separates a generated call id from the thought signature it carries.
const signatureSep = "__thought__"

// URL returns the endpoint of a call: {base}/models/{model}:generateContent (AI Studio),
// or {base}/{model}:generateContent when the base already ends in /models (Vertex), with
// :streamGenerateContent?alt=sse for a stream.
func URL(baseURL, model string, stream bool) string {
	baseURL = strings.TrimSuffix(baseURL, "/")
	if !strings.HasSuffix(baseURL, "/models") {
		baseURL += "/models"
	}
	u := baseURL + "/" + url.PathEscape(strings.TrimPrefix(model, "models/"))
	if stream {
		return u + ":streamGenerateContent?alt=sse"
	}
	return u + ":generateContent"
}

// ChatRequest builds the generateContent (or streamGenerateContent) request.
func (a *Adapter) ChatRequest(ctx context.Context, c *llm.Call) (*http.Request, error) {
	body, err := a.chatBody(c)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, URL(c.BaseURL, c.Model, c.Stream), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("gemini: build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.Stream {
		req.Header.Set("Accept", "text/event-stream")
	}
	if c.APIKey != "" {
		if a.opts.Vertex {
			req.Header.Set("Authorization", "Bearer "+c.APIKey)
		} else {
			req.Header.Set("X-Goog-Api-Key", c.APIKey)
		}
	}
	return req, nil
}

func (a *Adapter) chatBody(c *llm.Call) ([]byte, error) {
	r, err := a.BuildRequest(c)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("gemini: encode request: %w", err)
	}
	return b, nil
}

// statusKinds maps Gemini's canonical error statuses to kinds.
var statusKinds = map[string]llm.Kind{
	gemini.StatusInvalidArgument:    llm.KindInvalidRequest,
	gemini.StatusFailedPrecondition: llm.KindInvalidRequest,
	gemini.StatusOutOfRange:         llm.KindInvalidRequest,
	gemini.StatusUnauthenticated:    llm.KindAuthentication,
	gemini.StatusPermissionDenied:   llm.KindPermission,
	gemini.StatusNotFound:           llm.KindNotFound,
	gemini.StatusResourceExhausted:  llm.KindRateLimit,
	gemini.StatusCancelled:          llm.KindUpstream,
	gemini.StatusInternal:           llm.KindUpstream,
	gemini.StatusUnavailable:        llm.KindOverloaded,
	gemini.StatusDeadlineExceeded:   llm.KindTimeout,
}

// DecodeError maps a Gemini error answer: the kind comes from error.status (the HTTP
// status when absent), retry-after from the header or a RetryInfo detail.
func (a *Adapter) DecodeError(resp *http.Response, body []byte) *llm.Error {
	var er gemini.ErrorResponse
	if err := json.Unmarshal(body, &er); err != nil || (er.Error.Message == "" && er.Error.Status == "") {
		// Gemini sometimes answers a JSON array holding the error object.
		var arr []gemini.ErrorResponse
		if json.Unmarshal(body, &arr) == nil && len(arr) > 0 {
			er = arr[0]
		}
	}
	e := errorFromBody(&er.Error, resp.StatusCode)
	if ra := llm.ParseRetryAfter(resp.Header, time.Now()); ra > 0 {
		e.RetryAfter = ra
	}
	if e.Message == "" {
		e.Message = fmt.Sprintf("gemini: upstream answered %d: %s", resp.StatusCode, snippet(body))
	}
	return e
}

// errorFromBody maps an error body (from an HTTP error or a stream event).
func errorFromBody(b *gemini.ErrorBody, status int) *llm.Error {
	kind, ok := statusKinds[b.Status]
	if !ok {
		if status == 0 {
			status = b.Code
		}
		kind = llm.KindForStatus(status)
	}
	if status == 0 {
		status = b.Code
	}
	e := &llm.Error{Kind: kind, Message: b.Message, Upstream: status}
	for _, d := range b.Details {
		switch {
		case d.Reason == "API_KEY_INVALID":
			// AI Studio answers a bad key with 400 INVALID_ARGUMENT: it is Pylon's
			// credential that failed, not the client's request.
			e.Kind = llm.KindAuthentication
		case d.RetryDelay != "":
			if dur, err := time.ParseDuration(d.RetryDelay); err == nil && dur > 0 {
				e.RetryAfter = dur
			}
		}
	}
	if kind == llm.KindNotFound {
		e.Code = "model_not_found"
	}
	if e.Upstream == 0 {
		e.Upstream = e.Kind.Status()
	}
	return e
}

func snippet(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) > 200 {
		b = b[:200]
	}
	return string(b)
}

const idAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// randomID returns 24 random alphanumerics.
func randomID() string {
	var b [24]byte
	rand.Read(b[:])
	for i := range b {
		b[i] = idAlphabet[int(b[i])%len(idAlphabet)]
	}
	return string(b[:])
}
