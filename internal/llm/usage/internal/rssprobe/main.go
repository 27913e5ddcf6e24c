// Command rssprobe measures what the usage package costs a process: resident
// memory after start (the tokenizer linked in but unused), after the
// embedded price table is parsed, and after the first count with each
// encoding, with the time each step takes. It backs the figures in
// docs/llm-usage.md:
//
//	go run ./internal/llm/usage/internal/rssprobe
package main

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/pylon-gateway/pylon/internal/llm/usage"
)

func main() {
	report("start (nothing used)", 0)

	start := time.Now()
	est := usage.NewTiktoken()
	report("NewTiktoken", time.Since(start))

	start = time.Now()
	tbl := usage.Embedded()
	report(fmt.Sprintf("Embedded (%d keys)", tbl.Len()), time.Since(start))

	start = time.Now()
	n := est.CountText("gpt-4o", "Hello, world! How many tokens is this sentence?")
	report(fmt.Sprintf("first o200k count (%d)", n), time.Since(start))

	start = time.Now()
	n = est.CountText("gpt-4", "Hello, world! How many tokens is this sentence?")
	report(fmt.Sprintf("first cl100k count (%d)", n), time.Since(start))
}

// report prints the Go heap after a GC and the kernel's view of the process:
// VmRSS now and VmHWM, the peak.
func report(step string, took time.Duration) {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	fmt.Printf("%-28s %10v  heap %5.1f MB  sys %5.1f MB  %s  %s\n", step, took.Round(10*time.Microsecond),
		float64(m.HeapAlloc)/1e6, float64(m.Sys)/1e6, status("VmRSS"), status("VmHWM"))
}

func status(field string) string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return field + " n/a"
	}
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(line, []byte(field+":")); ok {
			return field + " " + string(bytes.Join(bytes.Fields(v), []byte(" ")))
		}
	}
	return field + " n/a"
}
