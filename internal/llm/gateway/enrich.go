package gateway

import (
	"errors"
	"net/http"

	"github.com/pylon-gateway/pylon/internal/llm"
	"github.com/pylon-gateway/pylon/internal/llm/extcontext"
	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
	"github.com/pylon-gateway/pylon/internal/llm/transform"
	"github.com/pylon-gateway/pylon/internal/stream"
)

// enrich adds what the gateway knows to a request before it leaves: the external context
// service's answer, then the configured prompt transforms (so that a prepended system prompt
// still comes first). It picks the call's transforms for the upstream and answer headers.
func (g *Gateway) enrich(r *http.Request, info *stream.Info, req *openai.ChatRequest, acct *accounting) (*openai.ChatRequest, *llm.Error) {
	route := ""
	if info.Route != nil {
		route = info.Route.Name
	}
	if g.context != nil && g.context.Matches(route, req.Model) {
		sid := ""
		if acct.session != nil {
			sid = acct.session.scope + ":" + acct.session.id
		}
		res, err := g.context.Fetch(r.Context(), r, req, sid)
		if err != nil {
			var xe *extcontext.Error
			if errors.As(err, &xe) {
				k := llm.KindUpstream
				if xe.Status() == http.StatusServiceUnavailable {
					k = llm.KindOverloaded
				}
				return nil, llm.Errorf(k, "the context service failed: %v", xe)
			}
			return nil, llm.Errorf(llm.KindOverloaded, "the context service failed: %v", err)
		}
		if res.Failed() {
			g.log.Warn("llm context: continuing without context", "reason", res.Reason)
		}
		req, acct.upHeaders = g.context.Inject(req, res)
	}
	if g.transforms != nil {
		acct.transform = g.transforms.For(route, req.Model)
		out, err := acct.transform.Apply(req, r.Header)
		if err != nil {
			if errors.Is(err, transform.ErrRequest) {
				return nil, llm.Errorf(llm.KindInvalidRequest, "%v", err)
			}
			return nil, llm.Errorf(llm.KindInternal, "%v", err)
		}
		req = out
	}
	return req, nil
}
