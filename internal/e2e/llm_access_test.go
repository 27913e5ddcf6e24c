package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/pylon-gateway/pylon/internal/store"
	"github.com/pylon-gateway/pylon/internal/store/sqlstore"
	"github.com/pylon-gateway/pylon/internal/testutil"
	"github.com/pylon-gateway/pylon/internal/testutil/fakellm"
)

// accessGateway starts Pylon with a store in a temp dir and an llm route that requires API
// keys; it returns the gateway and a second handle on the same store (another "node" of
// the management plane, as the REST API or the CLI would be).
func accessGateway(t *testing.T, up *fakellm.Server, routeExtra string) (*testutil.Gateway, *sqlstore.DB) {
	t.Helper()
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "pylon.db")
	g := testutil.StartGateway(t, fmt.Sprintf(`
admin: {address: 127.0.0.1:0}
store: {dsn: "%s", poll_interval: 50ms}
listeners:
  - name: public
    address: 127.0.0.1:0
    virtual_hosts:
      - domains: ["*"]
        routes:
          - name: llm
            match: {prefix: /v1/}
            llm: {auth: true%s}
          - name: prompts
            match: {prefix: /apis/}
            llm: {auth: true}
providers:
  - {name: oa, type: openai, base_url: %s/v1, api_keys: [{value: k}], models: [gpt-4o-mini, gpt-4o]}
`, dsn, routeExtra, up.URL))
	st, err := sqlstore.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return g, st
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// eventually retries f until it succeeds or two seconds pass: the gateway follows the store
// by polling.
func eventually(t *testing.T, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 2s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestLLMAPIKeysScopesAndLimits(t *testing.T) {
	up := fakellm.OpenAI(t)
	up.Script(fakellm.Reply{Text: "ok", PromptTokens: 10, CompletionTokens: 5})
	g, st := accessGateway(t, up, "")
	ctx := context.Background()
	ten := must[store.Tenant](t)(st.CreateTenant(ctx, store.Tenant{Name: "acme"}))
	app := must[store.Application](t)(st.CreateApplication(ctx, store.Application{TenantID: ten.ID, Name: "bot"}))
	key, plain, err := st.CreateKey(ctx, store.APIKey{ApplicationID: app.ID, Name: "k1", Scopes: store.Scopes{Models: []string{"gpt-4o-mini"}}})
	if err != nil {
		t.Fatal(err)
	}
	msgs := []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}
	call := func(key, model string) (*http.Response, error) {
		var resp *http.Response
		c := openai.NewClient(option.WithBaseURL(g.URL("public")+"/v1/"), option.WithAPIKey(key), option.WithMaxRetries(0))
		_, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: model, Messages: msgs}, option.WithResponseInto(&resp))
		return resp, err
	}
	status := func(err error) int {
		var apiErr *openai.Error
		if errors.As(err, &apiErr) {
			return apiErr.StatusCode
		}
		if err == nil {
			return 200
		}
		return -1
	}
	eventually(t, "the new key works", func() error {
		if _, err := call(plain, "gpt-4o-mini"); err != nil {
			return err
		}
		return nil
	})
	if _, err := call("pk_live_notakey", "gpt-4o-mini"); status(err) != 401 {
		t.Fatalf("unknown key: %v", err)
	}
	if _, err := call("", "gpt-4o-mini"); status(err) != 401 {
		t.Fatalf("no key: %v", err)
	}
	if _, err := call(plain, "gpt-4o"); status(err) != 404 {
		t.Fatalf("a model outside the key's scopes must look absent: %v", err)
	}

	// Two requests a minute for this key: the third is refused with retry-after and the
	// remaining-limit headers.
	must[store.Limit](t)(st.CreateLimit(ctx, store.Limit{Scope: store.ScopeKey, ScopeID: key.ID, Kind: store.RequestsPerMinute, Limit: 2}))
	eventually(t, "the limit applies", func() error {
		_, err := call(plain, "gpt-4o-mini")
		if status(err) != 429 {
			return fmt.Errorf("status %d", status(err))
		}
		var apiErr *openai.Error
		errors.As(err, &apiErr)
		if apiErr.Response.Header.Get("Retry-After") == "" || apiErr.Response.Header.Get("X-Ratelimit-Limit-Requests") != "2" {
			return fmt.Errorf("headers %v", apiErr.Response.Header)
		}
		return nil
	})

	// A token budget for the tenant: the calls that fit pass, then the budget is named.
	k2, plain2, err := st.CreateKey(ctx, store.APIKey{ApplicationID: app.ID, Name: "k2"})
	if err != nil {
		t.Fatal(err)
	}
	must[store.Limit](t)(st.CreateLimit(ctx, store.Limit{Scope: store.ScopeTenant, ScopeID: ten.ID, Kind: store.Spend, Limit: 300, Unit: store.UnitTokens, Period: store.PeriodDay}))
	eventually(t, "the budget applies", func() error {
		_, err := call(plain2, "gpt-4o-mini")
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 || apiErr.Code != "insufficient_quota" {
			return fmt.Errorf("want 429 insufficient_quota naming the budget, got %v", err)
		}
		if apiErr.Message == "" || !containsAll(apiErr.Message, "tenant acme", "budget") {
			return fmt.Errorf("message %q does not name the budget", apiErr.Message)
		}
		return nil
	})

	// Revoking the key refuses it on the gateway within the poll interval.
	if _, err := st.RevokeKey(ctx, k2.ID, k2.Version); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the revoked key is refused", func() error {
		if _, err := call(plain2, "gpt-4o-mini"); status(err) != 401 {
			return fmt.Errorf("status %d", status(err))
		}
		return nil
	})
}

func TestLLMSubscriptionRequired(t *testing.T) {
	up := fakellm.OpenAI(t)
	g, st := accessGateway(t, up, ", api: chat")
	ctx := context.Background()
	ten := must[store.Tenant](t)(st.CreateTenant(ctx, store.Tenant{Name: "acme"}))
	app := must[store.Application](t)(st.CreateApplication(ctx, store.Application{TenantID: ten.ID, Name: "bot"}))
	_, plain, err := st.CreateKey(ctx, store.APIKey{ApplicationID: app.ID, Name: "k"})
	if err != nil {
		t.Fatal(err)
	}
	api := must[store.API](t)(st.CreateAPI(ctx, store.API{TenantID: ten.ID, Name: "chat", APIVersion: "v1", RequiresApproval: true}))
	api = must[store.API](t)(st.SetAPILifecycle(ctx, api.ID, store.Published, api.Version))
	client := openai.NewClient(option.WithBaseURL(g.URL("public")+"/v1/"), option.WithAPIKey(plain), option.WithMaxRetries(0))
	params := openai.ChatCompletionNewParams{Model: "gpt-4o-mini", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}
	eventually(t, "no subscription: 403", func() error {
		_, err := client.Chat.Completions.New(ctx, params)
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 403 {
			return fmt.Errorf("got %v", err)
		}
		return nil
	})
	sub := must[store.Subscription](t)(st.CreateSubscription(ctx, store.Subscription{ApplicationID: app.ID, APIID: api.ID}))
	if _, err := client.Chat.Completions.New(ctx, params); err == nil {
		t.Fatal("a pending subscription must not pass")
	}
	if _, err := st.SetSubscriptionState(ctx, sub.ID, store.SubApproved, "ok", sub.Version); err != nil {
		t.Fatal(err)
	}
	eventually(t, "approved: 200", func() error {
		_, err := client.Chat.Completions.New(ctx, params)
		return err
	})
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// A tenant's prompt API: the variables are checked against its input schema, filled into the
// template, and the prompt goes to the model; another tenant's key does not see it.
func TestPromptAPI(t *testing.T) {
	up := fakellm.OpenAI(t)
	g, st := accessGateway(t, up, "")
	ctx := context.Background()
	ten := must[store.Tenant](t)(st.CreateTenant(ctx, store.Tenant{Name: "acme"}))
	app := must[store.Application](t)(st.CreateApplication(ctx, store.Application{TenantID: ten.ID, Name: "bot"}))
	_, key, err := st.CreateKey(ctx, store.APIKey{ApplicationID: app.ID, Name: "k"})
	if err != nil {
		t.Fatal(err)
	}
	other := must[store.Tenant](t)(st.CreateTenant(ctx, store.Tenant{Name: "globex"}))
	oapp := must[store.Application](t)(st.CreateApplication(ctx, store.Application{TenantID: other.ID, Name: "x"}))
	_, otherKey, err := st.CreateKey(ctx, store.APIKey{ApplicationID: oapp.ID, Name: "k"})
	if err != nil {
		t.Fatal(err)
	}
	pa := must[store.PromptAPI](t)(st.CreatePromptAPI(ctx, store.PromptAPI{TenantID: ten.ID, Name: "summarize", APIVersion: "v1",
		Model: "gpt-4o-mini", Template: "Summarize in {{words}} words: {{text}}",
		InputSchema: []byte(`{"type":"object","required":["text"],"properties":{"text":{"type":"string","minLength":1},"words":{"type":"integer","maximum":100}}}`)}))
	must[store.PromptAPI](t)(st.SetPromptAPILifecycle(ctx, pa.ID, store.Published, pa.Version))
	post := func(key, body string) (int, string) {
		req, _ := http.NewRequest("POST", g.URL("public")+"/apis/acme/summarize/v1", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		io.Copy(&b, resp.Body)
		return resp.StatusCode, b.String()
	}
	up.Script(fakellm.Reply{Text: "Short."})
	eventually(t, "the prompt API is served", func() error {
		if code, body := post(key, `{"text":"A long story.","words":5}`); code != 200 || !strings.Contains(body, "Short.") {
			return fmt.Errorf("%d %s", code, body)
		}
		return nil
	})
	sent := up.Last(t).JSON(t)
	msgs := sent["messages"].([]any)
	if got := msgs[0].(map[string]any)["content"]; got != "Summarize in 5 words: A long story." || sent["model"] != "gpt-4o-mini" {
		t.Fatalf("upstream got %v", sent)
	}
	for _, tc := range []struct{ body, want string }{
		{`{"words":5}`, "text"},
		{`{"text":"x","words":500}`, `"param":"words"`},
		{`[1]`, "JSON object"},
		{`{"text":`, "not valid JSON"},
	} {
		if code, body := post(key, tc.body); code != 400 || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %s", tc.body, code, body)
		}
	}
	if code, _ := post(otherKey, `{"text":"x"}`); code != 404 {
		t.Fatalf("another tenant's key: %d", code)
	}
}
