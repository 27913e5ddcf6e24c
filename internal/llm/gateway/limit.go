package gateway

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/pylon-gateway/pylon/internal/access"
	"github.com/pylon-gateway/pylon/internal/limits"
	"github.com/pylon-gateway/pylon/internal/llm"
	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
	"github.com/pylon-gateway/pylon/internal/llm/usage"
)

// reservation is what a call holds of its caller's limits and budgets until it settles.
type reservation struct {
	lim limits.Limiter
	res limits.Reservation
	log func(msg string, args ...any)
}

// reserve checks the caller's limits and budgets before a call and holds the call's estimate:
// the prompt's tokens counted offline plus the most the answer may take, priced at the first
// target's rates. nil, nil: the caller has no limits.
func (g *Gateway) reserve(ctx context.Context, h http.Header, p *access.Principal, req *openai.ChatRequest, first target) (*reservation, *llm.Error) {
	if p == nil || g.shared.Access == nil || g.shared.Limiter == nil {
		return nil, nil
	}
	lims := g.shared.Access.Limits(p)
	if len(lims) == 0 {
		return nil, nil
	}
	maxOut := req.MaxOutput()
	if maxOut == 0 {
		maxOut = g.defaultMaxTokens(first)
	}
	prompt := countEstimator.CountMessages(req.Model, usageMessages(req.Messages))
	est := usage.Usage{Prompt: prompt, Completion: maxOut, Total: prompt + maxOut}
	price, _ := g.prices.Lookup(first.provider.typ, first.model)
	cost, _ := usage.Cost(est, price)
	dec, err := g.shared.Limiter.Reserve(ctx, limits.Request{Partition: p.TenantID, Limits: lims,
		Tokens: int64(est.Total), Cost: cost, TTL: first.provider.timeout + time.Minute})
	if err != nil {
		// Fail closed: a budget that cannot be checked is not spent.
		return nil, llm.Errorf(llm.KindOverloaded, "limits are unavailable: %v", err)
	}
	dec.SetHeaders(h)
	if !dec.Allowed {
		le := dec.Err()
		e := &llm.Error{Kind: llm.KindRateLimit, Message: le.Error(), RetryAfter: dec.RetryAfter}
		if errors.Is(le, limits.ErrBudgetExhausted) {
			e.Kind, e.Code = llm.KindQuota, "insufficient_quota"
		}
		return nil, e
	}
	return &reservation{lim: g.shared.Limiter, res: dec.Reservation, log: g.log.Warn}, nil
}

// settle records what the call used, or gives the estimate back when it used nothing.
func (r *reservation) settle(acct *accounting) {
	if r == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var err error
	if acct.recorded && acct.usage.Total > 0 {
		err = r.lim.Settle(ctx, r.res, limits.Amount{Tokens: int64(acct.usage.Total), Cost: acct.cost})
	} else {
		err = r.lim.Refund(ctx, r.res)
	}
	if err != nil {
		r.log("llm limits: settling a reservation failed; it expires on its own", "reservation", r.res.ID, "error", err)
	}
}

// usageMessages is what the estimator counts of a chat request.
func usageMessages(msgs []openai.Message) []usage.Message {
	out := make([]usage.Message, 0, len(msgs))
	for _, m := range msgs {
		um := usage.Message{Role: m.Role, Content: m.Content.String(), Name: m.Name}
		for _, tc := range m.ToolCalls {
			um.ToolCallsJSON += tc.Function.Name + tc.Function.Arguments
		}
		out = append(out, um)
	}
	return out
}
