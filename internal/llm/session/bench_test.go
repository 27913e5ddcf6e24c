package session

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
	"github.com/pylon-gateway/pylon/internal/llm/usage"
)

// twentyTurns is a 20-turn session: ~150-character questions, ~400-character
// answers, a tool call with its result every fifth turn (44 messages,
// ~14 KB of JSON).
func twentyTurns() []openai.Message {
	q := strings.Repeat("How does this part of the system behave under load? ", 3)
	a := strings.Repeat("It keeps its memory bounded and answers from the cache first. ", 6)
	var msgs []openai.Message
	for i := range 20 {
		msgs = append(msgs, user(fmt.Sprint(i, ": ", q)))
		if i%5 == 0 {
			id := fmt.Sprint("call_", i)
			msgs = append(msgs, call(id), result(id, `{"status":"ok","items":[1,2,3],"note":"`+q+`"}`))
		}
		msgs = append(msgs, asst(a))
	}
	return msgs
}

// BenchmarkLoadAppend20 is what a call with a 20-turn session adds: Load
// the history, then Append the (turn, reply) pair. Between iterations, with
// the timer stopped, the oldest turn is dropped so the session stays at 20
// turns.
func BenchmarkLoadAppend20(b *testing.B) {
	for _, be := range backends() {
		b.Run(be.name, func(b *testing.B) {
			e := be.make(b, Options{TTL: time.Hour})
			if e.clock != nil {
				e.st = NewMemory(MemoryOptions{}) // real clock
			}
			mustAppend(b, e.st, "acme/k", "bench", twentyTurns()...)
			pair := []openai.Message{user("One more question about the cache?"), asst(strings.Repeat("Yes. ", 80))}
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := e.st.Load(ctx, "acme/k", "bench"); err != nil {
					b.Fatal(err)
				}
				s, err := e.st.Append(ctx, "acme/k", "bench", AnyVersion, pair...)
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				msgs, _, _ := e.st.Load(ctx, "acme/k", "bench")
				if _, err := e.st.SetSummary(ctx, "acme/k", "bench", "", summaryCut(msgs, 20), s.Version); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}

// BenchmarkLoad20 loads a 20-turn session and reports the latency
// percentiles of one Load (for Redis: one round trip on loopback, the JSON
// of 44 messages decoded).
func BenchmarkLoad20(b *testing.B) {
	for _, be := range backends() {
		b.Run(be.name, func(b *testing.B) {
			e := be.make(b, Options{TTL: time.Hour})
			mustAppend(b, e.st, "acme/k", "bench", twentyTurns()...)
			lat := make([]time.Duration, 0, 1<<16)
			b.ReportAllocs()
			for b.Loop() {
				t0 := time.Now()
				if _, _, err := e.st.Load(ctx, "acme/k", "bench"); err != nil {
					b.Fatal(err)
				}
				if len(lat) < cap(lat) {
					lat = append(lat, time.Since(t0))
				}
			}
			slices.Sort(lat)
			if len(lat) > 0 {
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
			}
		})
	}
}

// BenchmarkFit20 trims a 20-turn history to a budget that drops half.
func BenchmarkFit20(b *testing.B) {
	h := twentyTurns()
	system := []openai.Message{sys("You are a helpful assistant. Answer briefly.")}
	newTurn := []openai.Message{user("And under failure?")}
	for _, est := range []struct {
		name string
		e    usage.Estimator
	}{{"heuristic", usage.Heuristic{}}, {"tiktoken", usage.NewTiktoken()}} {
		b.Run(est.name, func(b *testing.B) {
			full := Fit(system, h, newTurn, 0, est.e, "gpt-4o", FitOptions{})
			budget := full.Tokens / 2
			b.ReportAllocs()
			for b.Loop() {
				f := Fit(system, h, newTurn, budget, est.e, "gpt-4o", FitOptions{Summary: "earlier"})
				if f.Dropped == 0 {
					b.Fatal("nothing dropped")
				}
			}
		})
	}
}
