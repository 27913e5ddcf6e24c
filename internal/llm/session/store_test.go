package session

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
	"github.com/pylon-gateway/pylon/internal/llm/usage"
)

// conversation is a turn with a tool call and its result, then a plain turn.
func conversation() []openai.Message {
	img := openai.Message{Role: "user", Content: &openai.Content{Parts: []openai.Part{
		{Type: "text", Text: "and this picture?"},
		{Type: "image_url", ImageURL: &openai.ImageURL{URL: "https://example.com/a.png", Detail: "low"}},
	}}}
	return []openai.Message{
		user("What is the weather in Paris and Rome?"),
		call("call_1", "call_2"),
		result("call_1", `{"paris":"sunny"}`),
		result("call_2", `{"rome":"rain"}`),
		asst("Sunny in Paris, rain in Rome."),
		img,
		{Role: "assistant", Content: openai.TextContent("A cat."), ReasoningContent: "looks feline"},
	}
}

func TestAppendLoadRoundTrip(t *testing.T) {
	forBoth(t, Options{}, func(t *testing.T, e env) {
		conv := conversation()
		s1 := mustAppend(t, e.st, "acme/k1", "s-1", conv[:5]...)
		s2 := mustAppend(t, e.st, "acme/k1", "s-1", conv[5:]...)
		if s2.Version != s1.Version+1 {
			t.Errorf("version %d after %d, want +1", s2.Version, s1.Version)
		}
		msgs, s := mustLoad(t, e.st, "acme/k1", "s-1")
		if got, want := mustJSON(t, msgs), mustJSON(t, conv); got != want {
			t.Fatalf("round trip:\n got %s\nwant %s", got, want)
		}
		var tokens int
		for i := range conv {
			tokens += MessageTokens(usage.Heuristic{}, "", &conv[i])
		}
		if s.ID != "s-1" || s.Scope != "acme/k1" || s.Messages != 7 || s.Turns != 2 || s.Tokens != tokens || s.Version != s2.Version {
			t.Errorf("meta = %+v, want 7 messages, 2 turns, %d tokens, version %d", s, tokens, s2.Version)
		}
		if s.Created.IsZero() || s.Updated.Before(s.Created) || !s.Expires.After(s.Accessed) {
			t.Errorf("times: %+v", s)
		}
		// What Load returns is the caller's to modify.
		msgs[0].Content.Text = "changed"
		msgs[1].ToolCalls[0].ID = "changed"
		msgs[5].Content.Parts[1].ImageURL.URL = "changed"
		again, _ := mustLoad(t, e.st, "acme/k1", "s-1")
		if got, want := mustJSON(t, again), mustJSON(t, conv); got != want {
			t.Fatalf("a caller's change reached the store:\n got %s\nwant %s", got, want)
		}
		st, err := e.st.Stat(ctx, "acme/k1", "s-1")
		if err != nil || st.Messages != 7 || st.Version != s.Version {
			t.Errorf("stat = %+v, %v", st, err)
		}
	})
}

func TestValidation(t *testing.T) {
	forBoth(t, Options{}, func(t *testing.T, e env) {
		if _, err := e.st.Append(ctx, "", "s", AnyVersion, user("x")); !errors.Is(err, ErrNoScope) {
			t.Errorf("empty scope: %v", err)
		}
		for _, id := range []string{"", "a b", "a{b}", strings.Repeat("x", 129), "é"} {
			if _, _, err := e.st.Load(ctx, "sc", id); !errors.Is(err, ErrInvalidID) {
				t.Errorf("id %q: %v, want ErrInvalidID", id, err)
			}
		}
		if _, err := e.st.Append(ctx, "sc", "s", AnyVersion); !errors.Is(err, ErrEmpty) {
			t.Errorf("append nothing: %v", err)
		}
		if _, _, err := e.st.List(ctx, "sc", "garbage!", 10); !errors.Is(err, ErrBadCursor) {
			t.Errorf("bad cursor: %v", err)
		}
	})
}

func TestExpectedVersion(t *testing.T) {
	forBoth(t, Options{}, func(t *testing.T, e env) {
		if _, err := e.st.Append(ctx, "sc", "s", 42, user("x")); !errors.Is(err, ErrConflict) {
			t.Errorf("expected version on a missing session: %v, want ErrConflict", err)
		}
		s := mustAppend(t, e.st, "sc", "s", user("a"))
		if _, err := e.st.Append(ctx, "sc", "s", s.Version+1, user("b")); !errors.Is(err, ErrConflict) {
			t.Errorf("wrong version: %v", err)
		}
		s2, err := e.st.Append(ctx, "sc", "s", s.Version, user("b"))
		if err != nil || s2.Version != s.Version+1 {
			t.Fatalf("right version: %+v %v", s2, err)
		}
		msgs, _ := mustLoad(t, e.st, "sc", "s")
		if got := texts(msgs); !slices.Equal(got, []string{"u:a", "u:b"}) {
			t.Errorf("messages %v", got)
		}
	})
}

// TestScoping: another scope finds nothing, whatever it tries, and the same
// id in two scopes is two sessions.
func TestScoping(t *testing.T) {
	forBoth(t, Options{}, func(t *testing.T, e env) {
		const a, b = "tenant1/key{a}", "tenant1/key%7Ba%7D" // escaping must keep these apart
		mustAppend(t, e.st, a, "shared", user("secret of A"), asst("ok"))
		mustAppend(t, e.st, a, "only-a", user("x"))
		if _, _, err := e.st.Load(ctx, b, "shared"); !errors.Is(err, ErrNotFound) {
			t.Errorf("load from B: %v, want ErrNotFound", err)
		}
		if _, err := e.st.Stat(ctx, b, "only-a"); !errors.Is(err, ErrNotFound) {
			t.Errorf("stat from B: %v, want ErrNotFound", err)
		}
		if _, err := e.st.Reset(ctx, b, "shared"); !errors.Is(err, ErrNotFound) {
			t.Errorf("reset from B: %v, want ErrNotFound", err)
		}
		if _, err := e.st.SetSummary(ctx, b, "shared", "x", 0, 1); !errors.Is(err, ErrNotFound) {
			t.Errorf("summary from B: %v, want ErrNotFound", err)
		}
		if ok, err := e.st.Delete(ctx, b, "shared"); ok || err != nil {
			t.Errorf("delete from B = %v, %v; want false, nil", ok, err)
		}
		if _, err := e.st.Append(ctx, b, "shared", 1, user("x")); !errors.Is(err, ErrConflict) {
			t.Errorf("append with A's version from B: %v, want ErrConflict (B has no session)", err)
		}
		// B's own session under the same id is separate.
		mustAppend(t, e.st, b, "shared", user("B's turn"))
		ma, _ := mustLoad(t, e.st, a, "shared")
		mb, _ := mustLoad(t, e.st, b, "shared")
		if got := texts(ma); !slices.Equal(got, []string{"u:secret of A", "a:ok"}) {
			t.Errorf("A sees %v", got)
		}
		if got := texts(mb); !slices.Equal(got, []string{"u:B's turn"}) {
			t.Errorf("B sees %v", got)
		}
		la, _, err := e.st.List(ctx, a, "", 10)
		if err != nil {
			t.Fatal(err)
		}
		lb, _, err := e.st.List(ctx, b, "", 10)
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(la); !slices.Equal(sorted(got), []string{"only-a", "shared"}) {
			t.Errorf("A lists %v", got)
		}
		if got := ids(lb); !slices.Equal(got, []string{"shared"}) || lb[0].Messages != 1 {
			t.Errorf("B lists %v (%+v)", got, lb)
		}
		if l, _, _ := e.st.List(ctx, "nobody", "", 10); len(l) != 0 {
			t.Errorf("an unknown scope lists %v", ids(l))
		}
	})
}

func ids(ss []Session) []string {
	out := make([]string, len(ss))
	for i := range ss {
		out[i] = ss[i].ID
	}
	return out
}

func sorted(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }

func TestSlidingTTL(t *testing.T) {
	t.Run("memory", func(t *testing.T) {
		e := memoryBackend().make(t, Options{TTL: time.Hour})
		mustAppend(t, e.st, "sc", "s", user("hi"))
		for range 3 { // each access slides the TTL: 3 x 50 min > 1 h
			e.wait(50 * time.Minute)
			if _, err := e.st.Stat(ctx, "sc", "s"); err != nil {
				t.Fatalf("after 50 min: %v", err)
			}
		}
		e.wait(61 * time.Minute)
		if _, _, err := e.st.Load(ctx, "sc", "s"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("after 61 idle min: %v, want ErrNotFound", err)
		}
		if l, _, _ := e.st.List(ctx, "sc", "", 10); len(l) != 0 {
			t.Errorf("expired session listed: %v", ids(l))
		}
		// An expired session is a new one on the next append.
		s := mustAppend(t, e.st, "sc", "s", user("again"))
		if s.Messages != 1 {
			t.Errorf("re-created session: %+v", s)
		}
	})
	t.Run("redis", func(t *testing.T) {
		const ttl = 400 * time.Millisecond
		e := redisBackend().make(t, Options{TTL: ttl})
		mustAppend(t, e.st, "sc", "s", user("hi"), asst("yo"))
		for range 3 { // 3 x 250 ms > 400 ms, alive because each access slides the TTL
			e.wait(250 * time.Millisecond)
			if _, _, err := e.st.Load(ctx, "sc", "s"); err != nil {
				t.Fatalf("after 250 ms: %v", err)
			}
		}
		for _, k := range prefixKeys(e.rc, e.prefix) {
			if d := e.rc.PTTL(ctx, k).Val(); d <= 0 || d > ttl {
				t.Errorf("key %s: PTTL %v, want (0, %v]", k, d, ttl)
			}
		}
		e.wait(ttl + 150*time.Millisecond)
		if _, _, err := e.st.Load(ctx, "sc", "s"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("after the TTL: %v, want ErrNotFound", err)
		}
		if l, _, _ := e.st.List(ctx, "sc", "", 10); len(l) != 0 {
			t.Errorf("expired session listed: %v", ids(l))
		}
		if keys := prefixKeys(e.rc, e.prefix); len(keys) != 0 {
			t.Errorf("keys left after expiry: %v", keys)
		}
	})
}

func TestReset(t *testing.T) {
	forBoth(t, Options{}, func(t *testing.T, e env) {
		if _, err := e.st.Reset(ctx, "sc", "s"); !errors.Is(err, ErrNotFound) {
			t.Errorf("reset missing: %v", err)
		}
		s1 := mustAppend(t, e.st, "sc", "s", user("a"), asst("b"), user("c"), asst("d"))
		if _, err := e.st.SetSummary(ctx, "sc", "s", "a then b", 2, s1.Version); err != nil {
			t.Fatal(err)
		}
		s, err := e.st.Reset(ctx, "sc", "s")
		if err != nil {
			t.Fatal(err)
		}
		if s.Messages != 0 || s.Turns != 0 || s.Tokens != 0 || s.Summary != (Summary{}) || s.Version != s1.Version+2 {
			t.Errorf("after reset: %+v", s)
		}
		msgs, s2 := mustLoad(t, e.st, "sc", "s")
		if len(msgs) != 0 || !s2.Created.Equal(s1.Created) {
			t.Errorf("after reset: %v, %+v (created %v)", texts(msgs), s2, s1.Created)
		}
		mustAppend(t, e.st, "sc", "s", user("e"))
		msgs, _ = mustLoad(t, e.st, "sc", "s")
		if got := texts(msgs); !slices.Equal(got, []string{"u:e"}) {
			t.Errorf("after reset and append: %v", got)
		}
	})
}

func TestDelete(t *testing.T) {
	forBoth(t, Options{}, func(t *testing.T, e env) {
		mustAppend(t, e.st, "sc", "gone", user("private"), asst("ok"))
		mustAppend(t, e.st, "sc", "kept", user("x"))
		if _, err := e.st.SetSummary(ctx, "sc", "gone", "private things", 0, mustStat(t, e.st, "sc", "gone").Version); err != nil {
			t.Fatal(err)
		}
		ok, err := e.st.Delete(ctx, "sc", "gone")
		if !ok || err != nil {
			t.Fatalf("delete = %v, %v", ok, err)
		}
		if ok, err := e.st.Delete(ctx, "sc", "gone"); ok || err != nil {
			t.Errorf("second delete = %v, %v; want false, nil", ok, err)
		}
		if _, _, err := e.st.Load(ctx, "sc", "gone"); !errors.Is(err, ErrNotFound) {
			t.Errorf("load after delete: %v", err)
		}
		l, _, _ := e.st.List(ctx, "sc", "", 10)
		if got := ids(l); !slices.Equal(got, []string{"kept"}) {
			t.Errorf("list after delete: %v", got)
		}
		if e.rc != nil {
			for _, k := range prefixKeys(e.rc, e.prefix) {
				if strings.Contains(k, "gone") {
					t.Errorf("key %s left after delete", k)
				}
				if strings.HasSuffix(k, ":idx") {
					if m := e.rc.ZRange(ctx, k, 0, -1).Val(); !slices.Equal(m, []string{"kept"}) {
						t.Errorf("index %s = %v", k, m)
					}
				}
			}
		}
	})
}

func mustStat(t testing.TB, st Store, scope, id string) Session {
	t.Helper()
	s, err := st.Stat(ctx, scope, id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestListPaging(t *testing.T) {
	forBoth(t, Options{}, func(t *testing.T, e env) {
		const n = 7
		for i := range n {
			mustAppend(t, e.st, "sc", fmt.Sprintf("s%d", i), user("x"))
			e.wait(3 * time.Millisecond)
		}
		mustAppend(t, e.st, "other", "s9", user("x"))
		var all []string
		cur := ""
		for page := 0; ; page++ {
			l, next, err := e.st.List(ctx, "sc", cur, 3)
			if err != nil {
				t.Fatal(err)
			}
			if len(l) > 3 {
				t.Fatalf("page of %d", len(l))
			}
			all = append(all, ids(l)...)
			if next == "" {
				break
			}
			if page > n {
				t.Fatal("paging does not end")
			}
			cur = next
		}
		want := []string{"s6", "s5", "s4", "s3", "s2", "s1", "s0"}
		if !slices.Equal(all, want) {
			t.Errorf("listed %v, want %v (most recently accessed first)", all, want)
		}
		// An access moves a session to the front.
		mustLoad(t, e.st, "sc", "s2")
		l, _, _ := e.st.List(ctx, "sc", "", 2)
		if got := ids(l); !slices.Equal(got, []string{"s2", "s6"}) {
			t.Errorf("after an access: %v", got)
		}
	})
}

// TestListTies: sessions accessed in the same millisecond page by id.
func TestListTies(t *testing.T) {
	e := memoryBackend().make(t, Options{})
	for i := range 5 {
		mustAppend(t, e.st, "sc", fmt.Sprintf("s%d", i), user("x"))
	}
	var all []string
	cur := ""
	for {
		l, next, err := e.st.List(ctx, "sc", cur, 2)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, ids(l)...)
		if next == "" {
			break
		}
		cur = next
	}
	if want := []string{"s4", "s3", "s2", "s1", "s0"}; !slices.Equal(all, want) {
		t.Errorf("listed %v, want %v", all, want)
	}
}

func TestMemoryLRU(t *testing.T) {
	t.Run("sessions", func(t *testing.T) {
		c := newFakeClock()
		m := NewMemory(MemoryOptions{MaxSessions: 3, Now: c.Now})
		for _, id := range []string{"a", "b", "c"} {
			mustAppend(t, m, "sc", id, user(id))
			c.Advance(time.Second)
		}
		mustLoad(t, m, "sc", "a") // a is now the most recent; b the least
		mustAppend(t, m, "sc", "d", user("d"))
		if _, _, err := m.Load(ctx, "sc", "b"); !errors.Is(err, ErrNotFound) {
			t.Errorf("b: %v, want evicted", err)
		}
		for _, id := range []string{"a", "c", "d"} {
			if _, _, err := m.Load(ctx, "sc", id); err != nil {
				t.Errorf("%s: %v", id, err)
			}
		}
		if m.Len() != 3 {
			t.Errorf("len %d", m.Len())
		}
	})
	t.Run("bytes", func(t *testing.T) {
		c := newFakeClock()
		big := strings.Repeat("x", 1000)
		m := NewMemory(MemoryOptions{MaxBytes: 5000, Now: c.Now})
		for i := range 10 {
			mustAppend(t, m, "sc", fmt.Sprintf("s%d", i), user(big))
			c.Advance(time.Second)
			if m.Bytes() > 5000 {
				t.Fatalf("bytes %d > bound", m.Bytes())
			}
		}
		if n := m.Len(); n < 3 || n > 4 {
			t.Errorf("%d sessions kept, want 3 or 4 of ~1.4 KB in 5 KB", n)
		}
		if _, _, err := m.Load(ctx, "sc", "s9"); err != nil {
			t.Errorf("newest: %v", err)
		}
		if _, _, err := m.Load(ctx, "sc", "s0"); !errors.Is(err, ErrNotFound) {
			t.Errorf("oldest: %v, want evicted", err)
		}
		if _, err := m.Append(ctx, "sc", "huge", AnyVersion, user(strings.Repeat("y", 6000))); !errors.Is(err, ErrTooLarge) {
			t.Errorf("a session over the bound: %v, want ErrTooLarge", err)
		}
		// Growing one session evicts the others, not itself.
		for range 3 {
			mustAppend(t, m, "sc", "s9", user(big))
		}
		if _, _, err := m.Load(ctx, "sc", "s9"); err != nil {
			t.Errorf("grown session: %v", err)
		}
		if m.Bytes() > 5000 {
			t.Errorf("bytes %d > bound", m.Bytes())
		}
		del, _ := m.Delete(ctx, "sc", "s9")
		if !del {
			t.Error("delete s9")
		}
		for _, id := range []string{"s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8"} {
			m.Delete(ctx, "sc", id)
		}
		if m.Bytes() != 0 || m.Len() != 0 {
			t.Errorf("empty store: %d bytes, %d sessions", m.Bytes(), m.Len())
		}
	})
}

// TestConcurrentAppends: 50 calls append their (user, reply) pair to one
// session at once; none is lost and each pair stays contiguous.
func TestConcurrentAppends(t *testing.T) {
	forBoth(t, Options{}, func(t *testing.T, e env) {
		const n = 50
		mustAppend(t, e.st, "sc", "hot", user("first"), asst("first reply"))
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				if _, _, err := e.st.Load(ctx, "sc", "hot"); err != nil { // as a call does
					t.Errorf("load: %v", err)
				}
				if _, err := e.st.Append(ctx, "sc", "hot", AnyVersion, user(fmt.Sprint("q", i)), asst(fmt.Sprint("r", i))); err != nil {
					t.Errorf("append %d: %v", i, err)
				}
			})
		}
		close(start)
		wg.Wait()
		msgs, s := mustLoad(t, e.st, "sc", "hot")
		if len(msgs) != 2+2*n || s.Messages != len(msgs) || s.Turns != 1+n {
			t.Fatalf("%d messages (meta %d, %d turns), want %d", len(msgs), s.Messages, s.Turns, 2+2*n)
		}
		seen := map[string]bool{}
		for j := 2; j < len(msgs); j += 2 {
			q, r := msgs[j].Content.String(), msgs[j+1].Content.String()
			if q[1:] != r[1:] || q[0] != 'q' || r[0] != 'r' {
				t.Fatalf("messages %d,%d = %q,%q: a pair was split", j, j+1, q, r)
			}
			seen[q] = true
		}
		if len(seen) != n {
			t.Errorf("%d distinct pairs, want %d", len(seen), n)
		}
	})
}

// TestTwoNodes: two Redis stores (two gateway nodes, own connections)
// continue one session in turn.
func TestTwoNodes(t *testing.T) {
	p := testPrefix(t)
	a := NewRedis(redisClient(t), RedisOptions{Prefix: p})
	b := NewRedis(redisClient(t), RedisOptions{Prefix: p})
	nodes := []*Redis{a, b}
	var want []string
	for i := range 6 {
		n := nodes[i%2]
		msgs, err := loadOrEmpty(n, "acme/k", "conv")
		if err != nil {
			t.Fatal(err)
		}
		if got := texts(msgs); !slices.Equal(got, want) {
			t.Fatalf("node %d, turn %d: history %v, want %v", i%2, i, got, want)
		}
		q, r := fmt.Sprint("q", i), fmt.Sprint("r", i)
		mustAppend(t, n, "acme/k", "conv", user(q), asst(r))
		want = append(want, "u:"+q, "a:"+r)
	}
	if ok, _ := b.Delete(ctx, "acme/k", "conv"); !ok {
		t.Fatal("delete on node b")
	}
	if _, _, err := a.Load(ctx, "acme/k", "conv"); !errors.Is(err, ErrNotFound) {
		t.Errorf("node a after delete on b: %v", err)
	}
}

func loadOrEmpty(st Store, scope, id string) ([]openai.Message, error) {
	msgs, _, err := st.Load(ctx, scope, id)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	return msgs, err
}

func TestSetSummary(t *testing.T) {
	forBoth(t, Options{}, func(t *testing.T, e env) {
		conv := []openai.Message{user("a"), call("c1"), result("c1", "r1"), asst("b"), user("c"), asst("d")}
		s0 := mustAppend(t, e.st, "sc", "s", conv...)
		// An append after the summarizer read does not conflict, and stays.
		mustAppend(t, e.st, "sc", "s", user("e"), asst("f"))
		s, err := e.st.SetSummary(ctx, "sc", "s", "a, a lookup, b", 4, s0.Version)
		if err != nil {
			t.Fatal(err)
		}
		msgs, s2 := mustLoad(t, e.st, "sc", "s")
		if got := texts(msgs); !slices.Equal(got, []string{"u:c", "a:d", "u:e", "a:f"}) {
			t.Errorf("after summary: %v", got)
		}
		sumTok := MessageTokens(usage.Heuristic{}, "", new(SummaryMessage("a, a lookup, b")))
		var tok int
		for i := range msgs {
			tok += MessageTokens(usage.Heuristic{}, "", &msgs[i])
		}
		if s2.Version != s.Version || s.Messages != 4 || s.Turns != 2 || s.Tokens != tok+sumTok ||
			s.Summary != (Summary{Text: "a, a lookup, b", Replaced: 4, Tokens: sumTok}) {
			t.Errorf("meta after summary: %+v (want tokens %d+%d)", s, tok, sumTok)
		}
		// The version read before the summary now conflicts; so does one
		// from before a reset.
		if _, err := e.st.SetSummary(ctx, "sc", "s", "x", 1, s0.Version); !errors.Is(err, ErrConflict) {
			t.Errorf("second summary at the old version: %v, want ErrConflict", err)
		}
		if _, err := e.st.SetSummary(ctx, "sc", "s", "x", 1, s.Version+5); !errors.Is(err, ErrConflict) {
			t.Errorf("summary at a future version: %v, want ErrConflict", err)
		}
		if _, err := e.st.SetSummary(ctx, "sc", "s", "x", 5, s.Version); err == nil || errors.Is(err, ErrConflict) {
			t.Errorf("replacing more than there is: %v", err)
		}
		// A rolling summary: replaces 2 more, counts 6 in all.
		s3, err := e.st.SetSummary(ctx, "sc", "s", "a..d", 2, s.Version)
		if err != nil || s3.Summary.Replaced != 6 || s3.Messages != 2 {
			t.Errorf("rolling summary: %+v %v", s3, err)
		}
		// Delete and re-create: an old version does not match the new life.
		e.st.Delete(ctx, "sc", "s")
		mustAppend(t, e.st, "sc", "s", user("new life"))
		if _, err := e.st.SetSummary(ctx, "sc", "s", "old", 1, s3.Version); !errors.Is(err, ErrConflict) {
			t.Errorf("summary of a deleted life: %v, want ErrConflict", err)
		}
	})
}
