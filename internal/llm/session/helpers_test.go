package session

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
)

var ctx = context.Background()

const redisAddr = "127.0.0.1:6379"

// fakeClock is a settable clock for the Memory store.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is one backend under test.
type env struct {
	st Store
	// clock is the Memory store's fake clock; nil for Redis (real time).
	clock *fakeClock
	// rc and prefix are set for Redis.
	rc     *redis.Client
	prefix string
}

// wait lets d pass: on the fake clock for Memory, for real for Redis.
func (e env) wait(d time.Duration) {
	if e.clock != nil {
		e.clock.Advance(d)
		return
	}
	time.Sleep(d)
}

type backend struct {
	name string
	make func(t testing.TB, o Options) env
}

func memoryBackend() backend {
	return backend{"memory", func(_ testing.TB, o Options) env {
		c := newFakeClock()
		return env{st: NewMemory(MemoryOptions{Options: o, Now: c.Now}), clock: c}
	}}
}

func redisBackend() backend {
	return backend{"redis", func(t testing.TB, o Options) env {
		c := redisClient(t)
		p := testPrefix(t)
		return env{st: NewRedis(c, RedisOptions{Options: o, Prefix: p}), rc: c, prefix: p}
	}}
}

func backends() []backend { return []backend{memoryBackend(), redisBackend()} }

// forBoth runs f against both backends.
func forBoth(t *testing.T, o Options, f func(t *testing.T, e env)) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) { f(t, b.make(t, o)) })
	}
}

// redisClient connects to the test Redis, skipping the test when it is
// unreachable, unless CI is set: then that is a failure.
func redisClient(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: redisAddr, PoolSize: 64})
	cx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := c.Ping(cx).Err(); err != nil {
		_ = c.Close()
		if os.Getenv("CI") != "" {
			t.Fatalf("redis at %s is unreachable (%v), and CI is set: the Redis tests must run", redisAddr, err)
		}
		t.Skipf("skipping: redis at %s is unreachable (%v); start one to run the Redis tests (with CI set this fails)", redisAddr, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// testPrefix is a key prefix unique to this test run; the keys under it are
// deleted when the test ends (and nothing else is).
func testPrefix(t testing.TB) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	p := "pylontest:session:" + unsafeChars.ReplaceAllString(t.Name(), "_") + ":" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		c := redis.NewClient(&redis.Options{Addr: redisAddr})
		defer c.Close()
		for _, k := range prefixKeys(c, p) {
			c.Del(ctx, k)
		}
	})
	return p
}

// prefixKeys lists the keys under p.
func prefixKeys(c *redis.Client, p string) []string {
	var keys []string
	iter := c.Scan(ctx, 0, p+"*", 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	return keys
}

// Message builders.

func user(s string) openai.Message {
	return openai.Message{Role: "user", Content: openai.TextContent(s)}
}

func asst(s string) openai.Message {
	return openai.Message{Role: "assistant", Content: openai.TextContent(s)}
}

func sys(s string) openai.Message {
	return openai.Message{Role: "system", Content: openai.TextContent(s)}
}

// call is an assistant message calling tools, one per id.
func call(ids ...string) openai.Message {
	m := openai.Message{Role: "assistant"}
	for _, id := range ids {
		m.ToolCalls = append(m.ToolCalls, openai.ToolCall{ID: id, Type: "function",
			Function: openai.FunctionCall{Name: "lookup", Arguments: `{"q":"` + id + `"}`}})
	}
	return m
}

func result(id, s string) openai.Message {
	return openai.Message{Role: "tool", ToolCallID: id, Content: openai.TextContent(s)}
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustAppend(t testing.TB, st Store, scope, id string, msgs ...openai.Message) Session {
	t.Helper()
	s, err := st.Append(ctx, scope, id, AnyVersion, msgs...)
	if err != nil {
		t.Fatalf("append %s/%s: %v", scope, id, err)
	}
	return s
}

func mustLoad(t testing.TB, st Store, scope, id string) ([]openai.Message, Session) {
	t.Helper()
	msgs, s, err := st.Load(ctx, scope, id)
	if err != nil {
		t.Fatalf("load %s/%s: %v", scope, id, err)
	}
	return msgs, s
}

// texts renders messages compactly for comparisons: "u:hi", "a:yo",
// "c:id1,id2", "t:id=text".
func texts(msgs []openai.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		switch {
		case len(m.ToolCalls) > 0:
			s := "c:"
			for j, tc := range m.ToolCalls {
				if j > 0 {
					s += ","
				}
				s += tc.ID
			}
			out[i] = s
		case m.Role == "tool":
			out[i] = "t:" + m.ToolCallID + "=" + m.Content.String()
		default:
			out[i] = m.Role[:1] + ":" + m.Content.String()
		}
	}
	return out
}
