package gateway

import (
	"fmt"
	"net/http"
	"os"

	"github.com/pylon-gateway/pylon/internal/config"
	dialectanthropic "github.com/pylon-gateway/pylon/internal/llm/dialect/anthropic"
	anthropicadapter "github.com/pylon-gateway/pylon/internal/llm/provider/anthropic"
	"github.com/pylon-gateway/pylon/internal/llm/provider/bedrock"
	"github.com/pylon-gateway/pylon/internal/llm/provider/gemini"

	"github.com/pylon-gateway/pylon/internal/llm"
	"github.com/pylon-gateway/pylon/internal/llm/usage"
)

// anthropicDialect serves /v1/messages.
var anthropicDialect llm.Dialect = dialectanthropic.New()

// parseCountTokens parses an Anthropic count_tokens body into canonical messages.
var parseCountTokens = dialectanthropic.New().ParseCountTokens

func init() {
	adapterCtors["anthropic"] = func(*config.Provider) (llm.Adapter, error) { return anthropicadapter.New(), nil }
	adapterCtors["gemini"] = func(*config.Provider) (llm.Adapter, error) { return gemini.New(gemini.Options{}), nil }
	adapterCtors["vertex"] = func(*config.Provider) (llm.Adapter, error) { return gemini.New(gemini.Options{Vertex: true}), nil }
	adapterCtors["bedrock"] = newBedrock
}

// newBedrock builds the Bedrock adapter with the provider's AWS credentials, or the
// standard AWS_* variables for those it does not set.
func newBedrock(p *config.Provider) (llm.Adapter, error) {
	o := bedrock.Options{Region: p.Region}
	var a config.AWSCredentials
	if p.AWS != nil {
		a = *p.AWS
	}
	for _, f := range []struct {
		s   config.Secret
		env string
		dst *string
	}{
		{a.AccessKeyID, "AWS_ACCESS_KEY_ID", &o.AccessKeyID},
		{a.SecretAccessKey, "AWS_SECRET_ACCESS_KEY", &o.SecretAccessKey},
		{a.SessionToken, "AWS_SESSION_TOKEN", &o.SessionToken},
	} {
		if f.s == (config.Secret{}) {
			*f.dst = os.Getenv(f.env)
			continue
		}
		v, err := f.s.Resolve()
		if err != nil {
			return nil, fmt.Errorf("aws credentials: %w", err)
		}
		*f.dst = v
	}
	return bedrock.New(o), nil
}

var countEstimator = usage.NewTiktoken()

// serveCountTokens answers /v1/messages/count_tokens with Pylon's offline estimate.
func (g *Gateway) serveCountTokens(w http.ResponseWriter, body []byte) {
	d := anthropicDialect
	if parseCountTokens == nil {
		d.WriteError(w, llm.Errorf(llm.KindNotFound, "count_tokens is not available in this build"))
		return
	}
	req, e := parseCountTokens(body)
	if e != nil {
		d.WriteError(w, e)
		return
	}
	writeJSON(w, map[string]int{"input_tokens": countEstimator.CountMessages(req.Model, usageMessages(req.Messages))})
}
