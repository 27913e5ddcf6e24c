package h1

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"
)

// benchServer is a minimal HTTP/1.1 server: it answers every request head on a connection
// with the same small response, flushing only when no further request is buffered.
func benchServer(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				serveBench(c)
			}()
		}
	}()
	b.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

var benchResponse = []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!")

func serveBench(c net.Conn) {
	br := bufio.NewReaderSize(c, 4096)
	bw := bufio.NewWriterSize(c, 4096)
	for {
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				return
			}
			if len(line) <= 2 {
				break
			}
		}
		bw.Write(benchResponse)
		if br.Buffered() == 0 {
			if bw.Flush() != nil {
				return
			}
		}
	}
}

func benchRequest(addr string) *http.Request {
	return &http.Request{
		Method:     "GET",
		URL:        &url.URL{Scheme: "http", Host: addr, Path: "/v1/models"},
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header: http.Header{
			"Accept":          {"*/*"},
			"X-Request-Id":    {"0f3c1a9e-5b7d-4e21-9c8a-2d6f4b1e7a90"},
			"X-Forwarded-For": {"10.1.2.3"},
		},
		Host: "api.example.com",
	}
}

func roundTripOnce(b *testing.B, rt http.RoundTripper, req *http.Request, buf []byte) {
	resp, err := rt.RoundTrip(req)
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for {
		m, err := resp.Body.Read(buf)
		n += m
		if err == io.EOF {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	resp.Body.Close()
	if n != 13 {
		b.Fatalf("body of %d bytes", n)
	}
}

func benchKeepAlive(b *testing.B, rt http.RoundTripper) {
	req := benchRequest(benchServer(b))
	buf := make([]byte, 512)
	roundTripOnce(b, rt, req, buf) // connect outside the measurement
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		roundTripOnce(b, rt, req, buf)
	}
}

func benchKeepAliveParallel(b *testing.B, rt http.RoundTripper) {
	addr := benchServer(b)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req := benchRequest(addr)
		buf := make([]byte, 512)
		for pb.Next() {
			roundTripOnce(b, rt, req, buf)
		}
	})
}

func stdTransport() *http.Transport {
	return &http.Transport{MaxIdleConnsPerHost: 256, DisableCompression: true}
}

func BenchmarkRoundTripKeepAlive(b *testing.B) { benchKeepAlive(b, &Transport{}) }

func BenchmarkStdTransportKeepAlive(b *testing.B) { benchKeepAlive(b, stdTransport()) }

// benchRawHead is benchRequest's head as the proxy's fast path builds it for RoundTripRaw.
var benchRawHead = []byte("GET /v1/models HTTP/1.1\r\nHost: api.example.com\r\nAccept: */*\r\n" +
	"X-Request-Id: 0f3c1a9e-5b7d-4e21-9c8a-2d6f4b1e7a90\r\nX-Forwarded-For: 10.1.2.3\r\n\r\n")

func rawRoundTripOnce(b *testing.B, tr *Transport, addr string, deadline time.Time, resp *RawResponse, buf []byte) {
	if err := tr.RoundTripRaw(context.Background(), addr, benchRawHead, true, deadline, resp); err != nil {
		b.Fatal(err)
	}
	n := 0
	for {
		m, err := resp.Read(buf)
		n += m
		if err == io.EOF {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	resp.Close()
	if n != 13 {
		b.Fatalf("body of %d bytes", n)
	}
}

// BenchmarkRoundTripRawKeepAlive is BenchmarkRoundTripKeepAlive with RoundTripRaw: the same
// request and response as bytes, a reused RawResponse.
func BenchmarkRoundTripRawKeepAlive(b *testing.B) {
	addr := benchServer(b)
	tr := &Transport{}
	var resp RawResponse
	buf := make([]byte, 512)
	rawRoundTripOnce(b, tr, addr, time.Time{}, &resp, buf) // connect outside the measurement
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rawRoundTripOnce(b, tr, addr, time.Time{}, &resp, buf)
	}
}

// BenchmarkRoundTripRawKeepAliveDeadline adds a deadline (the connection's re-armed timer).
func BenchmarkRoundTripRawKeepAliveDeadline(b *testing.B) {
	addr := benchServer(b)
	tr := &Transport{}
	var resp RawResponse
	buf := make([]byte, 512)
	rawRoundTripOnce(b, tr, addr, time.Now().Add(time.Minute), &resp, buf)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rawRoundTripOnce(b, tr, addr, time.Now().Add(time.Minute), &resp, buf)
	}
}

func BenchmarkRoundTripKeepAliveParallel(b *testing.B) { benchKeepAliveParallel(b, &Transport{}) }

func BenchmarkStdTransportKeepAliveParallel(b *testing.B) {
	benchKeepAliveParallel(b, stdTransport())
}

// BenchmarkRoundTripKeepAliveCancelable measures the cost of watching a context that can
// end (context.AfterFunc), as the proxy's requests have.
func BenchmarkRoundTripKeepAliveCancelable(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req := benchRequest(benchServer(b)).WithContext(ctx)
	rt := &Transport{}
	buf := make([]byte, 512)
	b.ReportAllocs()
	for b.Loop() {
		roundTripOnce(b, rt, req, buf)
	}
}

func BenchmarkStdTransportKeepAliveCancelable(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req := benchRequest(benchServer(b)).WithContext(ctx)
	rt := stdTransport()
	buf := make([]byte, 512)
	b.ReportAllocs()
	for b.Loop() {
		roundTripOnce(b, rt, req, buf)
	}
}
