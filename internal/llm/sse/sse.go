// Package sse reads and writes server-sent events as LLM APIs use them: named events
// (Anthropic, OpenAI Responses), bare data events (OpenAI chat, Gemini), comments
// (OpenRouter keep-alives) and any of the three line endings (Gemini sends CRLF).
package sse

import (
	"bytes"
	"errors"
	"io"
	"sync"
)

// Event is one event. Data is only valid until the next call of Reader.Next.
type Event struct {
	Name string // the event: field, "" when absent
	Data []byte // the data: lines joined by "\n"
}

// MaxEventSize bounds one event; a larger one is an error, not an unbounded buffer.
const MaxEventSize = 8 << 20

// ErrEventTooLarge is returned for an event larger than MaxEventSize.
var ErrEventTooLarge = errors.New("sse: event larger than 8 MiB")

// Reader reads events from a stream.
type Reader struct {
	src        io.Reader
	block      *block // where buf and data were cut from, nil once released
	buf        []byte // buf[start:end] is read and not yet consumed
	start, end int
	err        error
	data       []byte
	name       []byte
	// skipLF is set when the last line ended in "\r": a "\n" right after it is the second
	// half of a CRLF, not an empty line.
	skipLF bool
}

// NewReader returns a Reader on r.
func NewReader(r io.Reader) *Reader {
	b, ok := bufPool.Get().(*block)
	if !ok {
		b = new(block)
	}
	return &Reader{src: r, block: b, buf: b[:readSize:readSize], data: b[readSize:readSize]}
}

// The buffers of a reader: readSize for reading and dataSize for the data of an event, in
// one block, pooled when the reader is released. A reader whose events outgrow them
// allocates its own.
const (
	readSize = 4096
	dataSize = 2048
)

type block [readSize + dataSize]byte

var bufPool sync.Pool // of *block

// errReleased is returned by a reader after Release.
var errReleased = errors.New("sse: reader released")

// Release gives the reader's buffers back for other readers: neither the reader nor the
// data of an event it returned may be used afterwards. Calling it is optional; a reader
// that is not released is collected as usual.
func (r *Reader) Release() {
	b := r.block
	if b == nil {
		return
	}
	// The block goes back only while both buffers are still in it.
	inBlock := len(r.buf) == readSize && &r.buf[0] == &b[0] &&
		cap(r.data) == dataSize && &r.data[:1][0] == &b[readSize]
	r.block, r.buf, r.data, r.name = nil, nil, nil, nil
	r.start, r.end, r.err = 0, 0, errReleased
	if inBlock {
		bufPool.Put(b)
	}
}

// Next returns the next event that has data or a name. It returns io.EOF at the end of the
// stream when no event is pending, and io.ErrUnexpectedEOF when the stream ends in the
// middle of an event (an event is dispatched by the empty line after it).
func (r *Reader) Next() (Event, error) {
	r.data = r.data[:0]
	r.name = r.name[:0]
	hasData, any := false, false
	for {
		line, err := r.line()
		if err != nil {
			if err == io.EOF && any {
				return Event{}, io.ErrUnexpectedEOF
			}
			return Event{}, err
		}
		if len(line) == 0 {
			if hasData || len(r.name) > 0 {
				return Event{Name: string(r.name), Data: r.data}, nil
			}
			any = false
			continue
		}
		if line[0] == ':' { // comment
			continue
		}
		any = true
		field, value := line, []byte(nil)
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
			if len(value) > 0 && value[0] == ' ' {
				value = value[1:]
			}
		}
		switch string(field) {
		case "data":
			if hasData {
				r.data = append(r.data, '\n')
			}
			if len(r.data)+len(value) > MaxEventSize {
				return Event{}, ErrEventTooLarge
			}
			r.data = append(r.data, value...)
			hasData = true
		case "event":
			r.name = append(r.name[:0], value...)
		}
	}
}

// line returns the next line without its ending ("\n", "\r\n" or "\r"). The slice is
// valid until the next call.
func (r *Reader) line() ([]byte, error) {
	scanned := 0
	for {
		if r.skipLF && r.start < r.end {
			r.skipLF = false
			if r.buf[r.start] == '\n' {
				r.start++
			}
		}
		b := r.buf[r.start:r.end]
		if i := lineEnd(b[scanned:]); i >= 0 {
			i += scanned
			line := b[:i]
			r.start += i + 1
			if b[i] == '\r' {
				r.skipLF = true
			}
			return line, nil
		}
		scanned = len(b)
		if r.err != nil {
			if len(b) > 0 { // a last line without an ending
				r.start = r.end
				return b, nil
			}
			return nil, r.err
		}
		// Make room: move the unconsumed bytes to the front, grow if the line is long.
		if r.start > 0 {
			n := copy(r.buf, b)
			r.start, r.end = 0, n
		}
		if r.end == len(r.buf) {
			if len(r.buf) >= MaxEventSize {
				return nil, ErrEventTooLarge
			}
			nb := make([]byte, 2*len(r.buf))
			copy(nb, r.buf[:r.end])
			r.buf = nb
		}
		n, err := r.src.Read(r.buf[r.end:])
		r.end += n
		if err != nil {
			r.err = err
		}
	}
}

// lineEnd returns the index of the first "\r" or "\n" in b, -1 when there is none: two
// vectorized searches instead of bytes.IndexAny's byte by byte loop.
func lineEnd(b []byte) int {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return bytes.IndexByte(b, '\r')
	}
	if j := bytes.IndexByte(b[:i], '\r'); j >= 0 {
		return j
	}
	return i
}

// Ready reports whether a whole event (up to its blank line) is already buffered, so that
// Next will return without waiting for the network. Writers use it to send together the
// events that arrived together, and each event that arrives alone at once.
func (r *Reader) Ready() bool {
	b := r.buf[r.start:r.end]
	return bytes.Contains(b, lfLF) || bytes.Contains(b, crlfCRLF) || bytes.Contains(b, crCR)
}

var (
	lfLF     = []byte("\n\n")
	crlfCRLF = []byte("\r\n\r\n")
	crCR     = []byte("\r\r")
)

// AppendEvent appends one event to b: an "event:" line when name is set, then data, which
// must not contain newlines (JSON from encoding/json never does), then the empty line.
func AppendEvent(b []byte, name string, data []byte) []byte {
	if name != "" {
		b = append(b, "event: "...)
		b = append(b, name...)
		b = append(b, '\n')
	}
	b = append(b, "data: "...)
	b = append(b, data...)
	return append(b, '\n', '\n')
}
