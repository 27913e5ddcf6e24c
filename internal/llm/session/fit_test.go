package session

import (
	"slices"
	"testing"

	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
	"github.com/pylon-gateway/pylon/internal/llm/usage"
)

// tenEach costs every message 10 tokens and the reply primer 3, whatever
// the text: budgets in the table read as message counts.
type tenEach struct{}

func (tenEach) CountText(_, s string) int { return len(s) }
func (tenEach) CountMessages(_ string, msgs []usage.Message) int {
	return 3 + 10*len(msgs)
}

// budgetFor is the budget that fits n messages.
func budgetFor(n int) int { return 3 + 10*n }

func TestFit(t *testing.T) {
	sp := []openai.Message{sys("be brief")}
	tests := []struct {
		name    string
		system  []openai.Message
		history []openai.Message
		newTurn []openai.Message
		budget  int
		opt     FitOptions
		want    []string
		dropped int
		turns   int
		over    bool
	}{
		{
			name:    "budget 0 keeps everything",
			system:  sp,
			history: []openai.Message{user("1"), asst("1"), user("2"), asst("2")},
			newTurn: []openai.Message{user("3")},
			want:    []string{"s:be brief", "u:1", "a:1", "u:2", "a:2", "u:3"},
		},
		{
			name:    "fits: nothing dropped",
			system:  sp,
			history: []openai.Message{user("1"), asst("1")},
			newTurn: []openai.Message{user("2")},
			budget:  budgetFor(4),
			want:    []string{"s:be brief", "u:1", "a:1", "u:2"},
		},
		{
			name:    "oldest whole turns dropped, system kept",
			system:  sp,
			history: []openai.Message{user("1"), asst("1"), user("2"), asst("2"), user("3"), asst("3")},
			newTurn: []openai.Message{user("4")},
			budget:  budgetFor(6), // room for 4 history messages
			want:    []string{"s:be brief", "u:2", "a:2", "u:3", "a:3", "u:4"},
			dropped: 2, turns: 1,
		},
		{
			name:    "a turn is not split: 3 messages of room keep one turn of 2",
			system:  sp,
			history: []openai.Message{user("1"), asst("1"), user("2"), asst("2")},
			newTurn: []openai.Message{user("3")},
			budget:  budgetFor(5),
			want:    []string{"s:be brief", "u:2", "a:2", "u:3"},
			dropped: 2, turns: 1,
		},
		{
			name:   "a tool call stays with its results",
			system: sp,
			history: []openai.Message{
				user("1"), call("x", "y"), result("x", "rx"), result("y", "ry"), asst("1"),
				user("2"), asst("2"),
			},
			newTurn: []openai.Message{user("3")},
			budget:  budgetFor(6), // 4 of history: not enough for turn 1 (5)
			want:    []string{"s:be brief", "u:2", "a:2", "u:3"},
			dropped: 5, turns: 1,
		},
		{
			name:   "a user message inside a tool exchange is no turn start",
			system: sp,
			history: []openai.Message{
				user("1"), call("x"), user("meanwhile"), result("x", "rx"), asst("1"),
				user("2"), asst("2"),
			},
			newTurn: []openai.Message{user("3")},
			budget:  budgetFor(2 + 5), // room to cut at "meanwhile", which would orphan rx
			want:    []string{"s:be brief", "u:2", "a:2", "u:3"},
			dropped: 5, turns: 1,
		},
		{
			name:    "the new turn answers the history's tool call: that turn stays",
			system:  sp,
			history: []openai.Message{user("1"), asst("1"), user("2"), call("x")},
			newTurn: []openai.Message{result("x", "rx")},
			budget:  budgetFor(2), // not even room for the call
			want:    []string{"s:be brief", "u:2", "c:x", "t:x=rx"},
			dropped: 2, turns: 1, over: true,
		},
		{
			name:    "system and new turn alone over budget: all history dropped",
			system:  sp,
			history: []openai.Message{user("1"), asst("1")},
			newTurn: []openai.Message{user("2")},
			budget:  budgetFor(1),
			want:    []string{"s:be brief", "u:2"},
			dropped: 2, turns: 1, over: true,
		},
		{
			name:    "summary inserted after the system prompt and counted",
			system:  []openai.Message{sys("a"), sys("b")},
			history: []openai.Message{user("1"), asst("1"), user("2"), asst("2")},
			newTurn: []openai.Message{user("3")},
			budget:  budgetFor(6), // 2 system + summary + new = 4: room for 2
			opt:     FitOptions{Summary: "earlier: hello"},
			want:    []string{"s:a", "s:b", "s:" + SummaryPrefix + "earlier: hello", "u:2", "a:2", "u:3"},
			dropped: 2, turns: 1,
		},
		{
			name:    "max turns",
			history: []openai.Message{user("1"), asst("1"), user("2"), asst("2"), user("3"), asst("3")},
			newTurn: []openai.Message{user("4")},
			opt:     FitOptions{MaxTurns: 1},
			want:    []string{"u:3", "a:3", "u:4"},
			dropped: 4, turns: 2,
		},
		{
			name:    "max turns and budget: the tighter wins",
			history: []openai.Message{user("1"), asst("1"), user("2"), asst("2"), user("3"), asst("3")},
			newTurn: []openai.Message{user("4")},
			budget:  budgetFor(3),
			opt:     FitOptions{MaxTurns: 2},
			want:    []string{"u:3", "a:3", "u:4"},
			dropped: 4, turns: 2,
		},
		{
			name:    "history left after a summary starts with an assistant message",
			history: []openai.Message{asst("tail"), user("2"), asst("2")},
			newTurn: []openai.Message{user("3")},
			budget:  budgetFor(3),
			want:    []string{"u:2", "a:2", "u:3"},
			dropped: 1, turns: 1,
		},
		{
			name:    "an orphan tool result binds nothing",
			history: []openai.Message{user("1"), result("gone", "r"), user("2"), asst("2")},
			newTurn: []openai.Message{user("3")},
			budget:  budgetFor(3),
			want:    []string{"u:2", "a:2", "u:3"},
			dropped: 2, turns: 1,
		},
		{
			name:    "no history",
			system:  sp,
			newTurn: []openai.Message{user("1")},
			budget:  budgetFor(2),
			want:    []string{"s:be brief", "u:1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := Fit(tt.system, tt.history, tt.newTurn, tt.budget, tenEach{}, "m", tt.opt)
			if got := texts(f.Messages); !slices.Equal(got, tt.want) {
				t.Errorf("messages\n got %v\nwant %v", got, tt.want)
			}
			if f.Dropped != tt.dropped || f.DroppedTurns != tt.turns || f.Over != tt.over {
				t.Errorf("dropped %d (%d turns), over %v; want %d (%d), %v", f.Dropped, f.DroppedTurns, f.Over, tt.dropped, tt.turns, tt.over)
			}
			if want := budgetFor(len(f.Messages)); f.Tokens != want {
				t.Errorf("tokens %d, want %d", f.Tokens, want)
			}
		})
	}
}

// TestFitTokensMatchEstimator: Fit's count equals the estimator's count of
// the whole prompt (framing is additive).
func TestFitTokensMatchEstimator(t *testing.T) {
	for _, est := range []usage.Estimator{usage.Heuristic{}, usage.NewTiktoken()} {
		h := twentyTurns()
		f := Fit([]openai.Message{sys("You are terse.")}, h, []openai.Message{user("next?")}, 0, est, "gpt-4o", FitOptions{Summary: "so far"})
		if want := est.CountMessages("gpt-4o", toUsage(f.Messages)); f.Tokens != want {
			t.Errorf("%T: Fit counts %d, estimator %d", est, f.Tokens, want)
		}
	}
}

// toUsage converts as messageTokens does, without the image constant.
func toUsage(msgs []openai.Message) []usage.Message {
	out := make([]usage.Message, len(msgs))
	for i, m := range msgs {
		um := usage.Message{Role: m.Role, Name: m.Name, Content: m.Content.String() + m.Refusal + m.ReasoningContent}
		var b []byte
		for _, tc := range m.ToolCalls {
			b = append(b, tc.ID+tc.Function.Name+tc.Function.Arguments...)
		}
		b = append(b, m.ToolCallID...)
		um.ToolCallsJSON = string(b)
		out[i] = um
	}
	return out
}

func TestDefaultBudget(t *testing.T) {
	for _, c := range []struct{ window, out, want int }{
		{128000, 4096, 128000 - 4096 - 6400},
		{128000, 0, 128000 - 6400},
		{0, 100, 0},
		{1000, 2000, 1},
	} {
		if got := DefaultBudget(c.window, c.out); got != c.want {
			t.Errorf("DefaultBudget(%d, %d) = %d, want %d", c.window, c.out, got, c.want)
		}
	}
}

func TestSummaryCut(t *testing.T) {
	h := []openai.Message{user("1"), call("x"), result("x", "r"), asst("1"), user("2"), asst("2"), user("3"), call("y")}
	for _, c := range []struct{ keep, want int }{{1, 6}, {2, 4}, {3, 0}, {0, 6}} {
		if got := summaryCut(h, c.keep); got != c.want {
			t.Errorf("keep %d: cut %d, want %d", c.keep, got, c.want)
		}
	}
}
