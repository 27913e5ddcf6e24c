package accesslog

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func mustText(t testing.TB, format string) Formatter {
	t.Helper()
	f, err := ParseText(format)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func codeEntry(code int) *Entry {
	e := AcquireEntry()
	e.ResponseCode = code
	return e
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) == 0 {
		return nil
	}
	if b[len(b)-1] != '\n' {
		t.Fatalf("%s does not end in a newline", path)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestLoggerFileDrainsOnClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	l, err := New(Options{Path: path, Formatter: mustText(t, "%RESPONSE_CODE%"), QueueSize: 16384})
	if err != nil {
		t.Fatal(err)
	}
	const n = 10000
	for i := range n {
		l.Log(codeEntry(i))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if d := l.Dropped(); d != 0 {
		t.Fatalf("dropped %d entries", d)
	}
	lines := readLines(t, path)
	if len(lines) != n {
		t.Fatalf("got %d lines, want %d", len(lines), n)
	}
	for i, line := range lines {
		if line != fmt.Sprint(i) {
			t.Fatalf("line %d = %q", i, line)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm&^0o644 != 0 {
		t.Errorf("file mode %v, want at most 0644", perm)
	}
}

func TestLoggerAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	if err := os.WriteFile(path, []byte("existing\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := New(Options{Path: path, Formatter: mustText(t, "%RESPONSE_CODE%")})
	if err != nil {
		t.Fatal(err)
	}
	l.Log(codeEntry(200))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(readLines(t, path), ","); got != "existing,200" {
		t.Errorf("got %q", got)
	}
}

func TestLoggerStdoutStderr(t *testing.T) {
	var out, errOut syncBuffer
	lo, err := New(Options{Path: "stdout", Stdout: &out, Stderr: &errOut})
	if err != nil {
		t.Fatal(err)
	}
	le, err := New(Options{Path: "stderr", Stdout: &out, Stderr: &errOut, Formatter: mustText(t, "err %RESPONSE_CODE%")})
	if err != nil {
		t.Fatal(err)
	}
	e := AcquireEntry()
	e.StartTime = testStart
	e.Method, e.Path, e.Protocol, e.ResponseCode = "GET", "/", "HTTP/1.1", 200
	lo.Log(e)
	le.Log(codeEntry(503))
	if err := lo.Close(); err != nil {
		t.Fatal(err)
	}
	if err := le.Close(); err != nil {
		t.Fatal(err)
	}
	const want = `[2016-04-15T20:17:00.310Z] "GET / HTTP/1.1" 200 - 0 0 0 - "-" "-" "-" "-" "-"` + "\n"
	if got := out.String(); got != want {
		t.Errorf("stdout: got %q, want %q", got, want)
	}
	if got := errOut.String(); got != "err 503\n" {
		t.Errorf("stderr: got %q", got)
	}
	// Reopen is a no-op for stdio.
	l, err := New(Options{Path: "stdout", Stdout: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Reopen(); err != nil {
		t.Errorf("Reopen on stdout: %v", err)
	}
}

// gateWriter blocks every Write until the gate is closed.
type gateWriter struct {
	gate    chan struct{}
	entered chan struct{}
	once    sync.Once
	syncBuffer
}

func (w *gateWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.entered) })
	<-w.gate
	return w.syncBuffer.Write(p)
}

func TestLoggerDropsWhenFull(t *testing.T) {
	w := &gateWriter{gate: make(chan struct{}), entered: make(chan struct{})}
	const queue = 4
	l, err := New(Options{Path: "stdout", Stdout: w, QueueSize: queue, Formatter: mustText(t, "%RESPONSE_CODE%")})
	if err != nil {
		t.Fatal(err)
	}
	// Get the writer goroutine stuck in Write.
	l.Log(codeEntry(0))
	<-w.entered

	const n = 1000
	start := time.Now()
	for i := 1; i <= n; i++ {
		l.Log(codeEntry(i))
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Log blocked: %d calls took %v", n, d)
	}
	if d := l.Dropped(); d != n-queue {
		t.Errorf("dropped %d, want %d", d, n-queue)
	}
	close(w.gate)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(w.String(), "\n"), "\n")
	if uint64(len(lines))+l.Dropped() != n+1 {
		t.Errorf("%d lines + %d dropped != %d logged", len(lines), l.Dropped(), n+1)
	}
	if got := strings.Join(lines, ","); got != "0,1,2,3,4" {
		t.Errorf("written lines %q, want the first entry and the queued ones", got)
	}
}

func TestLoggerReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	l, err := New(Options{Path: path, Formatter: mustText(t, "%RESPONSE_CODE%")})
	if err != nil {
		t.Fatal(err)
	}
	l.Log(codeEntry(1))
	waitFor(t, "the first line", func() bool {
		b, _ := os.ReadFile(path)
		return string(b) == "1\n"
	})
	rotated := path + ".1"
	if err := os.Rename(path, rotated); err != nil {
		t.Fatal(err)
	}
	if err := l.Reopen(); err != nil {
		t.Fatal(err)
	}
	l.Log(codeEntry(2))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(readLines(t, rotated), ","); got != "1" {
		t.Errorf("rotated file: %q", got)
	}
	if got := strings.Join(readLines(t, path), ","); got != "2" {
		t.Errorf("new file: %q", got)
	}
	if err := l.Reopen(); err == nil {
		t.Error("Reopen after Close succeeded")
	}
}

func TestLoggerReopenFailureKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "logs")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(sub, "access.log")
	l, err := New(Options{Path: path, Formatter: mustText(t, "%RESPONSE_CODE%")})
	if err != nil {
		t.Fatal(err)
	}
	moved := filepath.Join(dir, "moved")
	if err := os.Rename(sub, moved); err != nil {
		t.Fatal(err)
	}
	if err := l.Reopen(); err == nil || !strings.HasPrefix(err.Error(), "accesslog: ") {
		t.Fatalf("Reopen into a missing directory: %v", err)
	}
	l.Log(codeEntry(7))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(readLines(t, filepath.Join(moved, "access.log")), ","); got != "7" {
		t.Errorf("old file: %q", got)
	}
}

func TestLoggerSharedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.log")
	long := strings.Repeat("x", 300)
	l1, err := New(Options{Path: path, Formatter: mustText(t, "A "+long+" %RESPONSE_CODE%"), QueueSize: 10000})
	if err != nil {
		t.Fatal(err)
	}
	// A relative spelling of the same path shares the file too.
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(wd, path)
	if err != nil {
		t.Fatal(err)
	}
	l2, err := New(Options{Path: rel, Formatter: mustText(t, "B "+long+" %RESPONSE_CODE%"), QueueSize: 10000})
	if err != nil {
		t.Fatal(err)
	}
	if l1.sink != l2.sink {
		t.Fatal("loggers of one path do not share the sink")
	}
	const n = 5000
	var wg sync.WaitGroup
	for _, l := range []*Logger{l1, l2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				l.Log(codeEntry(i))
			}
		}()
	}
	wg.Wait()
	if err := l1.Close(); err != nil {
		t.Fatal(err)
	}
	// l2 keeps writing after l1 is gone.
	l2.Log(codeEntry(-1))
	if err := l2.Close(); err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, path)
	if want := 2*n + 1 - int(l1.Dropped()+l2.Dropped()); len(lines) != want {
		t.Fatalf("got %d lines, want %d", len(lines), want)
	}
	counts := map[byte]int{}
	for _, line := range lines {
		if (line[0] != 'A' && line[0] != 'B') || !strings.HasPrefix(line[1:], " "+long+" ") {
			t.Fatalf("interleaved line %q", line)
		}
		counts[line[0]]++
	}
	if counts['A'] != n-int(l1.Dropped()) || counts['B'] != n+1-int(l2.Dropped()) {
		t.Errorf("counts %v, dropped %d/%d", counts, l1.Dropped(), l2.Dropped())
	}
	registry.mu.Lock()
	left := len(registry.sinks)
	registry.mu.Unlock()
	if left != 0 {
		t.Errorf("%d sinks left in the registry", left)
	}
}

func TestLoggerCloseAndLogAfterClose(t *testing.T) {
	var out syncBuffer
	l, err := New(Options{Path: "stdout", Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	l.Log(codeEntry(1))
	l.Log(nil)
	if l.Dropped() != 1 {
		t.Errorf("Dropped = %d after a Log on a closed logger, want 1", l.Dropped())
	}
	if out.String() != "" {
		t.Errorf("wrote %q after Close", out.String())
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := New(Options{}); err == nil || !strings.HasPrefix(err.Error(), "accesslog: ") {
		t.Errorf("empty path: %v", err)
	}
	path := filepath.Join(t.TempDir(), "missing", "access.log")
	if _, err := New(Options{Path: path}); err == nil || !strings.HasPrefix(err.Error(), "accesslog: ") {
		t.Errorf("path in a missing directory: %v", err)
	}
}

type errWriter struct{}

func (errWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

func TestLoggerWriteErrors(t *testing.T) {
	l, err := New(Options{Path: "stdout", Stdout: errWriter{}})
	if err != nil {
		t.Fatal(err)
	}
	l.Log(codeEntry(1))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if l.WriteErrors() != 1 {
		t.Errorf("WriteErrors = %d, want 1", l.WriteErrors())
	}
}

// recordWriter records the size of every write.
type recordWriter struct {
	writes [][]byte
}

func (w *recordWriter) Write(p []byte) (int, error) {
	w.writes = append(w.writes, bytes.Clone(p))
	return len(p), nil
}

func TestChunkedWrites(t *testing.T) {
	var batch []byte
	for i := range 200 {
		batch = fmt.Appendf(batch, "%03d %s\n", i, strings.Repeat("y", 60))
	}
	huge := strings.Repeat("z", 10000) + "\n"
	batch = append(batch, huge...)
	batch = append(batch, "tail\n"...)

	w := &recordWriter{}
	s := &sink{w: w, chunk: pipeBuf}
	if err := s.write(batch); err != nil {
		t.Fatal(err)
	}
	var joined []byte
	for _, p := range w.writes {
		joined = append(joined, p...)
		if p[len(p)-1] != '\n' {
			t.Errorf("a write does not end at a line end: %q", p[len(p)-10:])
		}
		if len(p) > pipeBuf && string(p) != huge {
			t.Errorf("a %d-byte write holds more than one long line", len(p))
		}
	}
	if !bytes.Equal(joined, batch) {
		t.Error("chunked writes do not add up to the batch")
	}
	if len(w.writes) < 4 {
		t.Errorf("only %d writes", len(w.writes))
	}

	// Pipes get chunked writes, regular files do not.
	r, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer pw.Close()
	if c := chunkFor(pw); c != pipeBuf {
		t.Errorf("chunkFor(pipe) = %d", c)
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if c := chunkFor(f); c != 0 {
		t.Errorf("chunkFor(regular file) = %d", c)
	}
}

func TestLoggerBatchesLargeQueues(t *testing.T) {
	w := &gateWriter{gate: make(chan struct{}), entered: make(chan struct{})}
	l, err := New(Options{Path: "stdout", Stdout: w, QueueSize: 5000, Formatter: mustText(t, "%RESPONSE_CODE%")})
	if err != nil {
		t.Fatal(err)
	}
	l.Log(codeEntry(0))
	<-w.entered
	for i := 1; i <= 4000; i++ {
		l.Log(codeEntry(i))
	}
	close(w.gate)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(w.String(), "\n"), "\n")
	if len(lines) != 4001 || l.Dropped() != 0 {
		t.Fatalf("got %d lines, %d dropped", len(lines), l.Dropped())
	}
	for i, line := range lines {
		if line != fmt.Sprint(i) {
			t.Fatalf("line %d = %q", i, line)
		}
	}
}

// funcWriter is not comparable, so it cannot be a registry key.
type funcWriter func([]byte)

func (f funcWriter) Write(p []byte) (int, error) { f(p); return len(p), nil }

func TestLoggerUncomparableWriter(t *testing.T) {
	var mu sync.Mutex
	var got []byte
	w := funcWriter(func(p []byte) { mu.Lock(); got = append(got, p...); mu.Unlock() })
	l, err := New(Options{Path: "stderr", Stderr: w, Formatter: mustText(t, "%RESPONSE_CODE%")})
	if err != nil {
		t.Fatal(err)
	}
	l.Log(codeEntry(418))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if string(got) != "418\n" {
		t.Errorf("got %q", got)
	}
}
