// Command floor is the calibration target of Pylon's load benchmark (bench/run.sh): the
// cheapest HTTP/1.1 keep-alive reverse proxy Go can run. It shows what Go's runtime (a
// goroutine per connection, the netpoller, the syscalls) costs with no HTTP work at all.
//
// Each downstream connection gets a goroutine and, on its first request, its own upstream
// connection, kept for the connection's life (1:1). A request head is copied verbatim line
// by line, noting only Content-Length, then exactly that many body bytes; the response
// comes back the same way.
//
// It is not a proxy to use: it adds and removes no header (hop-by-hop ones pass through),
// validates little, never retries, and frames bodies by Content-Length only. A request with
// Transfer-Encoding gets 501, a response with it 502; a response without Content-Length is
// taken as bodyless (as are 1xx, 204, 304 and answers to HEAD), so close-delimited bodies,
// 1xx interim responses and upgrades are not supported. "Connection: close" on either side
// closes both connections after the response.
//
//	go run ./bench/floor -addr 127.0.0.1:18001 -upstream 127.0.0.1:18000
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"log"
	"net"
	"strconv"
)

const bufSize, maxHead = 16 << 10, 64 << 10

var errHeadTooLarge, errBadHead = errors.New("head too large"), errors.New("bad head")

func main() {
	addr := flag.String("addr", "127.0.0.1:18001", "listen address host:port")
	upstream := flag.String("upstream", "", "upstream host:port (required)")
	flag.Parse()
	if *upstream == "" {
		log.Fatal("floor: -upstream is required")
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("floor: %v", err)
	}
	log.Printf("floor: listening on %s, upstream %s", ln.Addr(), *upstream)
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Printf("floor: accept: %v", err)
			continue
		}
		go serve(c, *upstream)
	}
}

// head is what floor notes of a message head.
type head struct {
	length int64 // Content-Length, 0 when absent
	te     bool  // has a Transfer-Encoding header
	close  bool  // Connection: close
	noBody bool  // request: HEAD; response: 1xx, 204 or 304
}

// serve forwards the requests of one downstream connection until either side closes.
func serve(down net.Conn, upAddr string) {
	defer down.Close()
	dr, dw := bufio.NewReaderSize(down, bufSize), bufio.NewWriterSize(down, bufSize)
	fail := func(status string) { // only while nothing of a response reached the client
		dw.Reset(down)
		dw.WriteString("HTTP/1.1 " + status + "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		dw.Flush()
	}
	if _, err := dr.Peek(1); err != nil {
		return // closed before a first request: no upstream connection needed
	}
	up, err := net.Dial("tcp", upAddr)
	if err != nil {
		fail("502 Bad Gateway")
		return
	}
	defer up.Close()
	ur, uw := bufio.NewReaderSize(up, bufSize), bufio.NewWriterSize(up, bufSize)
	for {
		var req, resp head
		_, rerr, werr := copyHead(uw, dr, &req, false)
		if rerr == nil && werr == nil && !req.te {
			if rerr, werr = copyBody(uw, dr, req.length); werr == nil {
				werr = uw.Flush()
			}
		}
		switch {
		case errors.Is(rerr, errHeadTooLarge):
			fail("431 Request Header Fields Too Large")
		case errors.Is(rerr, errBadHead):
			fail("400 Bad Request")
		case rerr != nil: // the client went away: close quietly
		case req.te:
			fail("501 Not Implemented")
		case werr != nil:
			fail("502 Bad Gateway")
		}
		if rerr != nil || werr != nil || req.te {
			return
		}
		n, rerr, werr := copyHead(dw, ur, &resp, true)
		if rerr != nil || resp.te {
			if n == dw.Buffered() { // nothing of it reached the client yet
				fail("502 Bad Gateway")
			}
			return
		}
		if req.noBody || resp.noBody {
			resp.length = 0
		}
		if werr == nil {
			rerr, werr = copyBody(dw, ur, resp.length)
		}
		if rerr != nil || werr != nil || dw.Flush() != nil || req.close || resp.close {
			return
		}
	}
}

// copyHead copies one message head from src to dst verbatim, up to and including the empty
// line, and notes in h what floor needs of it. n counts the bytes read; rerr is an error
// reading src (or errHeadTooLarge, errBadHead), werr one writing dst.
func copyHead(dst *bufio.Writer, src *bufio.Reader, h *head, response bool) (n int, rerr, werr error) {
	first, lineStart := true, true
	for {
		line, err := src.ReadSlice('\n')
		if n += len(line); n > maxHead {
			return n, errHeadTooLarge, nil
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return n, err, nil
		}
		if werr == nil {
			_, werr = dst.Write(line)
		}
		whole := lineStart && err == nil // a line longer than the buffer is copied, not parsed
		lineStart = err == nil
		switch {
		case !whole:
		case first:
			first = false
			if response {
				h.noBody = len(line) >= 12 && (line[9] == '1' || string(line[9:12]) == "204" || string(line[9:12]) == "304")
			} else {
				h.noBody = bytes.HasPrefix(line, []byte("HEAD "))
			}
		case len(line) == 1 || len(line) == 2 && line[0] == '\r':
			return n, nil, werr
		default:
			colon := bytes.IndexByte(line, ':')
			if colon <= 0 {
				return n, errBadHead, werr
			}
			name, value := line[:colon], bytes.TrimSpace(line[colon+1:])
			switch {
			case bytes.EqualFold(name, []byte("content-length")):
				if h.length, err = strconv.ParseInt(string(value), 10, 64); err != nil || h.length < 0 {
					return n, errBadHead, werr
				}
			case bytes.EqualFold(name, []byte("transfer-encoding")):
				h.te = true
			case bytes.EqualFold(name, []byte("connection")):
				h.close = h.close || bytes.Contains(bytes.ToLower(value), []byte("close"))
			}
		}
	}
}

// copyBody copies exactly n bytes from src to dst; rerr is an error reading src, werr one
// writing dst.
func copyBody(dst *bufio.Writer, src *bufio.Reader, n int64) (rerr, werr error) {
	for n > 0 {
		b, err := src.Peek(int(min(n, int64(max(src.Buffered(), 1))))) // reads only when empty
		if err != nil {
			return err, nil
		}
		if _, err := dst.Write(b); err != nil {
			return nil, err
		}
		src.Discard(len(b))
		n -= int64(len(b))
	}
	return nil, nil
}
