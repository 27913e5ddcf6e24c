package gateway

import (
	"net/http"

	"github.com/pylon-gateway/pylon/internal/llm"
	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
	"github.com/pylon-gateway/pylon/internal/llm/usage"
)

// anthropicDialect serves /v1/messages; nil until the Anthropic dialect is built in.
var anthropicDialect llm.Dialect

// parseCountTokens parses an Anthropic count_tokens body into canonical messages.
var parseCountTokens func(body []byte) (*openai.ChatRequest, *llm.Error)

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
	msgs := make([]usage.Message, 0, len(req.Messages))
	for _, m := range req.Messages {
		um := usage.Message{Role: m.Role, Content: m.Content.String()}
		for _, tc := range m.ToolCalls {
			um.ToolCallsJSON += tc.Function.Name + tc.Function.Arguments
		}
		msgs = append(msgs, um)
	}
	writeJSON(w, map[string]int{"input_tokens": countEstimator.CountMessages(req.Model, msgs)})
}
