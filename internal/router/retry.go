package router

import (
	"math/rand/v2"
	"strings"
	"time"

	"github.com/pylon-gateway/pylon/internal/config"
)

// RetryOn is a set of Envoy retry conditions (retry_on, x-envoy-retry-on).
type RetryOn uint16

// The retry conditions Pylon implements, with Envoy's meaning.
const (
	// Retry5xx: any 5xx response, or no response at all (connect failure, reset, timeout of a try).
	Retry5xx RetryOn = 1 << iota
	// RetryGatewayError: 502, 503 or 504, or no response at all.
	RetryGatewayError
	// RetryReset: the upstream did not answer (reset, disconnect, per-try timeout).
	RetryReset
	// RetryConnectFailure: the connection to the upstream could not be made.
	RetryConnectFailure
	// RetryRetriable4xx: 409 Conflict.
	RetryRetriable4xx
	// RetryRefusedStream: the upstream refused the stream (HTTP/2 REFUSED_STREAM).
	RetryRefusedStream
	// RetryStatusCodes: one of the policy's retriable status codes.
	RetryStatusCodes
)

var retryOnNames = map[string]RetryOn{
	"5xx":                    Retry5xx,
	"gateway-error":          RetryGatewayError,
	"reset":                  RetryReset,
	"connect-failure":        RetryConnectFailure,
	"retriable-4xx":          RetryRetriable4xx,
	"refused-stream":         RetryRefusedStream,
	"retriable-status-codes": RetryStatusCodes,
}

// ParseRetryOn reads a comma-separated list of conditions (an x-envoy-retry-on value).
// Unknown conditions are skipped, as Envoy skips them in the header.
func ParseRetryOn(s string) RetryOn {
	var on RetryOn
	for s != "" {
		var item string
		item, s, _ = strings.Cut(s, ",")
		on |= retryOnNames[strings.TrimSpace(item)]
	}
	return on
}

// Default back-off of a retry policy, as Envoy's retry_back_off.
const (
	DefaultRetryBaseInterval = config.DefaultRetryBaseInterval
	DefaultRetryMaxInterval  = 10 * DefaultRetryBaseInterval
)

// RetryPolicy is a compiled retry policy. It is immutable; the proxy copies it per request
// when x-envoy-* headers from an internal client tune it.
type RetryPolicy struct {
	On          RetryOn
	NumRetries  int           // retries after the first try
	PerTryTime  time.Duration // 0 = the route timeout only
	StatusCodes []int         // RetryStatusCodes
	Base, Max   time.Duration // back-off
}

// HeaderRetryPolicy is the policy of a request that asks for retries with x-envoy-retry-on on
// a route without one: Envoy's defaults (one retry, 25ms back-off).
func HeaderRetryPolicy(on RetryOn) *RetryPolicy {
	return &RetryPolicy{On: on, NumRetries: 1, Base: DefaultRetryBaseInterval, Max: DefaultRetryMaxInterval}
}

// RetriableStatus reports whether a response status asks for a retry under the policy.
func (p *RetryPolicy) RetriableStatus(status int) bool {
	switch {
	case p.On&Retry5xx != 0 && status >= 500 && status <= 599:
		return true
	case p.On&RetryGatewayError != 0 && (status == 502 || status == 503 || status == 504):
		return true
	case p.On&RetryRetriable4xx != 0 && status == 409:
		return true
	case p.On&RetryStatusCodes != 0:
		for _, c := range p.StatusCodes {
			if c == status {
				return true
			}
		}
	}
	return false
}

// Backoff is the wait before retry n (1 for the first retry): Envoy's fully jittered
// exponential back-off, uniform in [0, (2^n - 1) * base), capped by max.
func (p *RetryPolicy) Backoff(n int) time.Duration {
	if p.Base <= 0 {
		return 0
	}
	limit := p.Max
	if n < 30 {
		if d := time.Duration((int64(1)<<n)-1) * p.Base; d > 0 && (limit <= 0 || d < limit) {
			limit = d
		}
	}
	if limit <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(limit)))
}

func compileRetry(rp *config.RetryPolicy) *RetryPolicy {
	p := &RetryPolicy{
		NumRetries:  config.DefaultRetryAttempts,
		PerTryTime:  rp.PerTryTimeout.D(),
		StatusCodes: append([]int(nil), rp.RetriableStatusCodes...),
		Base:        DefaultRetryBaseInterval,
		Max:         DefaultRetryMaxInterval,
	}
	for _, on := range rp.On {
		p.On |= retryOnNames[on]
	}
	if rp.Attempts != nil {
		p.NumRetries = *rp.Attempts
	}
	if b := rp.Backoff; b != nil {
		if b.BaseInterval > 0 {
			p.Base = b.BaseInterval.D()
			p.Max = 10 * p.Base
		}
		if b.MaxInterval > 0 {
			p.Max = b.MaxInterval.D()
		}
	}
	return p
}

// Mirror is a compiled mirror policy: the shadow cluster and the share of requests it gets,
// in millionths.
type Mirror struct {
	Cluster    string
	PerMillion uint32 // of 1,000,000
}

// Sampled reports whether a request drawing rnd (uniform) is mirrored.
func (m *Mirror) Sampled(rnd uint64) bool {
	return m.PerMillion >= 1000000 || uint32(rnd%1000000) < m.PerMillion
}

func compileMirrors(ms []config.MirrorPolicy) []Mirror {
	var out []Mirror
	for _, m := range ms {
		pct := config.DefaultMirrorPercent
		if m.Percent != nil {
			pct = *m.Percent
		}
		out = append(out, Mirror{Cluster: m.Cluster, PerMillion: uint32(pct*10000 + 0.5)})
	}
	return out
}
