package session

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
	"github.com/pylon-gateway/pylon/internal/llm/usage"
)

// genConversation builds a history and a new turn from fuzz bytes: user and
// assistant messages of random lengths, tool calls answered later, at once,
// partly, never, or in the new turn, users interjecting, orphan results.
func genConversation(data []byte) (system, history, newTurn []openai.Message, budget int, opt FitOptions) {
	next := func() byte {
		if len(data) == 0 {
			return 0
		}
		b := data[0]
		data = data[1:]
		return b
	}
	text := func(b byte) string { return strings.Repeat("w ", int(b>>3)*3) }
	for range int(next() % 3) {
		system = append(system, sys("rules "+text(next())))
	}
	budget = int(next()) * 8
	if next()%3 == 0 {
		opt.Summary = "earlier " + text(next())
	}
	if b := next(); b%4 == 0 {
		opt.MaxTurns = int(b>>2) % 6
	}
	var pending []string
	ids := 0
	n := int(next() % 40)
	for range n {
		b := next()
		switch b % 9 {
		case 0, 1:
			history = append(history, user(text(b)))
		case 2:
			history = append(history, asst(text(b)))
		case 3:
			var cs []string
			for range 1 + int(b>>4)%3 {
				ids++
				cs = append(cs, fmt.Sprint("c", ids))
			}
			history = append(history, call(cs...))
			pending = append(pending, cs...)
		case 4, 5:
			if len(pending) > 0 {
				i := int(b>>4) % len(pending)
				history = append(history, result(pending[i], text(b)))
				pending = append(pending[:i], pending[i+1:]...)
			}
		case 6:
			history = append(history, result("orphan", text(b)))
		case 7:
			for _, id := range pending {
				history = append(history, result(id, "r"))
			}
			pending = nil
		case 8:
			if len(pending) > 0 { // the same id called again later
				history = append(history, call(pending[0]))
			}
		}
	}
	if next()%2 == 0 {
		for _, id := range pending {
			newTurn = append(newTurn, result(id, "late"))
		}
	}
	if len(newTurn) == 0 || next()%2 == 0 {
		newTurn = append(newTurn, user("now "+text(next())))
	}
	return
}

// legalCuts is cutPoints by brute force: c is legal when it is 0, the end,
// or a user message, and no tool message at or after c answers a call made
// before c (the nearest earlier call with its id).
func legalCuts(history, newTurn []openai.Message) []bool {
	all := append(append([]openai.Message{}, history...), newTurn...)
	callOf := func(j int) int {
		for k := j - 1; k >= 0; k-- {
			if all[k].Role == "assistant" {
				for _, tc := range all[k].ToolCalls {
					if tc.ID == all[j].ToolCallID {
						return k
					}
				}
			}
		}
		return -1
	}
	legal := make([]bool, len(history)+1)
	for c := 0; c <= len(history); c++ {
		legal[c] = c == 0 || c == len(history) || history[c].Role == "user"
	}
	for j := range all {
		if all[j].Role != "tool" {
			continue
		}
		if k := callOf(j); k >= 0 {
			for c := k + 1; c <= min(j, len(history)); c++ {
				legal[c] = false
			}
		}
	}
	return legal
}

func FuzzFit(f *testing.F) {
	f.Add([]byte{1, 10, 3, 0, 20, 0, 1, 3, 4, 2, 0, 3, 0, 1, 2})
	f.Add([]byte{0, 2, 1, 4, 30, 3, 4, 6, 8, 0, 2, 3, 19, 0, 1, 0})
	f.Add([]byte{2, 100, 200, 0, 9, 35, 3, 0, 2, 0, 0, 3, 4})
	f.Add([]byte{1, 50, 0, 0, 0, 12, 0, 8, 35, 0, 5, 7, 1, 2, 0, 1, 0, 0})
	est := usage.Heuristic{}
	f.Fuzz(func(t *testing.T, data []byte) {
		system, history, newTurn, budget, opt := genConversation(data)
		fit := Fit(system, history, newTurn, budget, est, "m", opt)
		got := fit.Messages

		// Shape: system, summary, a suffix of the history, the new turn.
		want := append([]openai.Message{}, system...)
		if opt.Summary != "" {
			want = append(want, SummaryMessage(opt.Summary))
		}
		if fit.Dropped < 0 || fit.Dropped > len(history) {
			t.Fatalf("dropped %d of %d", fit.Dropped, len(history))
		}
		want = append(append(want, history[fit.Dropped:]...), newTurn...)
		if mustJSON(t, got) != mustJSON(t, want) {
			t.Fatalf("not system + summary + history suffix + new turn:\n got %v\nwant %v", texts(got), texts(want))
		}

		// Never a tool result without its call; the cut is a legal one.
		legal := legalCuts(history, newTurn)
		if !legal[fit.Dropped] {
			t.Fatalf("cut at %d is illegal: %v | %v", fit.Dropped, texts(history), texts(newTurn))
		}

		// The count is the estimator's.
		if n := est.CountMessages("m", toUsage(got)); n != fit.Tokens {
			t.Fatalf("tokens %d, estimator %d", fit.Tokens, n)
		}

		// Budget: no trimming at 0 (beyond MaxTurns); within it unless over;
		// and the least dropped that fits.
		fixed := est.CountMessages("m", toUsage(want[:len(want)-len(history[fit.Dropped:])-len(newTurn)]))
		fixed += est.CountMessages("m", toUsage(newTurn)) - est.CountMessages("m", nil)
		cost := func(c int) int {
			return fixed + est.CountMessages("m", toUsage(history[c:])) - est.CountMessages("m", nil)
		}
		lo := 0
		if opt.MaxTurns > 0 {
			var starts []int
			for c := range len(history) {
				if legal[c] {
					starts = append(starts, c)
				}
			}
			if len(starts) > opt.MaxTurns {
				lo = starts[len(starts)-opt.MaxTurns]
			}
		}
		if budget <= 0 {
			if fit.Dropped != lo || fit.Over {
				t.Fatalf("budget 0: dropped %d (want %d), over %v", fit.Dropped, lo, fit.Over)
			}
			return
		}
		if !fit.Over && fit.Tokens > budget {
			t.Fatalf("tokens %d over budget %d without Over", fit.Tokens, budget)
		}
		for c := lo; c < fit.Dropped; c++ {
			if legal[c] && cost(c) <= budget {
				t.Fatalf("dropped %d, but a cut at %d fits (%d <= %d)", fit.Dropped, c, cost(c), budget)
			}
		}
		if fit.Over {
			for c := fit.Dropped; c <= len(history); c++ {
				if legal[c] && c != fit.Dropped {
					t.Fatalf("over budget, yet a larger legal cut %d exists", c)
				}
			}
		}
	})
}
