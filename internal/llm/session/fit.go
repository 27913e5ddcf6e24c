package session

import (
	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
	"github.com/pylon-gateway/pylon/internal/llm/usage"
)

// FitOptions are Fit's optional inputs; the zero value adds nothing.
type FitOptions struct {
	// Summary, when not empty, is sent as a system message (SummaryMessage)
	// right after the system prompt.
	Summary string
	// MaxTurns, when > 0, keeps at most that many of the newest history
	// turns (X-Session-Max-Turns), before the token budget applies.
	MaxTurns int
}

// Fitted is what Fit chose.
type Fitted struct {
	// Messages are the messages to send: system prompt, summary, the kept
	// history, the new turn.
	Messages []openai.Message
	// Dropped counts the history messages left out (the oldest), in
	// DroppedTurns whole turns.
	Dropped, DroppedTurns int
	// Tokens estimates the prompt tokens of Messages.
	Tokens int
	// Over: Messages still exceed the budget, because the system prompt,
	// the summary, the new turn and the history they cannot be separated
	// from exceed it on their own. The caller may send it anyway (the
	// provider decides) or refuse.
	Over bool
}

// SummaryPrefix starts the system message that carries a summary.
const SummaryPrefix = "Summary of the earlier conversation:\n"

// SummaryMessage is the system message that carries a summary.
func SummaryMessage(text string) openai.Message {
	return openai.Message{Role: "system", Content: openai.TextContent(SummaryPrefix + text)}
}

// DefaultBudget returns the prompt token budget for a model with the given
// context window when the call may produce maxOutput tokens: the window
// minus maxOutput minus a 5% margin for the error of the estimate. A window
// <= 0 (unknown) gives 0, no trimming; a budget that would be <= 0 gives 1,
// so that Fit drops all the history it can.
func DefaultBudget(contextWindow, maxOutput int) int {
	if contextWindow <= 0 {
		return 0
	}
	b := contextWindow - max(maxOutput, 0) - contextWindow/20
	return max(b, 1)
}

// Fit arranges a call: the system prompt (always kept), the summary, the
// history and the new turn (always kept), dropping the oldest history by
// whole turns until the estimated prompt fits budget tokens. A turn starts
// at a user message; an assistant message with tool calls and the tool
// messages that answer them are never separated (not even when the answers
// are in the new turn). A budget <= 0 means no trimming (MaxTurns still
// applies). Tokens are estimated with est for model.
//
// system and newTurn are used as they are; history is normally the stored
// messages, which hold no system prompt (a system message in it is part of
// the turn it is in).
func Fit(system, history, newTurn []openai.Message, budget int, est usage.Estimator, model string, opt FitOptions) Fitted {
	prime := est.CountMessages(model, nil)
	var summary openai.Message
	hasSummary := opt.Summary != ""
	if hasSummary {
		summary = SummaryMessage(opt.Summary)
	}
	fixed := prime
	for i := range system {
		fixed += messageTokens(est, model, &system[i], prime)
	}
	if hasSummary {
		fixed += messageTokens(est, model, &summary, prime)
	}
	for i := range newTurn {
		fixed += messageTokens(est, model, &newTurn[i], prime)
	}
	// suffix[i] = tokens of history[i:].
	suffix := make([]int, len(history)+1)
	for i := len(history) - 1; i >= 0; i-- {
		suffix[i] = suffix[i+1] + messageTokens(est, model, &history[i], prime)
	}

	cuts := cutPoints(history, newTurn)
	// cuts is ascending, starts at 0; every element but possibly the last
	// (len(history)) starts a history turn.
	lo := 0 // index into cuts of the smallest allowed cut
	if opt.MaxTurns > 0 {
		turns := len(cuts)
		if cuts[len(cuts)-1] == len(history) {
			turns-- // the end is not a turn start
		}
		if turns > opt.MaxTurns {
			lo = turns - opt.MaxTurns
		}
	}
	pick := lo
	over := false
	if budget > 0 {
		pick = -1
		for k := lo; k < len(cuts); k++ {
			if fixed+suffix[cuts[k]] <= budget {
				pick = k
				break
			}
		}
		if pick < 0 {
			pick, over = len(cuts)-1, true
		}
	}
	cut := cuts[pick]

	out := make([]openai.Message, 0, len(system)+1+len(history)-cut+len(newTurn))
	out = append(out, system...)
	if hasSummary {
		out = append(out, summary)
	}
	out = append(out, history[cut:]...)
	out = append(out, newTurn...)
	return Fitted{Messages: out, Dropped: cut, DroppedTurns: pick, Tokens: fixed + suffix[cut], Over: over}
}

// cutPoints returns, ascending, the indices c of history such that
// history[:c] can be dropped: 0; every user message not inside a tool
// exchange; and len(history) unless the new turn answers a tool call of
// the history. A tool exchange runs from an assistant message that makes a
// tool call to the tool message that answers it (the nearest earlier call
// with that id); no cut falls inside (after the call, up to the answer).
// A tool message whose call is not there (an orphan) binds nothing.
func cutPoints(history, newTurn []openai.Message) []int {
	n := len(history) + len(newTurn)
	at := func(i int) *openai.Message {
		if i < len(history) {
			return &history[i]
		}
		return &newTurn[i-len(history)]
	}
	// blocked[i] > 0: a cut at i would separate a call from its answer.
	// Difference array over [0, len(history)].
	var blocked []int
	var calls map[string]int // tool call id -> index of the latest assistant making it
	for j := 0; j < n; j++ {
		m := at(j)
		switch m.Role {
		case "assistant":
			for _, tc := range m.ToolCalls {
				if calls == nil {
					calls = make(map[string]int)
				}
				calls[tc.ID] = j
			}
		case "tool":
			k, ok := calls[m.ToolCallID]
			if !ok || k+1 > len(history) {
				continue
			}
			if blocked == nil {
				blocked = make([]int, len(history)+2)
			}
			// Cuts in (k, min(j, len(history))] are blocked.
			blocked[k+1]++
			blocked[min(j, len(history))+1]--
		}
	}
	cuts := make([]int, 0, 8)
	run := 0
	for c := 0; c <= len(history); c++ {
		if blocked != nil {
			run += blocked[c]
		}
		if run > 0 {
			continue
		}
		if c == 0 || c == len(history) || history[c].Role == "user" {
			cuts = append(cuts, c)
		}
	}
	return cuts
}

// imageTokens estimates an image part: OpenAI's cost of a 1024x1024 image at
// high detail (85 + 4*170). Images are not text; counting their URL or data
// as text would be far off.
const imageTokens = 765

// messageTokens estimates one message's tokens within a prompt (its framing
// included, the reply primer excluded).
func messageTokens(est usage.Estimator, model string, m *openai.Message, prime int) int {
	um := usage.Message{Role: m.Role, Name: m.Name}
	extra := 0
	if m.Content != nil {
		if m.Content.IsParts() {
			for i := range m.Content.Parts {
				p := &m.Content.Parts[i]
				switch {
				case p.ImageURL != nil:
					extra += imageTokens
				case p.InputAudio != nil:
					extra += est.CountText(model, p.InputAudio.Data)
				case p.File != nil:
					extra += est.CountText(model, p.File.FileData)
				}
			}
		}
		um.Content = m.Content.String()
	}
	if m.Refusal != "" {
		um.Content += m.Refusal
	}
	um.Content += m.ReasoningContent
	for i := range m.ThinkingBlocks {
		um.Content += m.ThinkingBlocks[i].Thinking
	}
	if len(m.ToolCalls) > 0 || m.ToolCallID != "" {
		b := make([]byte, 0, 64)
		for i := range m.ToolCalls {
			tc := &m.ToolCalls[i]
			b = append(b, tc.ID...)
			b = append(b, tc.Function.Name...)
			b = append(b, tc.Function.Arguments...)
		}
		b = append(b, m.ToolCallID...)
		um.ToolCallsJSON = string(b)
	}
	return est.CountMessages(model, []usage.Message{um}) - prime + extra
}

// MessageTokens estimates one message's tokens within a prompt, as Fit and
// the stores count them.
func MessageTokens(est usage.Estimator, model string, m *openai.Message) int {
	return messageTokens(est, model, m, est.CountMessages(model, nil))
}
