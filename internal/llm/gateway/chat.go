package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/pylon-gateway/pylon/internal/cluster"
	"github.com/pylon-gateway/pylon/internal/lb"
	"github.com/pylon-gateway/pylon/internal/llm"
	"github.com/pylon-gateway/pylon/internal/llm/pii"
	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
	"github.com/pylon-gateway/pylon/internal/stream"
)

// maxErrorBody bounds the error body read from a provider.
const maxErrorBody = 1 << 20

// exchange is one attempt's live upstream answer and what to release after it.
type exchange struct {
	resp    *http.Response
	cancel  context.CancelFunc
	host    *lb.Host
	cluster *cluster.Cluster
	adapter llm.Adapter
	ctx     context.Context
	sent    time.Time
}

func (x *exchange) done(status int, err error) {
	if x.host != nil {
		x.cluster.ReportOutcome(x.host, status, err)
		x.host.Release()
		x.host = nil
	}
	x.cancel()
}

// call sends one attempt to a target. On success the caller owns x and must call x.done.
func (g *Gateway) call(ctx context.Context, r *http.Request, info *stream.Info, t target, c *llm.Call, acct *accounting) (*exchange, *llm.Error) {
	p := t.provider
	// The provider's timeout bounds the exchange: through the HTTP/1.1 transport's
	// per-connection timer when the cluster has one (no context, timer and watch per
	// call), else through the context.
	cancel := context.CancelFunc(noCancel)
	if p.transport != nil || !timesOut(p.cluster.Transport()) {
		ctx, cancel = context.WithTimeout(ctx, p.timeout)
	}
	req, err := p.adapter.ChatRequest(ctx, c)
	if err != nil {
		cancel()
		var le *llm.Error
		if errors.As(err, &le) {
			return nil, le
		}
		return nil, llm.Errorf(llm.KindInternal, "building the %s request: %v", p.name, err)
	}
	if acct != nil {
		for k, v := range acct.upHeaders {
			req.Header[k] = v
		}
		acct.transform.ApplyRequestHeaders(req.Header)
	}
	return g.send(ctx, cancel, r, info, p, req)
}

// timeoutRoundTripper is a transport that bounds an exchange (up to the end of the response
// body) by a timeout without a context: internal/upstream/h1's. Its timeout errors match
// context.DeadlineExceeded.
type timeoutRoundTripper interface {
	RoundTripTimeout(req *http.Request, timeout time.Duration) (*http.Response, error)
}

func timesOut(tr http.RoundTripper) bool {
	_, ok := tr.(timeoutRoundTripper)
	return ok
}

func noCancel() {}

// send sends a built request through the provider's cluster (or the in-process demo).
func (g *Gateway) send(ctx context.Context, cancel context.CancelFunc, r *http.Request, info *stream.Info, p *provider, req *http.Request) (*exchange, *llm.Error) {
	x := &exchange{cancel: cancel, cluster: p.cluster, adapter: p.adapter, ctx: ctx}
	tr := p.transport
	if tr == nil {
		host := p.cluster.Pick(r, info.RemoteIP)
		if host == nil {
			cancel()
			return nil, &llm.Error{Kind: llm.KindOverloaded, Message: "no healthy upstream for provider " + p.name}
		}
		host.Acquire()
		x.host = host
		req.URL.Scheme = p.cluster.Scheme()
		req.URL.Host = host.Address
		req.Host = p.host
		tr = p.cluster.Transport()
		info.UpstreamHost = host.Address
	}
	info.Cluster = p.name
	x.sent = time.Now()
	var resp *http.Response
	var err error
	if ttr, ok := tr.(timeoutRoundTripper); ok && p.transport == nil {
		resp, err = ttr.RoundTripTimeout(req, p.timeout)
	} else {
		resp, err = tr.RoundTrip(req)
	}
	if err != nil {
		x.done(0, err)
		var ce *cluster.ConnectError
		switch {
		case errors.Is(err, context.DeadlineExceeded) || ctx.Err() == context.DeadlineExceeded:
			return nil, llm.Errorf(llm.KindTimeout, "provider %s did not answer within %s", p.name, p.timeout)
		case r.Context().Err() != nil:
			return nil, llm.Errorf(llm.KindUpstream, "the client went away")
		case errors.As(err, &ce):
			return nil, llm.Errorf(llm.KindOverloaded, "upstream connect error: provider %s: %v", p.name, err)
		}
		return nil, llm.Errorf(llm.KindUpstream, "provider %s: %v", p.name, err)
	}
	x.resp = resp
	if resp.StatusCode >= 300 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		resp.Body.Close()
		x.done(resp.StatusCode, nil)
		e := p.adapter.DecodeError(resp, body)
		if e.Kind == llm.KindAuthentication || e.Kind == llm.KindPermission {
			// The provider's message may quote Pylon's key (OpenAI shows its last
			// characters): the client gets a message of Pylon's own, the log the provider's.
			g.log.Warn("llm provider refused the gateway's credentials", "provider", p.name, "status", resp.StatusCode, "message", e.Message)
			e.Message = fmt.Sprintf("provider %s refused the gateway's credentials (HTTP %d)", p.name, resp.StatusCode)
			e.Code, e.Param = "", ""
		}
		return nil, e
	}
	return x, nil
}

// attemptFailed records a failed attempt: the key or the target is set aside for a while.
// It reports whether only the key was set aside, so that the target may be tried again
// with another of its keys.
func (g *Gateway) attemptFailed(t target, key string, e *llm.Error, now time.Time) bool {
	if g.metrics != nil {
		g.metrics.AttemptErrors.WithLabelValues(t.provider.name, kindName(e.Kind)).Inc()
	}
	if !e.Retryable() {
		return false
	}
	wait := g.cooldown
	if e.RetryAfter > 0 {
		wait = e.RetryAfter
	}
	switch {
	case e.Upstream == 401 || e.Upstream == 403:
		if key != "" {
			t.provider.setAside(key, now.Add(max(wait, 5*time.Minute)))
			return len(t.provider.keys) > 1
		}
	case e.Kind == llm.KindRateLimit && key != "" && len(t.provider.keys) > 1:
		// A rate limit is often the key's own: another key of the provider may pass.
		t.provider.setAside(key, now.Add(wait))
		return true
	}
	if wait > 0 {
		g.shared.cooldowns.set(t, now.Add(wait))
	}
	return false
}

func kindName(k llm.Kind) string {
	switch k {
	case llm.KindInvalidRequest:
		return "invalid_request"
	case llm.KindAuthentication:
		return "authentication"
	case llm.KindPermission:
		return "permission"
	case llm.KindNotFound:
		return "not_found"
	case llm.KindTooLarge:
		return "too_large"
	case llm.KindRateLimit:
		return "rate_limit"
	case llm.KindQuota:
		return "quota"
	case llm.KindInternal:
		return "internal"
	case llm.KindOverloaded:
		return "overloaded"
	case llm.KindTimeout:
		return "timeout"
	}
	return "upstream"
}

// serveChat serves a chat call in dialect d: OpenAI chat completions or Anthropic messages.
func (g *Gateway) serveChat(w http.ResponseWriter, r *http.Request, info *stream.Info, d llm.Dialect, body []byte, who *caller) {
	req, e := d.ParseChat(body)
	if e != nil {
		info.Details = "llm_bad_request"
		d.WriteError(w, e)
		return
	}
	g.serveChatRequest(w, r, info, d, req, who)
}

// serveChatRequest serves a parsed chat request: routing, limits, cache, attempts.
func (g *Gateway) serveChatRequest(w http.ResponseWriter, r *http.Request, info *stream.Info, d llm.Dialect, req *openai.ChatRequest, who *caller) {
	start := info.Start
	if !who.allows(req.Model) {
		d.WriteError(w, modelNotFound(req.Model))
		return
	}
	plan := g.router.plan(req.Model, time.Now())
	if len(plan) == 0 {
		info.Details = "llm_model_not_found"
		d.WriteError(w, modelNotFound(req.Model))
		return
	}
	acct := &accounting{g: g, start: start, model: req.Model}
	var le *llm.Error
	if req, acct.session, le = g.sessionBegin(r.Context(), w, r, who, req, plan[0]); le != nil {
		info.Details = "llm_bad_request"
		d.WriteError(w, le)
		return
	}
	if req, le = g.enrich(r, info, req, acct); le != nil {
		info.Details = "llm_context_failed"
		d.WriteError(w, le)
		return
	}
	acct.transform.ApplyResponseHeaders(w.Header())
	if g.pii != nil {
		// Redact before anything leaves or is stored; tokens come back in the reply.
		acct.vault = pii.NewVault()
		var counts pii.Counts
		req, counts = g.pii.RedactChat(req, acct.vault)
		if g.metrics != nil {
			for det, n := range counts {
				g.metrics.PIIRedactions.WithLabelValues(det).Add(float64(n))
			}
		}
	}
	res, le := g.reserve(r.Context(), w.Header(), who.principal, req, plan[0])
	if le != nil {
		info.Details = "llm_limited"
		d.WriteError(w, le)
		return
	}
	if res != nil {
		// Settle off the response path: the client does not wait for the limiter's second
		// round trip (the reservation holds the estimate until then). It starts as soon as
		// the usage is recorded, before the answer is written, so that the budget shows the
		// call by the time the client has the answer; or when the call ends without usage.
		g.shared.settles.Add(1)
		acct.settle = func() {
			go func() {
				defer g.shared.settles.Done()
				res.settle(acct)
			}()
		}
		defer acct.startSettle()
	}
	if g.cache != nil {
		// Answers are shared within a tenant (with auth), or by every caller of an open route.
		scope := ""
		if who.principal != nil {
			scope = "tenant:" + who.principal.TenantID
		}
		key, hit, state := g.cacheLookup(r.Context(), r, req, scope)
		if hit == nil && state == "miss" {
			var sim float32
			hit, acct.semVec, acct.semScope, sim = g.semanticLookup(r.Context(), scope, req)
			if hit != nil {
				state = "hit"
				w.Header()["X-Pylon-Cache-Match"] = []string{"semantic"}
				w.Header()["X-Pylon-Cache-Similarity"] = []string{strconv.FormatFloat(float64(sim), 'f', 3, 32)}
			}
		}
		w.Header()[cacheStatusHeader] = []string{state}
		if hit != nil {
			info.Details = "llm_cache_hit"
			g.serveHit(w, d, req, hit, acct.vault)
			return
		}
		acct.cacheKey = key
	}
	var last *llm.Error
	// Targets in plan order; a target whose key was set aside (refused or rate-limited
	// while the provider has other keys) is tried again with another key. Attempts are
	// bounded by max_attempts in all.
	attempts := 0
	for i := 0; i < len(plan) && (g.maxAttempts <= 0 || attempts < g.maxAttempts); {
		t := plan[i]
		key, ke := t.provider.pickKey(time.Now())
		if ke != nil {
			last = ke
			g.attemptFailed(t, "", ke, time.Now())
			i++
			continue
		}
		if attempts++; attempts > 1 && g.metrics != nil {
			g.metrics.Fallbacks.WithLabelValues(req.Model).Inc()
		}
		c := &llm.Call{Request: req, Model: t.model, BaseURL: t.provider.baseURL, APIKey: key, Stream: req.Stream,
			DefaultMaxTokens: g.defaultMaxTokens(t)}
		began := time.Now()
		x, e := g.call(r.Context(), r, info, t, c, acct)
		if e == nil {
			acct.target, acct.attempts = t, attempts
			setTargetHeaders(w.Header(), t, attempts)
			var done bool
			if req.Stream {
				done, e = g.streamChat(w, r, d, req, c, x, acct)
			} else {
				done, e = g.writeChat(w, d, req, c, x, acct)
			}
			if done {
				g.shared.cooldowns.clear(t)
				info.Details = "via_upstream"
				return
			}
		} else {
			acct.upstream += time.Since(began)
		}
		last = e
		sameTarget := g.attemptFailed(t, key, e, time.Now())
		if !e.Retryable() || r.Context().Err() != nil {
			break
		}
		if !sameTarget {
			i++
		}
	}
	if last == nil {
		last = llm.Errorf(llm.KindOverloaded, "no provider could serve model %s", req.Model)
	}
	info.Details = "llm_upstream_failed"
	w.Header().Del("X-Pylon-Provider")
	w.Header().Del("X-Pylon-Model")
	acct.failed(last)
	d.WriteError(w, last)
}

func setTargetHeaders(h http.Header, t target, attempts int) {
	if v := t.provider.nameHeader; v != nil {
		h["X-Pylon-Provider"] = v
	} else {
		h["X-Pylon-Provider"] = []string{t.provider.name}
	}
	if v := t.modelHeader; v != nil {
		h["X-Pylon-Model"] = v
	} else {
		h["X-Pylon-Model"] = []string{t.model}
	}
	if attempts > 1 {
		h["X-Pylon-Attempts"] = []string{strconv.Itoa(attempts)}
	}
}

// defaultMaxTokens is the max_tokens to send when the client gave none and the API needs one.
func (g *Gateway) defaultMaxTokens(t target) int {
	if t.provider.maxTokens > 0 {
		return t.provider.maxTokens
	}
	if p, ok := g.prices.Lookup(t.provider.typ, t.model); ok && p.MaxOutputTokens > 0 {
		return p.MaxOutputTokens
	}
	return 4096
}

// writeChat decodes a non-streamed answer and writes it. done is false when the attempt
// failed before anything reached the client (the caller may try another target).
func (g *Gateway) writeChat(w http.ResponseWriter, d llm.Dialect, req *openai.ChatRequest, c *llm.Call, x *exchange, acct *accounting) (bool, *llm.Error) {
	out, err := x.adapter.DecodeChat(x.resp, c)
	x.resp.Body.Close()
	acct.upstream += time.Since(x.sent)
	if err != nil {
		x.done(502, err)
		var le *llm.Error
		if !errors.As(err, &le) {
			le = llm.Errorf(llm.KindUpstream, "decoding the provider's answer: %v", err)
		}
		return false, le
	}
	if d != llm.Dialect(openaiDialect) || acct.cacheKey != "" || acct.session != nil || g.piiReplies != nil {
		if err := out.Decode(); err != nil {
			x.done(502, err)
			return false, llm.Errorf(llm.KindUpstream, "decoding the provider's answer: %v", err)
		}
	}
	x.done(x.resp.StatusCode, nil)
	acct.finish(out.Usage, true)
	acct.setHeaders(w.Header())
	if acct.cacheKey != "" {
		g.cacheStore(context.WithoutCancel(x.ctx), acct, out)
	}
	g.sessionEnd(acct.session, req, out)
	if g.piiReplies != nil {
		out = g.maskReply(out)
	}
	if acct.vault != nil {
		restored, err := pii.RestoreResponse(out, acct.vault)
		if err != nil {
			return false, llm.Errorf(llm.KindUpstream, "decoding the provider's answer: %v", err)
		}
		out = restored
	}
	d.WriteChat(w, out, req)
	return true, nil
}
