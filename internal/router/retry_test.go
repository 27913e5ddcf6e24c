package router

import (
	"reflect"
	"testing"
	"time"

	"github.com/pylon-gateway/pylon/internal/config"
)

func TestParseRetryOn(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want RetryOn
	}{
		{"5xx", Retry5xx},
		{"5xx, connect-failure,reset", Retry5xx | RetryConnectFailure | RetryReset},
		{"gateway-error,unknown-thing", RetryGatewayError},
		{"retriable-4xx,refused-stream,retriable-status-codes", RetryRetriable4xx | RetryRefusedStream | RetryStatusCodes},
		{"", 0},
	} {
		if got := ParseRetryOn(tc.in); got != tc.want {
			t.Errorf("ParseRetryOn(%q) = %b, want %b", tc.in, got, tc.want)
		}
	}
}

func TestRetriableStatus(t *testing.T) {
	p := &RetryPolicy{}
	for _, tc := range []struct {
		on     RetryOn
		codes  []int
		status int
		want   bool
	}{
		{Retry5xx, nil, 500, true},
		{Retry5xx, nil, 503, true},
		{Retry5xx, nil, 409, false},
		{RetryGatewayError, nil, 500, false},
		{RetryGatewayError, nil, 502, true},
		{RetryGatewayError, nil, 504, true},
		{RetryRetriable4xx, nil, 409, true},
		{RetryRetriable4xx, nil, 404, false},
		{RetryStatusCodes, []int{429}, 429, true},
		{RetryStatusCodes, []int{429}, 503, false},
		{RetryReset, nil, 503, false},
	} {
		p.On, p.StatusCodes = tc.on, tc.codes
		if got := p.RetriableStatus(tc.status); got != tc.want {
			t.Errorf("on %b codes %v: RetriableStatus(%d) = %v, want %v", tc.on, tc.codes, tc.status, got, tc.want)
		}
	}
}

// TestBackoffIsFullyJitteredAndCapped checks Envoy's bounds: retry n waits in
// [0, (2^n - 1) * base), never more than max.
func TestBackoffIsFullyJitteredAndCapped(t *testing.T) {
	p := &RetryPolicy{Base: 25 * time.Millisecond, Max: 250 * time.Millisecond}
	for _, tc := range []struct {
		n     int
		limit time.Duration
	}{{1, 25 * time.Millisecond}, {2, 75 * time.Millisecond}, {3, 175 * time.Millisecond}, {4, 250 * time.Millisecond}, {40, 250 * time.Millisecond}} {
		for range 200 {
			if d := p.Backoff(tc.n); d < 0 || d >= tc.limit {
				t.Fatalf("Backoff(%d) = %v, want in [0, %v)", tc.n, d, tc.limit)
			}
		}
	}
}

func TestCompileRetryDefaults(t *testing.T) {
	three := 3
	for _, tc := range []struct {
		name string
		in   config.RetryPolicy
		want RetryPolicy
	}{
		{"envoy defaults", config.RetryPolicy{On: []string{"5xx"}},
			RetryPolicy{On: Retry5xx, NumRetries: 1, Base: 25 * time.Millisecond, Max: 250 * time.Millisecond}},
		{"base sets max to 10x", config.RetryPolicy{On: []string{"reset"}, Attempts: &three, Backoff: &config.RetryBackoff{BaseInterval: config.Duration(time.Second)}},
			RetryPolicy{On: RetryReset, NumRetries: 3, Base: time.Second, Max: 10 * time.Second}},
		{"explicit max", config.RetryPolicy{On: []string{"5xx"}, PerTryTimeout: config.Duration(time.Second), Backoff: &config.RetryBackoff{BaseInterval: config.Duration(time.Millisecond), MaxInterval: config.Duration(5 * time.Millisecond)}},
			RetryPolicy{On: Retry5xx, NumRetries: 1, PerTryTime: time.Second, Base: time.Millisecond, Max: 5 * time.Millisecond}},
	} {
		got := compileRetry(&tc.in)
		got.StatusCodes = nil
		if !reflect.DeepEqual(*got, tc.want) {
			t.Errorf("%s: got %+v, want %+v", tc.name, *got, tc.want)
		}
	}
}

func TestMirrorSampled(t *testing.T) {
	half := 50.0
	ms := compileMirrors([]config.MirrorPolicy{{Cluster: "a"}, {Cluster: "b", Percent: &half}})
	if ms[0].PerMillion != 1000000 || ms[1].PerMillion != 500000 {
		t.Fatalf("compiled %+v", ms)
	}
	if !ms[0].Sampled(999999) || !ms[1].Sampled(499999) || ms[1].Sampled(500000) {
		t.Error("sampling bounds are wrong")
	}
}
