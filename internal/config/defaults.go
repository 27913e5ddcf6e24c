package config

import "time"

// Defaults, named so that docs and code agree.
const (
	DefaultDrainTimeout        = 15 * time.Second
	DefaultRouteTimeout        = 15 * time.Second
	DefaultConnectTimeout      = 5 * time.Second
	DefaultDNSRefreshRate      = 5 * time.Second
	DefaultIdleTimeout         = 60 * time.Second
	DefaultMaxConnections      = 1024
	DefaultMaxIdleConnections  = 256
	DefaultMaxRequestHeadersKB = 60
	DefaultServerName          = "pylon"
	DefaultStreamIdleTimeout   = 5 * time.Minute // Envoy's stream_idle_timeout
	DefaultRetryAttempts       = 1               // Envoy's num_retries once a policy exists
	DefaultRetryBaseInterval   = 25 * time.Millisecond
	DefaultMaxPendingRequests  = 1024
	DefaultMaxRequests         = 1024
	DefaultMaxRetries          = 3
	DefaultMirrorPercent       = 100.0
)

// Defaults of active health checking, outlier detection and panic mode. Those of outlier
// detection and the panic threshold are Envoy's; Envoy has none for a health check's interval,
// timeout and thresholds (they are required there), so these are Pylon's.
const (
	DefaultHealthCheckInterval          = 5 * time.Second
	DefaultHealthCheckTimeout           = 1 * time.Second
	DefaultHealthCheckNoTrafficInterval = 60 * time.Second
	DefaultHealthyThreshold             = 2
	DefaultUnhealthyThreshold           = 3
	DefaultHealthyPanicThreshold        = 50.0

	DefaultConsecutive5xx                 = 5
	DefaultConsecutiveGatewayFailure      = 5
	DefaultOutlierInterval                = 10 * time.Second
	DefaultBaseEjectionTime               = 30 * time.Second
	DefaultMaxEjectionTime                = 300 * time.Second
	DefaultMaxEjectionPercent             = 10
	DefaultSuccessRateMinimumHosts        = 5
	DefaultSuccessRateRequestVolume       = 100
	DefaultSuccessRateStdevFactor         = 1.9
	DefaultFailurePercentageThreshold     = 85
	DefaultFailurePercentageMinimumHosts  = 5
	DefaultFailurePercentageRequestVolume = 50
	DefaultEnforcingConsecutive5xx        = 100
	DefaultEnforcingSuccessRate           = 100
)

// DefaultInternalAddresses are the clients Envoy treated as internal before 1.33
// (Network::Utility::isInternalAddress): RFC 1918, 127.0.0.1, fd00::/8 and ::1.
var DefaultInternalAddresses = []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.1/32", "fd00::/8", "::1/128"}

func applyDefaults(c *Config) {
	if c.DrainTimeout == 0 {
		c.DrainTimeout = Duration(DefaultDrainTimeout)
	}
	for i := range c.Listeners {
		l := &c.Listeners[i]
		if l.StatPrefix == "" {
			l.StatPrefix = l.Name
		}
		if l.HTTP2 == nil {
			l.HTTP2 = ptr(true)
		}
		if l.UseRemoteAddress == nil {
			l.UseRemoteAddress = ptr(true)
		}
		if l.MaxRequestHeadersKB == 0 {
			l.MaxRequestHeadersKB = DefaultMaxRequestHeadersKB
		}
		if l.ServerName == "" {
			l.ServerName = DefaultServerName
		}
		if l.TLS != nil && l.TLS.MinVersion == "" {
			l.TLS.MinVersion = "1.2"
		}
		if l.IdleTimeout == nil {
			l.IdleTimeout = ptr(Duration(DefaultStreamIdleTimeout))
		}
		if l.InternalAddresses == nil {
			l.InternalAddresses = ptr(append([]string(nil), DefaultInternalAddresses...))
		}
		for j := range l.VirtualHosts {
			for k := range l.VirtualHosts[j].Routes {
				r := &l.VirtualHosts[j].Routes[k]
				if r.Match.CaseSensitive == nil {
					r.Match.CaseSensitive = ptr(true)
				}
				if r.Timeout == nil && (r.Cluster != "" || len(r.WeightedClusters) > 0) {
					d := Duration(DefaultRouteTimeout)
					r.Timeout = &d
				}
				if r.Redirect != nil && r.Redirect.ResponseCode == 0 {
					r.Redirect.ResponseCode = 301
				}
				if rp := r.Retry; rp != nil {
					if rp.Attempts == nil {
						rp.Attempts = ptr(DefaultRetryAttempts)
					}
					if rp.Backoff == nil {
						rp.Backoff = &RetryBackoff{}
					}
					if rp.Backoff.BaseInterval == 0 {
						rp.Backoff.BaseInterval = Duration(DefaultRetryBaseInterval)
					}
					if rp.Backoff.MaxInterval == 0 {
						rp.Backoff.MaxInterval = 10 * rp.Backoff.BaseInterval
					}
				}
				for m := range r.Mirror {
					if r.Mirror[m].Percent == nil {
						r.Mirror[m].Percent = ptr(DefaultMirrorPercent)
					}
				}
			}
		}
	}
	for i := range c.Clusters {
		cl := &c.Clusters[i]
		if cl.Type == "" {
			cl.Type = "static"
		}
		if cl.LB == "" {
			cl.LB = "round_robin"
		}
		if cl.ConnectTimeout == 0 {
			cl.ConnectTimeout = Duration(DefaultConnectTimeout)
		}
		if cl.DNSRefreshRate == 0 {
			cl.DNSRefreshRate = Duration(DefaultDNSRefreshRate)
		}
		if cl.IdleTimeout == 0 {
			cl.IdleTimeout = Duration(DefaultIdleTimeout)
		}
		if cl.MaxConnections == 0 {
			cl.MaxConnections = DefaultMaxConnections
		}
		if cl.MaxIdleConnections == 0 {
			cl.MaxIdleConnections = DefaultMaxIdleConnections
		}
		if cl.CircuitBreakers == nil {
			cl.CircuitBreakers = &CircuitBreakers{}
		}
		cb := cl.CircuitBreakers
		if cb.MaxConnections == 0 {
			cb.MaxConnections = DefaultMaxConnections
		}
		if cb.MaxPendingRequests == 0 {
			cb.MaxPendingRequests = DefaultMaxPendingRequests
		}
		if cb.MaxRequests == 0 {
			cb.MaxRequests = DefaultMaxRequests
		}
		if cb.MaxRetries == 0 {
			cb.MaxRetries = DefaultMaxRetries
		}
		for j := range cl.Endpoints {
			if cl.Endpoints[j].Weight == 0 {
				cl.Endpoints[j].Weight = 1
			}
		}
		healthDefaults(cl)
	}
}

// healthDefaults fills in a cluster's health check, outlier detection and panic threshold.
func healthDefaults(cl *Cluster) {
	if cl.HealthyPanicThreshold == nil {
		cl.HealthyPanicThreshold = ptr(DefaultHealthyPanicThreshold)
	}
	if hc := cl.HealthCheck; hc != nil {
		if hc.Interval == 0 {
			hc.Interval = Duration(DefaultHealthCheckInterval)
		}
		if hc.Timeout == 0 {
			hc.Timeout = Duration(DefaultHealthCheckTimeout)
		}
		if hc.NoTrafficInterval == 0 {
			hc.NoTrafficInterval = Duration(DefaultHealthCheckNoTrafficInterval)
		}
		if hc.HealthyThreshold == 0 {
			hc.HealthyThreshold = DefaultHealthyThreshold
		}
		if hc.UnhealthyThreshold == 0 {
			hc.UnhealthyThreshold = DefaultUnhealthyThreshold
		}
		if h := hc.HTTP; h != nil {
			if h.Host == "" {
				h.Host = cl.Name
			}
			if len(h.ExpectedStatuses) == 0 {
				h.ExpectedStatuses = []StatusRange{{Min: 200, Max: 200}}
			}
		}
	}
	od := cl.OutlierDetection
	if od == nil {
		return
	}
	setDefault := func(p **int, v int) {
		if *p == nil {
			*p = ptr(v)
		}
	}
	setDefault(&od.Consecutive5xx, DefaultConsecutive5xx)
	setDefault(&od.ConsecutiveGatewayFailure, DefaultConsecutiveGatewayFailure)
	setDefault(&od.MaxEjectionPercent, DefaultMaxEjectionPercent)
	setDefault(&od.SuccessRateMinimumHosts, DefaultSuccessRateMinimumHosts)
	setDefault(&od.SuccessRateRequestVolume, DefaultSuccessRateRequestVolume)
	setDefault(&od.FailurePercentageThreshold, DefaultFailurePercentageThreshold)
	setDefault(&od.FailurePercentageMinimumHosts, DefaultFailurePercentageMinimumHosts)
	setDefault(&od.FailurePercentageRequestVolume, DefaultFailurePercentageRequestVolume)
	setDefault(&od.EnforcingConsecutive5xx, DefaultEnforcingConsecutive5xx)
	setDefault(&od.EnforcingSuccessRate, DefaultEnforcingSuccessRate)
	if od.SuccessRateStdevFactor == nil {
		od.SuccessRateStdevFactor = ptr(DefaultSuccessRateStdevFactor)
	}
	if od.SuccessfulActiveHealthCheckUnejectHost == nil {
		od.SuccessfulActiveHealthCheckUnejectHost = ptr(true)
	}
	if od.Interval == 0 {
		od.Interval = Duration(DefaultOutlierInterval)
	}
	if od.BaseEjectionTime == 0 {
		od.BaseEjectionTime = Duration(DefaultBaseEjectionTime)
	}
	if od.MaxEjectionTime == 0 {
		// Envoy: the default, or base_ejection_time when that is longer.
		od.MaxEjectionTime = max(Duration(DefaultMaxEjectionTime), od.BaseEjectionTime)
	}
}

func ptr[T any](v T) *T { return &v }
