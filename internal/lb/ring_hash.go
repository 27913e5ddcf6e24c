package lb

import (
	"cmp"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"slices"
	"strconv"

	"github.com/cespare/xxhash/v2"
)

// ringHash is Envoy's ring_hash policy: a Ketama-style consistent-hash ring. Each host owns a
// number of points on a 64-bit circle roughly proportional to its weight; a request hash goes
// to the first point at or after it, wrapping past the top. When a host leaves, only the keys
// that fell on its points (and on the points the survivors gain, see newRingHash) move.
//
// The ring is two parallel pointer-free slices rather than one slice of (hash, *Host): the
// binary search then reads 8 bytes an entry instead of 16, and the garbage collector never
// scans what may be millions of entries.
type ringHash struct {
	hosts  []*Host
	hashes []uint64 // point hashes, ascending
	owners []uint32 // owners[i] indexes hosts: the host of point i
}

// ringBounds resolves Options to the ring size bounds, applying Envoy's defaults and limits.
func ringBounds(opts Options) (minSize, maxSize uint64, err error) {
	lo, hi := opts.MinRingSize, opts.MaxRingSize
	if lo < 0 || hi < 0 {
		return 0, 0, fmt.Errorf("lb: ring_hash ring sizes must not be negative (minimum %d, maximum %d)", lo, hi)
	}
	if hi == 0 {
		hi = DefaultMaxRingSize
	}
	if hi > RingSizeLimit {
		return 0, 0, fmt.Errorf("lb: ring_hash maximum ring size %d exceeds %d", hi, RingSizeLimit)
	}
	if lo == 0 {
		// Envoy would reject a maximum below the default minimum of 1024; the configuration
		// only requires minimum <= maximum when both are set, so an unset minimum follows a
		// small maximum down instead.
		lo = min(DefaultMinRingSize, hi)
	}
	if lo > hi {
		return 0, 0, fmt.Errorf("lb: ring_hash minimum ring size %d exceeds maximum ring size %d", lo, hi)
	}
	return uint64(lo), uint64(hi), nil
}

// newRingHash builds the ring for two or more hosts.
//
// Sizing follows Envoy's RingHashLoadBalancer. With normalized weights nw_i = w_i/sum, the
// scale is min(ceil(min_nw*minSize)/min_nw, maxSize): large enough that the lightest host gets
// a whole number of points and the ring holds at least minSize, capped at maxSize. Walking the
// hosts in order, host i gets the points that take a running total from scale*(sum of nw before
// i) up to scale*(sum through i), so fractional shares carry over to the next host instead of
// being lost to rounding. Host i's points hash "<address>_0", "<address>_1", ... with xxhash64
// (seed 0), exactly Envoy's keys, so rings agree with Envoy's for the same endpoints.
//
// Envoy does that arithmetic in float64; here the running targets are computed exactly as
// integer fractions (128-bit), so the ring size is always within [minSize, maxSize], which
// float rounding can miss by one.
//
// Note what this sizing implies for consistency: the ring stays near minSize whatever the host
// count, so when one of N equally weighted hosts leaves, each survivor gains points (about
// minSize/(N(N-1)) each) and those new points take keys from other survivors. About 1/N of
// the keys move because their host left and, on top, about (N-2)/(N(N-1)) because of the new
// points: a little under 2/N in all, as with Envoy.
//
// Hosts are placed in order of hash key (address), so the ring does not depend on the order
// the cluster lists them in.
func newRingHash(hosts []*Host, opts Options) (Balancer, error) {
	minSize, maxSize, err := ringBounds(opts)
	if err != nil {
		return nil, err
	}
	hosts = sortedByKey(hosts)
	var sum, minW uint64
	for _, h := range hosts {
		w := h.weight()
		sum += w
		if minW == 0 || w < minW {
			minW = w
		}
	}
	// target(cum) = ceil(scale * cum/sum) for a running weight cum, as a fraction num/den:
	//   uncapped: scale = ceil(minW*minSize/sum) * sum/minW, so target = c*cum/minW;
	//   capped:   scale = maxSize, so target = maxSize*cum/sum.
	c := ceilDiv(minW, minSize, sum)
	num, den := c, minW
	// Capped when c*sum/minW > maxSize; maxSize*minW < 2^23 * 2^32 cannot overflow.
	if hi, lo := bits.Mul64(c, sum); hi != 0 || lo > maxSize*minW {
		num, den = maxSize, sum
	}
	size := ceilDiv(sum, num, den)

	type point struct {
		hash  uint64
		owner uint32
	}
	points := make([]point, 0, size)
	var key []byte
	var cum, done uint64
	for i, h := range hosts {
		cum += h.weight()
		target := ceilDiv(cum, num, den)
		key = append(append(key[:0], h.hashKey()...), '_')
		base := len(key)
		for n := uint64(0); done < target; n++ {
			key = strconv.AppendUint(key[:base], n, 10)
			points = append(points, point{hash: xxhash.Sum64(key), owner: uint32(i)})
			done++
		}
	}
	// Ties between equal hashes (a 64-bit collision) go to the lower host index, so the ring
	// is deterministic where Envoy's std::sort is not.
	slices.SortFunc(points, func(a, b point) int {
		if c := cmp.Compare(a.hash, b.hash); c != 0 {
			return c
		}
		return cmp.Compare(a.owner, b.owner)
	})
	b := &ringHash{hosts: hosts, hashes: make([]uint64, len(points)), owners: make([]uint32, len(points))}
	for i, p := range points {
		b.hashes[i] = p.hash
		b.owners[i] = p.owner
	}
	return b, nil
}

// Pick returns the owner of the first point at or after the hash, wrapping to the first point;
// without a hash it uses a random one, so hashless requests spread by ring share (Envoy).
func (b *ringHash) Pick(c *Context) *Host {
	var h uint64
	if c != nil && c.HasHash {
		h = c.Hash
	} else {
		h = rand.Uint64()
	}
	// Binary search for the first hash >= h (Ketama's ketama_get_server, as ported by Envoy).
	lo, hi := 0, len(b.hashes)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if b.hashes[mid] < h {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == len(b.hashes) {
		lo = 0
	}
	return b.hosts[b.owners[lo]]
}

// ceilDiv returns ceil(a*b/d) computed in 128 bits. The callers guarantee the quotient fits
// in 64 bits (it is a ring position, at most RingSizeLimit).
func ceilDiv(a, b, d uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	q, r := bits.Div64(hi, lo, d)
	if r != 0 {
		q++
	}
	return q
}

// sortedByKey returns a copy of hosts ordered by hash key, equal keys keeping their order.
// The hashing policies place hosts in this order so that their tables depend on the set of
// hosts, not on how the cluster happened to list them (DNS answers come in any order).
func sortedByKey(hosts []*Host) []*Host {
	hs := slices.Clone(hosts)
	slices.SortStableFunc(hs, func(a, b *Host) int { return cmp.Compare(a.hashKey(), b.hashKey()) })
	return hs
}
