package limits

import (
	"context"
	_ "embed"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// The scripts share common.lua, prepended at build time.
var (
	//go:embed scripts/common.lua
	luaCommon string
	//go:embed scripts/reserve.lua
	luaReserve string
	//go:embed scripts/finish.lua
	luaFinish string
	//go:embed scripts/renew.lua
	luaRenew string
	//go:embed scripts/peek.lua
	luaPeek string

	scriptReserve = redis.NewScript(luaCommon + luaReserve)
	scriptFinish  = redis.NewScript(luaCommon + luaFinish)
	scriptRenew   = redis.NewScript(luaCommon + luaRenew)
	scriptPeek    = redis.NewScript(luaCommon + luaPeek)
)

// RedisOptions configure a Redis limiter.
type RedisOptions struct {
	Options
	// Prefix starts every key (default "pylon:limits:").
	Prefix string
}

// DefaultPrefix is the key prefix of a Redis limiter that sets none.
const DefaultPrefix = "pylon:limits:"

// Redis enforces limits in Redis, shared by every node: each call is one
// Lua script (EVALSHA, falling back to EVAL when the server does not have
// it) that reads the server's clock (TIME), checks every limit of the call
// and writes all or nothing. All keys of a call carry the partition as a
// hash tag, so the script runs on Redis Cluster too. Every key has a TTL.
type Redis struct {
	c      redis.Scripter
	opts   Options
	prefix string
	ids    *idGen
	// nowMs, when set (tests only), replaces the server's clock.
	nowMs func() int64
}

// NewRedis returns a limiter that keeps its counters in c (a *redis.Client,
// *redis.ClusterClient or a redis.UniversalClient). The caller owns c.
func NewRedis(c redis.Scripter, o RedisOptions) *Redis {
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	return &Redis{c: c, opts: o.Options.withDefaults(), prefix: o.Prefix, ids: newIDGen()}
}

// tag is the hash tag of a partition: "{acme}". An empty partition would
// make "{}", which Redis does not treat as a tag, so it is "{%}" (escape
// never produces a lone '%').
func (r *Redis) base(partition string) string {
	var b strings.Builder
	b.Grow(len(r.prefix) + len(partition) + 4)
	b.WriteString(r.prefix)
	b.WriteByte('{')
	if partition == "" {
		b.WriteByte('%')
	} else {
		escape(&b, partition)
	}
	b.WriteString("}:")
	return b.String()
}

// keys lays out KEYS: the record, then per limit its key (and for budgets
// the hold-expiry zset).
func (r *Redis) keys(partition, id string, limits []Limit) []string {
	base := r.base(partition)
	keys := make([]string, 1, 1+2*len(limits))
	keys[0] = base + "r:" + id
	for _, l := range limits {
		k := base + l.key()
		keys = append(keys, k)
		if l.Kind == Budget {
			keys = append(keys, k+":x")
		}
	}
	return keys
}

func (r *Redis) now() string {
	if r.nowMs == nil {
		return ""
	}
	return strconv.FormatInt(r.nowMs(), 10)
}

func appendLimitArgs(args []any, limits []Limit) []any {
	for _, l := range limits {
		unit := "t"
		if l.Unit == UnitMoney {
			unit = "$"
		}
		args = append(args, l.Kind.code(), l.Max, l.param(), unit)
	}
	return args
}

// Reserve implements Limiter.
func (r *Redis) Reserve(ctx context.Context, req Request) (Decision, error) {
	if err := req.validate(); err != nil {
		return Decision{}, err
	}
	ttl := r.opts.ttlOf(&req).Milliseconds()
	var res Reservation
	rec := "0"
	id := "-"
	if needsReservation(&req) {
		id, rec = r.ids.next(), "1"
		res = Reservation{ID: id, partition: req.Partition, limits: req.Limits,
			tokens: req.Tokens, cost: req.Cost, ttl: time.Duration(ttl) * time.Millisecond}
	}
	args := make([]any, 0, 8+4*len(req.Limits))
	args = append(args, r.now(), id, ttl, r.opts.Idempotency.Milliseconds(),
		req.Tokens, int64(req.Cost), len(req.Limits), rec)
	args = appendLimitArgs(args, req.Limits)
	out, err := scriptReserve.Run(ctx, r.c, r.keys(req.Partition, id, req.Limits), args...).Int64Slice()
	if err != nil {
		return Decision{}, fmt.Errorf("limits: redis reserve: %w", err)
	}
	if len(out) != 1+4*len(req.Limits) {
		return Decision{}, fmt.Errorf("limits: redis reserve: %d values in reply, want %d", len(out), 1+4*len(req.Limits))
	}
	vs := make([]verdict, len(req.Limits))
	for i := range vs {
		o := out[1+4*i:]
		vs[i] = verdict{allowed: o[0] == 1, tooLarge: o[0] == -1, remaining: o[1], reset: o[2], retry: o[3]}
	}
	return decide(&req, vs, res), nil
}

// Settle implements Limiter.
func (r *Redis) Settle(ctx context.Context, res Reservation, actual Amount) error {
	return r.finish(ctx, res, "s", actual)
}

// Refund implements Limiter.
func (r *Redis) Refund(ctx context.Context, res Reservation) error {
	return r.finish(ctx, res, "f", Amount{})
}

func (r *Redis) finish(ctx context.Context, res Reservation, op string, actual Amount) error {
	if res.ID == "" {
		return nil
	}
	args := make([]any, 0, 10+4*len(res.limits))
	args = append(args, r.now(), res.ID, op, res.ttl.Milliseconds(), r.opts.Idempotency.Milliseconds(),
		res.tokens, int64(res.cost), max(actual.Tokens, 0), int64(max(actual.Cost, 0)), len(res.limits))
	args = appendLimitArgs(args, res.limits)
	n, err := scriptFinish.Run(ctx, r.c, r.keys(res.partition, res.ID, res.limits), args...).Int64()
	if err != nil {
		return fmt.Errorf("limits: redis %s: %w", map[string]string{"s": "settle", "f": "refund"}[op], err)
	}
	if n < 0 {
		return ErrUnknownReservation
	}
	return nil
}

// Renew implements Limiter.
func (r *Redis) Renew(ctx context.Context, res Reservation) error {
	if res.ID == "" {
		return nil
	}
	args := make([]any, 0, 5+len(res.limits))
	args = append(args, r.now(), res.ID, res.ttl.Milliseconds(), r.opts.Idempotency.Milliseconds(), len(res.limits))
	for _, l := range res.limits {
		args = append(args, l.Kind.code())
	}
	n, err := scriptRenew.Run(ctx, r.c, r.keys(res.partition, res.ID, res.limits), args...).Int64()
	if err != nil {
		return fmt.Errorf("limits: redis renew: %w", err)
	}
	if n < 0 {
		return ErrUnknownReservation
	}
	return nil
}

// Peek implements Limiter.
func (r *Redis) Peek(ctx context.Context, partition string, l Limit) (Snapshot, error) {
	if err := l.Validate(); err != nil {
		return Snapshot{}, err
	}
	keys := r.keys(partition, "-", []Limit{l})[1:]
	v, err := scriptPeek.Run(ctx, r.c, keys, r.now(), l.Kind.code(), l.Max, l.param()).Slice()
	if err != nil {
		return Snapshot{}, fmt.Errorf("limits: redis peek: %w", err)
	}
	if len(v) != 4 {
		return Snapshot{}, fmt.Errorf("limits: redis peek: %d values in reply, want 4", len(v))
	}
	var n [4]int64
	for i, x := range v {
		switch x := x.(type) {
		case int64:
			n[i] = x
		case string:
			if n[i], err = strconv.ParseInt(x, 10, 64); err != nil {
				return Snapshot{}, fmt.Errorf("limits: redis peek: %w", err)
			}
		}
	}
	return Snapshot{Used: n[0], Held: n[1], Remaining: n[2], Reset: time.Duration(n[3]) * time.Millisecond}, nil
}
