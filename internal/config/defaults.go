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
)

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
		for j := range cl.Endpoints {
			if cl.Endpoints[j].Weight == 0 {
				cl.Endpoints[j].Weight = 1
			}
		}
	}
}

func ptr[T any](v T) *T { return &v }
