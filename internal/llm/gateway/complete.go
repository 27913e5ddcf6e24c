package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/pylon-gateway/pylon/internal/llm"
	openaiadapter "github.com/pylon-gateway/pylon/internal/llm/provider/openai"
	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
	"github.com/pylon-gateway/pylon/internal/llm/session"
	"github.com/pylon-gateway/pylon/internal/stream"
)

// complete makes a non-streamed chat call on Pylon's own behalf (session summaries): the
// same routing, fallbacks and accounting as a client's call, without a client.
func (g *Gateway) complete(ctx context.Context, req *openai.ChatRequest) (*openai.ChatResponse, error) {
	plan := g.router.plan(req.Model, time.Now())
	if len(plan) == 0 {
		return nil, modelNotFound(req.Model)
	}
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://pylon.internal/v1/chat/completions", http.NoBody)
	if err != nil {
		return nil, err
	}
	info := &stream.Info{Start: time.Now()}
	var last *llm.Error
	for i, t := range plan {
		if g.maxAttempts > 0 && i >= g.maxAttempts {
			break
		}
		key, ke := t.provider.pickKey(time.Now())
		if ke != nil {
			last = ke
			continue
		}
		c := &llm.Call{Request: req, Model: t.model, BaseURL: t.provider.baseURL, APIKey: key, DefaultMaxTokens: g.defaultMaxTokens(t)}
		x, e := g.call(ctx, r, info, t, c, nil)
		if e != nil {
			last = e
			g.attemptFailed(t, key, e, time.Now())
			if !e.Retryable() {
				break
			}
			continue
		}
		out, err := x.adapter.DecodeChat(x.resp, c)
		x.resp.Body.Close()
		if err != nil {
			x.done(502, err)
			return nil, err
		}
		x.done(x.resp.StatusCode, nil)
		if err := out.Decode(); err != nil {
			return nil, err
		}
		acct := &accounting{g: g, start: info.Start, model: req.Model, target: t, attempts: i + 1}
		acct.finish(out.Usage, true)
		return out, nil
	}
	if last == nil {
		last = llm.Errorf(llm.KindOverloaded, "no provider could serve model %s", req.Model)
	}
	return nil, last
}

// summarizeLater compacts a session that outgrew the configured threshold, in the
// background: a summary made by the configured model replaces its older turns.
func (g *Gateway) summarizeLater(sc *sessionCall) {
	cfg := g.sessions.Summary
	if cfg == nil || cfg.Model == "" {
		return
	}
	g.shared.settles.Add(1)
	go func() {
		defer g.shared.settles.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		summarizer := session.SummarizerFunc(func(ctx context.Context, msgs []openai.Message) (string, error) {
			resp, err := g.complete(ctx, session.SummaryRequest(cfg.Model, msgs, cfg.MaxTokens))
			if err != nil {
				return "", err
			}
			return resp.Choices[0].Message.Content.String(), nil
		})
		if _, err := session.MaybeSummarize(ctx, sc.store, sc.scope, sc.id, cfg.ThresholdTokens, cfg.KeepTurns, summarizer); err != nil {
			g.log.Warn("llm sessions: summarizing failed; the session keeps its turns", "session", sc.id, "error", err)
		}
	}()
}

// embed returns the embedding of text by model, through the model's OpenAI-family provider.
func (g *Gateway) embed(ctx context.Context, model, text string) ([]float32, error) {
	plan := g.router.plan(model, time.Now())
	if len(plan) == 0 {
		return nil, modelNotFound(model)
	}
	t := plan[0]
	a, ok := t.provider.adapter.(*openaiadapter.Adapter)
	if !ok {
		return nil, fmt.Errorf("embedding model %s is served by %s, which is not an OpenAI-family provider", model, t.provider.name)
	}
	key, ke := t.provider.pickKey(time.Now())
	if ke != nil {
		return nil, ke
	}
	body, _ := json.Marshal(map[string]any{"model": t.model, "input": text})
	c := &llm.Call{Model: t.model, BaseURL: t.provider.baseURL, APIKey: key}
	ctx, cancel := context.WithTimeout(ctx, t.provider.timeout)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.URL(c, "embeddings"), bytes.NewReader(body))
	if err != nil {
		cancel()
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	a.Authorize(req.Header, key)
	r, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://pylon.internal/v1/embeddings", http.NoBody)
	x, e := g.send(ctx, cancel, r, &stream.Info{}, t.provider, req)
	if e != nil {
		return nil, e
	}
	defer x.resp.Body.Close()
	var out struct {
		Data []struct {
			Embedding []float32 `json:"embedding"`
		} `json:"data"`
	}
	err = json.NewDecoder(io.LimitReader(x.resp.Body, 16<<20)).Decode(&out)
	x.done(x.resp.StatusCode, err)
	if err != nil || len(out.Data) == 0 || len(out.Data[0].Embedding) == 0 {
		return nil, fmt.Errorf("embedding answer without a vector: %v", err)
	}
	return out.Data[0].Embedding, nil
}
