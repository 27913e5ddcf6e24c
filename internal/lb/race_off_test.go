//go:build !race

package lb

const sampleDivisor = 1
