package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pylon-gateway/pylon/internal/store"
	"github.com/pylon-gateway/pylon/internal/store/sqlstore"
	"github.com/pylon-gateway/pylon/internal/testutil"
	"github.com/pylon-gateway/pylon/internal/testutil/fakellm"
	"github.com/redis/go-redis/v9"
)

// TestLimitOverhead measures what the management plane adds to a call on the hot path: an
// API key, a subscription check and a token limit plus a token budget, in process and with
// Redis, against the same call on a route without auth, in the same run (p50 and p99 of
// sequential calls at one connection). Run it with
//
//	PYLON_MEASURE=1 go test -run TestLimitOverhead -v ./internal/e2e/
func TestLimitOverhead(t *testing.T) {
	if os.Getenv("PYLON_MEASURE") == "" {
		t.Skip("a measurement: set PYLON_MEASURE=1")
	}
	n := 3000
	up := fakellm.OpenAI(t)
	up.Script(fakellm.Reply{Text: "ok", PromptTokens: 8, CompletionTokens: 2})
	rc := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rc.Close()
	redisOK := rc.Ping(context.Background()).Err() == nil

	results := map[string][2]time.Duration{}
	for _, mode := range []string{"none", "local", "redis"} {
		if mode == "redis" && !redisOK {
			t.Log("redis: unreachable, skipped")
			continue
		}
		dsn := "sqlite:" + filepath.Join(t.TempDir(), "pylon.db")
		var b [4]byte
		rand.Read(b[:])
		redisCfg := ""
		if mode == "redis" {
			redisCfg = fmt.Sprintf("redis: {address: 127.0.0.1:6379, prefix: \"pylon-measure-%s:\"}\n", hex.EncodeToString(b[:]))
		}
		auth := "{auth: true, api: chat}"
		if mode == "none" {
			auth = "{}"
		}
		g := testutil.StartGateway(t, fmt.Sprintf(`
admin: {address: 127.0.0.1:0}
store: {dsn: "%s", poll_interval: 50ms}
%slisteners:
  - name: public
    address: 127.0.0.1:0
    virtual_hosts:
      - domains: ["*"]
        routes:
          - name: llm
            match: {prefix: /v1/}
            llm: %s
providers:
  - {name: oa, type: openai, base_url: %s/v1, api_keys: [{value: k}], models: [gpt-4o-mini]}
`, dsn, redisCfg, auth, up.URL))
		st, err := sqlstore.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		ten := must[store.Tenant](t)(st.CreateTenant(ctx, store.Tenant{Name: "acme"}))
		app := must[store.Application](t)(st.CreateApplication(ctx, store.Application{TenantID: ten.ID, Name: "bot"}))
		key, plain, _ := st.CreateKey(ctx, store.APIKey{ApplicationID: app.ID, Name: "k"})
		api := must[store.API](t)(st.CreateAPI(ctx, store.API{TenantID: ten.ID, Name: "chat", APIVersion: "v1"}))
		must[store.API](t)(st.SetAPILifecycle(ctx, api.ID, store.Published, api.Version))
		must[store.Subscription](t)(st.CreateSubscription(ctx, store.Subscription{ApplicationID: app.ID, APIID: api.ID}))
		must[store.Limit](t)(st.CreateLimit(ctx, store.Limit{Scope: store.ScopeKey, ScopeID: key.ID, Kind: store.TokensPerMinute, Limit: 1 << 40}))
		must[store.Limit](t)(st.CreateLimit(ctx, store.Limit{Scope: store.ScopeTenant, ScopeID: ten.ID, Kind: store.Spend, Limit: 1 << 40, Unit: store.UnitTokens, Period: store.PeriodMonth}))
		st.Close()
		if mode == "redis" {
			prefix := fmt.Sprintf("pylon-measure-%s:", hex.EncodeToString(b[:]))
			t.Cleanup(func() {
				keys, _ := rc.Keys(context.Background(), prefix+"*").Result()
				if len(keys) > 0 {
					rc.Del(context.Background(), keys...)
				}
			})
		}
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
		body := `{"model":"gpt-4o-mini","max_tokens":16,"messages":[{"role":"user","content":"hello there"}]}`
		call := func() (time.Duration, int) {
			req, _ := http.NewRequest("POST", g.URL("public")+"/v1/chat/completions", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+plain)
			t0 := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return time.Since(t0), resp.StatusCode
		}
		eventually(t, mode+" ready", func() error {
			if _, code := call(); code != 200 {
				return fmt.Errorf("status %d", code)
			}
			return nil
		})
		lat := make([]time.Duration, n)
		for i := range n {
			d, code := call()
			if code != 200 {
				t.Fatalf("%s: status %d", mode, code)
			}
			lat[i] = d
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		results[mode] = [2]time.Duration{lat[n/2], lat[n*99/100]}
	}
	base := results["none"]
	for _, mode := range []string{"none", "local", "redis"} {
		r, ok := results[mode]
		if !ok {
			continue
		}
		t.Logf("%-6s p50 %7.3f ms  p99 %7.3f ms   added: p50 %+7.3f ms  p99 %+7.3f ms", mode,
			ms(r[0]), ms(r[1]), ms(r[0]-base[0]), ms(r[1]-base[1]))
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
