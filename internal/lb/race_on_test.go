//go:build race

package lb

// The race detector slows single-goroutine statistics ~10x; the distribution tests draw
// fewer samples under it (their tolerances stay well beyond six standard deviations).
const sampleDivisor = 5
