package pii

import (
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"
)

func cpuNow() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(1 /*RUSAGE_THREAD*/, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestTmpPerDetector(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	r := MustNew(Config{})
	for _, txt := range []string{cleanPrompt, piiPrompt} {
		var tot time.Duration
		for i, d := range r.dets {
			const N = 2000
			st := cpuNow()
			n := 0
			for k := 0; k < N; k++ {
				p := prefilter{s: txt}
				n = len(d.appendMatches(nil, &p, i))
			}
			el := (cpuNow() - st) / N
			tot += el
			fmt.Printf("%-16s %8v %d\n", d.name, el, n)
		}
		fmt.Println("total", tot)
	}
	st := cpuNow()
	for k := 0; k < 2000; k++ {
		r.Redact(cleanPrompt, NewVault())
	}
	fmt.Println("Redact clean cpu/op", (cpuNow()-st)/2000)
}
