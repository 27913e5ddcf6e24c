package cache

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

func TestCosine(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b []float32
		want float32
	}{
		{"identical", []float32{1, 2, 3}, []float32{1, 2, 3}, 1},
		{"scaled", []float32{1, 2, 3}, []float32{10, 20, 30}, 1},
		{"opposite", []float32{1, 2, 3}, []float32{-1, -2, -3}, -1},
		{"orthogonal", []float32{1, 0}, []float32{0, 5}, 0},
		{"45 degrees", []float32{1, 0}, []float32{1, 1}, float32(math.Sqrt2 / 2)},
		{"zero vector", []float32{0, 0}, []float32{1, 1}, 0},
		{"lengths differ", []float32{1, 0}, []float32{1, 0, 0}, 0},
		{"NaN", []float32{float32(math.NaN()), 1}, []float32{1, 1}, 0},
		{"empty", nil, nil, 0},
	} {
		if got := Cosine(tc.a, tc.b); math.Abs(float64(got-tc.want)) > 1e-6 {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// The unrolled dot product agrees with the plain loop at every length (the tail included).
func TestDotMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 40; n++ {
		a, b := randomVector(n, r.Float64), randomVector(n, r.Float64)
		var want float64
		for i := range a {
			want += float64(a[i]) * float64(b[i])
		}
		if got := dot(a, b); math.Abs(float64(got)-want) > 1e-4 {
			t.Fatalf("n=%d: %v, want %v", n, got, want)
		}
	}
}

func TestVectorEncoding(t *testing.T) {
	v := []float32{0, -1.5, float32(math.Pi), math.MaxFloat32, math.SmallestNonzeroFloat32}
	b := encodeVector(v)
	if len(b) != 4*len(v) || b[4] != 0 || b[7] != 0xbf { // -1.5 = 0xbfc00000, little-endian
		t.Fatalf("encoding %x", b)
	}
	got, err := decodeVector(string(b))
	if err != nil || len(got) != len(v) {
		t.Fatal(err)
	}
	for i := range v {
		if got[i] != v[i] {
			t.Fatalf("component %d: %v, want %v", i, got[i], v[i])
		}
	}
	for _, bad := range []string{"", "abc", string(make([]byte, 4*(MaxDims+1)))} {
		if _, err := decodeVector(bad); err == nil {
			t.Fatalf("decoded %d bytes", len(bad))
		}
	}
}

// A hit above the threshold, a miss below it, with vectors whose similarity the test sets.
func TestSemanticThreshold(t *testing.T) {
	ctx := context.Background()
	const dim = 16
	emb := fakeEmbedder{
		"what is the capital of france?": unit(dim, 0),
		"capital city of france?":        angled(dim, 1, 0.97),
		"what is the capital of spain?":  angled(dim, 2, 0.80),
	}
	s := NewSemantic(SemanticOptions{})
	v, _ := emb.Embed(ctx, "what is the capital of france?")
	if err := s.Add(ctx, "scope", "key-france", v, time.Minute); err != nil {
		t.Fatal(err)
	}
	near, _ := emb.Embed(ctx, "capital city of france?")
	key, sim, ok := s.Search("scope", near, 0.9)
	if !ok || key != "key-france" || math.Abs(float64(sim)-0.97) > 1e-5 {
		t.Fatalf("near: %q %v %v, want a hit at 0.97", key, sim, ok)
	}
	far, _ := emb.Embed(ctx, "what is the capital of spain?")
	key, sim, ok = s.Search("scope", far, 0.9)
	if ok || key != "" || math.Abs(float64(sim)-0.80) > 1e-5 {
		t.Fatalf("far: %q %v %v, want a miss reporting 0.80", key, sim, ok)
	}
	// The same vector hits at a threshold just under 1; a threshold above 1 never does.
	if _, sim, ok := s.Search("scope", v, 0.9999); !ok || sim < 0.9999 {
		t.Fatalf("identical: %v %v", sim, ok)
	}
	if _, _, ok := s.Search("scope", v, 1.01); ok {
		t.Fatal("a threshold above 1 hit")
	}
	// A query's length does not matter, only its direction.
	long := make([]float32, dim)
	for i, x := range near {
		long[i] = 1000 * x
	}
	if _, sim, ok := s.Search("scope", long, 0.9); !ok || math.Abs(float64(sim)-0.97) > 1e-5 {
		t.Fatalf("scaled query: %v %v", sim, ok)
	}
}

// Search returns the nearest of several candidates.
func TestSemanticNearest(t *testing.T) {
	ctx := context.Background()
	s := NewSemantic(SemanticOptions{})
	for i, c := range []float64{0.5, 0.9, 0.99, 0.7} {
		if err := s.Add(ctx, "sc", fmt.Sprint("k", i), angled(8, 1+i, c), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if key, sim, ok := s.Search("sc", unit(8, 0), 0.5); !ok || key != "k2" || math.Abs(float64(sim)-0.99) > 1e-5 {
		t.Fatalf("%q %v %v, want k2 at 0.99", key, sim, ok)
	}
}

func TestSemanticScoped(t *testing.T) {
	ctx := context.Background()
	v := unit(4, 0)
	s := NewSemantic(SemanticOptions{EmbeddingModel: "emb-1"})
	if err := s.Add(ctx, "tenant-a", "k", v, time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := s.Search("tenant-b", v, 0.5); ok {
		t.Fatal("a search matched across scopes")
	}
	if _, _, ok := s.Search("", v, 0.5); ok {
		t.Fatal("the empty scope matched another")
	}
	// Another dimension in another scope is fine; in the same scope it is refused.
	if err := s.Add(ctx, "tenant-b", "k", unit(8, 0), time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(ctx, "tenant-a", "k2", unit(8, 0), time.Minute); !errors.Is(err, ErrDimension) {
		t.Fatalf("dimension mismatch: %v", err)
	}
	if _, _, ok := s.Search("tenant-a", unit(8, 0), 0.5); ok {
		t.Fatal("a query of another dimension hit")
	}
	if key, _, ok := s.Search("tenant-a", v, 0.5); !ok || key != "k" {
		t.Fatal("the scope's own entry is not found")
	}
	checkInvariants(t, s)
}

func TestSemanticTTL(t *testing.T) {
	ctx := context.Background()
	clk := newFakeClock()
	s := NewSemantic(SemanticOptions{Now: clk.Now})
	v := unit(4, 0)
	if err := s.Add(ctx, "sc", "short", v, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(ctx, "sc", "long", angled(4, 1, 0.9), time.Hour); err != nil {
		t.Fatal(err)
	}
	clk.Advance(59 * time.Second)
	if key, _, ok := s.Search("sc", v, 0.95); !ok || key != "short" {
		t.Fatal("miss before the TTL")
	}
	clk.Advance(time.Second)
	if key, _, ok := s.Search("sc", v, 0.5); !ok || key != "long" {
		t.Fatalf("after the TTL: %q %v, want the long-lived entry", key, ok)
	}
	if s.Len() != 2 {
		t.Fatalf("%d entries before the sweep", s.Len())
	}
	s.sweep()
	if s.Len() != 1 || s.Stats().Expired != 1 {
		t.Fatalf("after the sweep: %d entries, %+v", s.Len(), s.Stats())
	}
	// An expired entry at the front of the queue goes on the next Add.
	if err := s.Add(ctx, "sc2", "a", v, time.Second); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Second)
	if err := s.Add(ctx, "sc2", "b", v, time.Minute); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)
	if err := s.Add(ctx, "sc3", "c", v, time.Minute); err != nil {
		t.Fatal(err)
	}
	if s.Len() != 1 {
		t.Fatalf("%d entries, want only the last", s.Len())
	}
	// A TTL under a millisecond adds nothing.
	if err := s.Add(ctx, "sc", "zero", v, 0); err != nil || s.Len() != 1 {
		t.Fatalf("zero TTL: %v, %d entries", err, s.Len())
	}
	checkInvariants(t, s)
}

func TestSemanticEviction(t *testing.T) {
	ctx := context.Background()
	s := NewSemantic(SemanticOptions{MaxEntries: 3})
	for i := range 4 {
		if err := s.Add(ctx, fmt.Sprint("scope", i%2), fmt.Sprint("k", i), unit(4, i), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if s.Len() != 3 || s.Stats().Evicted != 1 {
		t.Fatalf("%d entries, %+v", s.Len(), s.Stats())
	}
	if _, _, ok := s.Search("scope0", unit(4, 0), 0.9); ok {
		t.Fatal("the oldest entry was kept")
	}
	for i := 1; i < 4; i++ {
		if key, _, ok := s.Search(fmt.Sprint("scope", i%2), unit(4, i), 0.9); !ok || key != fmt.Sprint("k", i) {
			t.Fatalf("k%d was evicted", i)
		}
	}
	// Replacing a key keeps one entry, refreshes its place in the queue, and does not let the
	// queue grow.
	for range 10000 {
		if err := s.Add(ctx, "scope1", "k1", unit(4, 1), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if s.Len() != 3 {
		t.Fatalf("%d entries after replacements", s.Len())
	}
	checkInvariants(t, s)
	if err := s.Add(ctx, "scope0", "new", unit(4, 0), time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := s.Search("scope1", unit(4, 1), 0.9); !ok {
		t.Fatal("the refreshed entry was evicted before older ones")
	}
	checkInvariants(t, s)
}

func TestSemanticReplaceAndRemove(t *testing.T) {
	ctx := context.Background()
	s := NewSemantic(SemanticOptions{})
	s.Add(ctx, "sc", "k", unit(4, 0), time.Minute)
	s.Add(ctx, "sc", "other", unit(4, 2), time.Minute)
	s.Add(ctx, "sc", "k", unit(4, 1), time.Minute)
	if _, _, ok := s.Search("sc", unit(4, 0), 0.9); ok {
		t.Fatal("the replaced vector still matches")
	}
	if key, _, ok := s.Search("sc", unit(4, 1), 0.9); !ok || key != "k" {
		t.Fatal("the new vector does not match")
	}
	s.Remove("sc", "k")
	s.Remove("sc", "absent")
	s.Remove("nowhere", "k")
	if _, _, ok := s.Search("sc", unit(4, 1), 0.9); ok || s.Len() != 1 {
		t.Fatalf("after Remove: %d entries", s.Len())
	}
	if key, _, ok := s.Search("sc", unit(4, 2), 0.9); !ok || key != "other" {
		t.Fatal("Remove took the wrong entry")
	}
	s.Remove("sc", "other")
	if s.Len() != 0 || s.Stats().Scopes != 0 {
		t.Fatalf("%+v", s.Stats())
	}
	checkInvariants(t, s)
}

func TestSemanticRejects(t *testing.T) {
	ctx := context.Background()
	s := NewSemantic(SemanticOptions{})
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	for _, tc := range []struct {
		name string
		key  string
		vec  []float32
		want error
	}{
		{"empty", "k", nil, ErrEmptyVector},
		{"zero", "k", []float32{0, 0, 0}, ErrBadVector},
		{"NaN", "k", []float32{1, nan}, ErrBadVector},
		{"infinity", "k", []float32{1, inf}, ErrBadVector},
		{"too long", "k", make([]float32, MaxDims+1), ErrTooManyDims},
		{"no key", "", []float32{1}, nil},
	} {
		err := s.Add(ctx, "sc", tc.key, tc.vec, time.Minute)
		if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if s.Len() != 0 {
		t.Fatal("a refused vector was added")
	}
	s.Add(ctx, "sc", "k", []float32{1, 0}, time.Minute)
	for _, q := range [][]float32{nil, {0, 0}, {nan, 1}, {1, 0, 0}} {
		if _, _, ok := s.Search("sc", q, -1); ok {
			t.Fatalf("query %v hit", q)
		}
	}
}

// Adds, searches, removals and sweeps from many goroutines (run with -race), then the
// bookkeeping is checked.
func TestSemanticConcurrent(t *testing.T) {
	ctx := context.Background()
	s := NewSemantic(SemanticOptions{MaxEntries: 50})
	const dim = 32
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 7))
			for i := range 500 {
				scope := fmt.Sprint("scope", r.IntN(4))
				v := randomVector(dim, r.Float64)
				switch r.IntN(10) {
				case 0:
					s.Remove(scope, fmt.Sprint("k", r.IntN(40)))
				case 1:
					if i%100 == 0 {
						s.sweep()
					}
					_ = s.Stats()
				case 2, 3, 4:
					if err := s.Add(ctx, scope, fmt.Sprint("k", r.IntN(40)), v, time.Duration(1+r.IntN(50))*time.Millisecond); err != nil {
						t.Error(err)
						return
					}
				default:
					if key, sim, ok := s.Search(scope, v, 0.2); ok && (key == "" || sim < 0.2) {
						t.Errorf("hit %q at %v", key, sim)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	checkInvariants(t, s)
}
