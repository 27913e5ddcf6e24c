package limits

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/pylon-gateway/pylon/internal/llm/usage"
)

// Error classes, wrapped by LimitError (all are 429s to a client).
var (
	ErrRateLimited     = errors.New("rate limit exceeded")
	ErrConcurrency     = errors.New("too many concurrent requests")
	ErrBudgetExhausted = errors.New("budget exhausted")
	// ErrUnknownReservation is returned by Settle, Refund and Renew when the
	// reservation's record is gone: it was never made, or it expired (TTL plus
	// the idempotency window) before the call finished. The usage of a Settle
	// that gets it is not recorded.
	ErrUnknownReservation = errors.New("limits: unknown or expired reservation")
)

// State is one limit's standing after a decision, for headers and errors.
type State struct {
	Limit     Limit
	Allowed   bool  // this limit admitted the request
	TooLarge  bool  // the request's share is larger than Max: it can never pass
	Remaining int64 // capacity left after this decision (not below 0)
	// Reset is when the limit is back to full capacity: for rates, when the
	// bucket has refilled; for budgets, the end of the period; 0 for
	// concurrency.
	Reset time.Duration
	// RetryAfter, when the limit refused, is the time until it would admit
	// the same request (for budgets whose capacity is held by in-flight
	// reservations, a hint of at most a second).
	RetryAfter time.Duration
}

// Decision is the answer to Reserve.
type Decision struct {
	Allowed bool
	// Reservation is what to Settle or Refund when Allowed (its ID is empty
	// when no limit holds anything, e.g. requests-per-minute only).
	Reservation Reservation
	// Refused is the index in States (and Request.Limits) of the limit that
	// refused, the one with the longest wait; -1 when Allowed.
	Refused int
	// RetryAfter is the time until every refusing limit would admit the
	// request; 0 when Allowed or when a limit can never admit it (TooLarge).
	RetryAfter time.Duration
	States     []State // one per Request.Limits, in order
}

// Err returns nil when the request was admitted, else a *LimitError naming
// the limit that refused.
func (d *Decision) Err() error {
	if d.Allowed || d.Refused < 0 || d.Refused >= len(d.States) {
		return nil
	}
	s := d.States[d.Refused]
	return &LimitError{Limit: s.Limit, RetryAfter: d.RetryAfter, TooLarge: s.TooLarge}
}

// LimitError is a refusal: which limit, and when to retry.
type LimitError struct {
	Limit      Limit
	RetryAfter time.Duration
	TooLarge   bool
}

func (e *LimitError) Error() string {
	l := e.Limit
	what := "exceeded"
	if l.Kind == Budget {
		what = "exhausted"
	}
	if e.TooLarge {
		return fmt.Sprintf("limits: request is larger than %s %q (%s)", l.Kind, l.DisplayName(), formatMax(l))
	}
	return fmt.Sprintf("limits: %s %q %s (%s); retry after %v", l.Kind, l.DisplayName(), what, formatMax(l), e.RetryAfter.Round(time.Millisecond))
}

// Unwrap returns the class: ErrRateLimited, ErrConcurrency or ErrBudgetExhausted.
func (e *LimitError) Unwrap() error {
	switch e.Limit.Kind {
	case Concurrent:
		return ErrConcurrency
	case Budget:
		return ErrBudgetExhausted
	}
	return ErrRateLimited
}

func formatMax(l Limit) string {
	switch l.Kind {
	case Requests:
		return strconv.FormatInt(l.Max, 10) + " requests per " + shortDuration(l.window())
	case Tokens:
		return strconv.FormatInt(l.Max, 10) + " tokens per " + shortDuration(l.window())
	case Concurrent:
		return strconv.FormatInt(l.Max, 10) + " in flight"
	}
	if l.Unit == UnitMoney {
		return "$" + usage.Money(l.Max).String() + " " + l.Period.String()
	}
	return strconv.FormatInt(l.Max, 10) + " tokens " + l.Period.String()
}

func shortDuration(d time.Duration) string {
	switch d {
	case time.Minute:
		return "minute"
	case time.Hour:
		return "hour"
	case time.Second:
		return "second"
	}
	return d.String()
}

// OpenAI's rate-limit header names.
const (
	HeaderLimitRequests     = "X-Ratelimit-Limit-Requests"
	HeaderRemainingRequests = "X-Ratelimit-Remaining-Requests"
	HeaderResetRequests     = "X-Ratelimit-Reset-Requests"
	HeaderLimitTokens       = "X-Ratelimit-Limit-Tokens"
	HeaderRemainingTokens   = "X-Ratelimit-Remaining-Tokens"
	HeaderResetTokens       = "X-Ratelimit-Reset-Tokens"
)

// SetHeaders writes OpenAI's x-ratelimit-* headers for the most restrictive
// Requests limit and the most restrictive Tokens limit (least remaining),
// and, when refused, retry-after (whole seconds, rounded up) and
// retry-after-ms. Resets are durations as OpenAI writes them ("1s", "6m0s",
// "20ms").
func (d *Decision) SetHeaders(h http.Header) {
	if s, ok := d.tightest(Requests); ok {
		h[HeaderLimitRequests] = []string{strconv.FormatInt(s.Limit.Max, 10)}
		h[HeaderRemainingRequests] = []string{strconv.FormatInt(s.Remaining, 10)}
		h[HeaderResetRequests] = []string{formatReset(s.Reset)}
	}
	if s, ok := d.tightest(Tokens); ok {
		h[HeaderLimitTokens] = []string{strconv.FormatInt(s.Limit.Max, 10)}
		h[HeaderRemainingTokens] = []string{strconv.FormatInt(s.Remaining, 10)}
		h[HeaderResetTokens] = []string{formatReset(s.Reset)}
	}
	if !d.Allowed && d.RetryAfter > 0 {
		secs := (d.RetryAfter + time.Second - 1) / time.Second
		h["Retry-After"] = []string{strconv.FormatInt(int64(secs), 10)}
		ms := (d.RetryAfter + time.Millisecond - 1) / time.Millisecond
		h["Retry-After-Ms"] = []string{strconv.FormatInt(int64(ms), 10)}
	}
}

func (d *Decision) tightest(k Kind) (State, bool) {
	var best State
	found := false
	for _, s := range d.States {
		if s.Limit.Kind != k {
			continue
		}
		if !found || s.Remaining < best.Remaining || (s.Remaining == best.Remaining && s.Reset > best.Reset) {
			best, found = s, true
		}
	}
	return best, found
}

// formatReset rounds up to the millisecond: a client that waits the
// advertised time must find the capacity back.
func formatReset(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	return ((d + time.Millisecond - 1) / time.Millisecond * time.Millisecond).String()
}

// Reservation is what an admitted request holds: pass it to Settle when the
// call ends with usage, to Refund when it fails without any, and to Renew to
// keep a long stream's holds and leases alive. It is a value, safe to copy;
// its zero value (and the reservation of a request that holds nothing) is
// accepted by Settle and Refund as a no-op.
type Reservation struct {
	ID        string
	partition string
	limits    []Limit // the Request's slice, not copied: do not modify it
	tokens    int64
	cost      usage.Money
	ttl       time.Duration
}

// Tokens and Cost are the estimates the reservation holds.
func (r Reservation) Tokens() int64     { return r.tokens }
func (r Reservation) Cost() usage.Money { return r.cost }

// verdict is one limit's evaluation, shared by both implementations (the
// Redis script returns the same four numbers).
type verdict struct {
	allowed, tooLarge bool
	remaining         int64
	reset, retry      int64 // ms
}

// decide assembles a Decision from per-limit verdicts.
func decide(req *Request, vs []verdict, res Reservation) Decision {
	d := Decision{Allowed: true, Refused: -1, States: make([]State, len(vs))}
	for i, v := range vs {
		d.States[i] = State{
			Limit: req.Limits[i], Allowed: v.allowed, TooLarge: v.tooLarge,
			Remaining: max(v.remaining, 0), Reset: time.Duration(max(v.reset, 0)) * time.Millisecond,
			RetryAfter: time.Duration(max(v.retry, 0)) * time.Millisecond,
		}
		if v.allowed {
			continue
		}
		d.Allowed = false
		switch {
		case d.Refused < 0:
			d.Refused = i
		case d.States[d.Refused].TooLarge:
		case v.tooLarge || d.States[i].RetryAfter > d.States[d.Refused].RetryAfter:
			d.Refused = i
		}
	}
	if d.Allowed {
		d.Reservation = res
		return d
	}
	if !d.States[d.Refused].TooLarge {
		for _, s := range d.States {
			d.RetryAfter = max(d.RetryAfter, s.RetryAfter)
		}
	}
	return d
}

// Snapshot is a limit's current standing, from Peek.
type Snapshot struct {
	// Used is the settled amount (budgets), the leases in flight
	// (concurrency) or the capacity in use now (rates).
	Used int64
	// Held is the sum of live reservation estimates (budgets only).
	Held      int64
	Remaining int64
	Reset     time.Duration
}
