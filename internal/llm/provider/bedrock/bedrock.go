// Package bedrock is the adapter for AWS Bedrock's Converse and ConverseStream APIs: it maps
// canonical chat requests to Converse bodies, signs them with SigV4 (or sends a Bedrock API
// key as a bearer), and decodes answers, binary event streams and errors.
package bedrock

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/pylon-gateway/pylon/internal/llm"
	"github.com/pylon-gateway/pylon/internal/llm/schema/bedrock"
)

// BaseURL returns the Bedrock Runtime endpoint of a region.
func BaseURL(region string) string {
	return "https://bedrock-runtime." + region + ".amazonaws.com"
}

// SigningService is the SigV4 service name of Bedrock Runtime.
const SigningService = "bedrock"

// Options configure an Adapter. The gateway fills the credentials from AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN and AWS_REGION.
type Options struct {
	Region          string // signing region, e.g. us-east-1
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string // temporary credentials; sent as X-Amz-Security-Token
}

// Adapter speaks Bedrock Converse. A call with an APIKey is authorized with it as a Bedrock
// API key ("Authorization: Bearer"); otherwise the request is signed with SigV4.
type Adapter struct {
	opts   Options
	signer *v4.Signer
	now    func() time.Time // signing time and created timestamps; replaced in tests
	newID  func() string
}

var _ llm.Adapter = (*Adapter)(nil)

// New returns an adapter.
func New(o Options) *Adapter {
	return &Adapter{opts: o, signer: v4.NewSigner(), now: time.Now, newID: randomID}
}

// URL returns the Converse (or ConverseStream) endpoint of a model. Model ids contain ':'
// and ARNs '/', so the id is one escaped path segment.
func URL(baseURL, model string, stream bool) string {
	u := strings.TrimSuffix(baseURL, "/") + "/model/" + url.PathEscape(model)
	if stream {
		return u + "/converse-stream"
	}
	return u + "/converse"
}

// ChatRequest builds and authorizes the Converse request.
func (a *Adapter) ChatRequest(ctx context.Context, c *llm.Call) (*http.Request, error) {
	r, err := a.BuildRequest(c)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("bedrock: encode request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, URL(c.BaseURL, c.Model, c.Stream), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("bedrock: build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.Stream {
		req.Header.Set("Accept", "application/vnd.amazon.eventstream")
	} else {
		req.Header.Set("Accept", "application/json")
	}
	if err := a.authorize(ctx, req, body, c.APIKey); err != nil {
		return nil, err
	}
	return req, nil
}

// authorize sets the Bedrock API key, or signs the request with SigV4 over the exact body.
// It must run last: any change to the body or the signed headers after it breaks the
// signature.
func (a *Adapter) authorize(ctx context.Context, req *http.Request, body []byte, apiKey string) error {
	if apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+apiKey)
		return nil
	}
	if a.opts.AccessKeyID == "" || a.opts.SecretAccessKey == "" {
		return &llm.Error{Kind: llm.KindInternal, Message: "bedrock: no credentials (set an API key or AWS access keys)"}
	}
	if a.opts.Region == "" {
		return &llm.Error{Kind: llm.KindInternal, Message: "bedrock: no signing region"}
	}
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: a.opts.AccessKeyID, SecretAccessKey: a.opts.SecretAccessKey, SessionToken: a.opts.SessionToken}
	if err := a.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), SigningService, a.opts.Region, a.now()); err != nil {
		return &llm.Error{Kind: llm.KindInternal, Message: "bedrock: sign request: " + err.Error()}
	}
	return nil
}

// errorKinds maps x-amzn-errortype values.
var errorKinds = map[string]llm.Kind{
	"ValidationException":                 llm.KindInvalidRequest,
	"AccessDeniedException":               llm.KindPermission,
	"UnrecognizedClientException":         llm.KindAuthentication,
	"InvalidSignatureException":           llm.KindAuthentication,
	"ExpiredTokenException":               llm.KindAuthentication,
	"MissingAuthenticationTokenException": llm.KindAuthentication,
	"ResourceNotFoundException":           llm.KindNotFound,
	"ModelTimeoutException":               llm.KindTimeout,
	"ThrottlingException":                 llm.KindRateLimit,
	"ModelNotReadyException":              llm.KindRateLimit,
	"ServiceQuotaExceededException":       llm.KindRateLimit,
	"ModelErrorException":                 llm.KindUpstream,
	"InternalServerException":             llm.KindUpstream,
	"ServiceUnavailableException":         llm.KindOverloaded,
}

// DecodeError maps a Bedrock error: the type is in x-amzn-errortype (possibly followed by
// ":<namespace>"), the message in the JSON body.
func (a *Adapter) DecodeError(resp *http.Response, body []byte) *llm.Error {
	typ, _, _ := strings.Cut(resp.Header.Get(bedrock.HeaderErrorType), ":")
	var er bedrock.ErrorResponse
	_ = json.Unmarshal(body, &er)
	kind, ok := errorKinds[typ]
	if !ok {
		kind = llm.KindForStatus(resp.StatusCode)
	}
	e := &llm.Error{Kind: kind, Message: er.Message, Upstream: resp.StatusCode}
	if e.Message == "" {
		e.Message = fmt.Sprintf("bedrock: upstream answered %d %s: %s", resp.StatusCode, typ, snippet(body))
	}
	if kind == llm.KindNotFound {
		e.Code = "model_not_found"
	}
	e.RetryAfter = llm.ParseRetryAfter(resp.Header, time.Now())
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

func randomID() string {
	var b [24]byte
	rand.Read(b[:])
	for i := range b {
		b[i] = idAlphabet[int(b[i])%len(idAlphabet)]
	}
	return string(b[:])
}
