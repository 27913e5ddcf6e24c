package access

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/pylon-gateway/pylon/internal/limits"
	"github.com/pylon-gateway/pylon/internal/store"
	"github.com/pylon-gateway/pylon/internal/store/sqlstore"
)

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// fixture is a store with one tenant, one application, keys and limits.
func fixture(t *testing.T) (*sqlstore.DB, store.Tenant, store.Application) {
	t.Helper()
	st, err := sqlstore.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	ten := must[store.Tenant](t)(st.CreateTenant(ctx, store.Tenant{Name: "acme"}))
	app := must[store.Application](t)(st.CreateApplication(ctx, store.Application{TenantID: ten.ID, Name: "bot"}))
	return st, ten, app
}

func TestAuthenticate(t *testing.T) {
	st, _, app := fixture(t)
	ctx := context.Background()
	_, good, _ := st.CreateKey(ctx, store.APIKey{ApplicationID: app.ID, Name: "good", Scopes: store.Scopes{Models: []string{"gpt-4o*"}}})
	rk, revoked, _ := st.CreateKey(ctx, store.APIKey{ApplicationID: app.ID, Name: "revoked"})
	must[store.APIKey](t)(st.RevokeKey(ctx, rk.ID, rk.Version))
	soon := time.Now().Add(time.Hour)
	_, expiring, _ := st.CreateKey(ctx, store.APIKey{ApplicationID: app.ID, Name: "expiring", ExpiresAt: &soon})
	a, err := New(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := a.Authenticate(good)
	if err != nil || p.AppName != "bot" || p.Tenant != "acme" || p.Scope() == "" {
		t.Fatalf("good key: %+v %v", p, err)
	}
	if !AllowModel(p, "gpt-4o-mini") || AllowModel(p, "claude-haiku-4-5") {
		t.Fatal("model scopes")
	}
	for _, tc := range []struct {
		key  string
		want error
	}{{"", ErrNoKey}, {"pk_live_nope", ErrUnknownKey}, {"sk-not-ours", ErrUnknownKey}, {revoked, ErrRevoked}} {
		if _, err := a.Authenticate(tc.key); !errors.Is(err, tc.want) {
			t.Errorf("%q: %v, want %v", tc.key, err, tc.want)
		}
	}
	if _, err := a.Authenticate(expiring); err != nil {
		t.Fatalf("a key before its expiry: %v", err)
	}
	a.now = func() time.Time { return soon.Add(time.Second) }
	if _, err := a.Authenticate(expiring); !errors.Is(err, ErrExpired) {
		t.Fatalf("an expired key: %v", err)
	}
}

func TestLimitsAndSubscriptions(t *testing.T) {
	st, ten, app := fixture(t)
	ctx := context.Background()
	key, plain, _ := st.CreateKey(ctx, store.APIKey{ApplicationID: app.ID, Name: "k"})
	must[store.Limit](t)(st.CreateLimit(ctx, store.Limit{Scope: store.ScopeKey, ScopeID: key.ID, Kind: store.RequestsPerMinute, Limit: 10}))
	must[store.Limit](t)(st.CreateLimit(ctx, store.Limit{Scope: store.ScopeApplication, ScopeID: app.ID, Kind: store.Concurrent, Limit: 2}))
	must[store.Limit](t)(st.CreateLimit(ctx, store.Limit{Scope: store.ScopeTenant, ScopeID: ten.ID, Kind: store.Spend, Limit: 5000000, Unit: store.UnitPicodollars, Period: store.PeriodMonth}))
	api := must[store.API](t)(st.CreateAPI(ctx, store.API{TenantID: ten.ID, Name: "chat", APIVersion: "v1"}))
	a, err := New(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := a.Authenticate(plain)
	got := a.Limits(p)
	if len(got) != 3 {
		t.Fatalf("limits %+v", got)
	}
	want := []struct {
		kind  limits.Kind
		scope limits.Scope
		name  string
	}{{limits.Requests, limits.ScopeKey, "key " + key.ID + " requests per minute"}, {limits.Concurrent, limits.ScopeApp, "application bot concurrent requests"},
		{limits.Budget, limits.ScopeTenant, "tenant acme monthly budget"}}
	for i, w := range want {
		if got[i].Kind != w.kind || got[i].Scope != w.scope || got[i].Name != w.name {
			t.Errorf("limit %d: %+v, want %+v", i, got[i], w)
		}
	}
	if got[2].Unit != limits.UnitMoney || got[2].Period != limits.Month {
		t.Errorf("budget %+v", got[2])
	}
	// A draft API's subscription does not count; once published and approved it does.
	if a.Subscribed(p, "chat") {
		t.Fatal("subscribed without a subscription")
	}
	api = must[store.API](t)(st.SetAPILifecycle(ctx, api.ID, store.Published, api.Version))
	must[store.Subscription](t)(st.CreateSubscription(ctx, store.Subscription{ApplicationID: app.ID, APIID: api.ID}))
	if err := a.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if !a.Subscribed(p, "chat") || !a.Subscribed(p, "chat@v1") || a.Subscribed(p, "other") {
		t.Fatal("an approved subscription to a published API")
	}
}

func TestToken(t *testing.T) {
	for _, tc := range []struct {
		h    http.Header
		want string
	}{
		{http.Header{"Authorization": {"Bearer pk_live_x"}}, "pk_live_x"},
		{http.Header{"Authorization": {"bearer  pk_live_y "}}, "pk_live_y"},
		{http.Header{"X-Api-Key": {"pk_live_z"}}, "pk_live_z"},
		{http.Header{"Authorization": {"Basic abc"}, "X-Api-Key": {"pk_live_w"}}, "pk_live_w"},
		{http.Header{}, ""},
	} {
		r := &http.Request{Header: tc.h}
		if got := Token(r); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.h, got, tc.want)
		}
	}
}

func TestRunFollowsTheStore(t *testing.T) {
	st, _, app := fixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := New(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	go a.Run(ctx, 20*time.Millisecond)
	_, plain, _ := st.CreateKey(context.Background(), store.APIKey{ApplicationID: app.ID, Name: "late"})
	deadline := time.Now().Add(2 * time.Second)
	for {
		if _, err := a.Authenticate(plain); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("a key created after the start is not known within 2s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
