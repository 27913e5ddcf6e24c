package cache_test

import (
	"context"
	"fmt"
	"time"

	"github.com/pylon-gateway/pylon/internal/llm/cache"
	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
)

// embedder stands for the configured embedding model: it maps a few texts to vectors.
type embedder map[string][]float32

func (e embedder) Embed(_ context.Context, text string) ([]float32, error) {
	if v, ok := e[text]; ok {
		return v, nil
	}
	return []float32{0, 0, 1}, nil
}

// The gateway's order: the exact key first, then the semantic index, then the provider; a
// complete answer is stored under the exact key and indexed by its embedding.
func Example_semantic() {
	ctx := context.Background()
	store := cache.NewMemory(64 << 20) // or cache.NewRedis(client, cache.RedisOptions{})
	sem := cache.NewSemantic(cache.SemanticOptions{EmbeddingModel: "text-embedding-3-small"})
	emb := embedder{
		"what is the capital of france?":       {1, 0, 0},
		"which city is the capital of france?": {0.98, 0.199, 0},
		"what is the population of france?":    {0.6, 0.8, 0},
	}
	const threshold, ttl = 0.95, 5 * time.Minute

	serve := func(question string) string {
		req := &openai.ChatRequest{Model: "chat-default", Messages: []openai.Message{
			{Role: "system", Content: openai.TextContent("Answer in one word.")},
			{Role: "user", Content: openai.TextContent(question)}}}
		// 1. Exact match.
		key, _ := cache.Key("tenant-1", req)
		if b, ok, _ := store.Get(ctx, key); ok {
			e, _ := cache.Decode(b)
			return "exact hit: " + e.Response.Choices[0].Message.Content.String()
		}
		// 2. Semantic match, when the request is eligible.
		var scope string
		var vec []float32
		if text, ok := cache.SemanticText(req); ok {
			scope, _ = cache.SemanticScope("tenant-1", req)
			vec, _ = emb.Embed(ctx, text)
			if k, sim, ok := sem.Search(scope, vec, threshold); ok {
				if b, ok, _ := store.Get(ctx, k); ok {
					e, _ := cache.Decode(b)
					return fmt.Sprintf("semantic hit (%.2f): %s", sim, e.Response.Choices[0].Message.Content.String())
				}
				sem.Remove(scope, k) // the answer expired first
			}
		}
		// 3. The provider answers; store the answer, then index it.
		answer := map[string]string{"What is the capital of France?": "Paris"}[question]
		if answer == "" {
			answer = "68 million"
		}
		e := &cache.Entry{Response: &openai.ChatResponse{Choices: []openai.Choice{{
			Message: openai.Message{Role: "assistant", Content: openai.TextContent(answer)}, FinishReason: "stop"}}}}
		b, _ := e.Encode()
		store.Set(ctx, key, b, ttl)
		if vec != nil {
			sem.Add(ctx, scope, key, vec, ttl)
		}
		return "miss: " + answer
	}

	fmt.Println(serve("What is the capital of France?"))
	fmt.Println(serve("What is the capital of France?"))
	fmt.Println(serve("Which city is the capital of  France?"))
	fmt.Println(serve("What is the population of France?"))
	// Output:
	// miss: Paris
	// exact hit: Paris
	// semantic hit (0.98): Paris
	// miss: 68 million
}
