// Package storetest is the behaviour suite of store.Store. Every implementation runs it:
//
//	storetest.Run(t, func(t *testing.T) store.Store { return openEmptyStore(t) })
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/pylon-gateway/pylon/internal/store"
)

// Run runs every test of the suite as a subtest; open must return an empty store, closed
// by its own cleanup.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Tenants", testTenants},
		{"Users", testUsers},
		{"UserTokens", testUserTokens},
		{"UserTokenLookup", testUserTokenLookup},
		{"Applications", testApplications},
		{"Keys", testKeys},
		{"KeyLookup", testKeyLookup},
		{"APIs", testAPIs},
		{"APILifecycle", testAPILifecycle},
		{"Subscriptions", testSubscriptions},
		{"ApprovalFlow", testApprovalFlow},
		{"Limits", testLimits},
		{"PromptAPIs", testPromptAPIs},
		{"Pagination", testPagination},
		{"UniqueConflicts", testUniqueConflicts},
		{"StaleVersion", testStaleVersion},
		{"Invalid", testInvalid},
		{"ConcurrentUpdates", testConcurrentUpdates},
		{"RevisionBumps", testRevisionBumps},
		{"FailedWriteLeavesNothing", testFailedWriteLeavesNothing},
		{"DeleteRestrictions", testDeleteRestrictions},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

var ctx = context.Background()

// must(f()).ok(t) is f's value, failing t on an error.
func must[T any](v T, err error) result[T] { return result[T]{v, err} }

type result[T any] struct {
	v   T
	err error
}

func (r result[T]) ok(t *testing.T) T {
	t.Helper()
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.v
}

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, err, class error) {
	t.Helper()
	if !errors.Is(err, class) {
		t.Fatalf("got error %v, want %v", err, class)
	}
}

// wantField checks that err is an ErrInvalid naming field.
func wantField(t *testing.T, err error, field string) {
	t.Helper()
	var fe *store.FieldError
	if !errors.As(err, &fe) || !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("got error %v, want invalid %s", err, field)
	}
	if fe.Field != field {
		t.Fatalf("got invalid %s (%v), want invalid %s", fe.Field, err, field)
	}
}

func checkMeta(t *testing.T, m store.Meta, version int64) {
	t.Helper()
	if m.ID == "" || m.CreatedAt.IsZero() || m.UpdatedAt.Before(m.CreatedAt) || m.Version != version {
		t.Fatalf("meta %+v, want an id, times and version %d", m, version)
	}
}

// fixture is a tenant with an application, the usual parent of what a test creates.
type fixture struct {
	tenant store.Tenant
	app    store.Application
}

func newFixture(t *testing.T, s store.Store, name string) fixture {
	t.Helper()
	tn := must(s.CreateTenant(ctx, store.Tenant{Name: name})).ok(t)
	app := must(s.CreateApplication(ctx, store.Application{TenantID: tn.ID, Name: "app"})).ok(t)
	return fixture{tn, app}
}

func publishedAPI(t *testing.T, s store.Store, tenantID, name string, approval bool) store.API {
	t.Helper()
	a := must(s.CreateAPI(ctx, store.API{TenantID: tenantID, Name: name, APIVersion: "v1", RequiresApproval: approval})).ok(t)
	return must(s.SetAPILifecycle(ctx, a.ID, store.Published, a.Version)).ok(t)
}

const schema = `{"type":"object","properties":{"topic":{"type":"string"},"words":{"type":"integer"}},"required":["topic"]}`

func testTenants(t *testing.T, s store.Store) {
	tn := must(s.CreateTenant(ctx, store.Tenant{Name: "acme", DisplayName: "Acme Corp", Meta: store.Meta{ID: "ignored", Version: 9}})).ok(t)
	checkMeta(t, tn.Meta, 1)
	if tn.ID == "ignored" {
		t.Fatal("the store must set the id")
	}
	got := must(s.GetTenant(ctx, tn.ID)).ok(t)
	if got != tn {
		t.Fatalf("get %+v, want %+v", got, tn)
	}
	got.DisplayName = "ACME"
	up := must(s.UpdateTenant(ctx, got, 1)).ok(t)
	checkMeta(t, up.Meta, 2)
	if up.DisplayName != "ACME" || !up.CreatedAt.Equal(tn.CreatedAt) {
		t.Fatalf("update %+v", up)
	}
	if again := must(s.GetTenant(ctx, tn.ID)).ok(t); again != up {
		t.Fatalf("get after update %+v, want %+v", again, up)
	}
	page := must(s.ListTenants(ctx, store.ListOptions{})).ok(t)
	if len(page.Items) != 1 || page.Items[0] != up || page.Next != "" {
		t.Fatalf("list %+v", page)
	}
	if err := s.DeleteTenant(ctx, tn.ID, 2); err != nil {
		t.Fatal(err)
	}
	_, err := s.GetTenant(ctx, tn.ID)
	wantErr(t, err, store.ErrNotFound)
	wantErr(t, s.DeleteTenant(ctx, tn.ID, 0), store.ErrNotFound)
	_, err = s.UpdateTenant(ctx, up, 2)
	wantErr(t, err, store.ErrNotFound)
}

func testUsers(t *testing.T, s store.Store) {
	f := newFixture(t, s, "acme")
	admin := must(s.CreateUser(ctx, store.User{Email: "Root@Example.com", Role: store.RoleAdmin})).ok(t)
	if admin.Email != "root@example.com" || admin.TenantID != "" {
		t.Fatalf("admin %+v", admin)
	}
	dev := must(s.CreateUser(ctx, store.User{TenantID: f.tenant.ID, Email: "ada@example.com", Name: "Ada", Role: store.RoleDeveloper})).ok(t)
	checkMeta(t, dev.Meta, 1)
	if got := must(s.GetUserByEmail(ctx, "ADA@example.com")).ok(t); got != dev {
		t.Fatalf("by email %+v, want %+v", got, dev)
	}
	dev.Role = store.RoleTenantAdmin
	up := must(s.UpdateUser(ctx, dev, 1)).ok(t)
	if up.Role != store.RoleTenantAdmin || up.Version != 2 {
		t.Fatalf("update %+v", up)
	}
	if got := must(s.GetUser(ctx, dev.ID)).ok(t); got != up {
		t.Fatalf("get %+v, want %+v", got, up)
	}
	inTenant := must(s.ListUsers(ctx, f.tenant.ID, store.ListOptions{})).ok(t)
	all := must(s.ListUsers(ctx, "", store.ListOptions{})).ok(t)
	if len(inTenant.Items) != 1 || len(all.Items) != 2 {
		t.Fatalf("list tenant %d, all %d", len(inTenant.Items), len(all.Items))
	}
	_, err := s.CreateUser(ctx, store.User{TenantID: "01900000-0000-7000-8000-000000000000", Email: "x@example.com", Role: store.RoleViewer})
	wantField(t, err, "tenant_id")
	noErr(t, s.DeleteUser(ctx, dev.ID, 2))
	_, err = s.GetUserByEmail(ctx, "ada@example.com")
	wantErr(t, err, store.ErrNotFound)
}

func testApplications(t *testing.T, s store.Store) {
	f := newFixture(t, s, "acme")
	checkMeta(t, f.app.Meta, 1)
	if got := must(s.GetApplication(ctx, f.app.ID)).ok(t); got != f.app {
		t.Fatalf("get %+v, want %+v", got, f.app)
	}
	a := f.app
	a.Description = "the web shop"
	up := must(s.UpdateApplication(ctx, a, 1)).ok(t)
	if up.Description != "the web shop" || up.Version != 2 {
		t.Fatalf("update %+v", up)
	}
	other := must(s.CreateTenant(ctx, store.Tenant{Name: "other"})).ok(t)
	a = up
	a.TenantID = other.ID
	_, err := s.UpdateApplication(ctx, a, 2)
	wantField(t, err, "tenant_id")
	page := must(s.ListApplications(ctx, other.ID, store.ListOptions{})).ok(t)
	if len(page.Items) != 0 {
		t.Fatalf("other tenant lists %d applications", len(page.Items))
	}
	noErr(t, s.DeleteApplication(ctx, f.app.ID, 2))
	_, err = s.GetApplication(ctx, f.app.ID)
	wantErr(t, err, store.ErrNotFound)
}

func testKeys(t *testing.T, s store.Store) {
	f := newFixture(t, s, "acme")
	exp := time.Now().Add(time.Hour).UTC().Truncate(time.Microsecond)
	k, plain, err := s.CreateKey(ctx, store.APIKey{ApplicationID: f.app.ID, Name: "ci", ExpiresAt: &exp,
		Scopes: store.Scopes{Models: []string{"gpt-4o-mini"}, APIs: []string{"payments"}}})
	if err != nil {
		t.Fatal(err)
	}
	checkMeta(t, k.Meta, 1)
	if len(plain) != store.KeyLen || plain[:len(k.Prefix)] != k.Prefix || k.Hash != store.HashKey(plain) || k.TenantID != f.tenant.ID {
		t.Fatalf("key %+v plaintext %q", k, plain)
	}
	got := must(s.GetKey(ctx, k.ID)).ok(t)
	if !equalKeys(got, k) {
		t.Fatalf("get %+v, want %+v", got, k)
	}
	got.Name = "deploy"
	got.Scopes = store.Scopes{Routes: []string{"chat"}}
	got.ExpiresAt = nil
	up := must(s.UpdateKey(ctx, got, 1)).ok(t)
	if up.Name != "deploy" || up.ExpiresAt != nil || len(up.Scopes.Routes) != 1 || up.Scopes.Models != nil || up.Hash != k.Hash {
		t.Fatalf("update %+v", up)
	}
	if again := must(s.GetKey(ctx, k.ID)).ok(t); !equalKeys(again, up) {
		t.Fatalf("get after update %+v, want %+v", again, up)
	}
	rev := must(s.RevokeKey(ctx, k.ID, 2)).ok(t)
	if rev.RevokedAt == nil || rev.Version != 3 {
		t.Fatalf("revoke %+v", rev)
	}
	_, err = s.RevokeKey(ctx, k.ID, 3)
	wantErr(t, err, store.ErrConflict)
	_, err = s.UpdateKey(ctx, rev, 3)
	wantErr(t, err, store.ErrConflict)
	page := must(s.ListKeys(ctx, f.app.ID, store.ListOptions{})).ok(t)
	if len(page.Items) != 1 || !equalKeys(page.Items[0], rev) {
		t.Fatalf("list %+v", page)
	}
	noErr(t, s.DeleteKey(ctx, k.ID, 3))
	_, err = s.GetKey(ctx, k.ID)
	wantErr(t, err, store.ErrNotFound)
}

func equalKeys(a, b store.APIKey) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb) && a.Hash == b.Hash
}

func testKeyLookup(t *testing.T, s store.Store) {
	f := newFixture(t, s, "acme")
	k, plain, err := s.CreateKey(ctx, store.APIKey{ApplicationID: f.app.ID})
	if err != nil {
		t.Fatal(err)
	}
	h, err := store.ParseKey(plain)
	if err != nil {
		t.Fatal(err)
	}
	got := must(s.LookupKey(ctx, h)).ok(t)
	if got.ID != k.ID || got.TenantID != f.tenant.ID || got.ApplicationID != f.app.ID {
		t.Fatalf("lookup %+v", got)
	}
	_, err = s.LookupKey(ctx, store.HashKey(plain+"x"))
	wantErr(t, err, store.ErrNotFound)

	must(s.RevokeKey(ctx, k.ID, 1)).ok(t)
	_, err = s.LookupKey(ctx, h)
	wantErr(t, err, store.ErrKeyRevoked)

	soon := time.Now().Add(150 * time.Millisecond)
	_, plain2, err := s.CreateKey(ctx, store.APIKey{ApplicationID: f.app.ID, ExpiresAt: &soon})
	if err != nil {
		t.Fatal(err)
	}
	h2 := store.HashKey(plain2)
	must(s.LookupKey(ctx, h2)).ok(t)
	time.Sleep(time.Until(soon) + 10*time.Millisecond)
	_, err = s.LookupKey(ctx, h2)
	wantErr(t, err, store.ErrKeyExpired)
}

func testAPIs(t *testing.T, s store.Store) {
	f := newFixture(t, s, "acme")
	a := must(s.CreateAPI(ctx, store.API{TenantID: f.tenant.ID, Name: "payments", APIVersion: "v1", Title: "Payments",
		Lifecycle: store.Retired})).ok(t)
	checkMeta(t, a.Meta, 1)
	if a.Lifecycle != store.Draft {
		t.Fatalf("a new API is %s, want draft", a.Lifecycle)
	}
	if got := must(s.GetAPI(ctx, a.ID)).ok(t); got != a {
		t.Fatalf("get %+v, want %+v", got, a)
	}
	a.APIVersion, a.RequiresApproval = "v1.1", true
	up := must(s.UpdateAPI(ctx, a, 1)).ok(t)
	if up.APIVersion != "v1.1" || !up.RequiresApproval {
		t.Fatalf("update %+v", up)
	}
	pub := must(s.SetAPILifecycle(ctx, a.ID, store.Published, 2)).ok(t)
	pub.APIVersion = "v2"
	_, err := s.UpdateAPI(ctx, pub, 3)
	wantErr(t, err, store.ErrConflict)
	pub.APIVersion, pub.Description = "v1.1", "now documented"
	pub = must(s.UpdateAPI(ctx, pub, 3)).ok(t)
	pub.Lifecycle = store.Retired
	_, err = s.UpdateAPI(ctx, pub, 4)
	wantField(t, err, "lifecycle")
	wantErr(t, s.DeleteAPI(ctx, a.ID, 4), store.ErrConflict) // published
	v2 := must(s.CreateAPI(ctx, store.API{TenantID: f.tenant.ID, Name: "payments", APIVersion: "v2"})).ok(t)
	page := must(s.ListAPIs(ctx, f.tenant.ID, store.ListOptions{})).ok(t)
	if len(page.Items) != 2 {
		t.Fatalf("list %d APIs, want 2", len(page.Items))
	}
	noErr(t, s.DeleteAPI(ctx, v2.ID, 1)) // draft
}

func testAPILifecycle(t *testing.T, s store.Store) {
	f := newFixture(t, s, "acme")
	moves := []struct {
		to   store.Lifecycle
		want error
	}{
		{store.Deprecated, store.ErrConflict}, // draft -> deprecated
		{store.Retired, store.ErrConflict},    // draft -> retired
		{store.Published, nil},
		{store.Draft, store.ErrConflict}, // no way back to draft
		{store.Retired, store.ErrConflict},
		{store.Deprecated, nil},
		{store.Published, nil}, // un-deprecate
		{store.Deprecated, nil},
		{store.Retired, nil},
		{store.Published, store.ErrConflict}, // retired is final
		{store.Deprecated, store.ErrConflict},
		{"archived", store.ErrInvalid},
	}
	a := must(s.CreateAPI(ctx, store.API{TenantID: f.tenant.ID, Name: "payments", APIVersion: "v1"})).ok(t)
	p := must(s.CreatePromptAPI(ctx, store.PromptAPI{TenantID: f.tenant.ID, Name: "summary", APIVersion: "v1", Model: "m",
		Template: "{{topic}}", InputSchema: json.RawMessage(schema)})).ok(t)
	for i, m := range moves {
		na, err := s.SetAPILifecycle(ctx, a.ID, m.to, a.Version)
		np, perr := s.SetPromptAPILifecycle(ctx, p.ID, m.to, p.Version)
		for _, e := range []error{err, perr} {
			if m.want == nil && e != nil || m.want != nil && !errors.Is(e, m.want) {
				t.Fatalf("move %d to %s: got %v, want %v", i, m.to, e, m.want)
			}
		}
		if err == nil {
			if na.Lifecycle != m.to || np.Lifecycle != m.to {
				t.Fatalf("move %d: api %s, prompt %s, want %s", i, na.Lifecycle, np.Lifecycle, m.to)
			}
			a, p = na, np
		}
	}
	noErr(t, s.DeleteAPI(ctx, a.ID, a.Version)) // retired
	noErr(t, s.DeletePromptAPI(ctx, p.ID, p.Version))
}

func testSubscriptions(t *testing.T, s store.Store) {
	f := newFixture(t, s, "acme")
	open := publishedAPI(t, s, f.tenant.ID, "weather", false)
	sub := must(s.CreateSubscription(ctx, store.Subscription{ApplicationID: f.app.ID, APIID: open.ID, State: store.SubRejected})).ok(t)
	checkMeta(t, sub.Meta, 1)
	if sub.State != store.SubApproved {
		t.Fatalf("subscription to an API without approval is %s, want approved", sub.State)
	}
	if got := must(s.GetSubscription(ctx, sub.ID)).ok(t); got != sub {
		t.Fatalf("get %+v, want %+v", got, sub)
	}
	draft := must(s.CreateAPI(ctx, store.API{TenantID: f.tenant.ID, Name: "draft", APIVersion: "v1"})).ok(t)
	_, err := s.CreateSubscription(ctx, store.Subscription{ApplicationID: f.app.ID, APIID: draft.ID})
	wantErr(t, err, store.ErrConflict)
	_, err = s.CreateSubscription(ctx, store.Subscription{ApplicationID: f.app.ID, APIID: "01900000-0000-7000-8000-000000000000"})
	wantField(t, err, "api_id")
	for _, flt := range []store.SubscriptionFilter{{ApplicationID: f.app.ID}, {APIID: open.ID}, {State: store.SubApproved}, {}} {
		page := must(s.ListSubscriptions(ctx, flt, store.ListOptions{})).ok(t)
		if len(page.Items) != 1 || page.Items[0] != sub {
			t.Fatalf("list %+v: %+v", flt, page)
		}
	}
	page := must(s.ListSubscriptions(ctx, store.SubscriptionFilter{State: store.SubPending}, store.ListOptions{})).ok(t)
	if len(page.Items) != 0 {
		t.Fatalf("pending: %+v", page)
	}
	wantErr(t, s.DeleteAPI(ctx, open.ID, 0), store.ErrConflict)
	noErr(t, s.DeleteSubscription(ctx, sub.ID, 1))
	_, err = s.GetSubscription(ctx, sub.ID)
	wantErr(t, err, store.ErrNotFound)
}

func testApprovalFlow(t *testing.T, s store.Store) {
	f := newFixture(t, s, "acme")
	api := publishedAPI(t, s, f.tenant.ID, "payments", true)
	newSub := func(app string) store.Subscription {
		a := must(s.CreateApplication(ctx, store.Application{TenantID: f.tenant.ID, Name: app})).ok(t)
		sub := must(s.CreateSubscription(ctx, store.Subscription{ApplicationID: a.ID, APIID: api.ID})).ok(t)
		if sub.State != store.SubPending {
			t.Fatalf("subscription to an API requiring approval is %s, want pending", sub.State)
		}
		return sub
	}
	paths := []struct {
		name  string
		moves []store.SubscriptionState
		want  []error
	}{
		{"approve then revoke", []store.SubscriptionState{store.SubApproved, store.SubPending, store.SubRejected, store.SubRevoked, store.SubApproved},
			[]error{nil, store.ErrConflict, store.ErrConflict, nil, store.ErrConflict}},
		{"reject is final", []store.SubscriptionState{store.SubRejected, store.SubApproved, store.SubPending, store.SubRevoked},
			[]error{nil, store.ErrConflict, store.ErrConflict, store.ErrConflict}},
		{"withdraw", []store.SubscriptionState{store.SubRevoked, store.SubApproved}, []error{nil, store.ErrConflict}},
		{"unknown state", []store.SubscriptionState{"maybe"}, []error{store.ErrInvalid}},
	}
	for i, p := range paths {
		sub := newSub("app-" + string(rune('a'+i)))
		for j, to := range p.moves {
			next, err := s.SetSubscriptionState(ctx, sub.ID, to, "because "+string(to), sub.Version)
			if p.want[j] == nil && err != nil || p.want[j] != nil && !errors.Is(err, p.want[j]) {
				t.Fatalf("%s: move %d to %s: got %v, want %v", p.name, j, to, err, p.want[j])
			}
			if err == nil {
				if next.State != to || next.Reason != "because "+string(to) || next.Version != sub.Version+1 {
					t.Fatalf("%s: move %d: %+v", p.name, j, next)
				}
				sub = next
			}
		}
	}
}

func testLimits(t *testing.T, s store.Store) {
	f := newFixture(t, s, "acme")
	k, _, err := s.CreateKey(ctx, store.APIKey{ApplicationID: f.app.ID})
	if err != nil {
		t.Fatal(err)
	}
	cases := []store.Limit{
		{Scope: store.ScopeKey, ScopeID: k.ID, Kind: store.RequestsPerMinute, Limit: 60},
		{Scope: store.ScopeApplication, ScopeID: f.app.ID, Kind: store.TokensPerMinute, Limit: 100000},
		{Scope: store.ScopeApplication, ScopeID: f.app.ID, Kind: store.Concurrent, Limit: 4},
		{Scope: store.ScopeTenant, ScopeID: f.tenant.ID, Kind: store.Spend, Unit: store.UnitPicodollars, Period: store.PeriodMonth, Limit: 500 * 1e12},
		{Scope: store.ScopeTenant, ScopeID: f.tenant.ID, Kind: store.Spend, Unit: store.UnitTokens, Period: store.PeriodDay, Limit: 1e7},
	}
	var made []store.Limit
	for _, c := range cases {
		l := must(s.CreateLimit(ctx, c)).ok(t)
		checkMeta(t, l.Meta, 1)
		c.Meta = l.Meta
		if l != c {
			t.Fatalf("create %+v, want %+v", l, c)
		}
		if got := must(s.GetLimit(ctx, l.ID)).ok(t); got != l {
			t.Fatalf("get %+v, want %+v", got, l)
		}
		made = append(made, l)
	}
	l := made[0]
	l.Limit = 120
	up := must(s.UpdateLimit(ctx, l, 1)).ok(t)
	if up.Limit != 120 || up.Version != 2 {
		t.Fatalf("update %+v", up)
	}
	l.Kind = store.Concurrent
	_, err = s.UpdateLimit(ctx, l, 2)
	wantField(t, err, "kind")
	if page := must(s.ListLimits(ctx, store.ScopeApplication, f.app.ID, store.ListOptions{})).ok(t); len(page.Items) != 2 {
		t.Fatalf("application limits: %+v", page)
	}
	if page := must(s.ListLimits(ctx, "", "", store.ListOptions{})).ok(t); len(page.Items) != 5 {
		t.Fatalf("all limits: %d", len(page.Items))
	}
	_, err = s.CreateLimit(ctx, store.Limit{Scope: store.ScopeKey, ScopeID: f.app.ID, Kind: store.Concurrent, Limit: 1})
	wantField(t, err, "scope_id") // an application id is not a key id
	noErr(t, s.DeleteLimit(ctx, made[1].ID, 1))
	// Deleting a key deletes its limits.
	noErr(t, s.DeleteKey(ctx, k.ID, 0))
	_, err = s.GetLimit(ctx, made[0].ID)
	wantErr(t, err, store.ErrNotFound)
}

func testPromptAPIs(t *testing.T, s store.Store) {
	f := newFixture(t, s, "acme")
	p := must(s.CreatePromptAPI(ctx, store.PromptAPI{TenantID: f.tenant.ID, Name: "summary", APIVersion: "v1", Model: "chat-default",
		Template: "Summarise {{ topic }} in {{words}} words.", InputSchema: json.RawMessage(schema)})).ok(t)
	checkMeta(t, p.Meta, 1)
	got := must(s.GetPromptAPI(ctx, p.ID)).ok(t)
	if string(got.InputSchema) != schema || got.Template != p.Template || got.Lifecycle != store.Draft {
		t.Fatalf("get %+v", got)
	}
	got.Template = "Summarise {{topic}}."
	up := must(s.UpdatePromptAPI(ctx, got, 1)).ok(t)
	if up.Template != "Summarise {{topic}}." {
		t.Fatalf("update %+v", up)
	}
	pub := must(s.SetPromptAPILifecycle(ctx, p.ID, store.Published, 2)).ok(t)
	pub.Model = "other"
	_, err := s.UpdatePromptAPI(ctx, pub, 3)
	wantErr(t, err, store.ErrConflict)
	pub.Model, pub.Description = up.Model, "documented"
	must(s.UpdatePromptAPI(ctx, pub, 3)).ok(t)
	_, err = s.CreatePromptAPI(ctx, store.PromptAPI{TenantID: f.tenant.ID, Name: "summary", APIVersion: "v2", Model: "m",
		Template: "{{nope}}", InputSchema: json.RawMessage(schema)})
	wantField(t, err, "template")
	v2 := must(s.CreatePromptAPI(ctx, store.PromptAPI{TenantID: f.tenant.ID, Name: "summary", APIVersion: "v2", Model: "m",
		Template: "{{topic}}", InputSchema: json.RawMessage(schema)})).ok(t)
	if page := must(s.ListPromptAPIs(ctx, f.tenant.ID, store.ListOptions{})).ok(t); len(page.Items) != 2 {
		t.Fatalf("list %d", len(page.Items))
	}
	wantErr(t, s.DeletePromptAPI(ctx, p.ID, 0), store.ErrConflict)
	noErr(t, s.DeletePromptAPI(ctx, v2.ID, 1))
}

func testPagination(t *testing.T, s store.Store) {
	const n = 23
	var ids []string
	for i := range n {
		tn := must(s.CreateTenant(ctx, store.Tenant{Name: "t" + string(rune('a'+i))})).ok(t)
		ids = append(ids, tn.ID)
	}
	var seen []string
	opt := store.ListOptions{Limit: 5}
	for pages := 0; ; pages++ {
		if pages > n {
			t.Fatal("pagination does not end")
		}
		page := must(s.ListTenants(ctx, opt)).ok(t)
		if len(page.Items) > 5 {
			t.Fatalf("page of %d, want at most 5", len(page.Items))
		}
		for _, it := range page.Items {
			seen = append(seen, it.ID)
		}
		if page.Next == "" {
			break
		}
		// A write between pages neither repeats nor skips items.
		if pages == 1 {
			noErr(t, s.DeleteTenant(ctx, ids[0], 0))
			ids = ids[1:]
			seen = seen[1:]
		}
		opt.Cursor = page.Next
	}
	if len(seen) != len(ids) {
		t.Fatalf("saw %d items, want %d", len(seen), len(ids))
	}
	for i := range ids {
		if seen[i] != ids[i] {
			t.Fatalf("item %d is %s, want %s (creation order)", i, seen[i], ids[i])
		}
	}
	exact := must(s.ListTenants(ctx, store.ListOptions{Limit: len(ids)})).ok(t)
	if len(exact.Items) != len(ids) || exact.Next != "" {
		t.Fatalf("a page that holds everything has next %q", exact.Next)
	}
	for _, c := range []struct {
		opt   store.ListOptions
		field string
	}{
		{store.ListOptions{Limit: -1}, "limit"},
		{store.ListOptions{Limit: store.MaxLimit + 1}, "limit"},
		{store.ListOptions{Cursor: "not a cursor!"}, "cursor"},
		{store.ListOptions{Cursor: store.EncodeCursor("x' OR 1=1 --")}, "cursor"},
	} {
		_, err := s.ListTenants(ctx, c.opt)
		wantField(t, err, c.field)
	}
}

func testUniqueConflicts(t *testing.T, s store.Store) {
	f := newFixture(t, s, "acme")
	other := must(s.CreateTenant(ctx, store.Tenant{Name: "other"})).ok(t)
	api := publishedAPI(t, s, f.tenant.ID, "payments", false)
	must(s.CreateSubscription(ctx, store.Subscription{ApplicationID: f.app.ID, APIID: api.ID})).ok(t)
	must(s.CreateUser(ctx, store.User{Email: "ada@example.com", Role: store.RoleAdmin})).ok(t)
	must(s.CreateLimit(ctx, store.Limit{Scope: store.ScopeTenant, ScopeID: f.tenant.ID, Kind: store.Concurrent, Limit: 3})).ok(t)
	must(s.CreatePromptAPI(ctx, store.PromptAPI{TenantID: f.tenant.ID, Name: "p", APIVersion: "v1", Model: "m", Template: "{{topic}}", InputSchema: json.RawMessage(schema)})).ok(t)
	cases := []struct {
		name string
		op   func() error
	}{
		{"tenant name", func() error { _, err := s.CreateTenant(ctx, store.Tenant{Name: "acme"}); return err }},
		{"user email any case", func() error {
			_, err := s.CreateUser(ctx, store.User{TenantID: other.ID, Email: "ADA@example.com", Role: store.RoleViewer})
			return err
		}},
		{"application name in tenant", func() error {
			_, err := s.CreateApplication(ctx, store.Application{TenantID: f.tenant.ID, Name: "app"})
			return err
		}},
		{"api name and version", func() error {
			_, err := s.CreateAPI(ctx, store.API{TenantID: f.tenant.ID, Name: "payments", APIVersion: "v1"})
			return err
		}},
		{"subscription", func() error {
			_, err := s.CreateSubscription(ctx, store.Subscription{ApplicationID: f.app.ID, APIID: api.ID})
			return err
		}},
		{"limit", func() error {
			_, err := s.CreateLimit(ctx, store.Limit{Scope: store.ScopeTenant, ScopeID: f.tenant.ID, Kind: store.Concurrent, Limit: 9})
			return err
		}},
		{"prompt api", func() error {
			_, err := s.CreatePromptAPI(ctx, store.PromptAPI{TenantID: f.tenant.ID, Name: "p", APIVersion: "v1", Model: "m", Template: "x", InputSchema: json.RawMessage(schema)})
			return err
		}},
		{"rename onto a taken name", func() error {
			o := other
			o.Name = "acme"
			_, err := s.UpdateTenant(ctx, o, 1)
			return err
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { wantErr(t, c.op(), store.ErrConflict) })
	}
	// The same names are free in another tenant.
	must(s.CreateApplication(ctx, store.Application{TenantID: other.ID, Name: "app"})).ok(t)
	must(s.CreateAPI(ctx, store.API{TenantID: other.ID, Name: "payments", APIVersion: "v1"})).ok(t)
}

func testStaleVersion(t *testing.T, s store.Store) {
	f := newFixture(t, s, "acme")
	tn := f.tenant
	tn.DisplayName = "one"
	v2 := must(s.UpdateTenant(ctx, tn, 1)).ok(t)
	tn.DisplayName = "two"
	for _, v := range []int64{0, 1, 3} {
		_, err := s.UpdateTenant(ctx, tn, v)
		wantErr(t, err, store.ErrConflict)
		wantErr(t, err, store.ErrStale)
	}
	if got := must(s.GetTenant(ctx, tn.ID)).ok(t); got != v2 {
		t.Fatalf("a stale update changed the tenant: %+v", got)
	}
	wantErr(t, s.DeleteApplication(ctx, f.app.ID, 7), store.ErrStale)
	must(s.GetApplication(ctx, f.app.ID)).ok(t)
	_, err := s.SetAPILifecycle(ctx, publishedAPI(t, s, tn.ID, "x", false).ID, store.Deprecated, 1)
	wantErr(t, err, store.ErrStale)
	// A conflict that is not about the version is not stale: the management API tells
	// 409 from 412 by it.
	_, err = s.CreateTenant(ctx, store.Tenant{Name: "acme"})
	wantErr(t, err, store.ErrConflict)
	if errors.Is(err, store.ErrStale) {
		t.Fatalf("a taken name is reported stale: %v", err)
	}
}

func testInvalid(t *testing.T, s store.Store) {
	f := newFixture(t, s, "acme")
	long := func(n int) string { return string(make([]byte, n)) }
	past := time.Now().Add(-time.Minute)
	big := `{"type":"object","properties":{"topic":{"description":"` + string(bytesOf('x', store.MaxInputSchema)) + `"}}}`
	cases := []struct {
		name  string
		field string
		op    func() error
	}{
		{"tenant name empty", "name", func() error { _, err := s.CreateTenant(ctx, store.Tenant{}); return err }},
		{"tenant name upper", "name", func() error { _, err := s.CreateTenant(ctx, store.Tenant{Name: "Acme"}); return err }},
		{"tenant name too long", "name", func() error { _, err := s.CreateTenant(ctx, store.Tenant{Name: string(bytesOf('a', 64))}); return err }},
		{"tenant display control", "display_name", func() error {
			_, err := s.CreateTenant(ctx, store.Tenant{Name: "x", DisplayName: "a\x00b"})
			return err
		}},
		{"user email", "email", func() error {
			_, err := s.CreateUser(ctx, store.User{Email: "Ada <ada@example.com>", Role: store.RoleAdmin})
			return err
		}},
		{"user role", "role", func() error {
			_, err := s.CreateUser(ctx, store.User{Email: "a@example.com", Role: "root"})
			return err
		}},
		{"developer without tenant", "tenant_id", func() error {
			_, err := s.CreateUser(ctx, store.User{Email: "a@example.com", Role: store.RoleDeveloper})
			return err
		}},
		{"application tenant missing", "tenant_id", func() error {
			_, err := s.CreateApplication(ctx, store.Application{TenantID: "01900000-0000-7000-8000-000000000000", Name: "x"})
			return err
		}},
		{"application description oversized", "description", func() error {
			_, err := s.CreateApplication(ctx, store.Application{TenantID: f.tenant.ID, Name: "x", Description: long(1 << 20)})
			return err
		}},
		{"key expiry in the past", "expires_at", func() error {
			_, _, err := s.CreateKey(ctx, store.APIKey{ApplicationID: f.app.ID, ExpiresAt: &past})
			return err
		}},
		{"key scope blank", "scopes.models[1]", func() error {
			_, _, err := s.CreateKey(ctx, store.APIKey{ApplicationID: f.app.ID, Scopes: store.Scopes{Models: []string{"a", ""}}})
			return err
		}},
		{"key scope duplicate", "scopes.apis[1]", func() error {
			_, _, err := s.CreateKey(ctx, store.APIKey{ApplicationID: f.app.ID, Scopes: store.Scopes{APIs: []string{"a", "a"}}})
			return err
		}},
		{"key application missing", "application_id", func() error {
			_, _, err := s.CreateKey(ctx, store.APIKey{ApplicationID: "01900000-0000-7000-8000-000000000000"})
			return err
		}},
		{"api version", "api_version", func() error {
			_, err := s.CreateAPI(ctx, store.API{TenantID: f.tenant.ID, Name: "x", APIVersion: "v 1"})
			return err
		}},
		{"limit kind", "kind", func() error {
			_, err := s.CreateLimit(ctx, store.Limit{Scope: store.ScopeTenant, ScopeID: f.tenant.ID, Kind: "per_hour", Limit: 1})
			return err
		}},
		{"limit zero", "limit", func() error {
			_, err := s.CreateLimit(ctx, store.Limit{Scope: store.ScopeTenant, ScopeID: f.tenant.ID, Kind: store.Concurrent})
			return err
		}},
		{"spend without period", "period", func() error {
			_, err := s.CreateLimit(ctx, store.Limit{Scope: store.ScopeTenant, ScopeID: f.tenant.ID, Kind: store.Spend, Unit: store.UnitTokens, Limit: 1})
			return err
		}},
		{"rate with unit", "unit", func() error {
			_, err := s.CreateLimit(ctx, store.Limit{Scope: store.ScopeTenant, ScopeID: f.tenant.ID, Kind: store.Concurrent, Unit: store.UnitTokens, Limit: 1})
			return err
		}},
		{"prompt schema not json", "input_schema", func() error {
			_, err := s.CreatePromptAPI(ctx, store.PromptAPI{TenantID: f.tenant.ID, Name: "p", APIVersion: "v1", Model: "m", Template: "x", InputSchema: json.RawMessage(`{"type":`)})
			return err
		}},
		{"prompt schema wrong type", "input_schema.type", func() error {
			_, err := s.CreatePromptAPI(ctx, store.PromptAPI{TenantID: f.tenant.ID, Name: "p", APIVersion: "v1", Model: "m", Template: "x", InputSchema: json.RawMessage(`{"type":"string"}`)})
			return err
		}},
		{"prompt schema oversized", "input_schema", func() error {
			_, err := s.CreatePromptAPI(ctx, store.PromptAPI{TenantID: f.tenant.ID, Name: "p", APIVersion: "v1", Model: "m", Template: "{{topic}}", InputSchema: json.RawMessage(big)})
			return err
		}},
		{"prompt template unclosed", "template", func() error {
			_, err := s.CreatePromptAPI(ctx, store.PromptAPI{TenantID: f.tenant.ID, Name: "p", APIVersion: "v1", Model: "m", Template: "{{topic", InputSchema: json.RawMessage(schema)})
			return err
		}},
		{"prompt model", "model", func() error {
			_, err := s.CreatePromptAPI(ctx, store.PromptAPI{TenantID: f.tenant.ID, Name: "p", APIVersion: "v1", Model: "a b", Template: "x", InputSchema: json.RawMessage(schema)})
			return err
		}},
		{"subscription reason oversized", "reason", func() error {
			_, err := s.SetSubscriptionState(ctx, "01900000-0000-7000-8000-000000000000", store.SubApproved, long(5000), 1)
			return err
		}},
	}
	rev := must(s.Revision(ctx)).ok(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { wantField(t, c.op(), c.field) })
	}
	if after := must(s.Revision(ctx)).ok(t); after != rev {
		t.Fatalf("invalid writes moved the revision from %d to %d", rev, after)
	}
}

func bytesOf(c byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = c
	}
	return b
}

func testConcurrentUpdates(t *testing.T, s store.Store) {
	f := newFixture(t, s, "acme")
	for round := range 5 {
		cur := must(s.GetApplication(ctx, f.app.ID)).ok(t)
		start := make(chan struct{})
		errs := make(chan error, 2)
		results := make(chan store.Application, 2)
		for i := range 2 {
			go func() {
				a := cur
				a.Description = "writer " + string(rune('0'+i))
				<-start
				up, err := s.UpdateApplication(ctx, a, cur.Version)
				errs <- err
				if err == nil {
					results <- up
				}
			}()
		}
		close(start)
		var wins, conflicts int
		for range 2 {
			switch err := <-errs; {
			case err == nil:
				wins++
			case errors.Is(err, store.ErrConflict):
				conflicts++
			default:
				t.Fatalf("round %d: unexpected error %v", round, err)
			}
		}
		if wins != 1 || conflicts != 1 {
			t.Fatalf("round %d: %d wins, %d conflicts; want one of each", round, wins, conflicts)
		}
		winner := <-results
		if got := must(s.GetApplication(ctx, f.app.ID)).ok(t); got != winner || got.Version != cur.Version+1 {
			t.Fatalf("round %d: stored %+v, want the winner %+v", round, got, winner)
		}
	}
	// Racing creates of one name: exactly one succeeds.
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			_, err := s.CreateTenant(ctx, store.Tenant{Name: "race"})
			errs <- err
		}()
	}
	wins := 0
	for range 4 {
		if err := <-errs; err == nil {
			wins++
		} else if !errors.Is(err, store.ErrConflict) {
			t.Fatalf("racing create: %v", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d racing creates of one name succeeded, want 1", wins)
	}
}

func testRevisionBumps(t *testing.T, s store.Store) {
	rev0 := must(s.Revision(ctx)).ok(t)
	step := func(what string, write func() error) {
		t.Helper()
		before := must(s.Revision(ctx)).ok(t)
		if err := write(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if after := must(s.Revision(ctx)).ok(t); after != before+1 {
			t.Fatalf("%s: revision %d -> %d, want +1", what, before, after)
		}
	}
	var tn store.Tenant
	var app store.Application
	var k store.APIKey
	var api store.API
	var sub store.Subscription
	var l store.Limit
	var p store.PromptAPI
	var err error
	step("create tenant", func() error { tn, err = s.CreateTenant(ctx, store.Tenant{Name: "acme"}); return err })
	step("update tenant", func() error { tn, err = s.UpdateTenant(ctx, tn, tn.Version); return err })
	step("create user", func() error {
		_, err = s.CreateUser(ctx, store.User{TenantID: tn.ID, Email: "a@example.com", Role: store.RoleViewer})
		return err
	})
	step("create application", func() error {
		app, err = s.CreateApplication(ctx, store.Application{TenantID: tn.ID, Name: "app"})
		return err
	})
	step("create key", func() error { k, _, err = s.CreateKey(ctx, store.APIKey{ApplicationID: app.ID}); return err })
	step("revoke key", func() error { k, err = s.RevokeKey(ctx, k.ID, k.Version); return err })
	step("create api", func() error {
		api, err = s.CreateAPI(ctx, store.API{TenantID: tn.ID, Name: "x", APIVersion: "v1"})
		return err
	})
	step("publish api", func() error { api, err = s.SetAPILifecycle(ctx, api.ID, store.Published, api.Version); return err })
	step("subscribe", func() error {
		sub, err = s.CreateSubscription(ctx, store.Subscription{ApplicationID: app.ID, APIID: api.ID})
		return err
	})
	step("revoke subscription", func() error {
		sub, err = s.SetSubscriptionState(ctx, sub.ID, store.SubRevoked, "", sub.Version)
		return err
	})
	step("create limit", func() error {
		l, err = s.CreateLimit(ctx, store.Limit{Scope: store.ScopeApplication, ScopeID: app.ID, Kind: store.Concurrent, Limit: 1})
		return err
	})
	step("create prompt api", func() error {
		p, err = s.CreatePromptAPI(ctx, store.PromptAPI{TenantID: tn.ID, Name: "p", APIVersion: "v1", Model: "m", Template: "x", InputSchema: json.RawMessage(schema)})
		return err
	})
	step("delete prompt api", func() error { return s.DeletePromptAPI(ctx, p.ID, p.Version) })
	step("delete subscription", func() error { return s.DeleteSubscription(ctx, sub.ID, sub.Version) })
	step("delete key", func() error { return s.DeleteKey(ctx, k.ID, k.Version) })
	step("delete application and its limit", func() error { return s.DeleteApplication(ctx, app.ID, 1) })

	changes, rev, err := s.Changes(ctx, rev0)
	if err != nil {
		t.Fatal(err)
	}
	if rev != rev0+16 {
		t.Fatalf("Changes reports revision %d, want %d", rev, rev0+16)
	}
	last := changes[len(changes)-2:]
	if last[0].Kind != "limit" || last[0].ID != l.ID || last[0].Op != store.OpDelete ||
		last[1].Kind != "application" || last[1].Op != store.OpDelete || last[0].Revision != rev || last[1].Revision != rev {
		t.Fatalf("last changes %+v", last)
	}
	if changes[0].Kind != "tenant" || changes[0].Op != store.OpCreate || changes[0].Revision != rev0+1 {
		t.Fatalf("first change %+v", changes[0])
	}
	if more, r, err := s.Changes(ctx, rev); err != nil || len(more) != 0 || r != rev {
		t.Fatalf("changes since now: %v %d %v", more, r, err)
	}
	// Reads and failed writes do not bump.
	must(s.ListTenants(ctx, store.ListOptions{})).ok(t)
	_, err = s.CreateTenant(ctx, store.Tenant{Name: "acme"})
	wantErr(t, err, store.ErrConflict)
	if got := must(s.Revision(ctx)).ok(t); got != rev {
		t.Fatalf("a read or a failed write moved the revision to %d", got)
	}
}

func testFailedWriteLeavesNothing(t *testing.T, s store.Store) {
	f := newFixture(t, s, "acme")
	lim := must(s.CreateLimit(ctx, store.Limit{Scope: store.ScopeApplication, ScopeID: f.app.ID, Kind: store.Concurrent, Limit: 2})).ok(t)
	if _, _, err := s.CreateKey(ctx, store.APIKey{ApplicationID: f.app.ID}); err != nil {
		t.Fatal(err)
	}
	rev := must(s.Revision(ctx)).ok(t)
	// The delete removes the application's limits first, then fails on the key that
	// still refers to the application: the limit must survive.
	wantErr(t, s.DeleteApplication(ctx, f.app.ID, 0), store.ErrConflict)
	if got := must(s.GetLimit(ctx, lim.ID)).ok(t); got != lim {
		t.Fatalf("limit after a failed delete: %+v", got)
	}
	must(s.GetApplication(ctx, f.app.ID)).ok(t)
	if got := must(s.Revision(ctx)).ok(t); got != rev {
		t.Fatalf("a failed write moved the revision %d -> %d", rev, got)
	}
	if ch, _, err := s.Changes(ctx, rev); err != nil || len(ch) != 0 {
		t.Fatalf("a failed write logged changes %v %v", ch, err)
	}
	// A failed create leaves no row either.
	_, err := s.CreateApplication(ctx, store.Application{TenantID: f.tenant.ID, Name: "app"})
	wantErr(t, err, store.ErrConflict)
	if page := must(s.ListApplications(ctx, "", store.ListOptions{})).ok(t); len(page.Items) != 1 {
		t.Fatalf("%d applications after a failed create", len(page.Items))
	}
}

func testDeleteRestrictions(t *testing.T, s store.Store) {
	f := newFixture(t, s, "acme")
	wantErr(t, s.DeleteTenant(ctx, f.tenant.ID, 0), store.ErrConflict)
	lim := must(s.CreateLimit(ctx, store.Limit{Scope: store.ScopeApplication, ScopeID: f.app.ID, Kind: store.Concurrent, Limit: 2})).ok(t)
	noErr(t, s.DeleteApplication(ctx, f.app.ID, 0))
	_, err := s.GetLimit(ctx, lim.ID)
	wantErr(t, err, store.ErrNotFound)
	noErr(t, s.DeleteTenant(ctx, f.tenant.ID, 0))
}

func testUserTokens(t *testing.T, s store.Store) {
	f := newFixture(t, s, "acme")
	u := must(s.CreateUser(ctx, store.User{TenantID: f.tenant.ID, Email: "ada@example.com", Role: store.RoleDeveloper})).ok(t)
	exp := time.Now().Add(time.Hour).UTC().Truncate(time.Microsecond)
	tok, plain, err := s.CreateUserToken(ctx, store.UserToken{UserID: u.ID, Name: "laptop", ExpiresAt: &exp, Meta: store.Meta{ID: "ignored"}})
	if err != nil {
		t.Fatal(err)
	}
	checkMeta(t, tok.Meta, 1)
	if len(plain) != store.UserTokenLen || plain[:len(tok.Prefix)] != tok.Prefix || tok.Prefix[:3] != store.UserTokenPrefix ||
		tok.Hash != store.HashKey(plain) || tok.UserID != u.ID || tok.Name != "laptop" || !tok.ExpiresAt.Equal(exp) {
		t.Fatalf("token %+v plaintext %q", tok, plain)
	}
	if h, err := store.ParseUserToken(plain); err != nil || h != tok.Hash {
		t.Fatalf("ParseUserToken: %v", err)
	}
	if _, err := store.ParseKey(plain); err == nil {
		t.Fatal("a user token parses as an API key")
	}
	got := must(s.GetUserToken(ctx, tok.ID)).ok(t)
	if !equalJSON(got, tok) || got.Hash != tok.Hash {
		t.Fatalf("get %+v, want %+v", got, tok)
	}
	second, _, err := s.CreateUserToken(ctx, store.UserToken{UserID: u.ID})
	noErr(t, err)
	other := must(s.CreateUser(ctx, store.User{TenantID: f.tenant.ID, Email: "bob@example.com", Role: store.RoleViewer})).ok(t)
	_, _, err = s.CreateUserToken(ctx, store.UserToken{UserID: other.ID})
	noErr(t, err)
	page := must(s.ListUserTokens(ctx, u.ID, store.ListOptions{Limit: 1})).ok(t)
	if len(page.Items) != 1 || page.Items[0].ID != tok.ID || page.Next == "" {
		t.Fatalf("first page %+v", page)
	}
	page = must(s.ListUserTokens(ctx, u.ID, store.ListOptions{Limit: 1, Cursor: page.Next})).ok(t)
	if len(page.Items) != 1 || page.Items[0].ID != second.ID || page.Next != "" {
		t.Fatalf("second page %+v", page)
	}
	if all := must(s.ListUserTokens(ctx, "", store.ListOptions{})).ok(t); len(all.Items) != 3 {
		t.Fatalf("all tokens: %d, want 3", len(all.Items))
	}

	_, _, err = s.CreateUserToken(ctx, store.UserToken{UserID: "01900000-0000-7000-8000-000000000000"})
	wantField(t, err, "user_id")
	_, _, err = s.CreateUserToken(ctx, store.UserToken{})
	wantField(t, err, "user_id")
	past := time.Now().Add(-time.Minute)
	_, _, err = s.CreateUserToken(ctx, store.UserToken{UserID: u.ID, ExpiresAt: &past})
	wantField(t, err, "expires_at")
	_, _, err = s.CreateUserToken(ctx, store.UserToken{UserID: u.ID, Name: "a\x00b"})
	wantField(t, err, "name")

	_, err = s.RevokeUserToken(ctx, tok.ID, 7)
	wantErr(t, err, store.ErrStale)
	rev := must(s.RevokeUserToken(ctx, tok.ID, 1)).ok(t)
	if rev.RevokedAt == nil || rev.Version != 2 {
		t.Fatalf("revoke %+v", rev)
	}
	_, err = s.RevokeUserToken(ctx, tok.ID, 2)
	wantErr(t, err, store.ErrConflict)
	if errors.Is(err, store.ErrStale) {
		t.Fatalf("revoking twice is reported stale: %v", err)
	}
	noErr(t, s.DeleteUserToken(ctx, second.ID, 1))
	_, err = s.GetUserToken(ctx, second.ID)
	wantErr(t, err, store.ErrNotFound)

	// Deleting a user deletes its tokens, and the revision moves once.
	before := must(s.Revision(ctx)).ok(t)
	noErr(t, s.DeleteUser(ctx, u.ID, u.Version))
	if after := must(s.Revision(ctx)).ok(t); after != before+1 {
		t.Fatalf("revision %d -> %d deleting a user with a token, want +1", before, after)
	}
	_, err = s.GetUserToken(ctx, tok.ID)
	wantErr(t, err, store.ErrNotFound)
	changes, _, err := s.Changes(ctx, before)
	noErr(t, err)
	if len(changes) != 2 || changes[0].Kind != "user_token" || changes[0].ID != tok.ID || changes[1].Kind != "user" {
		t.Fatalf("changes of deleting a user: %+v", changes)
	}
}

func equalJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func testUserTokenLookup(t *testing.T, s store.Store) {
	f := newFixture(t, s, "acme")
	u := must(s.CreateUser(ctx, store.User{TenantID: f.tenant.ID, Email: "ada@example.com", Role: store.RoleTenantAdmin})).ok(t)
	tok, plain, err := s.CreateUserToken(ctx, store.UserToken{UserID: u.ID})
	noErr(t, err)
	h, err := store.ParseUserToken(plain)
	noErr(t, err)
	gt, gu, err := s.LookupUserToken(ctx, h)
	noErr(t, err)
	if gt.ID != tok.ID || gu != u {
		t.Fatalf("lookup %+v %+v", gt, gu)
	}
	// The token carries the user's current role.
	u.Role = store.RoleViewer
	u = must(s.UpdateUser(ctx, u, u.Version)).ok(t)
	if _, gu, err = s.LookupUserToken(ctx, h); err != nil || gu.Role != store.RoleViewer {
		t.Fatalf("lookup after a role change: %+v %v", gu, err)
	}
	_, _, err = s.LookupUserToken(ctx, store.HashKey(plain+"x"))
	wantErr(t, err, store.ErrNotFound)
	// An API key's hash is no user token.
	_, keyPlain, err := s.CreateKey(ctx, store.APIKey{ApplicationID: f.app.ID})
	noErr(t, err)
	_, _, err = s.LookupUserToken(ctx, store.HashKey(keyPlain))
	wantErr(t, err, store.ErrNotFound)

	must(s.RevokeUserToken(ctx, tok.ID, 1)).ok(t)
	_, _, err = s.LookupUserToken(ctx, h)
	wantErr(t, err, store.ErrTokenRevoked)

	soon := time.Now().Add(150 * time.Millisecond)
	_, plain2, err := s.CreateUserToken(ctx, store.UserToken{UserID: u.ID, ExpiresAt: &soon})
	noErr(t, err)
	h2 := store.HashKey(plain2)
	if _, _, err := s.LookupUserToken(ctx, h2); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(soon) + 10*time.Millisecond)
	_, _, err = s.LookupUserToken(ctx, h2)
	wantErr(t, err, store.ErrTokenExpired)
}
