// Command ttfb measures the time to the first streamed byte of a response, for Pylon's load
// benchmark (bench/run.sh, MODE=llm-stream): one keep-alive connection, one request at a
// time, for a duration; for each request the time from the end of writing the request to
// the first byte of the response body (the first SSE event of a stream), and to the end of
// the body. It prints one line of medians and counts, in microseconds:
//
//	ttfb_p50_us=... ttfb_p90_us=... total_p50_us=... n=... errors=...
//
// The client is the same for every target, so the differences between targets are what
// the servers in between add.
//
//	go run ./bench/ttfb -url http://127.0.0.1:8080/v1/chat/completions -body '{"model":...}' -d 5s
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

func main() {
	target := flag.String("url", "", "URL to POST to")
	body := flag.String("body", "", "request body (JSON)")
	dur := flag.Duration("d", 5*time.Second, "how long to measure")
	warmup := flag.Int("warmup", 50, "requests sent first and not counted")
	flag.Parse()
	u, err := url.Parse(*target)
	if err != nil || u.Host == "" {
		fmt.Fprintln(os.Stderr, "ttfb: -url must be an http URL")
		os.Exit(2)
	}
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ttfb:", err)
		os.Exit(1)
	}
	req := []byte("POST " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host +
		"\r\nContent-Type: application/json\r\nAuthorization: Bearer sk-client\r\nContent-Length: " +
		strconv.Itoa(len(*body)) + "\r\n\r\n" + *body)
	br := bufio.NewReaderSize(c, 64<<10)
	var first, total []time.Duration
	errs := 0
	end := time.Time{}
	for i := 0; ; i++ {
		if i == *warmup {
			end = time.Now().Add(*dur)
		}
		if i > *warmup && time.Now().After(end) {
			break
		}
		f, t, err := exchange(c, br, req)
		if err != nil {
			errs++
			fmt.Fprintln(os.Stderr, "ttfb:", err)
			if errs > 10 {
				break
			}
			c.Close()
			if c, err = net.Dial("tcp", u.Host); err != nil {
				break
			}
			br.Reset(c)
			continue
		}
		if i >= *warmup {
			first = append(first, f)
			total = append(total, t)
		}
	}
	slices.Sort(first)
	slices.Sort(total)
	fmt.Printf("ttfb_p50_us=%.1f ttfb_p90_us=%.1f total_p50_us=%.1f n=%d errors=%d\n",
		q(first, 0.5), q(first, 0.9), q(total, 0.5), len(first), errs)
	if len(first) == 0 {
		os.Exit(1)
	}
}

func q(d []time.Duration, p float64) float64 {
	if len(d) == 0 {
		return -1
	}
	return float64(d[int(float64(len(d)-1)*p)].Nanoseconds()) / 1e3
}

// exchange sends one request and reads its response (Content-Length or chunked), returning
// the time to the first body byte and to the end.
func exchange(c net.Conn, br *bufio.Reader, req []byte) (first, total time.Duration, err error) {
	if _, err := c.Write(req); err != nil {
		return 0, 0, err
	}
	t0 := time.Now()
	status, err := br.ReadString('\n')
	if err != nil {
		return 0, 0, err
	}
	if !strings.HasPrefix(status, "HTTP/1.1 200") {
		return 0, 0, fmt.Errorf("status %q", strings.TrimSpace(status))
	}
	cl, chunked := -1, false
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return 0, 0, err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		k, v, _ := strings.Cut(line, ":")
		v = strings.TrimSpace(v)
		switch http.CanonicalHeaderKey(k) {
		case "Content-Length":
			cl, _ = strconv.Atoi(v)
		case "Transfer-Encoding":
			chunked = strings.EqualFold(v, "chunked")
		}
	}
	if _, err := br.Peek(1); err != nil {
		return 0, 0, err
	}
	first = time.Since(t0)
	var b []byte
	switch {
	case chunked:
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return 0, 0, err
			}
			n, err := strconv.ParseInt(strings.TrimSpace(strings.SplitN(line, ";", 2)[0]), 16, 64)
			if err != nil {
				return 0, 0, fmt.Errorf("chunk size %q", line)
			}
			if n == 0 {
				if _, err := br.ReadString('\n'); err != nil { // no trailers expected
					return 0, 0, err
				}
				break
			}
			chunk := make([]byte, n+2)
			if _, err := io.ReadFull(br, chunk); err != nil {
				return 0, 0, err
			}
			b = append(b, chunk[:n]...)
		}
	case cl >= 0:
		b = make([]byte, cl)
		if _, err := io.ReadFull(br, b); err != nil {
			return 0, 0, err
		}
	default:
		return 0, 0, errors.New("response without Content-Length or chunking")
	}
	total = time.Since(t0)
	if !bytes.Contains(b, []byte("data: [DONE]")) {
		return 0, 0, fmt.Errorf("stream without [DONE]: %q", b)
	}
	return first, total, nil
}
