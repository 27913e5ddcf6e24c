package h1

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

var body64 = bytes.Repeat([]byte("b"), 64)

func handler64(w http.ResponseWriter, r *http.Request) { w.Write(body64) }

// benchKeepAlive sends sequential GETs on one raw connection and reads each response whole.
func benchKeepAlive(b *testing.B, serve func(net.Listener) (stop func())) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	stop := serve(ln)
	defer stop()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	req := []byte("GET / HTTP/1.1\r\nHost: bench\r\n\r\n")

	// Every response has the same size: learn it from the first one.
	if _, err := c.Write(req); err != nil {
		b.Fatal(err)
	}
	br := bufio.NewReader(c)
	size, cl := 0, -1
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			b.Fatal(err)
		}
		size += len(line)
		if v, ok := strings.CutPrefix(line, "Content-Length: "); ok {
			cl, _ = strconv.Atoi(strings.TrimSpace(v))
		}
		if line == "\r\n" {
			break
		}
	}
	if cl != len(body64) {
		b.Fatalf("Content-Length %d", cl)
	}
	if _, err := io.ReadFull(br, make([]byte, cl)); err != nil {
		b.Fatal(err)
	}
	size += cl
	buf := make([]byte, size)

	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	for b.Loop() {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			b.Fatal(err)
		}
		if string(buf[9:12]) != "200" {
			b.Fatalf("%q", buf)
		}
	}
	// CPU of the whole process (the client's share is the same for both servers): less noisy
	// than wall time on a loaded machine, and what the load benchmark cares about.
	if cpu := processCPU() - cpu0; cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

func BenchmarkServeKeepAlive(b *testing.B) {
	benchKeepAlive(b, func(ln net.Listener) func() {
		s := &Server{Handler: http.HandlerFunc(handler64)}
		go s.Serve(ln)
		return func() { s.Close() }
	})
}

func BenchmarkNetHTTPServeKeepAlive(b *testing.B) {
	benchKeepAlive(b, func(ln net.Listener) func() {
		s := &http.Server{Handler: http.HandlerFunc(handler64)}
		go s.Serve(ln)
		return func() { s.Close() }
	})
}
