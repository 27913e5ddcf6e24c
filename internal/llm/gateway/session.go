package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pylon-gateway/pylon/internal/access"
	"github.com/pylon-gateway/pylon/internal/llm"
	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
	"github.com/pylon-gateway/pylon/internal/llm/session"
	"github.com/pylon-gateway/pylon/internal/llm/usage"
)

// sessionCall is one call's part in a session: where to store its turn and reply.
type sessionCall struct {
	store     session.Store
	scope, id string
	mode      session.Mode
	newTurn   int // the request's last newTurn messages are the turn to store
}

// sessionScope is whose sessions a request reaches: the API key's on routes with auth;
// otherwise the credential the client sent (hashed), so that two clients of an open route
// do not share sessions either.
func sessionScope(r *http.Request, who *caller) string {
	if who.principal != nil {
		return who.principal.Scope()
	}
	if t := access.Token(r); t != "" {
		sum := sha256.Sum256([]byte(t))
		return "anon:" + hex.EncodeToString(sum[:12])
	}
	return "anonymous"
}

// sessionBegin puts a session's history in front of the request's new turn, fitted to the
// model's context window. nil: the request names no session.
func (g *Gateway) sessionBegin(ctx context.Context, w http.ResponseWriter, r *http.Request, who *caller, req *openai.ChatRequest, first target) (*openai.ChatRequest, *sessionCall, *llm.Error) {
	if g.sessions == nil || g.shared.Sessions == nil {
		return req, nil, nil
	}
	d, ok, err := session.ParseDirectives(r.Header, g.sessions.Header)
	if err != nil {
		return nil, nil, llm.Errorf(llm.KindInvalidRequest, "%v", err)
	}
	if !ok {
		return req, nil, nil
	}
	st := g.shared.Sessions
	sc := &sessionCall{store: st, scope: sessionScope(r, who), id: d.ID, mode: d.Mode}
	if d.Mode == session.ModeReset {
		if _, err := st.Reset(ctx, sc.scope, sc.id); err != nil && !errors.Is(err, session.ErrNotFound) {
			return nil, nil, llm.Errorf(llm.KindOverloaded, "sessions are unavailable: %v", err)
		}
	}
	var history []openai.Message
	var meta session.Session
	if d.Mode != session.ModeSkip {
		history, meta, err = st.Load(ctx, sc.scope, sc.id)
		if err != nil && !errors.Is(err, session.ErrNotFound) {
			return nil, nil, llm.Errorf(llm.KindOverloaded, "sessions are unavailable: %v", err)
		}
	}
	// The request's leading system messages are not stored: a client sends its system
	// prompt with every turn.
	n := 0
	for n < len(req.Messages) && (req.Messages[n].Role == "system" || req.Messages[n].Role == "developer") {
		n++
	}
	system, newTurn := req.Messages[:n], req.Messages[n:]
	sc.newTurn = len(newTurn)
	maxOut := req.MaxOutput()
	if maxOut == 0 {
		maxOut = g.defaultMaxTokens(first)
	}
	budget := 0
	if p, ok := g.prices.Lookup(first.provider.typ, first.model); ok {
		budget = session.DefaultBudget(p.ContextWindow, maxOut)
	}
	for _, c := range []int{g.sessions.MaxHistoryTokens, d.MaxTokens} {
		if c > 0 && (budget == 0 || c < budget) {
			budget = c
		}
	}
	fit := session.Fit(system, history, newTurn, budget, usage.Heuristic{}, req.Model,
		session.FitOptions{Summary: meta.Summary.Text, MaxTurns: d.MaxTurns})
	out := *req
	out.Messages = fit.Messages
	out.Raw = nil // the body changed: adapters encode the canonical request
	h := w.Header()
	h[session.HeaderID] = []string{sc.id}
	h[session.HeaderHistoryTokens] = []string{strconv.Itoa(fit.Tokens)}
	h[session.HeaderTrimmed] = []string{strconv.Itoa(fit.Dropped)}
	h[session.HeaderSummarized] = []string{strconv.FormatBool(meta.Summary.Text != "")}
	return &out, sc, nil
}

// sessionEnd stores the turn (as it was sent: PII redacted) and the reply (as the provider
// wrote it: PII still redacted) once the call completed.
func (g *Gateway) sessionEnd(sc *sessionCall, sent *openai.ChatRequest, reply *openai.ChatResponse) {
	if sc == nil || (sc.mode != session.ModeAppend && sc.mode != session.ModeReset) || reply == nil || len(reply.Choices) == 0 {
		return
	}
	msgs := append([]openai.Message(nil), sent.Messages[len(sent.Messages)-sc.newTurn:]...)
	m := reply.Choices[0].Message
	m.Role = "assistant"
	msgs = append(msgs, m)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	meta, err := sc.store.Append(ctx, sc.scope, sc.id, session.AnyVersion, msgs...)
	if err != nil {
		g.log.Warn("llm sessions: storing a turn failed", "session", sc.id, "error", err)
		return
	}
	if sm := g.sessions.Summary; sm != nil && meta.Tokens > sm.ThresholdTokens {
		g.summarizeLater(sc)
	}
}

// serveSessions answers the session API: GET /v1/sessions, GET and DELETE
// /v1/sessions/{id}, GET /v1/sessions/{id}/messages, within the caller's scope.
func (g *Gateway) serveSessions(w http.ResponseWriter, r *http.Request, who *caller) {
	d := openaiDialect
	st := g.shared.Sessions
	if g.sessions == nil || st == nil {
		d.WriteError(w, llm.Errorf(llm.KindNotFound, "sessions are not enabled: set llm.sessions"))
		return
	}
	scope := sessionScope(r, who)
	rest := r.URL.Path[strings.LastIndex(r.URL.Path, "/sessions")+len("/sessions"):]
	rest = strings.TrimPrefix(rest, "/")
	id, sub, _ := strings.Cut(rest, "/")
	ctx := r.Context()
	notFound := func() {
		d.WriteError(w, &llm.Error{Kind: llm.KindNotFound, Code: "session_not_found", Message: "no session " + id})
	}
	switch {
	case id == "" && r.Method == http.MethodGet:
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		list, next, err := st.List(ctx, scope, r.URL.Query().Get("cursor"), limit)
		if err != nil {
			d.WriteError(w, llm.Errorf(llm.KindInvalidRequest, "%v", err))
			return
		}
		if list == nil {
			list = []session.Session{}
		}
		writeJSON(w, map[string]any{"object": "list", "data": list, "next_cursor": next})
	case id != "" && sub == "" && r.Method == http.MethodGet:
		meta, err := st.Stat(ctx, scope, id)
		if err != nil {
			notFound()
			return
		}
		writeJSON(w, meta)
	case id != "" && sub == "messages" && r.Method == http.MethodGet:
		msgs, _, err := st.Load(ctx, scope, id)
		if err != nil {
			notFound()
			return
		}
		writeJSON(w, map[string]any{"object": "list", "data": msgs})
	case id != "" && sub == "" && r.Method == http.MethodDelete:
		if _, err := st.Delete(ctx, scope, id); err != nil && !errors.Is(err, session.ErrNotFound) {
			d.WriteError(w, llm.Errorf(llm.KindOverloaded, "sessions are unavailable: %v", err))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		d.WriteError(w, llm.Errorf(llm.KindNotFound, "Unknown request URL: %s %s", r.Method, r.URL.Path))
	}
}
