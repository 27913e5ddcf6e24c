// Command upstream is the fake upstream of Pylon's load benchmark (bench/run.sh).
//
// It answers every HTTP/1.1 request with 200 and a fixed body, as cheaply as it can, so
// that in a benchmark on a small machine as much CPU as possible is left to the proxy
// under test. It is not a general HTTP server: it speaks a minimal, keep-alive HTTP/1.x
// (request line, headers, a Content-Length or chunked request body that it discards,
// pipelining), which is all that wrk, nginx and Pylon send it.
//
//	go run ./bench/upstream -addr 127.0.0.1:18000 -size 64
//
// With -stdhttp it serves the same response through net/http instead, for comparison.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18000", "listen address host:port")
	size := flag.Int("size", 64, "response body size in bytes (a JSON object padded to this size, minimum 16)")
	stdhttp := flag.Bool("stdhttp", false, "serve through net/http instead of the minimal HTTP/1.1 loop")
	llmMode := flag.String("llm", "", `answer as an OpenAI chat completions server: "chat" (a chat.completion) or "stream" (a chat.completion.chunk SSE stream with usage)`)
	flag.Parse()

	body, ctype := makeBody(*size), "application/json"
	switch *llmMode {
	case "":
	case "chat", "stream":
		body, ctype = llmBody(*llmMode)
	default:
		log.Fatalf("upstream: -llm must be chat or stream, got %q", *llmMode)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("upstream: %v", err)
	}
	fmt.Fprintf(os.Stderr, "upstream: listening on %s, body %d bytes, stdhttp=%v\n", ln.Addr(), len(body), *stdhttp)

	go func() {
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
		<-sigs
		ln.Close()
		os.Exit(0)
	}()

	if *stdhttp {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			hd := w.Header()
			hd["Content-Type"] = []string{ctype}
			hd["Content-Length"] = []string{strconv.Itoa(len(body))}
			w.WriteHeader(http.StatusOK)
			w.Write(body)
		})
		log.Fatal((&http.Server{Handler: h}).Serve(ln))
	}

	resp := []byte("HTTP/1.1 200 OK\r\nContent-Type: " + ctype + "\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + string(body))
	respClose := []byte("HTTP/1.1 200 OK\r\nContent-Type: " + ctype + "\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\nConnection: close\r\n\r\n" + string(body))
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			log.Printf("upstream: accept: %v", err)
			continue
		}
		go serve(c, resp, respClose)
	}
}

// makeBody returns a JSON object of exactly n bytes (n >= 16).
func makeBody(n int) []byte {
	const head, tail = `{"ok":true,"p":"`, `"}`
	if n < len(head)+len(tail) {
		n = len(head) + len(tail)
	}
	return []byte(head + strings.Repeat("x", n-len(head)-len(tail)) + tail)
}

// llmBody is a typical short chat answer: a chat.completion, or the same answer as an SSE
// stream of chat.completion.chunk events (role, eight content deltas, finish, usage, [DONE])
// as OpenAI sends it with stream_options.include_usage. The whole stream is written at once:
// the benchmark measures the gateway's work per event, not a model's pace.
func llmBody(mode string) ([]byte, string) {
	const head = `{"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"bench","system_fingerprint":"fp_bench","choices":[`
	if mode == "chat" {
		return []byte(`{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"bench","system_fingerprint":"fp_bench",` +
			`"choices":[{"index":0,"message":{"role":"assistant","content":"Hello! I am a benchmark answer of about forty bytes.","refusal":null},"logprobs":null,"finish_reason":"stop"}],` +
			`"usage":{"prompt_tokens":12,"completion_tokens":11,"total_tokens":23,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}}`), "application/json"
	}
	var b strings.Builder
	ev := func(choices, usage string) {
		b.WriteString("data: " + head + choices + `],"usage":` + usage + "}\n\n")
	}
	ev(`{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}`, "null")
	for _, w := range []string{"Hello! ", "I am ", "a benchmark ", "answer ", "of about ", "forty ", "bytes", "."} {
		ev(`{"index":0,"delta":{"content":"`+w+`"},"logprobs":null,"finish_reason":null}`, "null")
	}
	ev(`{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}`, "null")
	b.WriteString("data: " + head + `],"usage":{"prompt_tokens":12,"completion_tokens":11,"total_tokens":23}}` + "\n\n")
	b.WriteString("data: [DONE]\n\n")
	return []byte(b.String()), "text/event-stream"
}

var errBadRequest = errors.New("bad request")

// serve answers the requests of one connection until it closes or asks to.
func serve(c net.Conn, resp, respClose []byte) {
	defer c.Close()
	br := bufio.NewReaderSize(c, 16<<10)
	bw := bufio.NewWriterSize(c, 16<<10)
	for {
		keep, err := readRequest(br)
		if err != nil {
			if errors.Is(err, errBadRequest) {
				c.Write([]byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
			}
			return
		}
		if keep {
			bw.Write(resp)
		} else {
			bw.Write(respClose)
		}
		// Flush unless a whole pipelined request is likely already buffered (the shortest
		// one, "GET / HTTP/1.1\r\n\r\n", is 18 bytes); a stray CRLF alone must not hold
		// the response back.
		if !keep || br.Buffered() < 18 {
			if bw.Flush() != nil || !keep {
				return
			}
		}
	}
}

// readRequest consumes one request (head and body) and reports whether the connection
// stays open after it.
func readRequest(br *bufio.Reader) (keepAlive bool, err error) {
	line, err := readLine(br)
	if err != nil {
		return false, err
	}
	for len(line) == 0 { // tolerate stray CRLFs between requests
		if line, err = readLine(br); err != nil {
			return false, err
		}
	}
	sp := bytes.LastIndexByte(line, ' ')
	if sp < 0 {
		return false, errBadRequest
	}
	proto := line[sp+1:]
	keepAlive = !bytes.Equal(proto, []byte("HTTP/1.0"))
	contentLength, chunked := int64(0), false
	for {
		h, err := readLine(br)
		if err != nil {
			return false, err
		}
		if len(h) == 0 {
			break
		}
		colon := bytes.IndexByte(h, ':')
		if colon <= 0 {
			return false, errBadRequest
		}
		name, value := h[:colon], bytes.TrimSpace(h[colon+1:])
		switch {
		case asciiEqualFold(name, "content-length"):
			n, perr := strconv.ParseInt(string(value), 10, 64)
			if perr != nil || n < 0 {
				return false, errBadRequest
			}
			contentLength = n
		case asciiEqualFold(name, "transfer-encoding"):
			chunked = bytes.Contains(bytes.ToLower(value), []byte("chunked"))
		case asciiEqualFold(name, "connection"):
			v := bytes.ToLower(value)
			if bytes.Contains(v, []byte("close")) {
				keepAlive = false
			} else if bytes.Contains(v, []byte("keep-alive")) {
				keepAlive = true
			}
		}
	}
	if chunked {
		return keepAlive, discardChunked(br)
	}
	if contentLength > 0 {
		if _, err := br.Discard(int(contentLength)); err != nil {
			return false, err
		}
	}
	return keepAlive, nil
}

// readLine returns one line without its CRLF. The slice is valid until the next read.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, errBadRequest
		}
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

func discardChunked(br *bufio.Reader) error {
	for {
		line, err := readLine(br)
		if err != nil {
			return err
		}
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		n, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 64)
		if err != nil || n < 0 {
			return errBadRequest
		}
		if n == 0 { // trailers until the empty line
			for {
				t, err := readLine(br)
				if err != nil {
					return err
				}
				if len(t) == 0 {
					return nil
				}
			}
		}
		if _, err := br.Discard(int(n)); err != nil {
			return err
		}
		if _, err := readLine(br); err != nil { // CRLF after the chunk data
			return err
		}
	}
}

func asciiEqualFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}
