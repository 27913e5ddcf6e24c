package limits

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pylon-gateway/pylon/internal/llm/usage"
)

// Kind is what a limit counts.
type Kind uint8

// Kinds of limit.
const (
	// Requests counts requests per Window (RPM with a one-minute window), with GCRA.
	Requests Kind = iota + 1
	// Tokens counts tokens per Window (TPM), with GCRA: Reserve takes
	// Request.Tokens, Settle moves the count to the actual tokens.
	Tokens
	// Concurrent counts requests in flight: Reserve takes a lease, Settle and
	// Refund give it back, and a lease nobody gives back expires after the
	// reservation's TTL.
	Concurrent
	// Budget counts spend per calendar Period, in Unit: Reserve holds the
	// estimate, Settle records the actual amount, Refund drops the hold.
	Budget
)

func (k Kind) String() string {
	switch k {
	case Requests:
		return "requests"
	case Tokens:
		return "tokens"
	case Concurrent:
		return "concurrent"
	case Budget:
		return "budget"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// code is the one-letter kind in keys and in the scripts' arguments.
func (k Kind) code() string { return [...]string{"?", "q", "t", "c", "b"}[min(int(k), 4)] }

// Scope is the level a limit applies to. The three levels of the product are
// predefined; other values (a model, a route) work the same way.
type Scope string

// Predefined scopes.
const (
	ScopeKey    Scope = "key"
	ScopeApp    Scope = "app"
	ScopeTenant Scope = "tenant"
)

// Period is a budget's accounting period: calendar-aligned in UTC, so that a
// budget resets at a known instant on every node (the top of the hour,
// midnight UTC, the first of the month), which is what invoices use.
type Period uint8

// Budget periods.
const (
	Hour Period = iota + 1
	Day
	Month
)

func (p Period) String() string {
	switch p {
	case Hour:
		return "hourly"
	case Day:
		return "daily"
	case Month:
		return "monthly"
	}
	return "period(" + strconv.Itoa(int(p)) + ")"
}

// Unit is what a budget counts.
type Unit uint8

// Budget units.
const (
	// UnitTokens counts tokens (Request.Tokens, Amount.Tokens).
	UnitTokens Unit = iota + 1
	// UnitMoney counts spend in picodollars (Request.Cost, Amount.Cost).
	UnitMoney
)

// DefaultWindow is the window of a Requests or Tokens limit that sets none.
const DefaultWindow = time.Minute

// maxScaled bounds Max × window-in-milliseconds of a rate limit: the Redis
// scripts compute in Lua numbers (float64), exact up to 2^53.
const maxScaled = 1 << 53

// Limit is one limit to enforce: what it counts, on whom, and how much.
// The counter of a limit is identified by (Request.Partition, Kind, Scope, ID,
// Window or Period and Unit): Name and Max can change without resetting it.
type Limit struct {
	// Name is what errors call the limit ("acme monthly budget"). Default:
	// "<scope> <id> <kind>".
	Name  string
	Scope Scope
	ID    string // who: the key, application or tenant id
	Kind  Kind
	// Max is the capacity: requests or tokens per Window, requests in flight,
	// or the budget per Period in Unit (picodollars for UnitMoney).
	Max int64
	// Window is the rate window of Requests and Tokens (default one minute;
	// a whole number of milliseconds, at most 24h). Max per Window is the
	// sustained rate and also the largest burst.
	Window time.Duration
	Period Period // Budget only
	Unit   Unit   // Budget only
}

// ErrInvalid is wrapped by every error about a malformed limit or request.
var ErrInvalid = errors.New("limits: invalid")

// Validate reports what is wrong with l.
func (l Limit) Validate() error {
	if l.ID == "" || l.Scope == "" {
		return fmt.Errorf("%w limit %q: scope and id are required", ErrInvalid, l.DisplayName())
	}
	if l.Max < 0 {
		return fmt.Errorf("%w limit %q: max %d is negative", ErrInvalid, l.DisplayName(), l.Max)
	}
	switch l.Kind {
	case Requests, Tokens:
		w := l.window()
		if w < time.Millisecond || w > 24*time.Hour || w%time.Millisecond != 0 {
			return fmt.Errorf("%w limit %q: window %v must be a whole number of milliseconds between 1ms and 24h", ErrInvalid, l.DisplayName(), w)
		}
		if l.Max > 0 && l.Max > maxScaled/w.Milliseconds() {
			return fmt.Errorf("%w limit %q: max %d per %v is too large (max × window in ms must stay below 2^53)", ErrInvalid, l.DisplayName(), l.Max, w)
		}
	case Concurrent:
	case Budget:
		if l.Period < Hour || l.Period > Month {
			return fmt.Errorf("%w limit %q: budget period is required (hour, day or month)", ErrInvalid, l.DisplayName())
		}
		if l.Unit != UnitTokens && l.Unit != UnitMoney {
			return fmt.Errorf("%w limit %q: budget unit is required (tokens or money)", ErrInvalid, l.DisplayName())
		}
	default:
		return fmt.Errorf("%w limit %q: unknown kind %d", ErrInvalid, l.DisplayName(), l.Kind)
	}
	return nil
}

// DisplayName is Name, or "<scope> <id> <kind>" when Name is empty.
func (l Limit) DisplayName() string {
	if l.Name != "" {
		return l.Name
	}
	k := l.Kind.String()
	if l.Kind == Budget {
		k = l.Period.String() + " budget"
	}
	return string(l.Scope) + " " + l.ID + " " + k
}

func (l Limit) window() time.Duration {
	if l.Window == 0 {
		return DefaultWindow
	}
	return l.Window
}

// param is the limit's kind-specific number passed to the scripts: the
// window in ms for rates, the period for budgets.
func (l Limit) param() int64 {
	switch l.Kind {
	case Requests, Tokens:
		return l.window().Milliseconds()
	case Budget:
		return int64(l.Period)
	}
	return 0
}

// key identifies the limit's counter within a partition:
// "<kind>:<scope>:<id>[:<window ms>|:<period><unit>]".
func (l Limit) key() string {
	var b strings.Builder
	b.Grow(8 + len(l.Scope) + len(l.ID) + 12)
	b.WriteString(l.Kind.code())
	b.WriteByte(':')
	escape(&b, string(l.Scope))
	b.WriteByte(':')
	escape(&b, l.ID)
	switch l.Kind {
	case Requests, Tokens:
		b.WriteByte(':')
		b.WriteString(strconv.FormatInt(l.param(), 10))
	case Budget:
		b.WriteByte(':')
		b.WriteString([...]string{"", "h", "d", "m"}[l.Period])
		if l.Unit == UnitMoney {
			b.WriteByte('$')
		} else {
			b.WriteByte('t')
		}
	}
	return b.String()
}

// escape writes s with '%', ':', '{' and '}' percent-encoded, so that ids can
// neither collide across fields nor break a Redis Cluster hash tag.
func escape(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '%', ':', '{', '}':
			b.WriteByte('%')
			b.WriteByte("0123456789ABCDEF"[c>>4])
			b.WriteByte("0123456789ABCDEF"[c&15])
		default:
			b.WriteByte(c)
		}
	}
}

// Request is one admission: every limit in Limits is checked and taken at
// once, or none is.
type Request struct {
	// Partition groups counters: normally the tenant id. The limits of one
	// call are checked atomically within one partition (in Redis, one hash
	// tag, so one Cluster slot), and a given limit must always be checked
	// under the same partition, or it becomes two counters.
	Partition string
	Limits    []Limit
	// Tokens is the token estimate taken from Tokens limits and token
	// budgets: the prompt count plus max_tokens.
	Tokens int64
	// Cost is the spend estimate taken from money budgets: the price of
	// Tokens (prompt at the input price, max_tokens at the output price).
	Cost usage.Money
	// TTL is how long the reservation may stay unsettled before its holds and
	// leases are released (Options.TTL when zero). Set it above the call's
	// deadline, or call Renew during long streams.
	TTL time.Duration
}

// validate checks the request and returns the taken amount per limit.
func (r *Request) validate() error {
	if len(r.Limits) == 0 {
		return fmt.Errorf("%w request: no limits", ErrInvalid)
	}
	if r.Tokens < 0 || r.Cost < 0 || r.TTL < 0 {
		return fmt.Errorf("%w request: negative estimate or ttl", ErrInvalid)
	}
	for i, l := range r.Limits {
		if err := l.Validate(); err != nil {
			return err
		}
		for _, o := range r.Limits[:i] {
			if o.Kind == l.Kind && o.Scope == l.Scope && o.ID == l.ID && o.param() == l.param() && o.Unit == l.Unit {
				return fmt.Errorf("%w request: limit %q is listed twice", ErrInvalid, l.DisplayName())
			}
		}
	}
	return nil
}

// cost is what l takes from one admission of r: one request, the token
// estimate, one slot, or the budget estimate in the budget's unit.
func (l Limit) cost(tokens int64, cost usage.Money) int64 {
	switch l.Kind {
	case Tokens:
		return tokens
	case Budget:
		if l.Unit == UnitMoney {
			return int64(cost)
		}
		return tokens
	}
	return 1
}

// holds reports whether l keeps per-reservation state that Settle, Refund or
// expiry must undo. A request made only of Requests limits needs no
// reservation.
func (l Limit) holds() bool { return l.Kind != Requests }

// Amount is what a call actually used, given to Settle.
type Amount struct {
	Tokens int64       // usage.Usage.Total
	Cost   usage.Money // usage.Cost of the usage
}
