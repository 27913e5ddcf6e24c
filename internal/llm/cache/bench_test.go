package cache

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// BenchmarkSemanticSearch is the worst case of one search: one scope holding the default
// bound of 10,000 vectors of 1536 dimensions (text-embedding-3-small), all scanned.
func BenchmarkSemanticSearch(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("n=%d/dim=1536", n), func(b *testing.B) {
			const dim = 1536
			ctx := context.Background()
			r := rand.New(rand.NewPCG(3, 4))
			s := NewSemantic(SemanticOptions{MaxEntries: n})
			for i := range n {
				if err := s.Add(ctx, "scope", fmt.Sprint("k", i), randomVector(dim, r.Float64), time.Hour); err != nil {
					b.Fatal(err)
				}
			}
			q := randomVector(dim, r.Float64)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				s.Search("scope", q, 0.95)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/vector")
		})
	}
}

func BenchmarkDot1536(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	x, y := randomVector(1536, r.Float64), randomVector(1536, r.Float64)
	b.ReportAllocs()
	var sink float32
	for b.Loop() {
		sink += dot(x, y)
	}
	_ = sink
}

func BenchmarkSemanticAdd(b *testing.B) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(7, 8))
	s := NewSemantic(SemanticOptions{MaxEntries: 10000})
	vecs := make([][]float32, 64)
	for i := range vecs {
		vecs[i] = randomVector(1536, r.Float64)
	}
	keys := make([]string, 20000)
	for i := range keys {
		keys[i] = fmt.Sprint("k", i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s.Add(ctx, "scope", keys[i%len(keys)], vecs[i%len(vecs)], time.Hour)
		i++
	}
}

func BenchmarkSemanticText(b *testing.B) {
	r := chat(b, `{"model":"m","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"  What is the   capital of France? Answer in one word.  "}],"temperature":0.7}`)
	b.ReportAllocs()
	for b.Loop() {
		SemanticText(r)
	}
}

func BenchmarkSemanticScope(b *testing.B) {
	r := chat(b, `{"model":"m","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"What is the capital of France?"}],"temperature":0.7}`)
	b.ReportAllocs()
	for b.Loop() {
		SemanticScope("tenant", r)
	}
}

// A 4 KiB value: a typical encoded answer.
func BenchmarkRedisGet(b *testing.B) {
	ctx := context.Background()
	st := NewRedis(redisClient(b), RedisOptions{Prefix: testPrefix(b)})
	if err := st.Set(ctx, "k", make([]byte, 4096), time.Minute); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, ok, err := st.Get(ctx, "k"); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

func BenchmarkRedisSet(b *testing.B) {
	ctx := context.Background()
	st := NewRedis(redisClient(b), RedisOptions{Prefix: testPrefix(b)})
	v := make([]byte, 4096)
	b.ReportAllocs()
	for b.Loop() {
		if err := st.Set(ctx, "k", v, time.Minute); err != nil {
			b.Fatal(err)
		}
	}
}

// Publishing one 1536-dimension entry (one script call).
func BenchmarkSemanticPublish(b *testing.B) {
	ctx := context.Background()
	s := NewSemantic(SemanticOptions{Redis: redisClient(b), Prefix: testPrefix(b), MaxEntries: 1000})
	v := randomVector(1536, rand.New(rand.NewPCG(9, 9)).Float64)
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Add(ctx, "scope", "k", v, time.Minute); err != nil {
			b.Fatal(err)
		}
	}
}
