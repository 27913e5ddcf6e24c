package accesslog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"sync/atomic"
	"time"
)

const (
	defaultQueueSize = 4096
	// batchBytes is how much formatted output the writer goroutine gathers before it
	// writes, when the queue does not run dry first.
	batchBytes = 64 << 10
	// maxKeptBuffer bounds the buffer kept between batches after an unusually long line.
	maxKeptBuffer = 1 << 20
	// pipeBuf is the size up to which a write to a pipe is atomic on Linux (PIPE_BUF).
	pipeBuf = 4096
	// flushInterval is how often the writer goroutine wakes up to write what is queued
	// when the queue stays short. Envoy's default file flush interval is 1s.
	flushInterval = 100 * time.Millisecond
)

// Options configures a Logger.
type Options struct {
	Path      string    // "stdout", "stderr", or a file path (opened append, created 0644)
	Formatter Formatter // nil -> Envoy's default format
	QueueSize int       // default 4096 entries; when full, entries are dropped and counted
	// Stdout and Stderr replace os.Stdout and os.Stderr, for tests.
	Stdout, Stderr io.Writer
}

// Logger writes formatted entries to a sink from its own goroutine. Log only enqueues;
// formatting and writing happen on the writer goroutine, which drains whatever is queued,
// formats it into one buffer and writes it with one write call per batch (at most
// 64 KiB, always whole lines).
//
// The writer goroutine does not wake up for every entry, which would make each Log pay for
// a goroutine wake-up: it drains the queue every 100ms, or as soon as a quarter of the
// queue is in use. A line therefore reaches the sink up to 100ms after Log; Close writes
// everything still queued.
//
// Loggers for the same file path in one process share the open file (a refcounted
// registry), as do loggers for stdout or for stderr; writes to a shared sink are
// serialized, so lines from different loggers never interleave. On a sink that is not a
// regular file (a pipe, as stdout usually is under a container runtime) batches are
// written in pieces of at most 4096 bytes cut at line ends, so that each write is atomic
// with respect to other writers of the same pipe; a single longer line is written whole.
type Logger struct {
	ch      chan *Entry
	kickAt  int           // queue length at which Log wakes the writer
	kick    chan struct{} // wakes the writer before its next tick
	quit    chan struct{}
	done    chan struct{}
	format  Formatter
	sink    *sink
	closed  atomic.Bool
	dropped atomic.Uint64
	errs    atomic.Uint64

	closeOnce sync.Once
	closeErr  error
}

// New starts a Logger. For a file path, the file is opened (or shared with another Logger
// of the same path) before New returns, so a bad path fails here.
func New(opts Options) (*Logger, error) {
	f := opts.Formatter
	if f == nil {
		f = defaultFormatter()
	}
	q := opts.QueueSize
	if q <= 0 {
		q = defaultQueueSize
	}
	s, err := acquireSink(opts)
	if err != nil {
		return nil, err
	}
	l := &Logger{
		ch:     make(chan *Entry, q),
		kickAt: max(1, q/4),
		kick:   make(chan struct{}, 1),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
		format: f,
		sink:   s,
	}
	go l.run()
	return l, nil
}

// Log enqueues e and returns at once; it never blocks. The logger owns e from here on and
// returns it to the pool once written. When the queue is full, or the logger is closed,
// e is dropped and counted (see Dropped). A Log that races with Close may be lost
// without being counted.
func (l *Logger) Log(e *Entry) {
	if e == nil {
		return
	}
	if l.closed.Load() {
		l.dropped.Add(1)
		releaseEntry(e)
		return
	}
	select {
	case l.ch <- e:
	default:
		l.dropped.Add(1)
		releaseEntry(e)
		return
	}
	if len(l.ch) >= l.kickAt {
		select {
		case l.kick <- struct{}{}:
		default:
		}
	}
}

// Dropped reports how many entries were dropped because the queue was full or the logger
// was closed.
func (l *Logger) Dropped() uint64 { return l.dropped.Load() }

// WriteErrors reports how many batches failed to be written to the sink.
func (l *Logger) WriteErrors() uint64 { return l.errs.Load() }

// Close stops accepting entries, writes everything already queued, and releases the sink
// (closing the file when no other Logger shares it). It is idempotent: later calls return
// the first call's result.
func (l *Logger) Close() error {
	l.closeOnce.Do(func() {
		l.closed.Store(true)
		close(l.quit)
		<-l.done
		l.closeErr = releaseSink(l.sink)
	})
	return l.closeErr
}

// Reopen reopens the log file at its path, for log rotation: after the old file has been
// renamed, later lines go to a new file at the original path. Lines already formatted but
// not yet written go to the new file. It is a no-op for stdout and stderr. When the file
// is shared with other Loggers, it is reopened for all of them. If the path cannot be
// opened, the old file stays in use and the error is returned.
func (l *Logger) Reopen() error {
	if l.closed.Load() {
		return errors.New("accesslog: reopen of a closed logger")
	}
	return l.sink.reopen()
}

func (l *Logger) run() {
	defer close(l.done)
	buf := make([]byte, 0, 8<<10)
	tick := time.NewTicker(flushInterval)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
		case <-l.kick:
		case <-l.quit:
			l.drain(buf)
			return
		}
		buf = l.drain(buf)
	}
}

// drain formats whatever is queued, writing a batch each time the buffer fills, and
// writes the rest when the queue is empty.
func (l *Logger) drain(buf []byte) []byte {
	for {
		select {
		case e := <-l.ch:
			buf = l.add(buf, e)
		default:
			return l.flush(buf)
		}
	}
}

func (l *Logger) add(buf []byte, e *Entry) []byte {
	buf = l.format.Format(buf, e)
	releaseEntry(e)
	if len(buf) >= batchBytes {
		buf = l.flush(buf)
	}
	return buf
}

func (l *Logger) flush(buf []byte) []byte {
	if len(buf) == 0 {
		return buf
	}
	if err := l.sink.write(buf); err != nil {
		l.errs.Add(1)
	}
	if cap(buf) > maxKeptBuffer {
		return make([]byte, 0, batchBytes)
	}
	return buf[:0]
}

// sink is an output shared by the Loggers that name it.
type sink struct {
	key  any // registry key; nil when not shared
	refs int // guarded by registry.mu
	path string

	mu     sync.Mutex // serializes writes and reopen, and guards the fields below
	w      io.Writer
	file   *os.File // owned file (nil for stdout and stderr)
	chunk  int      // > 0: write at most this many bytes a call, cut at line ends
	closed bool     // the file was closed by the last release
}

var registry struct {
	mu    sync.Mutex
	sinks map[any]*sink
}

func acquireSink(opts Options) (*sink, error) {
	switch opts.Path {
	case "":
		return nil, errors.New("accesslog: empty path (want stdout, stderr or a file path)")
	case "stdout":
		w := opts.Stdout
		if w == nil {
			w = os.Stdout
		}
		return acquireWriterSink(w), nil
	case "stderr":
		w := opts.Stderr
		if w == nil {
			w = os.Stderr
		}
		return acquireWriterSink(w), nil
	}
	abs, err := filepath.Abs(opts.Path)
	if err != nil {
		return nil, fmt.Errorf("accesslog: %w", err)
	}
	key := fileKey(abs)
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if s := registry.sinks[key]; s != nil {
		s.refs++
		return s, nil
	}
	f, err := openLogFile(abs)
	if err != nil {
		return nil, err
	}
	s := &sink{key: key, refs: 1, path: abs, w: f, file: f, chunk: chunkFor(f)}
	register(s)
	return s, nil
}

// fileKey keeps file paths and writers apart in the registry.
type fileKey string

func acquireWriterSink(w io.Writer) *sink {
	chunk := 0
	if f, ok := w.(*os.File); ok {
		chunk = chunkFor(f)
	}
	if !reflect.TypeOf(w).Comparable() {
		return &sink{w: w, chunk: chunk, refs: 1}
	}
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if s := registry.sinks[w]; s != nil {
		s.refs++
		return s
	}
	s := &sink{key: w, refs: 1, w: w, chunk: chunk}
	register(s)
	return s
}

// register adds s to the registry; registry.mu is held.
func register(s *sink) {
	if registry.sinks == nil {
		registry.sinks = make(map[any]*sink)
	}
	registry.sinks[s.key] = s
}

func releaseSink(s *sink) error {
	registry.mu.Lock()
	s.refs--
	last := s.refs == 0
	if last && s.key != nil {
		delete(registry.sinks, s.key)
	}
	registry.mu.Unlock()
	if !last || s.file == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if err := s.file.Close(); err != nil {
		return fmt.Errorf("accesslog: %w", err)
	}
	return nil
}

func openLogFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("accesslog: %w", err)
	}
	return f, nil
}

// chunkFor returns pipeBuf for files that are not regular (pipes, ttys, sockets) and 0
// (no limit) for regular files, where an O_APPEND write is not interleaved with others.
func chunkFor(f *os.File) int {
	fi, err := f.Stat()
	if err != nil || fi.Mode().IsRegular() {
		return 0
	}
	return pipeBuf
}

func (s *sink) write(p []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.chunk <= 0 || len(p) <= s.chunk {
		_, err := s.w.Write(p)
		return err
	}
	for len(p) > 0 {
		n := len(p)
		if n > s.chunk {
			if i := bytes.LastIndexByte(p[:s.chunk], '\n'); i >= 0 {
				n = i + 1
			} else if i := bytes.IndexByte(p, '\n'); i >= 0 {
				n = i + 1
			}
		}
		if _, err := s.w.Write(p[:n]); err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

func (s *sink) reopen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.file == nil || s.closed {
		return nil
	}
	f, err := openLogFile(s.path)
	if err != nil {
		return err
	}
	old := s.file
	s.file, s.w, s.chunk = f, f, chunkFor(f)
	if err := old.Close(); err != nil {
		return fmt.Errorf("accesslog: closing the rotated file: %w", err)
	}
	return nil
}
