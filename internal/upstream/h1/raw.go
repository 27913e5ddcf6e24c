package h1

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"time"

	"github.com/pylon-gateway/pylon/internal/h1head"
)

var (
	errInvalidRequestHead = errors.New("h1: request head does not end with CRLF CRLF")
	errMalformedResponse  = errors.New("h1: malformed response head")
	errUnexpectedUpgrade  = errors.New("h1: 101 Switching Protocols to a request that asked for no upgrade")
	errMalformedChunked   = errors.New("malformed chunked encoding")
	errChunkLineTooLong   = errors.New("chunk size line too long")
	errChunkOverhead      = errors.New("chunked encoding contains too much non-data")
	errTrailerTooLong     = errors.New("trailer does not fit in the read buffer")
	errMalformedTrailer   = errors.New("malformed trailer")
)

// RawResponse is the response of RoundTripRaw. The zero value is ready; reuse one per call
// site (one per exchange in progress), so that its buffer is reused and an exchange
// allocates nothing.
//
// Read and Close must not be called concurrently; a Read blocked on the upstream returns
// when the exchange's context ends or its deadline passes.
type RawResponse struct {
	StatusCode int
	ProtoMinor int // 0 or 1 (HTTP/1.0 or HTTP/1.1)

	// Head is the final response head as received: the status line through the CRLF CRLF
	// that ends it (interim 1xx heads are not included). It stays valid after Close,
	// until the RawResponse is passed to RoundTripRaw again.
	Head []byte

	// ContentLength is the body's length: 0 when the response has none (an answer to
	// HEAD, 204 and 304, whatever Head declares), -1 when it is not known (chunked or
	// close-delimited).
	ContentLength int64

	// Chunked reports a chunked body; Read de-chunks it.
	Chunked bool

	// Trailer holds, once Read returned io.EOF, the trailer fields of a chunked body as
	// received: field lines each ending with CRLF, without the empty line that ends the
	// trailer section. Nil when there are none. Valid as long as Head is.
	Trailer []byte

	pc       *persistConn // the connection while the body is being read; nil when the exchange ended
	ctx      context.Context
	buf      []byte // backs Head and Trailer
	mode     uint8
	n        int64 // length-delimited: body bytes left; chunked: bytes left in the current chunk
	checkEnd bool  // chunked: the CRLF after a chunk's data comes next
	excess   int64 // chunked: non-data bytes beyond an allowance (net/http's rule)
	err      error // what Read returns once the exchange ended (nil: io.EOF)
}

// Body framings of a RawResponse.
const (
	rawLength  uint8 = iota // Content-Length
	rawChunked              // Transfer-Encoding: chunked
	rawClose                // until the connection closes
)

// RoundTripRaw runs one exchange with the request head and response head as bytes, for a
// proxy that builds and rewrites heads itself: no http.Request, http.Response or header
// maps, and no allocation in the steady state (a pooled connection, a reused resp).
//
// head is a complete request head ending with CRLF CRLF and announcing no body (the caller
// guarantees no Content-Length above 0 and no Transfer-Encoding). The method is read from
// it, so that the response to a HEAD request is read without a body; so are a "close"
// connection option and an HTTP/1.0 request line without keep-alive, after which the
// connection is not reused. head is written as it is on a pooled connection to addr
// ("ip:port"), and the response head is read into resp; the caller then reads the body
// with resp.Read and must call resp.Close (a response without a body has ended already,
// and Close costs nothing then). Interim 1xx responses are read and skipped; a 101 is an
// error, as no upgrade was asked for. A head that http.ReadResponse would reject, or one
// of the forms h1head.ScanResponse refuses on top of that, is an error and the connection
// is closed.
//
// idempotent says whether the request may be sent again on a fresh connection when a reused
// one fails before any byte of the response arrived (see Retry rule in the package
// documentation; a request is resent anyway when nothing of it was written). A non-zero
// deadline bounds the whole exchange, body included, as RoundTripTimeout does: errors it
// causes match context.DeadlineExceeded. When ctx ends during the exchange the connection
// is closed, as in RoundTrip. Dial errors are returned unchanged.
//
// A resp whose previous exchange was not closed is closed first.
func (t *Transport) RoundTripRaw(ctx context.Context, addr string, head []byte, idempotent bool, deadline time.Time, resp *RawResponse) error {
	if resp.pc != nil {
		resp.Close()
	}
	resp.reset()
	isHead, closing, err := scanRequestHead(head)
	if err != nil {
		return err
	}
	fresh := false
	for attempt := 0; ; attempt++ {
		pc, err := t.getConn(ctx, addr, fresh, deadline)
		if err != nil {
			return err
		}
		res := pc.roundTripRaw(ctx, head, isHead, closing, idempotent, deadline, resp)
		if res.err == nil {
			return nil
		}
		if attempt > 0 || !res.retry || ctx.Err() != nil || expired(deadline) {
			return res.err
		}
		fresh = true
	}
}

func (r *RawResponse) reset() {
	r.StatusCode, r.ProtoMinor, r.ContentLength, r.Chunked = 0, 0, 0, false
	r.Head, r.Trailer = nil, nil
	r.buf = r.buf[:0]
	r.n, r.checkEnd, r.excess, r.err = 0, false, 0, nil
}

// scanRequestHead checks the end of a request head and reads what RoundTripRaw needs from
// it: whether the method is HEAD, and whether the request closes the connection (a
// "close" connection option, or HTTP/1.0 without keep-alive).
func scanRequestHead(head []byte) (isHead, closing bool, err error) {
	if !bytes.HasSuffix(head, []byte("\r\n\r\n")) {
		return false, false, errInvalidRequestHead
	}
	sp := bytes.IndexByte(head, ' ')
	if sp <= 0 || !h1head.IsToken(head[:sp]) {
		return false, false, errInvalidMethod
	}
	isHead = string(head[:sp]) == "HEAD"
	eol := bytes.IndexByte(head, '\n')
	http10 := bytes.HasSuffix(head[:eol], []byte(" HTTP/1.0\r"))
	keepAlive := false
	for rest := head[eol+1:]; len(rest) > 2; {
		eol := bytes.IndexByte(rest, '\n')
		line := rest[:eol]
		rest = rest[eol+1:]
		const name = "connection:"
		if len(line) > len(name) && line[0]|0x20 == 'c' && h1head.EqualFold(line[:len(name)], name) {
			v := line[len(name):]
			if n := len(v); n > 0 && v[n-1] == '\r' {
				v = v[:n-1]
			}
			closing = closing || h1head.ContainsToken(v, "close")
			keepAlive = keepAlive || h1head.ContainsToken(v, "keep-alive")
		}
	}
	return isHead, closing || http10 && !keepAlive, nil
}

// roundTripRaw runs one raw exchange. Unless it leaves resp reading a body from the
// connection, the connection is back in the pool or closed when it returns.
func (pc *persistConn) roundTripRaw(ctx context.Context, head []byte, isHead, closing, idempotent bool, deadline time.Time, r *RawResponse) result {
	pc.nread, pc.nwritten, pc.werr, pc.broken = 0, 0, nil, false
	pc.watch(ctx)
	pc.arm(deadline)
	// The head goes straight to the connection: the write buffer is empty between
	// exchanges, and one write is one syscall either way.
	if _, err := pc.Write(head); err != nil {
		return pc.failRaw(ctx, idempotent, &opError{"write request", err})
	}
	info, err := pc.readRawHead(isHead, r)
	if err != nil {
		return pc.failRaw(ctx, idempotent, err)
	}
	r.StatusCode, r.ProtoMinor = info.StatusCode, info.ProtoMinor
	r.ContentLength, r.Chunked = info.ContentLength, info.Chunked
	r.Head = r.buf
	if closing || info.Close {
		pc.broken = true
	}
	switch {
	case info.Chunked:
		r.mode = rawChunked
	case info.ContentLength > 0:
		r.mode, r.n = rawLength, info.ContentLength
	case info.ContentLength == 0:
		pc.finish(true)
		return result{}
	default:
		r.mode = rawClose // info.Close is set: the connection is not reused
	}
	r.pc, r.ctx = pc, ctx
	return result{}
}

// failRaw closes the connection after a failed raw exchange and applies the retry rule.
func (pc *persistConn) failRaw(ctx context.Context, idempotent bool, err error) result {
	reused, nread, nwritten := pc.reused, pc.nread, pc.nwritten
	pc.destroy()
	if cerr := pc.ctxErr(ctx); cerr != nil {
		return result{err: &canceledError{cerr}}
	}
	return result{err: err, retry: reused && nread == 0 && (nwritten == 0 || idempotent)}
}

// readRawHead reads the final response head into r.buf, skipping interim responses.
func (pc *persistConn) readRawHead(isHead bool, r *RawResponse) (h1head.ResponseInfo, error) {
	pc.readLimit = pc.t.maxHeaderBytes()
	pc.limitHit = false
	for {
		r.buf = r.buf[:0]
		err := pc.readHead(r)
		if err != nil {
			pc.readLimit = -1
			switch {
			case pc.limitHit:
				return h1head.ResponseInfo{}, errHeaderTooLarge
			case err == errMalformedResponse:
				return h1head.ResponseInfo{}, err
			case pc.nread == 0 && err == io.EOF:
				return h1head.ResponseInfo{}, errConnClosedEarly
			case err == io.EOF:
				err = io.ErrUnexpectedEOF
			}
			return h1head.ResponseInfo{}, &opError{"read response", err}
		}
		info, ok := h1head.ScanResponse(r.buf, isHead)
		switch {
		case !ok:
			pc.readLimit = -1
			return info, errMalformedResponse
		case info.StatusCode == 101:
			pc.readLimit = -1
			return info, errUnexpectedUpgrade
		case info.StatusCode < 200:
			continue // interim
		}
		pc.readLimit = -1
		return info, nil
	}
}

var crlfcrlf = []byte("\r\n\r\n")

// readHead appends the next head on the connection to r.buf, through the CRLF CRLF that
// ends it, and consumes it from the read buffer. A head need not fit in the read buffer
// (pc.readLimit bounds it).
func (pc *persistConn) readHead(r *RawResponse) error {
	br := pc.br
	for {
		if br.Buffered() == 0 {
			if _, err := br.Peek(1); err != nil {
				return err
			}
		}
		b, _ := br.Peek(br.Buffered())
		start := len(r.buf)
		if start == 0 {
			if n := h1head.HeadLen(b); n >= 0 {
				r.buf = append(r.buf, b[:n]...)
				br.Discard(n)
				return nil
			}
		}
		r.buf = append(r.buf, b...)
		from := max(start-3, 0)
		if i := bytes.Index(r.buf[from:], crlfcrlf); i >= 0 {
			end := from + i + 4
			r.buf = r.buf[:end]
			br.Discard(end - start)
			return nil
		}
		br.Discard(len(b))
		if bareLF(r.buf, start) {
			// No CRLF CRLF may be coming (an upstream ending lines with LF alone):
			// fail now rather than wait.
			return errMalformedResponse
		}
	}
}

// bareLF reports whether b[from:] holds an LF not preceded by a CR.
func bareLF(b []byte, from int) bool {
	for i := from; i < len(b); i++ {
		if b[i] == '\n' && (i == 0 || b[i-1] != '\r') {
			return true
		}
	}
	return false
}

// Read reads the body, de-chunked, with io.EOF at its end (io.EOF may come with the last
// bytes). The read that meets the end of the body gives the connection back to the pool.
// A response without a body returns io.EOF at once; after Close, Read returns an error.
// Once its context ended or its deadline passed, the error wraps the context's error
// (context.DeadlineExceeded for the deadline).
func (r *RawResponse) Read(p []byte) (int, error) {
	pc := r.pc
	if pc == nil {
		if r.err != nil {
			return 0, r.err
		}
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	var n int
	var err error
	switch r.mode {
	case rawLength:
		if int64(len(p)) > r.n {
			p = p[:r.n]
		}
		n, err = pc.br.Read(p)
		if r.n -= int64(n); r.n == 0 {
			r.end(true)
			return n, io.EOF
		}
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
	case rawChunked:
		n, err = r.readChunked(p)
		if err == io.EOF {
			r.end(true)
			return n, io.EOF
		}
	default:
		n, err = pc.br.Read(p)
		if err == io.EOF {
			r.end(false)
			return n, io.EOF
		}
	}
	if err != nil {
		if cerr := pc.ctxErr(r.ctx); cerr != nil {
			err = &canceledError{cerr}
		} else {
			err = &opError{"read response body", err}
		}
		r.err = err
		r.end(false)
	}
	return n, err
}

// Close ends the exchange. When the body was not read to its end, what is left of it is
// read if it is already buffered and small (at most 64 KiB), so that the connection can be
// reused; otherwise the connection is closed. Close is idempotent and returns nil.
func (r *RawResponse) Close() error {
	if pc := r.pc; pc != nil {
		r.end(!pc.broken && r.drain())
	}
	r.err = errBodyClosed
	return nil
}

// drain consumes the rest of the body if it is already in the read buffer and at most
// maxDrain bytes long. It never waits on the network.
func (r *RawResponse) drain() bool {
	pc := r.pc
	br := pc.br
	switch r.mode {
	case rawLength:
		if r.n > maxDrain || int64(br.Buffered()) < r.n {
			return false
		}
		br.Discard(int(r.n))
		r.n = 0
		return true
	case rawChunked:
		pc.noBlock = true
		ok := r.drainChunked()
		pc.noBlock = false
		return ok
	}
	return false
}

// drainChunked consumes the rest of a chunked body (pc.noBlock is set: a read that would
// wait fails instead).
func (r *RawResponse) drainChunked() bool {
	br := r.pc.br
	var total int64
	for {
		if r.checkEnd && r.chunkEnd() != nil {
			return false
		}
		if r.n == 0 {
			last, err := r.beginChunk()
			switch {
			case err != nil:
				return false
			case last:
				return r.readTrailer() == nil
			}
			continue
		}
		k := min(r.n, int64(br.Buffered()))
		if total += k; k == 0 || total > maxDrain {
			return false
		}
		br.Discard(int(k))
		if r.n -= k; r.n == 0 {
			r.checkEnd = true
		}
	}
}

func (r *RawResponse) end(reuse bool) {
	pc := r.pc
	r.pc, r.ctx = nil, nil
	pc.finish(reuse)
}

// readChunked reads de-chunked body bytes into p (len(p) > 0), io.EOF at the end of the
// body (after its trailer). Once it has bytes for p it returns rather than wait for more,
// as net/http's chunked reader does, so that a streamed body streams.
func (r *RawResponse) readChunked(p []byte) (n int, err error) {
	br := r.pc.br
	for {
		if r.checkEnd {
			if n > 0 && br.Buffered() < 2 {
				return n, nil
			}
			if err := r.chunkEnd(); err != nil {
				return n, err
			}
		}
		if r.n == 0 {
			if n > 0 && !lineBuffered(br.Peek(br.Buffered())) {
				return n, nil
			}
			last, err := r.beginChunk()
			switch {
			case err != nil:
				return n, err
			case last:
				if err := r.readTrailer(); err != nil {
					return n, err
				}
				return n, io.EOF
			}
			continue
		}
		if n == len(p) {
			return n, nil
		}
		q := p[n:]
		if int64(len(q)) > r.n {
			q = q[:r.n]
		}
		if n > 0 {
			b := br.Buffered()
			if b == 0 {
				return n, nil
			}
			q = q[:min(len(q), b)]
		}
		m, err := br.Read(q)
		n += m
		if r.n -= int64(m); r.n == 0 {
			r.checkEnd = true
		}
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return n, err
		}
	}
}

func lineBuffered(b []byte, _ error) bool { return bytes.IndexByte(b, '\n') >= 0 }

// chunkEnd consumes the CRLF after a chunk's data.
func (r *RawResponse) chunkEnd() error {
	b, err := r.pc.br.Peek(2)
	if len(b) < 2 {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	if b[0] != '\r' || b[1] != '\n' {
		return errMalformedChunked
	}
	r.pc.br.Discard(2)
	r.checkEnd = false
	return nil
}

// maxChunkLine bounds a chunk size line, extensions included (net/http's maxLineLength).
const maxChunkLine = 4096

// beginChunk reads a chunk size line, by net/http's rules: CRLF-terminated, hexadecimal
// size, extensions ignored, bounded overhead. last reports the last chunk (size 0).
func (r *RawResponse) beginChunk() (last bool, err error) {
	line, err := r.pc.br.ReadSlice('\n')
	if err != nil {
		switch err {
		case io.EOF:
			err = io.ErrUnexpectedEOF
		case bufio.ErrBufferFull:
			err = errChunkLineTooLong
		}
		return false, err
	}
	if len(line) < 2 || bytes.IndexByte(line, '\r') != len(line)-2 {
		return false, errMalformedChunked // a bare LF, or a CR inside the line
	}
	line = line[:len(line)-2]
	if len(line) >= maxChunkLine {
		return false, errChunkLineTooLong
	}
	r.excess += int64(len(line)) + 2
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		line = line[:i]
	}
	for len(line) > 0 && (line[len(line)-1] == ' ' || line[len(line)-1] == '\t') {
		line = line[:len(line)-1]
	}
	if len(line) == 0 || len(line) > 15 { // 15 hex digits: far beyond any body, and no overflow
		return false, errMalformedChunked
	}
	var size int64
	for _, c := range line {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return false, errMalformedChunked
		}
		size = size<<4 | int64(c)
	}
	r.excess = max(r.excess-16-2*size, 0)
	if r.excess > 16<<10 {
		return false, errChunkOverhead
	}
	r.n = size
	return size == 0, nil
}

// readTrailer reads the trailer section after the last chunk, through its final CRLF, into
// r.Trailer. Like net/http, it needs the whole section to fit in the read buffer.
func (r *RawResponse) readTrailer() error {
	br := r.pc.br
	b, err := br.Peek(2)
	if len(b) < 2 {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	if b[0] == '\r' && b[1] == '\n' {
		br.Discard(2)
		return nil
	}
	for {
		b, _ := br.Peek(br.Buffered())
		if i := bytes.Index(b, crlfcrlf); i >= 0 {
			fields := b[:i+2]
			if !h1head.ValidFields(fields) {
				return errMalformedTrailer
			}
			n := len(r.Head)
			r.buf = append(r.buf, fields...)
			r.Head, r.Trailer = r.buf[:n:n], r.buf[n:]
			br.Discard(i + 4)
			return nil
		}
		if bareLF(b, 0) {
			return errMalformedTrailer
		}
		if len(b) == br.Size() {
			return errTrailerTooLong
		}
		if _, err := br.Peek(len(b) + 1); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
	}
}
