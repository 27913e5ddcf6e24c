package session

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
)

// sixTurns: turn 2 has a tool exchange.
func sixTurns() []openai.Message {
	return []openai.Message{
		user("1"), asst("1"),
		user("2"), call("x"), result("x", "rx"), asst("2"),
		user("3"), asst("3"),
		user("4"), asst("4"),
		user("5"), asst("5"),
		user("6"), asst("6"),
	}
}

// recorder is a fake summarizer: it records its input and returns the
// contents it saw, joined, so tests can check what it covered.
type recorder struct {
	mu     sync.Mutex
	inputs [][]openai.Message
	during func() // runs inside Summarize
}

func (r *recorder) Summarize(_ context.Context, msgs []openai.Message) (string, error) {
	r.mu.Lock()
	r.inputs = append(r.inputs, msgs)
	r.mu.Unlock()
	if r.during != nil {
		r.during()
	}
	return "sum(" + strings.Join(texts(msgs), " ") + ")", nil
}

func TestMaybeSummarize(t *testing.T) {
	forBoth(t, Options{}, func(t *testing.T, e env) {
		mustAppend(t, e.st, "sc", "s", sixTurns()...)
		r := &recorder{}
		// Under the threshold: nothing.
		s := mustStat(t, e.st, "sc", "s")
		if n, err := MaybeSummarize(ctx, e.st, "sc", "s", s.Tokens, 2, r); n != 0 || err != nil || len(r.inputs) != 0 {
			t.Fatalf("at the threshold: %d, %v, %d calls", n, err, len(r.inputs))
		}
		n, err := MaybeSummarize(ctx, e.st, "sc", "s", 1, 2, r)
		if err != nil || n != 10 {
			t.Fatalf("summarize: %d, %v; want 10 messages (4 turns)", n, err)
		}
		if got := texts(r.inputs[0]); !slices.Equal(got, texts(sixTurns()[:10])) {
			t.Errorf("summarizer got %v", got)
		}
		msgs, s := mustLoad(t, e.st, "sc", "s")
		if got := texts(msgs); !slices.Equal(got, []string{"u:5", "a:5", "u:6", "a:6"}) {
			t.Errorf("kept %v", got)
		}
		if s.Summary.Replaced != 10 || !strings.HasPrefix(s.Summary.Text, "sum(u:1") || s.Turns != 2 {
			t.Errorf("meta %+v", s)
		}
		// The next summary covers the previous one.
		mustAppend(t, e.st, "sc", "s", user("7"), asst("7"))
		if n, err := MaybeSummarize(ctx, e.st, "sc", "s", 1, 1, r); err != nil || n != 4 {
			t.Fatalf("second summary: %d, %v", n, err)
		}
		in := r.inputs[1]
		if in[0].Role != "system" || !strings.HasPrefix(in[0].Content.String(), SummaryPrefix+"sum(u:1") {
			t.Errorf("second input starts with %v", texts(in[:1]))
		}
		_, s = mustLoad(t, e.st, "sc", "s")
		if s.Summary.Replaced != 14 || s.Messages != 2 {
			t.Errorf("after the second summary: %+v", s)
		}
		// Nothing to do when only keepLast turns remain.
		if n, err := MaybeSummarize(ctx, e.st, "sc", "s", 1, 1, r); n != 0 || err != nil {
			t.Errorf("nothing left to summarize: %d, %v", n, err)
		}
	})
}

// TestMaybeSummarizeConcurrentAppends: turns appended while the summarizer
// runs, and while SetSummary commits, are all kept.
func TestMaybeSummarizeConcurrentAppends(t *testing.T) {
	forBoth(t, Options{}, func(t *testing.T, e env) {
		mustAppend(t, e.st, "sc", "s", sixTurns()...)
		const during, around = 10, 40
		var wg sync.WaitGroup
		appendPair := func(i int) {
			if _, err := e.st.Append(ctx, "sc", "s", AnyVersion, user(fmt.Sprint("q", i)), asst(fmt.Sprint("r", i))); err != nil {
				t.Errorf("append %d: %v", i, err)
			}
		}
		r := &recorder{during: func() {
			var inner sync.WaitGroup
			for i := range during {
				inner.Go(func() { appendPair(i) })
			}
			inner.Wait()
		}}
		start := make(chan struct{})
		for i := range around {
			wg.Go(func() { <-start; appendPair(during + i) })
		}
		close(start)
		n, err := MaybeSummarize(ctx, e.st, "sc", "s", 1, 1, r)
		wg.Wait()
		if err != nil {
			t.Fatal(err)
		}
		msgs, s := mustLoad(t, e.st, "sc", "s")
		// What was not summarized: the newest turns at load time, then every
		// pair appended during the summary or after the load.
		seen := map[string]int{}
		for j := 0; j < len(msgs); j++ {
			if c := msgs[j].Content.String(); strings.HasPrefix(c, "q") {
				if j+1 >= len(msgs) || msgs[j+1].Content.String() != "r"+c[1:] {
					t.Fatalf("pair %s split", c)
				}
				seen[c]++
			}
		}
		inSummary := 0
		for _, m := range r.inputs[0] {
			if strings.HasPrefix(m.Content.String(), "q") {
				inSummary++
			}
		}
		if len(seen)+inSummary != during+around {
			t.Errorf("%d pairs stored + %d summarized, want %d", len(seen), inSummary, during+around)
		}
		for q, k := range seen {
			if k != 1 {
				t.Errorf("%s stored %d times", q, k)
			}
		}
		if s.Summary.Replaced != n || s.Messages != len(msgs) {
			t.Errorf("meta %+v, replaced %d", s, n)
		}
		// The summarized prefix is gone: the session does not start with turn 1.
		if texts(msgs)[0] == "u:1" {
			t.Errorf("summarized messages still stored: %v", texts(msgs)[:4])
		}
	})
}

// TestMaybeSummarizeConflict: a Reset while the summarizer runs wins; the
// summary is dropped.
func TestMaybeSummarizeConflict(t *testing.T) {
	forBoth(t, Options{}, func(t *testing.T, e env) {
		mustAppend(t, e.st, "sc", "s", sixTurns()...)
		r := &recorder{during: func() {
			if _, err := e.st.Reset(ctx, "sc", "s"); err != nil {
				t.Error(err)
			}
			mustAppend(t, e.st, "sc", "s", user("fresh"))
		}}
		if n, err := MaybeSummarize(ctx, e.st, "sc", "s", 1, 1, r); !errors.Is(err, ErrConflict) || n != 0 {
			t.Fatalf("summary across a reset: %d, %v; want ErrConflict", n, err)
		}
		msgs, s := mustLoad(t, e.st, "sc", "s")
		if got := texts(msgs); !slices.Equal(got, []string{"u:fresh"}) || s.Summary.Text != "" {
			t.Errorf("after the conflict: %v, %+v", got, s.Summary)
		}
		// A failing summarizer changes nothing.
		fail := SummarizerFunc(func(context.Context, []openai.Message) (string, error) { return "", errors.New("model down") })
		mustAppend(t, e.st, "sc", "s", asst("a"), user("b"), asst("c"))
		if _, err := MaybeSummarize(ctx, e.st, "sc", "s", 1, 1, fail); err == nil {
			t.Fatal("no error from a failing summarizer")
		}
		if msgs, _ := mustLoad(t, e.st, "sc", "s"); len(msgs) != 4 {
			t.Errorf("after a failed summary: %v", texts(msgs))
		}
		if _, err := MaybeSummarize(ctx, e.st, "sc", "missing", 1, 1, fail); !errors.Is(err, ErrNotFound) {
			t.Errorf("missing session: %v", err)
		}
	})
}

func TestSummaryRequest(t *testing.T) {
	in := append([]openai.Message{SummaryMessage("before")}, sixTurns()[:6]...)
	r := SummaryRequest("cheap", in, 300)
	if r.Model != "cheap" || len(r.Messages) != 2 || *r.MaxTokens != 300 {
		t.Fatalf("request %+v", r)
	}
	body := r.Messages[1].Content.String()
	for _, want := range []string{"[earlier summary]\nbefore", "[user]\n1", "(calls tool lookup with {\"q\":\"x\"})", "[tool]\nrx"} {
		if !strings.Contains(body, want) {
			t.Errorf("transcript lacks %q:\n%s", want, body)
		}
	}
}
