// Package stripe spreads a counter that every request updates over several cache lines.
//
// An atomic counter that all cores add to costs a cache-line transfer between cores on each
// update: on Pylon's request path, a few such counters cost more than all the other
// bookkeeping. A striped counter keeps N cells on separate cache lines; each goroutine picks
// one by its stack address (Index), so goroutines serving different connections mostly land
// on different cells, and readers sum the cells.
package stripe

import "unsafe"

// N is the number of stripes.
const N = 8

// Index picks a stripe for the calling goroutine: the stacks of different goroutines lie apart
// in memory, so the address of a local variable tells goroutines apart for free. A goroutine's
// stack may move (when it grows), so a caller that must undo an update on the same stripe
// keeps the index.
func Index() int {
	var x byte
	p := uintptr(unsafe.Pointer(&x))
	return int((p>>13)^(p>>16)^(p>>19)) & (N - 1)
}
