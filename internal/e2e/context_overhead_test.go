package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pylon-gateway/pylon/internal/testutil"
	"github.com/pylon-gateway/pylon/internal/testutil/fakellm"
	"github.com/redis/go-redis/v9"
)

// TestContextOverhead measures, in one run, what the context features add to a call at one
// connection: a 20-turn session kept in Redis, PII redaction, and a response cache hit,
// against the same plain call (p50 and p99 of sequential calls). Run it with
//
//	PYLON_MEASURE=1 go test -run TestContextOverhead -v ./internal/e2e/
func TestContextOverhead(t *testing.T) {
	if os.Getenv("PYLON_MEASURE") == "" {
		t.Skip("a measurement: set PYLON_MEASURE=1")
	}
	rc := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rc.Close()
	requireServiceE2E(t, "Redis", rc.Ping(context.Background()).Err())
	prefix := redisPrefix(t, rc, "pylon-measure-")
	up := fakellm.OpenAI(t)
	up.Script(fakellm.Reply{Text: "A short answer of a few words.", PromptTokens: 20, CompletionTokens: 8})
	const n = 2000
	prompt := "Please reply to jane.doe@example.com about order 1234 and call +1 415 555 0100 tomorrow."
	cases := []struct {
		name, extra string
		header      http.Header
	}{
		{"plain", "", nil},
		{"session20", fmt.Sprintf("llm: {sessions: {max_history_tokens: 100000}}\nredis: {address: 127.0.0.1:6379, prefix: %q}", prefix),
			http.Header{"X-Session-Id": {"s20"}, "X-Session-Mode": {"read-only"}}},
		{"pii", "llm: {pii: {mode: token}}", nil},
		{"cachehit", "llm: {cache: {ttl: 10m}}", nil},
	}
	res := map[string][2]time.Duration{}
	for _, tc := range cases {
		g := testutil.StartGateway(t, sessionConfig(up.URL, tc.extra))
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2}}
		call := func(h http.Header, text string) time.Duration {
			body := fmt.Sprintf(`{"model":"chat","messages":[{"role":"user","content":%q}]}`, text)
			req, _ := http.NewRequest("POST", g.URL("public")+"/v1/chat/completions", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer k")
			for k, v := range h {
				req.Header[k] = v
			}
			t0 := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("%s: status %d", tc.name, resp.StatusCode)
			}
			return time.Since(t0)
		}
		if tc.name == "session20" {
			// 20 turns of history, stored through the session itself.
			for i := range 20 {
				call(http.Header{"X-Session-Id": {"s20"}}, fmt.Sprintf("Turn %d: %s", i, prompt))
			}
		}
		call(tc.header, prompt) // warm-up (and the cache fill)
		lat := make([]time.Duration, n)
		for i := range n {
			lat[i] = call(tc.header, prompt)
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		res[tc.name] = [2]time.Duration{lat[n/2], lat[n*99/100]}
	}
	base := res["plain"]
	for _, tc := range cases {
		r := res[tc.name]
		t.Logf("%-9s p50 %7.3f ms  p99 %7.3f ms   vs plain: p50 %+7.3f ms  p99 %+7.3f ms", tc.name,
			ms(r[0]), ms(r[1]), ms(r[0]-base[0]), ms(r[1]-base[1]))
	}
}
