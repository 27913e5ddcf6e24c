package lb

import (
	"math/rand/v2"

	"github.com/cespare/xxhash/v2"
)

// MaglevTableSize is the number of entries of a maglev lookup table: Envoy's default, a prime
// (the permutations below need a prime size) much larger than any sane host count, so that
// every host's share is exact to within 1/65537.
const MaglevTableSize = 65537

// emptySlot marks a table entry not yet claimed while the table is built.
const emptySlot = ^uint32(0)

// maglev is Envoy's maglev policy (Eisenbud et al., "Maglev: A Fast and Reliable Software
// Network Load Balancer", NSDI 2016): a lookup table, filled once per build, that maps
// hash % 65537 to a host. Lookup is one division by a constant and two loads, cheaper than
// ring_hash's binary search, and the shares match the weights closely. The price is a table
// of 256 KiB per balancer (host indexes, pointer-free so the garbage collector skips it) and
// slightly more disruption than an ideal consistent hash when membership changes.
type maglev struct {
	hosts []*Host
	table []uint32 // MaglevTableSize host indexes
}

// newMaglev fills the table for two or more hosts, as Envoy's OriginalMaglevTable.
//
// Each host walks its own permutation of the table, offset + n*skip (mod the prime size),
// with offset = xxhash64(address, seed 0) % size and skip = xxhash64(address, seed 1) %
// (size-1) + 1: Envoy's hashes, so tables agree with Envoy's for the same endpoints. Hosts
// take turns claiming the next unclaimed entry of their permutation until the table is full.
// Because a host's permutation depends only on its own address, removing a host mostly frees
// the entries it held and leaves the others where they were.
//
// Weights: in round r (counting from 1) a host of weight w claims an entry only when
// r*w >= its target, and each claim raises the target by the largest weight. The heaviest
// hosts claim every round, a host of half that weight every other round, and so on, so entry
// counts follow the weights. Envoy does this with weights normalized to floats; with integer
// weights the same comparisons are exact (both sides scaled by the weight sum).
//
// Hosts take their turns in order of hash key (address), so the table does not depend on the
// order the cluster lists them in. The build costs O(size * log size) entry probes plus, with
// very unequal weights, O(rounds * hosts) turn checks; at most a few tens of milliseconds
// for a thousand hosts.
func newMaglev(hosts []*Host) *maglev {
	hosts = sortedByKey(hosts)
	type builder struct {
		pos, skip      uint64 // next entry of the host's permutation, and its stride
		weight, target uint64
	}
	bs := make([]builder, len(hosts))
	var maxW uint64
	for i, h := range hosts {
		key := h.hashKey()
		var d xxhash.Digest
		d.ResetWithSeed(1)
		_, _ = d.WriteString(key)
		bs[i] = builder{
			pos:    xxhash.Sum64String(key) % MaglevTableSize,
			skip:   d.Sum64()%(MaglevTableSize-1) + 1,
			weight: h.weight(),
		}
		maxW = max(maxW, bs[i].weight)
	}
	table := make([]uint32, MaglevTableSize)
	for i := range table {
		table[i] = emptySlot
	}
	filled := 0
	// Each round the heaviest host claims an entry, so the rounds are bounded by the size.
	for round := uint64(1); filled < MaglevTableSize; round++ {
		for i := range bs {
			if filled == MaglevTableSize {
				break
			}
			b := &bs[i]
			if round*b.weight < b.target {
				continue
			}
			b.target += maxW
			// skip is in [1, size-1] and size is prime, so the permutation visits every entry
			// and this finds a free one while any is left.
			for table[b.pos] != emptySlot {
				b.pos = (b.pos + b.skip) % MaglevTableSize
			}
			table[b.pos] = uint32(i)
			b.pos = (b.pos + b.skip) % MaglevTableSize
			filled++
		}
	}
	return &maglev{hosts: hosts, table: table}
}

// Pick returns the table entry of the hash; without a hash it uses a random one, so hashless
// requests spread by weight (Envoy).
func (b *maglev) Pick(c *Context) *Host {
	var h uint64
	if c != nil && c.HasHash {
		h = c.Hash
	} else {
		h = rand.Uint64()
	}
	return b.hosts[b.table[h%MaglevTableSize]]
}
