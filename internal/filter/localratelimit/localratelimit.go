// Package localratelimit is Pylon's local_ratelimit HTTP filter: Envoy's local rate limit, a
// token bucket in the proxy process that answers 429 when it is empty.
//
//	filters:
//	  - local_ratelimit:
//	      max_tokens: 100        # bucket size and initial fill
//	      tokens_per_fill: 100   # default 1
//	      fill_interval: 1s      # >= 50ms
//
// A request takes one token; with none left Pylon answers itself: status 429 (or status),
// body "local_rate_limited", content-type text/plain, x-envoy-ratelimited: true plus
// response_headers_to_add, access-log flag RL and response code details local_rate_limited.
// The request does not reach the rest of the chain.
//
// Buckets. The listener's config gives one bucket shared by every route of the listener
// that has no override. A route's `filters: {local_ratelimit: {...}}` replaces the whole
// config for that route (nothing is inherited) and gives the route its own bucket, shared by
// all requests on that route; `{disabled: true}` turns the filter off for the route. The
// listener-level config may omit the bucket (`local_ratelimit: {}`): then only routes with
// their own bucket are limited, Envoy's usual pattern. A route override must define a
// bucket. Buckets live in the config snapshot: a reload starts them full again.
//
// The bucket is Envoy's current one (AtomicTokenBucket): refilled continuously at
// tokens_per_fill per fill_interval rather than in steps on a timer, so with max_tokens 2,
// tokens_per_fill 2, fill_interval 60s a token comes back every 30s. Taking a token is one
// compare-and-swap on a single word; refill is computed from the monotonic clock on each
// request, with no goroutine or timer.
//
// enable_x_ratelimit_headers adds, to every response of a limited route (forwarded or not),
// Envoy's DRAFT_VERSION_03 headers: x-ratelimit-limit (max_tokens), x-ratelimit-remaining
// (tokens left after this request) and x-ratelimit-reset (seconds, rounded up, until the
// next token; 0 while tokens remain). An upstream's own x-ratelimit-* headers win.
//
// Differences from Envoy: there is no filter_enabled / filter_enforced runtime fraction
// (Envoy's default of 0% means "configured but off"): configuring the filter enables and
// enforces it. There is no stat_prefix, descriptors or per-connection bucket.
package localratelimit

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/pylon-gateway/pylon/internal/config"
	"github.com/pylon-gateway/pylon/internal/filter"
	"github.com/pylon-gateway/pylon/internal/stream"
)

// Name is the filter's name in the config.
const Name = "local_ratelimit"

func init() { filter.Register(Name, Factory{}) }

// Envoy's bounds.
const (
	minFillInterval = 50 * time.Millisecond
	maxUint32       = 1<<32 - 1
	body            = "local_rate_limited"
)

// Factory builds local_ratelimit filters. Now, when set, is the clock the buckets read
// (nanoseconds, monotonic); nil means the process's monotonic clock. Tests inject one.
type Factory struct {
	Now func() int64
}

// New builds the listener-level filter.
func (f Factory) New(cfg yaml.Node) (filter.Filter, error) {
	return f.build(cfg, false)
}

// PerRoute builds a route's filter: its config replaces the listener's and has its own bucket.
func (f Factory) PerRoute(_ filter.Filter, cfg yaml.Node) (filter.Filter, error) {
	return f.build(cfg, true)
}

// settings is the YAML config.
type settings struct {
	MaxTokens     *int64
	TokensPerFill *int64
	FillInterval  *config.Duration
	Status        *int
	Headers       []headerValue
	XHeaders      *bool
	Disabled      bool
}

type headerValue struct {
	Name   string `yaml:"name"`
	Value  string `yaml:"value"`
	Append *bool  `yaml:"append"`
}

func (f Factory) build(cfg yaml.Node, perRoute bool) (filter.Filter, error) {
	var s settings
	err := filter.DecodeFields(cfg, example, map[string]func(yaml.Node) error{
		"max_tokens":      func(n yaml.Node) error { return filter.Integer(n, &s.MaxTokens) },
		"tokens_per_fill": func(n yaml.Node) error { return filter.Integer(n, &s.TokensPerFill) },
		"fill_interval":   func(n yaml.Node) error { return filter.Strict(n, &s.FillInterval) },
		"status":          func(n yaml.Node) error { return filter.Integer(n, &s.Status) },
		"response_headers_to_add": func(n yaml.Node) error {
			if n.Kind == yaml.SequenceNode {
				s.Headers = make([]headerValue, len(n.Content))
			}
			return filter.DecodeList("response_headers_to_add", n, func(i int, item yaml.Node) error {
				return filter.Strict(item, &s.Headers[i])
			})
		},
		"enable_x_ratelimit_headers": func(n yaml.Node) error {
			// Envoy spells it as an enum; true/false reads better in Pylon's YAML.
			switch n.Value {
			case "DRAFT_VERSION_03":
				s.XHeaders = ptr(true)
				return nil
			case "OFF":
				s.XHeaders = ptr(false)
				return nil
			}
			return filter.Strict(n, &s.XHeaders)
		},
		"disabled": func(n yaml.Node) error { return filter.Strict(n, &s.Disabled) },
	})
	if err != nil {
		return nil, err
	}
	return f.compile(&s, perRoute)
}

func ptr[T any](v T) *T { return &v }

// compile validates the settings and builds the filter. Every problem is reported, each
// starting with the field it is about.
func (f Factory) compile(s *settings, perRoute bool) (filter.Filter, error) {
	var errs []string
	add := func(field, format string, args ...any) {
		errs = append(errs, field+": "+fmt.Sprintf(format, args...))
	}
	hasBucket := s.MaxTokens != nil || s.TokensPerFill != nil || s.FillInterval != nil
	if s.Disabled && !perRoute {
		add("disabled", "only applies to a route's filters (remove the filter from the listener instead)")
	}
	if !hasBucket && perRoute {
		add("max_tokens", "is required: a route's local_ratelimit replaces the listener's and needs its own bucket (max_tokens, fill_interval); use {disabled: true} to turn the filter off for the route")
	}
	if !hasBucket && !perRoute {
		// No bucket here: the routes bring theirs and nothing at this level is inherited.
		for _, set := range []struct {
			field string
			set   bool
		}{{"status", s.Status != nil}, {"response_headers_to_add", s.Headers != nil}, {"enable_x_ratelimit_headers", s.XHeaders != nil}} {
			if set.set {
				add(set.field, "has no effect without a bucket at this level (a route's local_ratelimit replaces the listener's whole config): set max_tokens and fill_interval here, or move %s to the routes", set.field)
			}
		}
	}

	l := &limiter{status: http.StatusTooManyRequests}
	if hasBucket {
		maxTokens, perFill := int64(0), int64(1)
		var interval time.Duration
		switch {
		case s.MaxTokens == nil:
			add("max_tokens", "is required (the bucket size and initial fill)")
		case *s.MaxTokens < 1:
			add("max_tokens", "must be at least 1, got %d", *s.MaxTokens)
		case *s.MaxTokens > maxUint32:
			add("max_tokens", "must be at most %d, got %d", maxUint32, *s.MaxTokens)
		default:
			maxTokens = *s.MaxTokens
		}
		if s.TokensPerFill != nil {
			switch {
			case *s.TokensPerFill < 1:
				add("tokens_per_fill", "must be at least 1, got %d", *s.TokensPerFill)
				perFill = 0
			case *s.TokensPerFill > maxUint32:
				add("tokens_per_fill", "must be at most %d, got %d", maxUint32, *s.TokensPerFill)
				perFill = 0
			default:
				perFill = *s.TokensPerFill
			}
		}
		switch {
		case s.FillInterval == nil:
			add("fill_interval", "is required (e.g. 1s): tokens_per_fill tokens come back per fill_interval")
		case s.FillInterval.D() < minFillInterval:
			add("fill_interval", "must be at least 50ms, got %v", s.FillInterval.D())
		default:
			interval = s.FillInterval.D()
		}
		if maxTokens > 0 && perFill > 0 && interval > 0 {
			if _, ok := window(maxTokens, perFill, interval); !ok {
				add("max_tokens", "with tokens_per_fill %d per %v the bucket would take more than 100 years to refill", perFill, interval)
			} else {
				l.bucket = newBucket(maxTokens, perFill, interval, f.Now)
				l.limit = []string{strconv.FormatInt(maxTokens, 10)}
			}
		}
	}
	if s.Status != nil {
		switch st := *s.Status; {
		case st < 100 || st > 599:
			add("status", "must be an HTTP status code (100-599), got %d", st)
		case st < 400:
			// Envoy answers 429 for a status below 400, and so does Pylon.
		default:
			l.status = st
		}
	}
	for i, h := range s.Headers {
		p := fmt.Sprintf("response_headers_to_add[%d]", i)
		switch {
		case h.Name == "":
			add(p+".name", "is required")
		case strings.HasPrefix(h.Name, ":"):
			add(p+".name", "pseudo-header %q cannot be set", h.Name)
		case !validName(h.Name):
			add(p+".name", "invalid header name %q", h.Name)
		}
		switch {
		case h.Value == "":
			add(p+".value", "is required (an empty value adds nothing)")
		case !validValue(h.Value):
			add(p+".value", "invalid header value %q", h.Value)
		}
		l.headers = append(l.headers, header{
			name:   http.CanonicalHeaderKey(h.Name),
			value:  h.Value,
			append: h.Append == nil || *h.Append,
		})
	}
	l.xHeaders = s.XHeaders != nil && *s.XHeaders
	if len(errs) > 0 {
		return nil, errors.New(strings.Join(errs, "; "))
	}
	return l, nil
}

// limiter is the filter: one bucket and how to answer when it is empty.
type limiter struct {
	bucket   *bucket // nil: no bucket at this level, every request passes
	status   int
	headers  []header
	xHeaders bool
	limit    []string // x-ratelimit-limit
}

type header struct {
	name, value string
	append      bool
}

var (
	textPlain  = []string{"text/plain"}
	trueValue  = []string{"true"}
	bodyLength = []string{strconv.Itoa(len(body))}
	bodyBytes  = []byte(body)
)

// ServeHTTP takes a token and passes the request on, or answers 429.
func (l *limiter) ServeHTTP(w http.ResponseWriter, r *http.Request, next http.Handler) {
	b := l.bucket
	if b == nil {
		next.ServeHTTP(w, r)
		return
	}
	ok, left, wait := b.take()
	if l.xHeaders {
		// Set now, before the response exists: the router adds its headers around them and
		// an upstream's own x-ratelimit-* replace them.
		v := make([]string, 2)
		v[0] = strconv.FormatInt(left, 10)
		v[1] = strconv.FormatInt(int64((wait+time.Second-1)/time.Second), 10)
		h := w.Header()
		h["X-Ratelimit-Limit"] = l.limit
		h["X-Ratelimit-Remaining"] = v[0:1:1]
		h["X-Ratelimit-Reset"] = v[1:2:2]
	}
	if ok {
		next.ServeHTTP(w, r)
		return
	}
	if info := stream.From(r.Context()); info != nil {
		info.Flags, info.Details = "RL", "local_rate_limited"
	}
	h := w.Header()
	h["Content-Type"] = textPlain
	h["Content-Length"] = bodyLength
	h["X-Envoy-Ratelimited"] = trueValue
	for _, hv := range l.headers {
		if hv.append {
			h[hv.name] = append(h[hv.name], hv.value)
		} else {
			h[hv.name] = []string{hv.value}
		}
	}
	w.WriteHeader(l.status)
	w.Write(bodyBytes)
}

// validName reports whether s is an HTTP header field name (an RFC 9110 token).
func validName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return s != ""
}

// validValue reports whether s can be sent as a header value: no control characters other
// than horizontal tab, no leading or trailing whitespace.
func validValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return strings.TrimSpace(s) == s
}

// example is shown when the config is not a mapping.
const example = "{max_tokens: 100, fill_interval: 1s}"
