package e2e_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pylon-gateway/pylon/internal/testutil"
)

var pylonBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pylon-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pylonBin = filepath.Join(dir, "pylon")
	out, err := exec.Command("go", "build", "-o", pylonBin, "github.com/pylon-gateway/pylon/cmd/pylon").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building pylon: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// pylonProcess runs the pylon binary with args and returns the command and its output buffer.
func pylonProcess(t *testing.T, args ...string) (*exec.Cmd, *testutil.SyncBuffer) {
	t.Helper()
	cmd := exec.Command(pylonBin, args...)
	cmd.Dir = t.TempDir() // the embedded default keeps its store under the working directory
	out := &testutil.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd, out
}

func waitReady(t *testing.T, url string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
	}
	t.Fatalf("%s never became ready", url)
}

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "pylon.yaml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestDefaultConfigRunsWithNoSetup is the README's first command: `pylon` alone serves.
func TestDefaultConfigRunsWithNoSetup(t *testing.T) {
	for _, a := range []string{"127.0.0.1:8080", "127.0.0.1:9901"} {
		if ln, err := net.Listen("tcp", a); err != nil {
			t.Skipf("%s is in use on this machine: %v", a, err)
		} else {
			ln.Close()
		}
	}
	_, out := pylonProcess(t, "serve")
	waitReady(t, "http://127.0.0.1:9901/ready")
	resp, body := get(t, "http://127.0.0.1:8080/")
	if resp.StatusCode != 200 || !strings.Contains(body, "Pylon is running") {
		t.Fatalf("default listener: %d %q", resp.StatusCode, body)
	}
	for deadline := time.Now().Add(2 * time.Second); !strings.Contains(out.String(), "Next:") && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(out.String(), "http://127.0.0.1:9901/") || !strings.Contains(out.String(), "Next:") {
		t.Errorf("startup message does not say where to go next:\n%s", out.String())
	}
	// The built-in demo model answers an OpenAI SDK with no key, plain and streamed.
	client := openai.NewClient(option.WithBaseURL("http://127.0.0.1:8080/v1/"), option.WithAPIKey("none"), option.WithMaxRetries(0))
	msgs := []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello pylon")}
	c, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "demo", Messages: msgs})
	if err != nil || !strings.Contains(c.Choices[0].Message.Content, "hello pylon") {
		t.Fatalf("demo model: %v %+v", err, c)
	}
	st := client.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{Model: "demo", Messages: msgs})
	acc := openai.ChatCompletionAccumulator{}
	for st.Next() {
		acc.AddChunk(st.Current())
	}
	if st.Err() != nil || !strings.Contains(acc.Choices[0].Message.Content, "hello pylon") {
		t.Fatalf("demo model stream: %v %+v", st.Err(), acc.Choices)
	}
}

func TestValidateCommand(t *testing.T) {
	bad := writeConfig(t, `
listeners:
  - name: public
    address: 127.0.0.1:http
    virtual_hosts:
      - domains: ["*", "*"]
        routes:
          - match: {prefix: /, bogus: 1}
            cluster: nowhere
`)
	out, err := exec.Command(pylonBin, "validate", "-c", bad).CombinedOutput()
	if err == nil {
		t.Fatalf("validate accepted a bad config:\n%s", out)
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit %v, want 1", err)
	}
	if !strings.Contains(string(out), `listeners[0].virtual_hosts[0].routes[0].match.bogus (line 8): unknown field "bogus"`) {
		t.Errorf("unknown field not named by path and line:\n%s", out)
	}

	bad2 := writeConfig(t, `
listeners:
  - name: public
    address: 127.0.0.1:http
    virtual_hosts:
      - domains: ["*", "*"]
        routes:
          - match: {prefix: /}
            cluster: nowhere
`)
	out, _ = exec.Command(pylonBin, "validate", "-c", bad2).CombinedOutput()
	for _, want := range []string{
		`listeners[0].address (line 4): invalid port in "127.0.0.1:http"`,
		`listeners[0].virtual_hosts[0].domains[1] (line 6): only one virtual host may have the wildcard domain "*"`,
		`listeners[0].virtual_hosts[0].routes[0].cluster (line 9): unknown cluster "nowhere"`,
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("validate output lacks %q:\n%s", want, out)
		}
	}
	good := writeConfig(t, "listeners: [{name: a, address: 127.0.0.1:0, virtual_hosts: [{domains: ['*'], routes: [{match: {prefix: /}, direct_response: {status: 204}}]}]}]\n")
	if out, err := exec.Command(pylonBin, "validate", "-c", good).CombinedOutput(); err != nil {
		t.Fatalf("validate rejected a good config: %v\n%s", err, out)
	}
}

// TestServeGCMinHeap: --gc-min-heap-mb raises the collector's percent while the live heap
// is small (go_gc_gogc_percent on the admin's Prometheus page), 0 leaves GOGC's 100, and a
// bad value is refused naming the flag.
func TestServeGCMinHeap(t *testing.T) {
	out, err := exec.Command(pylonBin, "serve", "--gc-min-heap-mb", "-3").CombinedOutput()
	if code := exitCode(err); code != 2 || !strings.Contains(string(out), "--gc-min-heap-mb") {
		t.Fatalf("serve --gc-min-heap-mb -3: exit %d, output %q; want 2 naming the flag", code, out)
	}
	for _, tc := range []struct {
		flag  string
		check func(p float64) bool
		want  string
	}{
		{"64", func(p float64) bool { return p > 100 }, "above 100"},
		{"0", func(p float64) bool { return p == 100 }, "100"},
	} {
		admin := freeAddr(t)
		path := writeConfig(t, fmt.Sprintf(`
admin: {address: %s}
listeners:
  - name: public
    address: %s
    virtual_hosts:
      - domains: ["*"]
        routes:
          - match: {prefix: /}
            direct_response: {status: 200, body: ok}
`, admin, freeAddr(t)))
		if tc.flag == "0" && os.Getenv("GOGC") != "" {
			continue // the percent is then GOGC's
		}
		pylonProcess(t, "serve", "-c", path, "--watch=false", "--gc-min-heap-mb", tc.flag)
		waitReady(t, "http://"+admin+"/ready")
		_, body := get(t, "http://"+admin+"/stats/prometheus")
		p := -1.0
		for _, line := range strings.Split(body, "\n") {
			if v, ok := strings.CutPrefix(line, "go_gc_gogc_percent "); ok {
				p, _ = strconv.ParseFloat(v, 64)
			}
		}
		if !tc.check(p) {
			t.Errorf("--gc-min-heap-mb %s: go_gc_gogc_percent %v, want %s", tc.flag, p, tc.want)
		}
	}
}

func exitCode(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// TestOneGiBStreamsWithBoundedMemory moves 1 GiB up and 1 GiB down through a pylon process
// and checks that its peak resident memory grows by only a few MB.
func TestOneGiBStreamsWithBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the 1 GiB transfer")
	}
	const size = 1 << 30
	up := testutil.StartUpstream(t, "big", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "POST" {
			n, err := io.Copy(io.Discard, r.Body)
			fmt.Fprintf(w, "%d %v", n, err)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(size))
		io.CopyN(w, zeros{}, size)
	}))
	addr, admin := freeAddr(t), freeAddr(t)
	cfg := writeConfig(t, fmt.Sprintf(`
admin: {address: %s}
listeners:
  - name: public
    address: %s
    virtual_hosts:
      - domains: ["*"]
        routes:
          - match: {prefix: /}
            cluster: big
            timeout: 0s
clusters:
  - name: big
    endpoints: [%s]
`, admin, addr, up.Addr()))
	cmd, _ := pylonProcess(t, "serve", "-c", cfg)
	waitReady(t, "http://"+admin+"/ready")
	get(t, "http://"+addr+"/warm") // warm: connections and buffers exist before the baseline
	base := procStatusKB(t, cmd.Process.Pid, "VmRSS")

	resp, err := http.Post("http://"+addr+"/upload", "application/octet-stream", io.LimitReader(zeros{}, size))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != fmt.Sprintf("%d <nil>", size) {
		t.Fatalf("upload: upstream reports %q", b)
	}
	resp, err = http.Get("http://" + addr + "/download")
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || n != size {
		t.Fatalf("download: %d bytes, %v", n, err)
	}
	peak := procStatusKB(t, cmd.Process.Pid, "VmHWM")
	growth := peak - base
	t.Logf("pylon RSS before %d KiB, peak after 2 GiB moved %d KiB: growth %d KiB", base, peak, growth)
	if growth > 16<<10 {
		t.Fatalf("peak RSS grew by %d KiB moving 1 GiB each way; want a few MB", growth)
	}
}

func procStatusKB(t *testing.T, pid int, field string) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			n, _ := strconv.Atoi(strings.Fields(v)[0])
			return n
		}
	}
	t.Fatalf("%s not in /proc/%d/status", field, pid)
	return 0
}

// TestSIGTERMDrainsInFlight: a request in flight when SIGTERM arrives completes; new
// connections are refused; the process exits 0.
func TestSIGTERMDrainsInFlight(t *testing.T) {
	started := make(chan struct{}, 1)
	up := testutil.StartUpstream(t, "slow", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		time.Sleep(500 * time.Millisecond)
		fmt.Fprint(w, "done")
	}))
	addr, admin := freeAddr(t), freeAddr(t)
	cfg := writeConfig(t, fmt.Sprintf(`
admin: {address: %s}
drain_timeout: 5s
listeners:
  - name: public
    address: %s
    virtual_hosts:
      - domains: ["*"]
        routes:
          - match: {prefix: /}
            cluster: slow
clusters:
  - name: slow
    endpoints: [%s]
`, admin, addr, up.Addr()))
	cmd, out := pylonProcess(t, "serve", "-c", cfg)
	waitReady(t, "http://"+admin+"/ready")
	type result struct {
		body string
		err  error
	}
	res := make(chan result, 1)
	go func() {
		resp, err := http.Get("http://" + addr + "/slow")
		if err != nil {
			res <- result{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		res <- result{string(b), err}
	}()
	<-started
	cmd.Process.Signal(syscall.SIGTERM)
	r := <-res
	if r.err != nil || r.body != "done" {
		t.Fatalf("in-flight request: %q %v", r.body, r.err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, out)
		}
	case <-time.After(6 * time.Second):
		t.Fatalf("pylon did not exit after SIGTERM\n%s", out)
	}
	if _, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
		t.Fatal("listener still accepts after shutdown")
	}
}

// TestSIGHUPAndFileWatchReload changes the config file under a running process.
func TestSIGHUPAndFileWatchReload(t *testing.T) {
	addr, admin := freeAddr(t), freeAddr(t)
	conf := func(body string) string {
		return fmt.Sprintf(`
admin: {address: %s}
listeners:
  - name: public
    address: %s
    virtual_hosts:
      - domains: ["*"]
        routes:
          - match: {prefix: /}
            direct_response: {status: 200, body: %s}
`, admin, addr, body)
	}
	path := writeConfig(t, conf("one"))
	cmd, out := pylonProcess(t, "serve", "-c", path)
	waitReady(t, "http://"+admin+"/ready")
	expect := func(want string) {
		t.Helper()
		var body string
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			_, body = get(t, "http://"+addr+"/")
			if body == want {
				return
			}
		}
		t.Fatalf("body %q, want %q\n%s", body, want, out)
	}
	expect("one")
	os.WriteFile(path, []byte(conf("two")), 0o644) // the watcher picks this up
	expect("two")
	// An invalid file is rejected and "two" keeps serving.
	os.WriteFile(path, []byte(conf("three")+"  bogus: true\n"), 0o644)
	time.Sleep(500 * time.Millisecond)
	expect("two")
	if !strings.Contains(out.String(), "config rejected") {
		t.Errorf("no log line for the rejected config:\n%s", out)
	}
	// SIGHUP reloads too (the watcher sees the write as well; either way "four" serves).
	os.WriteFile(path, []byte(conf("four")), 0o644)
	cmd.Process.Signal(syscall.SIGHUP)
	expect("four")
}
