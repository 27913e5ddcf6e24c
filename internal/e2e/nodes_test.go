package e2e_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pylon-gateway/pylon/internal/limits"
	"github.com/pylon-gateway/pylon/internal/store"
	"github.com/pylon-gateway/pylon/internal/store/sqlstore"
	"github.com/pylon-gateway/pylon/internal/testutil"
	"github.com/pylon-gateway/pylon/internal/testutil/fakellm"
	"github.com/redis/go-redis/v9"
)

func testPostgresDSN() string {
	if v := os.Getenv("PYLON_TEST_POSTGRES"); v != "" {
		return v
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// requireService skips a test when a shared service is unreachable, except under CI, where
// the services are part of the contract and their absence fails the test.
func requireService(t *testing.T, name string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is unreachable and CI is set: %v", name, err)
	}
	t.Skipf("%s is unreachable (%v): test skipped", name, err)
}

// freshPostgres returns a DSN on a new empty schema, dropped when the test ends.
func freshPostgres(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, testPostgresDSN())
	requireService(t, "PostgreSQL", err)
	defer c.Close(ctx)
	var b [6]byte
	rand.Read(b[:])
	schema := "pylon_e2e_" + hex.EncodeToString(b[:])
	if _, err := c.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), testPostgresDSN())
		if err == nil {
			c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
			c.Close(context.Background())
		}
	})
	return testPostgresDSN() + "&search_path=" + schema
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestNodesShareABudget runs three Pylon processes on one PostgreSQL store and one Redis,
// sends 500 concurrent calls spread over them against a tenant token budget, and checks
// that the budget holds exactly: the usage admitted never exceeds the budget, the usage
// recorded equals the sum of the answered calls' usage (nothing counted twice, nothing
// lost). The second run kills one node (SIGKILL) in the middle: the survivors keep the
// budget, and the crashed node's unsettled reservations only hold budget, never spend it.
func TestNodesShareABudget(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three processes")
	}
	for _, crash := range []bool{false, true} {
		t.Run(map[bool]string{false: "steady", true: "node_crash"}[crash], func(t *testing.T) { nodesShareABudget(t, crash) })
	}
}

func nodesShareABudget(t *testing.T, crash bool) {
	ctx := context.Background()
	rc := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rc.Close()
	requireService(t, "Redis", rc.Ping(ctx).Err())
	dsn := freshPostgres(t)
	var pb [4]byte
	rand.Read(pb[:])
	prefix := "pylon-e2e-" + hex.EncodeToString(pb[:]) + ":"
	t.Cleanup(func() {
		keys, _ := rc.Keys(context.Background(), prefix+"*").Result()
		if len(keys) > 0 {
			rc.Del(context.Background(), keys...)
		}
	})

	// Every answered call uses exactly 28 tokens. Pylon reserves its estimate first: the
	// prompt counted offline (9 tokens with the chat framing) plus max_tokens (20). A real
	// provider never answers more than max_tokens, and counts the prompt as the tokenizer
	// does, so the actual usage stays within the estimate, as here.
	const perCall = 28
	up := fakellm.OpenAI(t)
	// With a crash, the fake thinks for a while, so that the killed node dies with calls in
	// flight (reserved, not settled).
	delay := time.Duration(0)
	if crash {
		delay = 150 * time.Millisecond
	}
	up.Script(fakellm.Reply{Text: "ok", PromptTokens: 8, CompletionTokens: 20, Delay: delay})

	const budget = 3000 // tokens: room for about 100 of the 500 calls
	st, err := sqlstore.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ten := mustDo[store.Tenant](t)(st.CreateTenant(ctx, store.Tenant{Name: "acme"}))
	app := mustDo[store.Application](t)(st.CreateApplication(ctx, store.Application{TenantID: ten.ID, Name: "bot"}))
	_, key, err := st.CreateKey(ctx, store.APIKey{ApplicationID: app.ID, Name: "k"})
	if err != nil {
		t.Fatal(err)
	}
	mustDo[store.Limit](t)(st.CreateLimit(ctx, store.Limit{Scope: store.ScopeTenant, ScopeID: ten.ID, Kind: store.Spend,
		Limit: budget, Unit: store.UnitTokens, Period: store.PeriodDay}))

	dir := t.TempDir()
	var nodes []*exec.Cmd
	var urls []string
	for i := range 3 {
		addr, admin := freePort(t), freePort(t)
		cfg := fmt.Sprintf(`
admin: {address: %s}
store: {dsn: %q, poll_interval: 100ms}
redis: {address: 127.0.0.1:6379, prefix: %q}
listeners:
  - name: public
    address: %s
    virtual_hosts:
      - domains: ["*"]
        routes:
          - name: llm
            match: {prefix: /v1/}
            llm: {auth: true}
providers:
  - {name: oa, type: openai, base_url: %s/v1, api_keys: [{value: k}], models: [gpt-4o-mini], timeout: 10s}
`, admin, dsn, prefix, addr, up.URL)
		path := filepath.Join(dir, fmt.Sprintf("node%d.yaml", i))
		if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd, out := pylonProcess(t, "serve", "-c", path, "--watch=false")
		_ = out
		nodes = append(nodes, cmd)
		urls = append(urls, "http://"+addr)
		waitReady(t, "http://"+admin+"/ready")
	}

	body := `{"model":"gpt-4o-mini","max_tokens":20,"messages":[{"role":"user","content":"hello there"}]}`
	var ok, refused, failed atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 100}}
	for i := range 500 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			req, _ := http.NewRequest("POST", urls[i%3]+"/v1/chat/completions", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+key)
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				failed.Add(1)
				return
			}
			resp.Body.Close()
			switch resp.StatusCode {
			case 200:
				ok.Add(1)
			case 429:
				refused.Add(1)
			default:
				failed.Add(1)
			}
		}()
	}
	close(start)
	if crash {
		time.Sleep(100 * time.Millisecond)
		nodes[2].Process.Kill()
	}
	wg.Wait()

	// What the budget recorded, read from Redis as the nodes see it. The nodes settle each
	// reservation off the response path, just after the answer: wait (a few seconds at
	// most) until the settlements of the answered calls have landed.
	lim := limits.Limit{Scope: limits.ScopeTenant, ID: ten.ID, Kind: limits.Budget, Max: budget, Period: limits.Day, Unit: limits.UnitTokens}
	spent := ok.Load() * perCall
	var snap limits.Snapshot
	for deadline := time.Now().Add(5 * time.Second); ; {
		var err error
		snap, err = limits.NewRedis(rc, limits.RedisOptions{Prefix: prefix + "limits:"}).Peek(ctx, ten.ID, lim)
		if err != nil {
			t.Fatal(err)
		}
		settled := snap.Used == spent && (crash || snap.Held == 0)
		if settled || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("crash=%v: %d answered, %d refused 429, %d failed; budget %d, recorded used %d, held %d, answered usage %d",
		crash, ok.Load(), refused.Load(), failed.Load(), budget, snap.Used, snap.Held, spent)
	if spent > budget {
		t.Errorf("admitted usage %d exceeds the budget %d", spent, budget)
	}
	if ok.Load() == 0 || refused.Load() == 0 {
		t.Errorf("want both answered and refused calls, got %d and %d", ok.Load(), refused.Load())
	}
	if !crash {
		if failed.Load() != 0 {
			t.Errorf("%d calls failed", failed.Load())
		}
		if snap.Used != spent || snap.Held != 0 {
			t.Errorf("recorded used %d held %d, want used = answered usage %d and nothing held", snap.Used, snap.Held, spent)
		}
		return
	}
	// The crashed node's calls either never reached it (connection errors) or died with
	// it: their reservations are held until they expire, never recorded as spent.
	if snap.Used != spent {
		t.Errorf("recorded used %d, want exactly the answered usage %d (nothing lost or counted twice)", snap.Used, spent)
	}
	if snap.Used+snap.Held > budget {
		t.Errorf("used %d + held %d exceed the budget %d", snap.Used, snap.Held, budget)
	}
}

func mustDo[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// TestRevocationIsImmediate: with PostgreSQL, a key revoked through another node is refused
// within a fraction of a second (the store's change notification), long before the next poll.
func TestRevocationIsImmediate(t *testing.T) {
	dsn := freshPostgres(t)
	up := fakellm.OpenAI(t)
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ten := mustDo[store.Tenant](t)(st.CreateTenant(ctx, store.Tenant{Name: "acme"}))
	app := mustDo[store.Application](t)(st.CreateApplication(ctx, store.Application{TenantID: ten.ID, Name: "bot"}))
	g := testutil.StartGateway(t, fmt.Sprintf(`
admin: {address: 127.0.0.1:0}
store: {dsn: %q, poll_interval: 60s}
listeners:
  - name: public
    address: 127.0.0.1:0
    virtual_hosts:
      - domains: ["*"]
        routes:
          - name: llm
            match: {prefix: /v1/}
            llm: {auth: true}
providers:
  - {name: oa, type: openai, base_url: %s/v1, api_keys: [{value: k}], models: [gpt-4o-mini]}
`, dsn, up.URL))
	// Created after the gateway started: only a notification can tell it in time.
	key, plain, err := st.CreateKey(ctx, store.APIKey{ApplicationID: app.ID, Name: "k"})
	if err != nil {
		t.Fatal(err)
	}
	call := func() int {
		req, _ := http.NewRequest("POST", g.URL("public")+"/v1/chat/completions",
			strings.NewReader(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`))
		req.Header.Set("Authorization", "Bearer "+plain)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	within := func(what string, want int) time.Duration {
		t.Helper()
		start := time.Now()
		for time.Since(start) < time.Second {
			if call() == want {
				return time.Since(start)
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Fatalf("%s: not within 1s (the poll interval is 60s)", what)
		return 0
	}
	t.Logf("a new key accepted after %v", within("new key accepted", 200))
	if _, err := st.RevokeKey(ctx, key.ID, key.Version); err != nil {
		t.Fatal(err)
	}
	t.Logf("the revoked key refused after %v", within("revoked key refused", 401))
}

// TestSessionAcrossProcesses: a conversation started on one Pylon process continues on
// another that shares Redis, and a session erased on one is gone on the other.
func TestSessionAcrossProcesses(t *testing.T) {
	ctx := context.Background()
	rc := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rc.Close()
	requireService(t, "Redis", rc.Ping(ctx).Err())
	var pb [4]byte
	rand.Read(pb[:])
	prefix := "pylon-e2e-p-" + hex.EncodeToString(pb[:]) + ":"
	t.Cleanup(func() {
		keys, _ := rc.Keys(context.Background(), prefix+"*").Result()
		if len(keys) > 0 {
			rc.Del(context.Background(), keys...)
		}
	})
	up := fakellm.OpenAI(t)
	dir := t.TempDir()
	var urls []string
	for i := range 2 {
		addr, admin := freePort(t), freePort(t)
		path := filepath.Join(dir, fmt.Sprintf("node%d.yaml", i))
		os.WriteFile(path, []byte(fmt.Sprintf(`
admin: {address: %s}
redis: {address: 127.0.0.1:6379, prefix: %q}
llm: {sessions: {}}
listeners:
  - name: public
    address: %s
    virtual_hosts:
      - domains: ["*"]
        routes:
          - match: {prefix: /v1/}
            llm: {}
providers:
  - {name: oa, type: openai, base_url: %s/v1, api_keys: [{value: k}], models: [gpt-4o-mini]}
`, admin, prefix, addr, up.URL)), 0o644)
		pylonProcess(t, "serve", "-c", path, "--watch=false")
		waitReady(t, "http://"+admin+"/ready")
		urls = append(urls, "http://"+addr)
	}
	send := func(url, method, path, body string) int {
		req, _ := http.NewRequest(method, url+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer client-key")
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Session-Id", "chat-1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	up.Script(fakellm.Reply{Text: "Hello Ada."})
	send(urls[0], "POST", "/v1/chat/completions", `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"I am Ada."}]}`)
	up.Script(fakellm.Reply{Text: "Ada."})
	send(urls[1], "POST", "/v1/chat/completions", `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Who am I?"}]}`)
	var got []string
	for _, m := range up.Last(t).JSON(t)["messages"].([]any) {
		got = append(got, fmt.Sprint(m.(map[string]any)["content"]))
	}
	if strings.Join(got, "|") != "I am Ada.|Hello Ada.|Who am I?" {
		t.Fatalf("the second process sent %q", got)
	}
	if code := send(urls[1], "DELETE", "/v1/sessions/chat-1", ""); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	if code := send(urls[0], "GET", "/v1/sessions/chat-1", ""); code != 404 {
		t.Fatalf("the erased session is still on the first process: %d", code)
	}
}
