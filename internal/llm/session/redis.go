package session

import (
	"context"
	_ "embed"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
)

// The scripts share common.lua, prepended at build time.
var (
	//go:embed scripts/common.lua
	luaCommon string
	//go:embed scripts/append.lua
	luaAppend string
	//go:embed scripts/load.lua
	luaLoad string
	//go:embed scripts/reset.lua
	luaReset string
	//go:embed scripts/summary.lua
	luaSummary string
	//go:embed scripts/delete.lua
	luaDelete string
	//go:embed scripts/list.lua
	luaList string

	scriptAppend  = redis.NewScript(luaCommon + luaAppend)
	scriptLoad    = redis.NewScript(luaCommon + luaLoad)
	scriptReset   = redis.NewScript(luaCommon + luaReset)
	scriptSummary = redis.NewScript(luaCommon + luaSummary)
	scriptDelete  = redis.NewScript(luaCommon + luaDelete)
	scriptList    = redis.NewScript(luaCommon + luaList)
)

// RedisOptions configure a Redis store.
type RedisOptions struct {
	Options
	// Prefix starts every key (default "pylon:session:").
	Prefix string
}

// DefaultPrefix is the key prefix of a Redis store that sets none.
const DefaultPrefix = "pylon:session:"

// Redis keeps sessions in Redis, shared by every node: any node continues
// any session. Each operation is one Lua script (EVALSHA, falling back to
// EVAL) over the session's keys, which all carry the scope as a hash tag
// (one Cluster slot per scope). Layout, for prefix P, scope S (escaped) and
// session id I:
//
//	P{S}:m:I   HASH  c created ms, u updated ms, a accessed ms, v version,
//	                 h head version, t turns, n messages, k message tokens,
//	                 st summary text, sn messages it replaced, sk its tokens
//	P{S}:l:I   LIST  the messages, JSON of openai.Message, oldest first
//	P{S}:w:I   LIST  one weight per message: tokens*2 + 1 for a user message
//	P{S}:idx   ZSET  session id -> last access ms (listing)
//
// Every access restarts the TTL of the session's keys (PEXPIRE) and its
// index score; the index's expired entries are dropped by score as it is
// written, and the index key itself expires a TTL after the scope's last
// access.
type Redis struct {
	c      redis.Cmdable
	opts   Options
	prefix string
}

var _ Store = (*Redis)(nil)

// NewRedis returns a store over c (a *redis.Client, *redis.ClusterClient or
// any redis.UniversalClient). The caller owns c.
func NewRedis(c redis.Cmdable, o RedisOptions) *Redis {
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	return &Redis{c: c, opts: o.Options.withDefaults(), prefix: o.Prefix}
}

// base is the key prefix of a scope: P{S}:. An empty scope is refused
// earlier; escape keeps '{' and '}' (and ':', '%') out of the tag, so that
// no scope can reach another's keys.
func (r *Redis) base(scope string) string {
	var b strings.Builder
	b.Grow(len(r.prefix) + len(scope) + 4)
	b.WriteString(r.prefix)
	b.WriteByte('{')
	escape(&b, scope)
	b.WriteString("}:")
	return b.String()
}

// keys are the KEYS of a session script (see common.lua).
func (r *Redis) keys(scope, id string) []string {
	base := r.base(scope)
	return []string{base + "m:" + id, base + "l:" + id, base + "w:" + id, base + "idx"}
}

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

func (r *Redis) ttlMs() int64 { return r.opts.TTL.Milliseconds() }

// Load implements Store.
func (r *Redis) Load(ctx context.Context, scope, id string) ([]openai.Message, Session, error) {
	if err := check(scope, id); err != nil {
		return nil, Session{}, err
	}
	v, err := scriptLoad.Run(ctx, r.c, r.keys(scope, id), r.ttlMs(), id, "1").Slice()
	if err != nil {
		return nil, Session{}, fmt.Errorf("session: redis load: %w", err)
	}
	s, err := r.reply("load", scope, id, v)
	if err != nil {
		return nil, Session{}, err
	}
	raw, _ := v[2].([]any)
	msgs := make([]openai.Message, len(raw))
	for i, x := range raw {
		str, _ := x.(string)
		if err := decodeMessage([]byte(str), &msgs[i]); err != nil {
			return nil, Session{}, err
		}
	}
	return msgs, s, nil
}

// Stat implements Store.
func (r *Redis) Stat(ctx context.Context, scope, id string) (Session, error) {
	if err := check(scope, id); err != nil {
		return Session{}, err
	}
	v, err := scriptLoad.Run(ctx, r.c, r.keys(scope, id), r.ttlMs(), id, "0").Slice()
	if err != nil {
		return Session{}, fmt.Errorf("session: redis stat: %w", err)
	}
	return r.reply("stat", scope, id, v)
}

// Append implements Store.
func (r *Redis) Append(ctx context.Context, scope, id string, expectedVersion int64, msgs ...openai.Message) (Session, error) {
	if err := check(scope, id); err != nil {
		return Session{}, err
	}
	if len(msgs) == 0 {
		return Session{}, ErrEmpty
	}
	enc, err := encodeAll(r.opts.Estimator, r.opts.Model, msgs)
	if err != nil {
		return Session{}, err
	}
	var tokens, users int
	args := make([]any, 7, 7+2*len(enc))
	for i := range enc {
		args = append(args, enc[i].raw)
	}
	for i := range enc {
		w := 2 * enc[i].tokens
		tokens += enc[i].tokens
		if enc[i].user {
			users++
			w++
		}
		args = append(args, w)
	}
	args[0], args[1], args[2], args[3] = r.ttlMs(), id, expectedVersion, firstVersion()
	args[4], args[5], args[6] = len(enc), tokens, users
	v, err := scriptAppend.Run(ctx, r.c, r.keys(scope, id), args...).Slice()
	if err != nil {
		return Session{}, fmt.Errorf("session: redis append: %w", err)
	}
	return r.reply("append", scope, id, v)
}

// Reset implements Store.
func (r *Redis) Reset(ctx context.Context, scope, id string) (Session, error) {
	if err := check(scope, id); err != nil {
		return Session{}, err
	}
	v, err := scriptReset.Run(ctx, r.c, r.keys(scope, id), r.ttlMs(), id).Slice()
	if err != nil {
		return Session{}, fmt.Errorf("session: redis reset: %w", err)
	}
	return r.reply("reset", scope, id, v)
}

// SetSummary implements Store.
func (r *Redis) SetSummary(ctx context.Context, scope, id, summary string, replaced int, expectedVersion int64) (Session, error) {
	if err := check(scope, id); err != nil {
		return Session{}, err
	}
	v, err := scriptSummary.Run(ctx, r.c, r.keys(scope, id), r.ttlMs(), id, expectedVersion, replaced,
		summary, summaryTokens(r.opts, summary)).Slice()
	if err != nil {
		return Session{}, fmt.Errorf("session: redis set summary: %w", err)
	}
	return r.reply("set summary", scope, id, v)
}

// Delete implements Store.
func (r *Redis) Delete(ctx context.Context, scope, id string) (bool, error) {
	if err := check(scope, id); err != nil {
		return false, err
	}
	n, err := scriptDelete.Run(ctx, r.c, r.keys(scope, id), id).Int64()
	if err != nil {
		return false, fmt.Errorf("session: redis delete: %w", err)
	}
	return n > 0, nil
}

// List implements Store. It takes two round trips: the index (one script,
// which also drops expired entries), then the metadata of the page's
// sessions (one pipeline). A session that expires or is deleted in between
// is left out, so a page can be shorter than limit; only an empty cursor
// means the end.
func (r *Redis) List(ctx context.Context, scope, cur string, limit int) ([]Session, string, error) {
	if scope == "" {
		return nil, "", ErrNoScope
	}
	c, err := parseCursor(cur)
	if err != nil {
		return nil, "", err
	}
	limit = clampLimit(limit)
	base := r.base(scope)
	score := ""
	if c.set {
		score = strconv.FormatInt(c.score, 10)
	}
	raw, err := scriptList.Run(ctx, r.c, []string{base + "idx"}, r.ttlMs(), score, limit+1).StringSlice()
	if err != nil {
		return nil, "", fmt.Errorf("session: redis list: %w", err)
	}
	type entry struct {
		id    string
		score int64
	}
	entries := make([]entry, 0, len(raw)/2)
	for i := 0; i+1 < len(raw); i += 2 {
		s, err := strconv.ParseFloat(raw[i+1], 64)
		if err != nil {
			return nil, "", fmt.Errorf("session: redis list: score %q: %w", raw[i+1], err)
		}
		e := entry{raw[i], int64(s)}
		if c.set && !c.after(e.score, e.id) {
			continue
		}
		entries = append(entries, e)
	}
	next := ""
	if len(entries) > limit {
		entries = entries[:limit]
		last := entries[limit-1]
		next = makeCursor(last.score, last.id)
	}
	if len(entries) == 0 {
		return nil, next, nil
	}
	cmds := make([]*redis.SliceCmd, len(entries))
	_, err = r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, e := range entries {
			cmds[i] = p.HMGet(ctx, base+"m:"+e.id, metaFields...)
		}
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("session: redis list: %w", err)
	}
	out := make([]Session, 0, len(entries))
	for i, cmd := range cmds {
		m := cmd.Val()
		if len(m) == 0 || m[3] == nil { // no version: gone since
			continue
		}
		s, err := r.session(scope, entries[i].id, m)
		if err != nil {
			return nil, "", err
		}
		out = append(out, s)
	}
	return out, next, nil
}

// metaFields are read in this order (common.lua's meta()).
var metaFields = []string{"c", "u", "a", "v", "t", "n", "k", "st", "sn", "sk"}

// reply decodes a script's {status, meta, ...} reply.
func (r *Redis) reply(op, scope, id string, v []any) (Session, error) {
	if len(v) == 0 {
		return Session{}, fmt.Errorf("session: redis %s: empty reply", op)
	}
	switch st, _ := v[0].(int64); st {
	case 1:
	case 0:
		return Session{}, ErrNotFound
	case -1:
		return Session{}, ErrConflict
	case -2:
		return Session{}, errBadReplaced
	default:
		return Session{}, fmt.Errorf("session: redis %s: status %v", op, v[0])
	}
	if len(v) < 2 {
		return Session{}, fmt.Errorf("session: redis %s: reply without metadata", op)
	}
	m, _ := v[1].([]any)
	s, err := r.session(scope, id, m)
	if err != nil {
		return Session{}, fmt.Errorf("session: redis %s: %w", op, err)
	}
	return s, nil
}

// session decodes the metaFields values.
func (r *Redis) session(scope, id string, m []any) (Session, error) {
	if len(m) != len(metaFields) {
		return Session{}, fmt.Errorf("session: redis metadata: %d fields, want %d", len(m), len(metaFields))
	}
	var n [10]int64
	for i, x := range m {
		if i == 7 {
			continue // the summary text
		}
		s, _ := x.(string)
		if s == "" {
			continue
		}
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return Session{}, fmt.Errorf("session: redis metadata %s=%q: %w", metaFields[i], s, err)
		}
		n[i] = v
	}
	text, _ := m[7].(string)
	acc := time.UnixMilli(n[2])
	return Session{
		ID: id, Scope: scope,
		Created: time.UnixMilli(n[0]), Updated: time.UnixMilli(n[1]), Accessed: acc,
		Expires: acc.Add(r.opts.TTL),
		Version: n[3], Turns: int(n[4]), Messages: int(n[5]), Tokens: int(n[6] + n[9]),
		Summary: Summary{Text: text, Replaced: int(n[8]), Tokens: int(n[9])},
	}, nil
}
