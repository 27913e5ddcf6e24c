package cache

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Vector errors: what Semantic.Add refuses.
var (
	ErrEmptyVector = errors.New("cache: empty vector")
	ErrBadVector   = errors.New("cache: vector with a NaN, an infinity or no length")
	ErrDimension   = errors.New("cache: vector dimension differs from the scope's")
	// ErrTooManyDims guards the Redis decoder and the index against absurd inputs.
	ErrTooManyDims = fmt.Errorf("cache: vector above %d dimensions", MaxDims)
)

// MaxDims is the largest vector the semantic cache takes (the largest common embedding
// models have 3072 or 4096 dimensions).
const MaxDims = 16384

// dot returns the dot product of a and b (len(b) >= len(a)). Eight independent accumulators
// let the CPU overlap the multiply-adds (the compiler does not reassociate float sums), and the
// three-index slices let it drop the bounds checks in the loop.
func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3, s4, s5, s6, s7 float32
	i := 0
	for ; i+8 <= len(a); i += 8 {
		x := a[i : i+8 : i+8]
		y := b[i : i+8 : i+8]
		s0 += x[0] * y[0]
		s1 += x[1] * y[1]
		s2 += x[2] * y[2]
		s3 += x[3] * y[3]
		s4 += x[4] * y[4]
		s5 += x[5] * y[5]
		s6 += x[6] * y[6]
		s7 += x[7] * y[7]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
}

// norm returns the Euclidean length of v, computed in float64 so that long vectors of small
// components do not lose precision; ok is false for an empty vector, a NaN, an infinity or a
// zero vector: none has a direction to compare.
func norm(v []float32) (float64, bool) {
	if len(v) == 0 {
		return 0, false
	}
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	n := math.Sqrt(s)
	if n == 0 || math.IsNaN(n) || math.IsInf(n, 0) {
		return 0, false
	}
	return n, true
}

// checkVector validates v for the index.
func checkVector(v []float32) (float64, error) {
	if len(v) == 0 {
		return 0, ErrEmptyVector
	}
	if len(v) > MaxDims {
		return 0, ErrTooManyDims
	}
	n, ok := norm(v)
	if !ok {
		return 0, ErrBadVector
	}
	return n, nil
}

// normalizeInto writes v / n into dst (len(dst) == len(v)).
func normalizeInto(dst, v []float32, n float64) {
	inv := 1 / n
	for i, x := range v {
		dst[i] = float32(float64(x) * inv)
	}
}

// Cosine returns the cosine similarity of a and b, in [-1, 1]; 0 when either has no direction
// or their lengths differ. The index compares normalized vectors, where it is a dot product.
func Cosine(a, b []float32) float32 {
	if len(a) != len(b) {
		return 0
	}
	na, oka := norm(a)
	nb, okb := norm(b)
	if !oka || !okb {
		return 0
	}
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return float32(max(-1, min(1, s/(na*nb))))
}

// encodeVector is the Redis form of a vector: little-endian float32s.
func encodeVector(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

// decodeVector parses encodeVector's form (Redis replies come as strings).
func decodeVector[T ~string | ~[]byte](b T) ([]float32, error) {
	if len(b) == 0 || len(b)%4 != 0 {
		return nil, fmt.Errorf("cache: vector of %d bytes", len(b))
	}
	if len(b)/4 > MaxDims {
		return nil, ErrTooManyDims
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		j := 4 * i
		v[i] = math.Float32frombits(uint32(b[j]) | uint32(b[j+1])<<8 | uint32(b[j+2])<<16 | uint32(b[j+3])<<24)
	}
	return v, nil
}
