package cache

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
)

func TestRedisGetSetMiss(t *testing.T) {
	ctx := context.Background()
	st := NewRedis(redisClient(t), RedisOptions{Prefix: testPrefix(t)})
	if _, ok, err := st.Get(ctx, "absent"); ok || err != nil {
		t.Fatalf("absent key: ok %v, err %v", ok, err)
	}
	val := []byte("\x00binary\xffvalue")
	if err := st.Set(ctx, "k", val, time.Minute); err != nil {
		t.Fatal(err)
	}
	got, ok, err := st.Get(ctx, "k")
	if err != nil || !ok || !bytes.Equal(got, val) {
		t.Fatalf("get: %q %v %v", got, ok, err)
	}
}

// Two stores over two connections are two nodes: each serves what the other stored.
func TestRedisTwoNodes(t *testing.T) {
	ctx := context.Background()
	p := testPrefix(t)
	a := NewRedis(redisClient(t), RedisOptions{Prefix: p})
	b := NewRedis(redisClient(t), RedisOptions{Prefix: p})
	e := &Entry{Response: &openai.ChatResponse{ID: "r1", Model: "m", Choices: []openai.Choice{{
		Message: openai.Message{Role: "assistant", Content: openai.TextContent("hello")}, FinishReason: "stop"}},
		Usage: &openai.Usage{PromptTokens: 3, CompletionTokens: 1, TotalTokens: 4}},
		Provider: "openai", Model: "gpt-4o-mini", Stored: time.Unix(1700000000, 0).UTC()}
	enc, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	key, _ := Key("tenant", &openai.ChatRequest{Model: "m", Messages: []openai.Message{{Role: "user", Content: openai.TextContent("hi")}}})
	if err := a.Set(ctx, key, enc, time.Minute); err != nil {
		t.Fatal(err)
	}
	raw, ok, err := b.Get(ctx, key)
	if err != nil || !ok {
		t.Fatalf("node b does not see node a's entry: %v %v", ok, err)
	}
	got, err := Decode(raw)
	if err != nil || got.Response.Choices[0].Message.Content.String() != "hello" || got.Provider != "openai" ||
		got.Response.Usage.TotalTokens != 4 || !got.Stored.Equal(e.Stored) {
		t.Fatalf("decoded %+v, %v", got, err)
	}
	// A refresh on b is what a reads next.
	if err := b.Set(ctx, key, []byte("v2"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if raw, _, _ := a.Get(ctx, key); string(raw) != "v2" {
		t.Fatalf("node a reads %q after node b's refresh", raw)
	}
}

func TestRedisTTL(t *testing.T) {
	ctx := context.Background()
	c := redisClient(t)
	p := testPrefix(t)
	st := NewRedis(c, RedisOptions{Prefix: p})
	if err := st.Set(ctx, "short", []byte("v"), 150*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := st.Set(ctx, "long", []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if pttl := c.PTTL(ctx, p+"short").Val(); pttl <= 0 || pttl > 150*time.Millisecond {
		t.Fatalf("PTTL %v, want (0, 150ms]", pttl)
	}
	if _, ok, _ := st.Get(ctx, "short"); !ok {
		t.Fatal("miss before the TTL")
	}
	time.Sleep(300 * time.Millisecond)
	if _, ok, err := st.Get(ctx, "short"); ok || err != nil {
		t.Fatalf("hit after the TTL (%v)", err)
	}
	if _, ok, _ := st.Get(ctx, "long"); !ok {
		t.Fatal("the long-lived entry is gone")
	}
	// A TTL under a millisecond stores nothing.
	if err := st.Set(ctx, "zero", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := st.Get(ctx, "zero"); ok {
		t.Fatal("a zero TTL stored an entry")
	}
}

func TestRedisPrefixIsolation(t *testing.T) {
	ctx := context.Background()
	c := redisClient(t)
	p1, p2 := testPrefix(t), testPrefix(t)
	a := NewRedis(c, RedisOptions{Prefix: p1})
	b := NewRedis(c, RedisOptions{Prefix: p2})
	if err := a.Set(ctx, "k", []byte("a"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := b.Get(ctx, "k"); ok {
		t.Fatal("prefix p2 sees p1's entry")
	}
	if err := b.Set(ctx, "k", []byte("b"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if v, _, _ := a.Get(ctx, "k"); string(v) != "a" {
		t.Fatalf("p1 reads %q", v)
	}
	if keys := prefixKeys(c, p1); len(keys) != 1 || keys[0] != p1+"k" {
		t.Fatalf("keys under p1: %q", keys)
	}
}

func TestRedisTooLarge(t *testing.T) {
	ctx := context.Background()
	if NewRedis(nil, RedisOptions{}).MaxValueBytes() != DefaultMaxValueBytes {
		t.Fatal("default max value size")
	}
	st := NewRedis(redisClient(t), RedisOptions{Prefix: testPrefix(t), MaxValueBytes: 100})
	if err := st.Set(ctx, "big", make([]byte, 101), time.Minute); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("101 bytes: %v, want ErrTooLarge", err)
	}
	if _, ok, _ := st.Get(ctx, "big"); ok {
		t.Fatal("a refused value was stored")
	}
	if err := st.Set(ctx, "max", make([]byte, 100), time.Minute); err != nil {
		t.Fatalf("100 bytes: %v", err)
	}
}

// An unreachable Redis is an error, not a miss: the gateway logs it and calls the provider.
func TestRedisUnreachable(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 100 * time.Millisecond, MaxRetries: -1})
	defer c.Close()
	st := NewRedis(c, RedisOptions{})
	if _, ok, err := st.Get(context.Background(), "k"); err == nil || ok {
		t.Fatalf("get: ok %v, err %v", ok, err)
	}
	if err := st.Set(context.Background(), "k", []byte("v"), time.Minute); err == nil {
		t.Fatal("set succeeded")
	}
}
