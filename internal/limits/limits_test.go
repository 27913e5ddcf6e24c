package limits

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pylon-gateway/pylon/internal/llm/usage"
)

var ctx = context.Background()

var (
	rpmKey    = Limit{Scope: ScopeKey, ID: "k1", Kind: Requests, Max: 3}
	tpmApp    = Limit{Scope: ScopeApp, ID: "a1", Kind: Tokens, Max: 1000}
	budTenant = Limit{Name: "acme monthly tokens", Scope: ScopeTenant, ID: "acme", Kind: Budget, Max: 1000, Period: Month, Unit: UnitTokens}
)

// TestRateWindow walks GCRA through admissions and refusals with a fake clock.
func TestRateWindow(t *testing.T) {
	type step struct {
		advance   time.Duration
		tokens    int64
		allowed   bool
		tooLarge  bool
		remaining int64
		reset     time.Duration
		retry     time.Duration
	}
	cases := []struct {
		name  string
		limit Limit
		steps []step
	}{
		{"3 rpm: burst then one per 20s", rpmKey, []step{
			{0, 0, true, false, 2, 20 * time.Second, 0},
			{0, 0, true, false, 1, 40 * time.Second, 0},
			{0, 0, true, false, 0, 60 * time.Second, 0},
			{0, 0, false, false, 0, 60 * time.Second, 20 * time.Second},
			{19 * time.Second, 0, false, false, 0, 41 * time.Second, time.Second},
			{time.Second, 0, true, false, 0, 60 * time.Second, 0},
			{2 * time.Minute, 0, true, false, 2, 20 * time.Second, 0},
		}},
		{"1000 tpm: estimates, refusal, too large", tpmApp, []step{
			{0, 600, true, false, 400, 36 * time.Second, 0},
			{0, 500, false, false, 400, 36 * time.Second, 6 * time.Second},
			{6 * time.Second, 500, true, false, 0, 60 * time.Second, 0},
			{0, 1001, false, true, 0, 60 * time.Second, 0},
			{30 * time.Second, 0, true, false, 500, 30 * time.Second, 0},
		}},
		{"odd rate is exact: 7 per minute", Limit{Scope: ScopeKey, ID: "k7", Kind: Requests, Max: 7}, []step{
			{0, 0, true, false, 6, 8572 * time.Millisecond, 0},
			{0, 0, true, false, 5, 17143 * time.Millisecond, 0},
			{0, 0, true, false, 4, 25715 * time.Millisecond, 0},
			{0, 0, true, false, 3, 34286 * time.Millisecond, 0},
			{0, 0, true, false, 2, 42858 * time.Millisecond, 0},
			{0, 0, true, false, 1, 51429 * time.Millisecond, 0},
			{0, 0, true, false, 0, 60 * time.Second, 0},
			{0, 0, false, false, 0, 60 * time.Second, 8572 * time.Millisecond},
		}},
		{"zero max refuses everything", Limit{Scope: ScopeKey, ID: "k0", Kind: Requests, Max: 0}, []step{
			{0, 0, false, true, 0, 0, 0},
		}},
	}
	forBoth(t, Options{}, func(t *testing.T, e env) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				for i, s := range c.steps {
					e.clock.Advance(s.advance)
					d := mustReserve(t, e.lim, Request{Partition: "p", Limits: []Limit{c.limit}, Tokens: s.tokens})
					st := d.States[0]
					if d.Allowed != s.allowed || st.TooLarge != s.tooLarge || st.Remaining != s.remaining || st.Reset != s.reset || d.RetryAfter != s.retry {
						t.Errorf("step %d: got allowed=%v tooLarge=%v remaining=%d reset=%v retry=%v; want %v %v %d %v %v",
							i, d.Allowed, st.TooLarge, st.Remaining, st.Reset, d.RetryAfter, s.allowed, s.tooLarge, s.remaining, s.reset, s.retry)
					}
					if d.Allowed {
						if err := e.lim.Settle(ctx, d.Reservation, Amount{Tokens: s.tokens}); err != nil {
							t.Fatalf("step %d: settle: %v", i, err)
						}
					}
				}
			})
		}
	})
}

// TestTokenSettle checks that settling moves a Tokens limit from the
// estimate to the actual in both directions, and that refund gives it back.
func TestTokenSettle(t *testing.T) {
	cases := []struct {
		name      string
		estimate  int64
		actual    int64 // -1: refund
		remaining int64 // after
	}{
		{"actual below estimate", 800, 300, 700},
		{"actual above estimate", 200, 900, 100},
		{"actual far above capacity leaves debt", 100, 2500, 0},
		{"refund", 900, -1, 1000},
		{"zero estimate, real usage", 0, 400, 600},
	}
	forBoth(t, Options{}, func(t *testing.T, e env) {
		for i, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				lim := tpmApp
				lim.ID = "settle" + string(rune('a'+i))
				d := mustReserve(t, e.lim, Request{Partition: "p", Limits: []Limit{lim}, Tokens: c.estimate})
				if !d.Allowed {
					t.Fatalf("refused: %v", d.Err())
				}
				var err error
				if c.actual < 0 {
					err = e.lim.Refund(ctx, d.Reservation)
				} else {
					err = e.lim.Settle(ctx, d.Reservation, Amount{Tokens: c.actual})
				}
				if err != nil {
					t.Fatal(err)
				}
				if s := mustPeek(t, e.lim, "p", lim); s.Remaining != c.remaining {
					t.Errorf("remaining %d, want %d", s.Remaining, c.remaining)
				}
			})
		}
		t.Run("debt blocks until drained", func(t *testing.T) {
			lim := tpmApp
			lim.ID = "debt"
			d := mustReserve(t, e.lim, Request{Partition: "p", Limits: []Limit{lim}, Tokens: 100})
			_ = e.lim.Settle(ctx, d.Reservation, Amount{Tokens: 2500}) // 1500 over capacity: 90s of debt
			d = mustReserve(t, e.lim, Request{Partition: "p", Limits: []Limit{lim}, Tokens: 0})
			if d.Allowed || d.RetryAfter != 90*time.Second {
				t.Fatalf("got allowed=%v retry=%v, want refused for 90s", d.Allowed, d.RetryAfter)
			}
		})
	})
}

// TestMultiLimitAtomic checks that one refusal takes nothing from the other
// limits of the call, and that the decision names the refusing limit.
func TestMultiLimitAtomic(t *testing.T) {
	rpm := Limit{Scope: ScopeKey, ID: "k1", Kind: Requests, Max: 2}
	tpm := Limit{Scope: ScopeApp, ID: "a1", Kind: Tokens, Max: 10000}
	conc := Limit{Scope: ScopeApp, ID: "a1", Kind: Concurrent, Max: 5}
	bud := budTenant
	limits := []Limit{rpm, tpm, conc, bud}
	type want struct {
		allowed bool
		refused int // index when refused
		class   error
		// standing afterwards
		rpmUsed, tpmUsed, inFlight, held int64
	}
	steps := []struct {
		tokens int64
		want   want
	}{
		{400, want{true, -1, nil, 1, 400, 1, 400}},
		{700, want{false, 3, ErrBudgetExhausted, 1, 400, 1, 400}}, // budget refuses: nothing taken
		{300, want{true, -1, nil, 2, 700, 2, 700}},
		{10, want{false, 0, ErrRateLimited, 2, 700, 2, 700}}, // rpm refuses: budget untouched
		{2000, want{false, 3, ErrBudgetExhausted, 2, 700, 2, 700}},
	}
	forBoth(t, Options{}, func(t *testing.T, e env) {
		for i, s := range steps {
			d := mustReserve(t, e.lim, Request{Partition: "acme", Limits: limits, Tokens: s.tokens})
			if d.Allowed != s.want.allowed || d.Refused != s.want.refused {
				t.Fatalf("step %d: allowed=%v refused=%d, want %v %d", i, d.Allowed, d.Refused, s.want.allowed, s.want.refused)
			}
			err := d.Err()
			if s.want.class != nil && !errors.Is(err, s.want.class) {
				t.Errorf("step %d: error %v is not %v", i, err, s.want.class)
			}
			if s.want.class == ErrBudgetExhausted && !strings.Contains(err.Error(), `"acme monthly tokens"`) {
				t.Errorf("step %d: error %q does not name the budget", i, err)
			}
			got := want{d.Allowed, d.Refused, s.want.class,
				mustPeek(t, e.lim, "acme", rpm).Used, mustPeek(t, e.lim, "acme", tpm).Used,
				mustPeek(t, e.lim, "acme", conc).Used, mustPeek(t, e.lim, "acme", bud).Held}
			if got != s.want {
				t.Errorf("step %d: standing %+v, want %+v", i, got, s.want)
			}
		}
	})
}

// TestBudgetArithmetic checks reserve, settle and refund sums, in tokens and
// in money above 2^53 picodollars (exact in Redis too).
func TestBudgetArithmetic(t *testing.T) {
	money := Limit{Scope: ScopeTenant, ID: "acme", Kind: Budget, Max: int64(20000 * usage.Dollar), Period: Day, Unit: UnitMoney}
	type op struct {
		op       string // reserve, settle, refund
		amount   int64  // estimate or actual
		allowed  bool
		used     int64
		held     int64
		remains  int64
		refIndex int // which reservation settle/refund uses
	}
	const big = int64(9876543210987653) // $9,876.543210987653: above 2^53, not a float64
	cases := []struct {
		name  string
		limit Limit
		ops   []op
	}{
		{"tokens", budTenant, []op{
			{"reserve", 100, true, 0, 100, 900, 0},
			{"reserve", 850, true, 0, 950, 50, 0},
			{"reserve", 60, false, 0, 950, 50, 0},
			{"settle", 70, true, 70, 850, 80, 0},
			{"refund", 0, true, 70, 0, 930, 1},
			{"reserve", 930, true, 70, 930, 0, 0},
			{"settle", 930, true, 1000, 0, 0, 2},
			{"reserve", 1, false, 1000, 0, 0, 0},
		}},
		{"money", money, []op{
			{"reserve", int64(10000 * usage.Dollar), true, 0, int64(10000 * usage.Dollar), int64(10000 * usage.Dollar), 0},
			{"settle", big + 1, true, big + 1, 0, int64(20000*usage.Dollar) - big - 1, 0},
			{"reserve", 7, true, big + 1, 7, int64(20000*usage.Dollar) - big - 8, 0},
			{"settle", 3, true, big + 4, 0, int64(20000*usage.Dollar) - big - 4, 1},
		}},
	}
	forBoth(t, Options{}, func(t *testing.T, e env) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				var res []Reservation
				for i, o := range c.ops {
					var err error
					switch o.op {
					case "reserve":
						d := mustReserve(t, e.lim, Request{Partition: "acme", Limits: []Limit{c.limit}, Tokens: o.amount, Cost: usage.Money(o.amount)})
						if d.Allowed != o.allowed {
							t.Fatalf("op %d: allowed=%v", i, d.Allowed)
						}
						if d.Allowed {
							res = append(res, d.Reservation)
						}
					case "settle":
						err = e.lim.Settle(ctx, res[o.refIndex], Amount{Tokens: o.amount, Cost: usage.Money(o.amount)})
					case "refund":
						err = e.lim.Refund(ctx, res[o.refIndex])
					}
					if err != nil {
						t.Fatalf("op %d: %v", i, err)
					}
					s := mustPeek(t, e.lim, "acme", c.limit)
					if s.Used != o.used || s.Held != o.held || (c.name == "tokens" && s.Remaining != o.remains) {
						t.Errorf("op %d (%s %d): used=%d held=%d remaining=%d, want %d %d %d", i, o.op, o.amount, s.Used, s.Held, s.Remaining, o.used, o.held, o.remains)
					}
				}
			})
		}
	})
}

// TestIdempotent checks that settle and refund apply once, whatever follows.
func TestIdempotent(t *testing.T) {
	tpm := tpmApp
	cases := []struct {
		name    string
		ops     []string
		used    int64 // budget used afterwards
		tpmUsed int64
	}{
		{"settle twice", []string{"settle", "settle"}, 40, 40},
		{"refund twice", []string{"refund", "refund"}, 0, 0},
		{"settle then refund", []string{"settle", "refund"}, 40, 40},
		{"refund then settle", []string{"refund", "settle"}, 0, 0},
		{"settle three times with refunds", []string{"settle", "refund", "settle", "refund"}, 40, 40},
	}
	forBoth(t, Options{}, func(t *testing.T, e env) {
		for i, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				bud, tp := budTenant, tpm
				bud.ID, tp.ID = "idem"+string(rune('a'+i)), "idem"+string(rune('a'+i))
				d := mustReserve(t, e.lim, Request{Partition: "acme", Limits: []Limit{bud, tp}, Tokens: 100})
				for _, op := range c.ops {
					var err error
					if op == "settle" {
						err = e.lim.Settle(ctx, d.Reservation, Amount{Tokens: 40})
					} else {
						err = e.lim.Refund(ctx, d.Reservation)
					}
					if err != nil {
						t.Fatal(err)
					}
				}
				s := mustPeek(t, e.lim, "acme", bud)
				if s.Used != c.used || s.Held != 0 {
					t.Errorf("budget used=%d held=%d, want %d 0", s.Used, s.Held, c.used)
				}
				if u := mustPeek(t, e.lim, "acme", tp).Used; u != c.tpmUsed {
					t.Errorf("tpm used %d, want %d", u, c.tpmUsed)
				}
			})
		}
	})
}

// TestReservationExpiry checks that an unsettled reservation stops holding
// the budget after its TTL, and that a late settle still records usage once.
func TestReservationExpiry(t *testing.T) {
	forBoth(t, Options{TTL: time.Minute, Idempotency: 5 * time.Minute}, func(t *testing.T, e env) {
		bud := budTenant
		d := mustReserve(t, e.lim, Request{Partition: "acme", Limits: []Limit{bud}, Tokens: 800})
		if d2 := mustReserve(t, e.lim, Request{Partition: "acme", Limits: []Limit{bud}, Tokens: 800}); d2.Allowed {
			t.Fatal("second 800 admitted while the first is held")
		}
		e.clock.Advance(59 * time.Second)
		if s := mustPeek(t, e.lim, "acme", bud); s.Held != 800 {
			t.Fatalf("held %d before the ttl, want 800", s.Held)
		}
		e.clock.Advance(time.Second)
		if s := mustPeek(t, e.lim, "acme", bud); s.Held != 0 || s.Remaining != 1000 {
			t.Fatalf("after the ttl: held %d remaining %d, want 0 1000", s.Held, s.Remaining)
		}
		d2 := mustReserve(t, e.lim, Request{Partition: "acme", Limits: []Limit{bud}, Tokens: 800})
		if !d2.Allowed {
			t.Fatal("budget did not recover after the ttl")
		}
		// The first call finishes late: its usage is recorded, once.
		for range 2 {
			if err := e.lim.Settle(ctx, d.Reservation, Amount{Tokens: 300}); err != nil {
				t.Fatal(err)
			}
		}
		if s := mustPeek(t, e.lim, "acme", bud); s.Used != 300 || s.Held != 800 {
			t.Fatalf("after late settle: used %d held %d, want 300 800", s.Used, s.Held)
		}
		_ = e.lim.Refund(ctx, d2.Reservation)
	})
	// Past TTL + idempotency the record is gone (Local: fake clock; Redis: real time).
	t.Run("record gone/local", func(t *testing.T) {
		clock := newFakeClock()
		l := localBackend().make(t, clock, Options{TTL: time.Minute, Idempotency: time.Minute})
		d := mustReserve(t, l, Request{Partition: "acme", Limits: []Limit{budTenant}, Tokens: 10})
		clock.Advance(2 * time.Minute)
		if err := l.Settle(ctx, d.Reservation, Amount{Tokens: 5}); !errors.Is(err, ErrUnknownReservation) {
			t.Fatalf("settle after record expiry: %v, want ErrUnknownReservation", err)
		}
	})
	t.Run("record gone/redis", func(t *testing.T) {
		l := redisBackend().make(t, nil, Options{TTL: 100 * time.Millisecond, Idempotency: 100 * time.Millisecond})
		d := mustReserve(t, l, Request{Partition: "acme", Limits: []Limit{budTenant}, Tokens: 10})
		time.Sleep(300 * time.Millisecond)
		if err := l.Settle(ctx, d.Reservation, Amount{Tokens: 5}); !errors.Is(err, ErrUnknownReservation) {
			t.Fatalf("settle after record expiry: %v, want ErrUnknownReservation", err)
		}
	})
}

// TestConcurrencyLeases checks acquire, release, expiry and renewal of leases.
func TestConcurrencyLeases(t *testing.T) {
	conc := Limit{Scope: ScopeKey, ID: "k1", Kind: Concurrent, Max: 2}
	forBoth(t, Options{TTL: time.Minute}, func(t *testing.T, e env) {
		req := Request{Partition: "acme", Limits: []Limit{conc}}
		a := mustReserve(t, e.lim, req)
		e.clock.Advance(10 * time.Second)
		b := mustReserve(t, e.lim, req)
		if !a.Allowed || !b.Allowed || b.States[0].Remaining != 0 {
			t.Fatalf("first two: %v %v remaining %d", a.Allowed, b.Allowed, b.States[0].Remaining)
		}
		c := mustReserve(t, e.lim, req)
		if c.Allowed || !errors.Is(c.Err(), ErrConcurrency) || c.RetryAfter != time.Second {
			t.Fatalf("third: allowed=%v err=%v retry=%v", c.Allowed, c.Err(), c.RetryAfter)
		}
		if err := e.lim.Settle(ctx, a.Reservation, Amount{}); err != nil {
			t.Fatal(err)
		}
		c = mustReserve(t, e.lim, req)
		if !c.Allowed {
			t.Fatal("slot not released by settle")
		}
		// b renews at +40s, so it outlives c (taken at +10s) by 30s.
		e.clock.Advance(30 * time.Second)
		if err := e.lim.Renew(ctx, b.Reservation); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(31 * time.Second) // c (+10s) has expired, b was renewed at +40s
		if s := mustPeek(t, e.lim, "acme", conc); s.Used != 1 {
			t.Fatalf("live leases %d, want 1 (c expired, b renewed)", s.Used)
		}
		e.clock.Advance(30 * time.Second)
		if s := mustPeek(t, e.lim, "acme", conc); s.Used != 0 || s.Remaining != 2 {
			t.Fatalf("after every ttl: used %d remaining %d", s.Used, s.Remaining)
		}
		// A late release of an expired lease is harmless.
		if err := e.lim.Refund(ctx, b.Reservation); err != nil {
			t.Fatal(err)
		}
	})
}

// TestBudgetPeriods checks calendar periods in UTC, including the Lua
// calendar of the Redis scripts against Go's.
func TestBudgetPeriods(t *testing.T) {
	instants := []string{
		"2026-01-31T23:59:59.999Z", "2026-02-01T00:00:00Z", "2024-02-29T12:00:00Z", "2100-02-28T23:00:00Z",
		"2026-12-31T23:30:00Z", "2000-02-29T00:00:00Z", "1999-12-31T23:59:59Z", "2026-07-15T08:00:00Z",
	}
	forBoth(t, Options{}, func(t *testing.T, e env) {
		for _, p := range []Period{Hour, Day, Month} {
			for _, s := range instants {
				at, _ := time.Parse(time.RFC3339Nano, s)
				e.clock.Set(at)
				lim := Limit{Scope: ScopeTenant, ID: "t", Kind: Budget, Max: 10, Period: p, Unit: UnitTokens}
				_, end := periodOf(p, at.UnixMilli())
				if got := mustPeek(t, e.lim, "acme", lim).Reset; got != time.Duration(end-at.UnixMilli())*time.Millisecond {
					t.Errorf("%v at %s: reset %v, want %v", p, s, got, time.UnixMilli(end).UTC())
				}
			}
		}
		// Spend rolls over at the month boundary; a hold made before it
		// carries over and settles into the new month.
		at, _ := time.Parse(time.RFC3339, "2026-01-31T23:59:00Z")
		e.clock.Set(at)
		bud := budTenant
		bud.ID = "rollover"
		d1 := mustReserve(t, e.lim, Request{Partition: "acme", Limits: []Limit{bud}, Tokens: 600})
		_ = e.lim.Settle(ctx, d1.Reservation, Amount{Tokens: 600})
		d2 := mustReserve(t, e.lim, Request{Partition: "acme", Limits: []Limit{bud}, Tokens: 300})
		if d := mustReserve(t, e.lim, Request{Partition: "acme", Limits: []Limit{bud}, Tokens: 500}); d.Allowed || d.RetryAfter != time.Minute {
			t.Fatalf("january: allowed=%v retry=%v, want refused until february (1m)", d.Allowed, d.RetryAfter)
		}
		e.clock.Advance(2 * time.Minute)
		if s := mustPeek(t, e.lim, "acme", bud); s.Used != 0 || s.Held != 300 {
			t.Fatalf("february: used %d held %d, want 0 300", s.Used, s.Held)
		}
		_ = e.lim.Settle(ctx, d2.Reservation, Amount{Tokens: 250})
		if s := mustPeek(t, e.lim, "acme", bud); s.Used != 250 || s.Held != 0 {
			t.Fatalf("february after settle: used %d held %d, want 250 0", s.Used, s.Held)
		}
	})
}

// TestHeldRetryHint checks retry-after when only in-flight holds block.
func TestHeldRetryHint(t *testing.T) {
	forBoth(t, Options{}, func(t *testing.T, e env) {
		mustReserve(t, e.lim, Request{Partition: "acme", Limits: []Limit{budTenant}, Tokens: 900})
		d := mustReserve(t, e.lim, Request{Partition: "acme", Limits: []Limit{budTenant}, Tokens: 200})
		if d.Allowed || d.RetryAfter != time.Second {
			t.Fatalf("allowed=%v retry=%v, want a 1s hint", d.Allowed, d.RetryAfter)
		}
	})
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name string
		req  Request
	}{
		{"no limits", Request{}},
		{"no id", Request{Limits: []Limit{{Scope: ScopeKey, Kind: Requests, Max: 1}}}},
		{"bad window", Request{Limits: []Limit{{Scope: ScopeKey, ID: "k", Kind: Requests, Max: 1, Window: 1500 * time.Microsecond}}}},
		{"too large", Request{Limits: []Limit{{Scope: ScopeKey, ID: "k", Kind: Tokens, Max: 1 << 40, Window: time.Hour}}}},
		{"budget without period", Request{Limits: []Limit{{Scope: ScopeKey, ID: "k", Kind: Budget, Max: 1, Unit: UnitTokens}}}},
		{"budget without unit", Request{Limits: []Limit{{Scope: ScopeKey, ID: "k", Kind: Budget, Max: 1, Period: Day}}}},
		{"duplicate", Request{Limits: []Limit{rpmKey, rpmKey}}},
		{"negative estimate", Request{Limits: []Limit{rpmKey}, Tokens: -1}},
	}
	for _, b := range []backend{localBackend(), redisBackend()} {
		t.Run(b.name, func(t *testing.T) {
			l := b.make(t, nil, Options{})
			for _, c := range cases {
				if _, err := l.Reserve(ctx, c.req); !errors.Is(err, ErrInvalid) {
					t.Errorf("%s: error %v, want ErrInvalid", c.name, err)
				}
			}
		})
	}
}

func TestHeaders(t *testing.T) {
	rpm2 := Limit{Scope: ScopeApp, ID: "a", Kind: Requests, Max: 100}
	d := decide(&Request{Limits: []Limit{rpmKey, rpm2, tpmApp, budTenant}}, []verdict{
		{allowed: true, remaining: 2, reset: 20000},
		{allowed: true, remaining: 99, reset: 600},
		{allowed: false, remaining: 400, reset: 36000, retry: 6001},
		{allowed: true, remaining: 5, reset: 3600000},
	}, Reservation{})
	h := http.Header{}
	d.SetHeaders(h)
	want := map[string]string{
		"X-Ratelimit-Limit-Requests": "3", "X-Ratelimit-Remaining-Requests": "2", "X-Ratelimit-Reset-Requests": "20s",
		"X-Ratelimit-Limit-Tokens": "1000", "X-Ratelimit-Remaining-Tokens": "400", "X-Ratelimit-Reset-Tokens": "36s",
		"Retry-After": "7", "Retry-After-Ms": "6001",
	}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	if len(h) != len(want) {
		t.Errorf("headers %v", h)
	}
	if err := d.Err(); !errors.Is(err, ErrRateLimited) || !strings.Contains(err.Error(), "app a1 tokens") {
		t.Errorf("error %v", err)
	}
}
