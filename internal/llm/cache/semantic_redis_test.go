package cache

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
)

// node is one gateway process as far as the cache goes: its own Redis connection, an
// exact-match store and a semantic index over it.
type node struct {
	store *Redis
	sem   *Semantic
}

func newNode(t *testing.T, prefix string, o SemanticOptions) node {
	c := redisClient(t)
	o.Redis, o.Prefix = c, prefix+"sem:"
	if o.Block == 0 {
		o.Block = 100 * time.Millisecond
	}
	return node{store: NewRedis(c, RedisOptions{Prefix: prefix}), sem: NewSemantic(o)}
}

// run starts the node's Run until the test ends.
func (n node) run(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { n.sem.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// The test: a semantic entry added on node A is found on node B within a bounded
// time, and B serves A's answer from the shared store.
func TestSemanticRedisTwoNodes(t *testing.T) {
	ctx := context.Background()
	p := testPrefix(t)
	o := SemanticOptions{EmbeddingModel: "text-embedding-3-small"}
	a, b := newNode(t, p, o), newNode(t, p, o)
	b.run(t)
	const dim = 64
	emb := fakeEmbedder{
		"how do i reset my password?":         unit(dim, 0),
		"how can i reset my password, please": angled(dim, 1, 0.96),
		"how do i delete my account?":         angled(dim, 2, 0.6),
	}
	sys := openai.Message{Role: "system", Content: openai.TextContent("You are a support bot.")}
	ask := func(q string) *openai.ChatRequest {
		return &openai.ChatRequest{Model: "chat", Messages: []openai.Message{sys, {Role: "user", Content: openai.TextContent(q)}}}
	}

	// Node A: a miss, an answer from the provider, stored in both caches.
	reqA := ask("How do I   reset my password?")
	key, _ := Key("tenant", reqA)
	text, ok := SemanticText(reqA)
	if !ok {
		t.Fatal("not eligible")
	}
	scope, _ := SemanticScope("tenant", reqA)
	vec, _ := emb.Embed(ctx, text)
	e := &Entry{Response: &openai.ChatResponse{ID: "r", Choices: []openai.Choice{{
		Message: openai.Message{Role: "assistant", Content: openai.TextContent("Click 'forgot password'.")}, FinishReason: "stop"}}},
		Provider: "openai", Model: "gpt-4o-mini"}
	enc, _ := e.Encode()
	if err := a.store.Set(ctx, key, enc, time.Minute); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := a.sem.Add(ctx, scope, key, vec, time.Minute); err != nil {
		t.Fatal(err)
	}

	// Node B: another wording; the exact key misses, the semantic index finds A's entry.
	reqB := ask("How can I reset my password, please")
	if kb, _ := Key("tenant", reqB); kb == key {
		t.Fatal("the exact keys should differ")
	}
	textB, _ := SemanticText(reqB)
	scopeB, _ := SemanticScope("tenant", reqB)
	if scopeB != scope {
		t.Fatal("same system prompt and model: the scopes should match")
	}
	vecB, err := emb.Embed(ctx, textB)
	if err != nil {
		t.Fatalf("embed %q: %v", textB, err)
	}
	var found string
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if k, _, ok := b.sem.Search(scopeB, vecB, 0.9); ok {
			found = k
			break
		}
	}
	if found != key {
		t.Fatalf("node b found %q within 2s, want %q", found, key)
	}
	t.Logf("propagated in %v", time.Since(start))
	raw, ok, err := b.store.Get(ctx, found)
	if err != nil || !ok {
		t.Fatalf("node b: the answer is not in the shared store: %v", err)
	}
	if got, _ := Decode(raw); got.Response.Choices[0].Message.Content.String() != "Click 'forgot password'." {
		t.Fatalf("node b serves %+v", got.Response)
	}
	// Below the threshold: a miss on B too.
	far, _ := emb.Embed(ctx, "how do i delete my account?")
	if _, sim, ok := b.sem.Search(scopeB, far, 0.9); ok {
		t.Fatalf("a question at %v hit", sim)
	}
	// Another tenant never meets A's entry.
	other, _ := SemanticScope("tenant-2", reqB)
	if _, _, ok := b.sem.Search(other, vecB, 0.9); ok {
		t.Fatal("matched across tenants")
	}
	if st := b.sem.Stats(); st.Loaded != 1 || st.Entries != 1 {
		t.Fatalf("node b stats %+v", st)
	}
	if st := a.sem.Stats(); st.Published != 1 {
		t.Fatalf("node a stats %+v", st)
	}
}

// A node starting late loads what is retained, without the expired entries; a node does not
// load its own entries twice.
func TestSemanticRedisBootstrap(t *testing.T) {
	ctx := context.Background()
	p := testPrefix(t)
	a := newNode(t, p, SemanticOptions{})
	if err := a.sem.Add(ctx, "sc", "short", unit(4, 0), 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	for i, k := range []string{"k1", "k2"} {
		if err := a.sem.Add(ctx, "sc", k, unit(4, i+1), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := a.sem.Sync(ctx); n != 0 || err != nil || a.sem.Len() != 3 {
		t.Fatalf("own entries: applied %d (%v), %d entries", n, err, a.sem.Len())
	}
	time.Sleep(100 * time.Millisecond)
	c := newNode(t, p, SemanticOptions{})
	if n, err := c.sem.Sync(ctx); n != 2 || err != nil {
		t.Fatalf("late node applied %d (%v), want 2", n, err)
	}
	if _, _, ok := c.sem.Search("sc", unit(4, 0), 0.9); ok {
		t.Fatal("an expired entry was loaded")
	}
	if k, _, ok := c.sem.Search("sc", unit(4, 2), 0.9); !ok || k != "k2" {
		t.Fatal("k2 was not loaded")
	}
	if st := c.sem.Stats(); st.Skipped != 1 || st.Loaded != 2 {
		t.Fatalf("%+v", st)
	}
	// Nothing new: nothing applied.
	if n, _ := c.sem.Sync(ctx); n != 0 {
		t.Fatalf("applied %d again", n)
	}
	checkInvariants(t, c.sem)
}

// More than one read's worth of entries is loaded in full.
func TestSemanticRedisManyEntries(t *testing.T) {
	ctx := context.Background()
	p := testPrefix(t)
	a := newNode(t, p, SemanticOptions{})
	const n = 2*readCount + 17
	for i := range n {
		v := []float32{1, float32(i)}
		if err := a.sem.Add(ctx, "sc", "k"+string(rune('A'+i%26))+string(rune(i)), v, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	b := newNode(t, p, SemanticOptions{})
	if got, err := b.sem.Sync(ctx); got != n || err != nil {
		t.Fatalf("applied %d (%v), want %d", got, err, n)
	}
}

// Nodes on different embedding models, or different prefixes, ignore each other.
func TestSemanticRedisIsolation(t *testing.T) {
	ctx := context.Background()
	p := testPrefix(t)
	a := newNode(t, p, SemanticOptions{EmbeddingModel: "emb-1"})
	b := newNode(t, p, SemanticOptions{EmbeddingModel: "emb-2"})
	other := newNode(t, testPrefix(t), SemanticOptions{EmbeddingModel: "emb-1"})
	if err := a.sem.Add(ctx, "sc", "k", unit(4, 0), time.Minute); err != nil {
		t.Fatal(err)
	}
	if n, err := b.sem.Sync(ctx); n != 0 || err != nil || b.sem.Stats().Skipped != 1 {
		t.Fatalf("another model applied %d (%v)", n, err)
	}
	if n, err := other.sem.Sync(ctx); n != 0 || err != nil {
		t.Fatalf("another prefix applied %d (%v)", n, err)
	}
	for _, n := range []node{b, other} {
		if _, _, ok := n.sem.Search("sc", unit(4, 0), 0.5); ok {
			t.Fatal("an isolated node hit")
		}
	}
}

// The stream is trimmed to about MaxEntries and expires; malformed entries are skipped.
func TestSemanticRedisStream(t *testing.T) {
	ctx := context.Background()
	c := redisClient(t)
	p := testPrefix(t)
	a := newNode(t, p, SemanticOptions{MaxEntries: 10})
	for i := range 300 {
		if err := a.sem.Add(ctx, "sc", string(rune('a'+i%26))+string(rune(i)), []float32{1, float32(i)}, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	stream := p + "sem:log"
	if n := c.XLen(ctx, stream).Val(); n > 10+100 { // MAXLEN ~ trims whole nodes of 100 entries
		t.Fatalf("stream of %d entries for MaxEntries 10", n)
	}
	if pttl := c.PTTL(ctx, stream).Val(); pttl <= 0 || pttl > 5*time.Second {
		t.Fatalf("stream PTTL %v", pttl)
	}
	a.sem.Add(ctx, "sc", "long", []float32{1, 0}, time.Minute)
	if pttl := c.PTTL(ctx, stream).Val(); pttl <= 5*time.Second {
		t.Fatalf("a longer TTL did not extend the stream: %v", pttl)
	}
	a.sem.Add(ctx, "sc", "short", []float32{1, 0}, time.Second)
	if pttl := c.PTTL(ctx, stream).Val(); pttl <= 5*time.Second {
		t.Fatalf("a shorter TTL shortened the stream: %v", pttl)
	}

	b := newNode(t, p, SemanticOptions{MaxEntries: 10})
	b.sem.Sync(ctx)
	exp := time.Now().Add(time.Minute).UnixMilli()
	for _, vals := range [][]any{
		{"m", "", "s", "sc", "k", "bad-vector", "x", exp, "v", "abc", "n", "x"},
		{"m", "", "s", "sc", "k", "bad-expiry", "x", "soon", "v", string(encodeVector([]float32{1, 0})), "n", "x"},
		{"m", "", "s", "sc", "k", "", "x", exp, "v", string(encodeVector([]float32{1, 0})), "n", "x"},
		{"m", "", "s", "sc", "k", "zero", "x", exp, "v", string(encodeVector([]float32{0, 0})), "n", "x"},
		{"m", "", "s", "sc", "k", "dim", "x", exp, "v", string(encodeVector([]float32{1, 0, 0})), "n", "x"},
		{"m", "", "s", "sc", "k", "good", "x", exp, "v", string(encodeVector([]float32{0, 3})), "n", "x"},
	} {
		if err := c.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: vals}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	before := b.sem.Stats().Skipped
	if n, err := b.sem.Sync(ctx); n != 1 || err != nil {
		t.Fatalf("applied %d (%v), want only the good entry", n, err)
	}
	if st := b.sem.Stats(); st.Skipped-before != 5 {
		t.Fatalf("skipped %d, want 5", st.Skipped-before)
	}
	if k, _, ok := b.sem.Search("sc", []float32{0, 1}, 0.99); !ok || k != "good" {
		t.Fatalf("the good entry: %q %v", k, ok)
	}
	checkInvariants(t, b.sem)
}

// Run returns soon after its context ends, with and without Redis.
func TestSemanticRunStops(t *testing.T) {
	for _, withRedis := range []bool{false, true} {
		o := SemanticOptions{Block: 100 * time.Millisecond, SweepEvery: 10 * time.Millisecond}
		if withRedis {
			o.Redis, o.Prefix = redisClient(t), testPrefix(t)
		}
		s := NewSemantic(o)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		time.Sleep(50 * time.Millisecond)
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("redis %v: Run did not return", withRedis)
		}
	}
}

// With Redis down, Add still indexes locally and says publishing failed; Run retries.
func TestSemanticRedisUnreachable(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 50 * time.Millisecond, MaxRetries: -1})
	defer c.Close()
	s := NewSemantic(SemanticOptions{Redis: c, Block: 50 * time.Millisecond})
	if err := s.Add(context.Background(), "sc", "k", []float32{1}, time.Minute); err == nil {
		t.Fatal("publishing to an unreachable Redis succeeded")
	}
	if _, _, ok := s.Search("sc", []float32{1}, 0.9); !ok {
		t.Fatal("the local index lost the entry")
	}
	if _, err := s.Sync(context.Background()); err == nil {
		t.Fatal("sync succeeded")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := s.Run(ctx); err != nil {
		t.Fatal(err)
	}
}
