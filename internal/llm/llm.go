// Package llm is the seam of Pylon's LLM layer: the dialect-neutral error, the provider
// adapter contract and the stream of canonical chunks that joins a provider's answer to a
// client's dialect.
//
// The canonical form of a call is the OpenAI chat schema (internal/llm/schema/openai) with
// a few extensions. A client dialect (OpenAI, Anthropic) parses its request into a
// canonical ChatRequest; an Adapter turns it into the provider's HTTP request and decodes
// the provider's answer back into a canonical ChatResponse or a ChunkReader; the client
// dialect encodes that for the client. Adapters never import each other.
package llm

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
)

// Kind classifies an error; each client dialect maps it to its own type name and status.
type Kind uint8

// Error kinds, each with the status a client sees.
const (
	KindInvalidRequest Kind = iota // 400
	KindAuthentication             // 401: the client's credentials
	KindPermission                 // 403
	KindNotFound                   // 404: unknown model or route
	KindTooLarge                   // 413
	KindRateLimit                  // 429, retryable after RetryAfter
	KindQuota                      // 429, not retryable (budget or quota exhausted)
	KindInternal                   // 500: Pylon itself failed
	KindUpstream                   // 502: the provider failed or broke the stream
	KindOverloaded                 // 503: the provider is overloaded or unreachable
	KindTimeout                    // 504
)

var kindStatus = [...]int{400, 401, 403, 404, 413, 429, 429, 500, 502, 503, 504}

// Status returns the HTTP status of the kind.
func (k Kind) Status() int { return kindStatus[k] }

// Error is an LLM call failure in dialect-neutral form.
type Error struct {
	Kind    Kind
	Message string
	// Param names the offending request field (OpenAI's error.param), when known.
	Param string
	// Code is a machine-readable code (model_not_found, context_length_exceeded...).
	Code string
	// RetryAfter, when positive, is sent as the retry-after header.
	RetryAfter time.Duration
	// Upstream is the provider's HTTP status, 0 when the error did not come from one.
	Upstream int
}

func (e *Error) Error() string {
	if e.Param != "" {
		return fmt.Sprintf("%s (%s)", e.Message, e.Param)
	}
	return e.Message
}

// Status is the HTTP status a client sees.
func (e *Error) Status() int { return e.Kind.Status() }

// Retryable reports whether another target may succeed where this one failed: rate limits,
// upstream failures, overload, timeouts and provider credential failures. Errors in the
// client's request are not.
func (e *Error) Retryable() bool {
	switch e.Kind {
	case KindRateLimit, KindUpstream, KindOverloaded, KindTimeout:
		return true
	case KindAuthentication, KindPermission:
		return e.Upstream != 0 // the provider refused Pylon's key: another key or provider may work
	}
	return false
}

// RetryAfterHeader formats RetryAfter in whole seconds, rounded up (at least 1).
func (e *Error) RetryAfterHeader() string {
	s := int64((e.RetryAfter + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return strconv.FormatInt(s, 10)
}

// Errorf returns an Error of kind k.
func Errorf(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...)}
}

// InvalidParam returns a 400 naming the field.
func InvalidParam(param, format string, args ...any) *Error {
	return &Error{Kind: KindInvalidRequest, Param: param, Message: param + ": " + fmt.Sprintf(format, args...)}
}

// KindForStatus maps a provider's HTTP status to a kind. 401 and 403 from a provider mean
// Pylon's credential was refused: that is an upstream failure for the client (502), kept as
// KindAuthentication/KindPermission with Upstream set so that the client dialect can say so.
func KindForStatus(status int) Kind {
	switch {
	case status == 400 || status == 422:
		return KindInvalidRequest
	case status == 401:
		return KindAuthentication
	case status == 403:
		return KindPermission
	case status == 404:
		return KindNotFound
	case status == 408 || status == 504:
		return KindTimeout
	case status == 413:
		return KindTooLarge
	case status == 429:
		return KindRateLimit
	case status == 503 || status == 529:
		return KindOverloaded
	}
	return KindUpstream
}

// ParseRetryAfter reads retry-after (seconds or an HTTP date) and retry-after-ms.
func ParseRetryAfter(h http.Header, now time.Time) time.Duration {
	if v := h.Get("Retry-After-Ms"); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms > 0 {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// ChunkReader yields a streamed answer as canonical chunks.
//
// Next returns the next chunk. After the last chunk of a complete stream it returns io.EOF.
// An error event from the provider, or a stream that ends before the provider said it was
// complete, is returned as an *Error (KindUpstream "upstream stream truncated" for the
// latter): a cut stream is never reported as a success. The usage, when the provider
// reports it, arrives as a chunk with no choices and Usage set, after the finish chunk.
type ChunkReader interface {
	Next() (*openai.ChatChunk, error)
	io.Closer
}

// Ready is implemented by chunk readers that can tell whether their next chunk is already
// buffered. The gateway then holds the client flush, so that chunks that arrived together
// leave together; a chunk that arrives alone is flushed at once.
type Ready interface {
	Ready() bool
}

// ErrTruncated is the error of a stream that ended before the provider said it was done.
func ErrTruncated() *Error { return Errorf(KindUpstream, "upstream stream truncated") }

// Target is where one attempt of a call goes: a provider and the model name it knows.
type Target struct {
	Provider string
	Model    string // the provider's model id
}

// Call is one attempt of a chat call on one target, as an adapter sees it.
type Call struct {
	Request *openai.ChatRequest // canonical request; adapters must not modify it
	Model   string              // the provider's model id
	// BaseURL is the provider endpoint chosen for this attempt, scheme://host[:port]/path
	// (for example "https://api.openai.com/v1"), without a trailing slash.
	BaseURL string
	// APIKey is the credential chosen for this attempt ("" when the provider needs none).
	APIKey string
	// Stream asks the provider for a streamed answer.
	Stream bool
	// DefaultMaxTokens is used when the client gave no max tokens and the provider requires
	// one (Anthropic): the model's maximum output from the price table, or a configured value.
	DefaultMaxTokens int
}

// Adapter speaks one provider API. Implementations are stateless and safe for concurrent use.
type Adapter interface {
	// ChatRequest builds the upstream HTTP request of a chat call.
	ChatRequest(ctx context.Context, c *Call) (*http.Request, error)
	// DecodeChat decodes a successful non-streamed answer.
	DecodeChat(resp *http.Response, c *Call) (*openai.ChatResponse, error)
	// ChatStream decodes a successful streamed answer incrementally. It owns resp.Body.
	ChatStream(resp *http.Response, c *Call) ChunkReader
	// DecodeError maps a non-2xx answer (its body already read, up to a bound) to an Error.
	DecodeError(resp *http.Response, body []byte) *Error
}

// Dialect is a client-facing API (OpenAI chat, Anthropic messages): it parses the client's
// request into the canonical form and writes answers, streams and errors in the client's
// own format.
type Dialect interface {
	// ParseChat parses and validates a chat request body. Errors name the field.
	ParseChat(body []byte) (*openai.ChatRequest, *Error)
	// WriteChat writes a non-streamed answer. model is the name the client asked for.
	WriteChat(w http.ResponseWriter, resp *openai.ChatResponse, req *openai.ChatRequest) error
	// NewStream starts a streamed answer; nothing is written until the first WriteChunk.
	NewStream(w http.ResponseWriter, req *openai.ChatRequest) StreamWriter
	// WriteError writes an error answer (status, headers such as retry-after, body).
	WriteError(w http.ResponseWriter, e *Error)
}

// StreamWriter writes canonical chunks to a client in its dialect, flushing each event.
type StreamWriter interface {
	// WriteChunk writes one canonical chunk (which may produce zero or more events). A chunk
	// with Usage and no choices is the usage report: writers keep it for the end, and send
	// it to OpenAI clients only when they asked for usage.
	WriteChunk(c *openai.ChatChunk) error
	// Close ends a complete stream ([DONE], message_stop...).
	Close() error
	// Fail ends the stream with an error event of the dialect (no [DONE]); the status and
	// headers are used instead when nothing was written yet.
	Fail(e *Error) error
	// Started reports whether anything reached the client.
	Started() bool
}
