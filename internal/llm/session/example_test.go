package session_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
	"github.com/pylon-gateway/pylon/internal/llm/session"
	"github.com/pylon-gateway/pylon/internal/llm/usage"
)

// The gateway's cycle for one call on a session (docs/sessions.md).
func Example() {
	ctx := context.Background()
	store := session.NewMemory(session.MemoryOptions{})
	scope := "acme\x00key-1" // tenant and key, from authentication
	est := usage.Heuristic{}

	call := func(h http.Header, system []openai.Message, turn openai.Message, reply string) {
		d, ok, err := session.ParseDirectives(h, "")
		if err != nil || !ok {
			fmt.Println("stateless or bad header:", err)
			return
		}
		history, meta, err := store.Load(ctx, scope, d.ID)
		if err != nil && !errors.Is(err, session.ErrNotFound) {
			fmt.Println(err)
			return
		}
		budget := session.DefaultBudget(128000, 4096)
		fit := session.Fit(system, history, []openai.Message{turn}, budget, est, "gpt-4o",
			session.FitOptions{Summary: meta.Summary.Text, MaxTurns: d.MaxTurns})
		fmt.Printf("sending %d messages (%d dropped)\n", len(fit.Messages), fit.Dropped)
		// ... the upstream call answers reply ...
		s, err := store.Append(ctx, scope, d.ID, session.AnyVersion,
			turn, openai.Message{Role: "assistant", Content: openai.TextContent(reply)})
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("stored: %d turns, %d messages\n", s.Turns, s.Messages)
	}

	h := http.Header{}
	h.Set("X-Session-Id", "chat-1")
	system := []openai.Message{{Role: "system", Content: openai.TextContent("Be brief.")}}
	call(h, system, openai.Message{Role: "user", Content: openai.TextContent("My name is Ada.")}, "Hello Ada.")
	call(h, system, openai.Message{Role: "user", Content: openai.TextContent("What is my name?")}, "Ada.")
	h.Set("X-Session-Max-Turns", "1")
	call(h, system, openai.Message{Role: "user", Content: openai.TextContent("And again?")}, "Still Ada.")

	// Another key does not see the session.
	_, _, err := store.Load(ctx, "acme\x00key-2", "chat-1")
	fmt.Println(err)
	// Output:
	// sending 2 messages (0 dropped)
	// stored: 1 turns, 2 messages
	// sending 4 messages (0 dropped)
	// stored: 2 turns, 4 messages
	// sending 4 messages (2 dropped)
	// stored: 3 turns, 6 messages
	// session: not found
}
