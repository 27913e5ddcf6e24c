package session

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
)

// Summarizer condenses the oldest messages of a session. msgs start with
// the previous summary, as a SummaryMessage, when there is one: the result
// must stand for all of msgs. The gateway's implementation calls a
// configured (cheap) model, e.g. with SummaryRequest.
type Summarizer interface {
	Summarize(ctx context.Context, msgs []openai.Message) (string, error)
}

// SummarizerFunc adapts a function to Summarizer.
type SummarizerFunc func(ctx context.Context, msgs []openai.Message) (string, error)

// Summarize implements Summarizer.
func (f SummarizerFunc) Summarize(ctx context.Context, msgs []openai.Message) (string, error) {
	return f(ctx, msgs)
}

// MaybeSummarize compacts a session whose estimated tokens (Session.Tokens:
// messages and summary) exceed threshold: it summarizes all but the newest
// keepLast turns (at least 1), whole turns only, together with the previous
// summary, and stores the result with SetSummary at the version it loaded.
// It returns how many messages the summary replaced (0: nothing to do).
//
// It is meant to run off the request path, in its own goroutine with its
// own deadline, after a reply has been appended. Turns appended while the
// summarizer runs are kept (SetSummary only drops the messages that were
// summarized). A Reset or another summary in the meantime makes it fail
// with ErrConflict and change nothing: that is benign, the next call may
// try again. A failed summary never loses messages.
func MaybeSummarize(ctx context.Context, st Store, scope, id string, threshold, keepLast int, s Summarizer) (int, error) {
	msgs, meta, err := st.Load(ctx, scope, id)
	if err != nil {
		return 0, err
	}
	if threshold <= 0 || meta.Tokens <= threshold {
		return 0, nil
	}
	cut := summaryCut(msgs, keepLast)
	if cut == 0 {
		return 0, nil
	}
	in := make([]openai.Message, 0, cut+1)
	if meta.Summary.Text != "" {
		in = append(in, SummaryMessage(meta.Summary.Text))
	}
	in = append(in, msgs[:cut]...)
	text, err := s.Summarize(ctx, in)
	if err != nil {
		return 0, fmt.Errorf("session: summarize: %w", err)
	}
	if strings.TrimSpace(text) == "" {
		return 0, errors.New("session: summarize: the summarizer returned no text")
	}
	if _, err := st.SetSummary(ctx, scope, id, text, cut, meta.Version); err != nil {
		return 0, err
	}
	return cut, nil
}

// summaryCut returns how many of the oldest messages to summarize so that
// the newest keepLast (at least 1) turns stay: a turn boundary, 0 if there
// are not more turns than that.
func summaryCut(msgs []openai.Message, keepLast int) int {
	keepLast = max(keepLast, 1)
	starts := cutPoints(msgs, nil)
	if n := len(starts); n > 0 && starts[n-1] == len(msgs) {
		starts = starts[:n-1]
	}
	if len(starts) <= keepLast {
		return 0
	}
	return starts[len(starts)-keepLast]
}

// SummaryInstructions is the system prompt of SummaryRequest.
const SummaryInstructions = "You condense the earlier part of a conversation between a user and an AI assistant " +
	"so that the assistant can continue it without the full transcript. Write a concise summary in the " +
	"conversation's language: the user's goals and preferences, facts and figures given, decisions made, " +
	"tool calls made and what they returned, and questions still open. Keep names, numbers and identifiers " +
	"exactly. Do not address the user; output only the summary."

// SummaryRequest builds a chat request that asks model for the summary of
// msgs (a Summarizer's input), with the transcript rendered as text in one
// user message, so that any provider takes it (no tool declarations, no
// tool-message ordering rules).
func SummaryRequest(model string, msgs []openai.Message, maxTokens int) *openai.ChatRequest {
	var b strings.Builder
	b.WriteString("Summarize this conversation:\n\n")
	for i := range msgs {
		m := &msgs[i]
		role := m.Role
		if m.Role == "system" && m.Content != nil && strings.HasPrefix(m.Content.Text, SummaryPrefix) {
			b.WriteString("[earlier summary]\n")
			b.WriteString(strings.TrimPrefix(m.Content.Text, SummaryPrefix))
			b.WriteString("\n\n")
			continue
		}
		b.WriteString("[" + role + "]\n")
		if t := m.Content.String(); t != "" {
			b.WriteString(t)
			b.WriteByte('\n')
		}
		for _, tc := range m.ToolCalls {
			fmt.Fprintf(&b, "(calls tool %s with %s)\n", tc.Function.Name, tc.Function.Arguments)
		}
		b.WriteByte('\n')
	}
	r := &openai.ChatRequest{
		Model: model,
		Messages: []openai.Message{
			{Role: "system", Content: openai.TextContent(SummaryInstructions)},
			{Role: "user", Content: openai.TextContent(b.String())},
		},
	}
	if maxTokens > 0 {
		r.MaxTokens = openai.Ptr(maxTokens)
	}
	return r
}
