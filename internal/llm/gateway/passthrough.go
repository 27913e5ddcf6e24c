package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/pylon-gateway/pylon/internal/llm"
	dialectopenai "github.com/pylon-gateway/pylon/internal/llm/dialect/openai"
	openaiadapter "github.com/pylon-gateway/pylon/internal/llm/provider/openai"
	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
	"github.com/pylon-gateway/pylon/internal/stream"
	"github.com/tidwall/sjson"
)

// servePassthrough serves the OpenAI endpoints Pylon routes but does not translate: legacy
// completions, embeddings and the Responses API. They go to OpenAI-family providers only,
// with the model patched; the answer is relayed as it comes, streams included, and the
// usage of a non-streamed answer is accounted.
func (g *Gateway) servePassthrough(w http.ResponseWriter, r *http.Request, info *stream.Info, ep endpoint, body []byte, who *caller) {
	d := openaiDialect
	var head struct {
		Model  string `json:"model"`
		Stream bool   `json:"stream"`
	}
	if err := json.Unmarshal(body, &head); err != nil {
		d.WriteError(w, dialectopenai.JSONError(err))
		return
	}
	if head.Model == "" {
		d.WriteError(w, llm.InvalidParam("model", "is required"))
		return
	}
	if !who.allows(head.Model) {
		d.WriteError(w, modelNotFound(head.Model))
		return
	}
	path := map[endpoint]string{epCompletions: "completions", epEmbeddings: "embeddings", epResponses: "responses"}[ep]
	plan := g.router.plan(head.Model, time.Now())
	if len(plan) == 0 {
		d.WriteError(w, modelNotFound(head.Model))
		return
	}
	acct := &accounting{g: g, start: info.Start, model: head.Model}
	var last *llm.Error
	for i, t := range plan {
		if i >= g.maxAttempts && g.maxAttempts > 0 {
			break
		}
		a, ok := t.provider.adapter.(*openaiadapter.Adapter)
		if !ok || t.provider.typ == "demo" && ep != epCompletions && ep != epEmbeddings {
			last = llm.Errorf(llm.KindInvalidRequest, "model %s is served by provider %s, which does not offer /v1/%s", head.Model, t.provider.name, path)
			continue
		}
		if ep == epResponses && t.provider.typ != "openai" && t.provider.typ != "azure" {
			last = llm.Errorf(llm.KindInvalidRequest, "the Responses API is served for OpenAI and Azure OpenAI providers only; provider %s is %s", t.provider.name, t.provider.typ)
			continue
		}
		key, ke := t.provider.pickKey(time.Now())
		if ke != nil {
			last = ke
			g.attemptFailed(t, "", ke, time.Now())
			continue
		}
		out, err := sjson.SetBytes(body, "model", t.model)
		if err != nil {
			d.WriteError(w, llm.Errorf(llm.KindInvalidRequest, "patching the model: %v", err))
			return
		}
		c := &llm.Call{Model: t.model, BaseURL: t.provider.baseURL, APIKey: key, Stream: head.Stream}
		ctx, cancel := context.WithTimeout(r.Context(), t.provider.timeout)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.URL(c, path), bytes.NewReader(out))
		if err != nil {
			cancel()
			d.WriteError(w, llm.Errorf(llm.KindInternal, "building the request: %v", err))
			return
		}
		req.Header.Set("Content-Type", "application/json")
		a.Authorize(req.Header, key)
		x, e := g.send(ctx, cancel, r, info, t.provider, req)
		if e != nil {
			last = e
			g.attemptFailed(t, key, e, time.Now())
			if !e.Retryable() {
				break
			}
			continue
		}
		acct.target, acct.attempts = t, i+1
		setTargetHeaders(w.Header(), t, i+1)
		g.relay(w, x, acct, head.Stream)
		g.shared.cooldowns.clear(t)
		info.Details = "via_upstream"
		return
	}
	if last == nil {
		last = llm.Errorf(llm.KindOverloaded, "no provider could serve model %s", head.Model)
	}
	d.WriteError(w, last)
}

// relay copies a provider's answer to the client: a stream flushed as it comes, a body
// read whole for its usage.
func (g *Gateway) relay(w http.ResponseWriter, x *exchange, acct *accounting, streamed bool) {
	resp := x.resp
	defer resp.Body.Close()
	h := w.Header()
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		h.Set("Content-Type", ct)
	}
	if !streamed {
		b, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
		acct.upstream += time.Since(x.sent)
		if err != nil {
			x.done(502, err)
			openaiDialect.WriteError(w, llm.Errorf(llm.KindUpstream, "reading the provider's answer: %v", err))
			return
		}
		x.done(resp.StatusCode, nil)
		acct.finish(passthroughUsage(b), true)
		acct.setHeaders(h)
		h.Set("Content-Length", strconv.Itoa(len(b)))
		w.WriteHeader(resp.StatusCode)
		w.Write(b)
		return
	}
	w.WriteHeader(resp.StatusCode)
	rc := http.NewResponseController(w)
	buf := make([]byte, 16<<10)
	var err error
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				err = werr
				break
			}
			rc.Flush()
		}
		if rerr != nil {
			if !errors.Is(rerr, io.EOF) {
				err = rerr
			}
			break
		}
	}
	acct.upstream += time.Since(x.sent)
	x.done(resp.StatusCode, err)
	acct.finish(nil, err == nil)
	if err != nil {
		// A cut stream must not look complete: abort the response.
		panic(http.ErrAbortHandler)
	}
}

// passthroughUsage reads the usage of a completions, embeddings or responses answer.
func passthroughUsage(b []byte) *openai.Usage {
	var v struct {
		Usage *struct {
			PromptTokens     int `json:"prompt_tokens"`
			CompletionTokens int `json:"completion_tokens"`
			InputTokens      int `json:"input_tokens"`
			OutputTokens     int `json:"output_tokens"`
		} `json:"usage"`
	}
	if json.Unmarshal(b, &v) != nil || v.Usage == nil {
		return nil
	}
	u := v.Usage
	return &openai.Usage{PromptTokens: u.PromptTokens + u.InputTokens, CompletionTokens: u.CompletionTokens + u.OutputTokens,
		TotalTokens: u.PromptTokens + u.InputTokens + u.CompletionTokens + u.OutputTokens}
}
