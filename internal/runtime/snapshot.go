// Package runtime turns a validated config into a live snapshot (compiled route tables,
// clusters, filter chains, access logs), serves listeners from the current snapshot, and
// swaps snapshots atomically on reload: requests in flight finish on the snapshot they
// started with, which is cleaned up when its last request ends.
package runtime

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pylon-gateway/pylon/internal/accesslog"
	"github.com/pylon-gateway/pylon/internal/cluster"
	"github.com/pylon-gateway/pylon/internal/config"
	"github.com/pylon-gateway/pylon/internal/filter"
	"github.com/pylon-gateway/pylon/internal/llm/gateway"
	"github.com/pylon-gateway/pylon/internal/proxy"
	"github.com/pylon-gateway/pylon/internal/router"
	"github.com/pylon-gateway/pylon/internal/stats"
	"github.com/pylon-gateway/pylon/internal/store"
	"github.com/pylon-gateway/pylon/internal/stripe"
)

// Snapshot is one immutable, live version of the config.
type Snapshot struct {
	Config    *config.Config
	Version   int64
	LoadedAt  time.Time
	Listeners map[string]*proxy.Listener
	TLS       map[string]*tls.Config // by listener name, for listeners that terminate TLS
	Clusters  map[string]*cluster.Cluster

	logs []*accesslog.Logger

	refs [stripe.N]struct {
		n atomic.Int64
		_ [56]byte
	}
	retired atomic.Bool
	cleanup sync.Once
}

// BuildOptions carry what a build needs besides the config.
type BuildOptions struct {
	Stats  *stats.Registry
	Log    *slog.Logger
	Stdout io.Writer // access logs with path "stdout" (nil: os.Stdout)
	Stderr io.Writer
	// DryRun compiles everything but opens no files (pylon validate).
	DryRun bool
	// LLM is the LLM gateway's process-wide state (cooldowns); nil: a new one.
	LLM *gateway.Shared
	// Store is the management plane's store, nil without one. It outlives snapshots.
	Store store.Store
	// NoFastPath turns the listeners' fast path off (serve --fast-path=false).
	NoFastPath bool
}

// Build compiles cfg into a snapshot. Clusters whose config is unchanged from prev are
// reused (warm pools, live DNS); everything else is new. On error nothing is leaked and the
// error names the field paths at fault.
func Build(cfg *config.Config, prev *Snapshot, opts BuildOptions) (_ *Snapshot, err error) {
	s := &Snapshot{
		Config:    cfg,
		LoadedAt:  time.Now(),
		Listeners: map[string]*proxy.Listener{},
		TLS:       map[string]*tls.Config{},
		Clusters:  map[string]*cluster.Cluster{},
	}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	var errs config.Errors
	fail := func(path string, e error) {
		var ce config.Errors
		if errors.As(e, &ce) {
			errs = append(errs, ce...)
			return
		}
		errs = append(errs, config.FieldError{Path: path, Line: cfg.Line(path), Msg: e.Error()})
	}

	for i, cc := range cfg.Clusters {
		if prev != nil {
			if old, ok := prev.Clusters[cc.Name]; ok && reflect.DeepEqual(old.Config, cc) {
				old.Acquire()
				s.Clusters[cc.Name] = old
				continue
			}
		}
		c, err := cluster.New(cc, opts.Stats, opts.Log)
		if err != nil {
			fail(fmt.Sprintf("clusters[%d]", i), err)
			continue
		}
		c.Acquire()
		s.Clusters[cc.Name] = c
	}

	gw, err := gateway.New(cfg, gateway.Options{Clusters: s.Clusters, Shared: opts.LLM, Stats: opts.Stats, Log: opts.Log})
	if err != nil {
		fail("providers", err)
	}

	for i := range cfg.Listeners {
		lc := &cfg.Listeners[i]
		p := fmt.Sprintf("listeners[%d]", i)
		table, err := router.New(cfg, p, lc)
		if err != nil {
			fail(p+".virtual_hosts", err)
			continue
		}
		l := &proxy.Listener{
			Name:             lc.Name,
			ServerName:       lc.ServerName,
			UseRemoteAddress: *lc.UseRemoteAddress,
			TLS:              lc.TLS != nil,
			Stats:            opts.Stats.Listener(lc.StatPrefix),
			Table:            table,
			Clusters:         s.Clusters,
			Log:              opts.Log.With("listener", lc.Name),
		}
		if gw != nil {
			l.LLM = gw
		}
		if lc.IdleTimeout != nil {
			l.StreamIdleTimeout = lc.IdleTimeout.D()
		}
		l.RequestTimeout = lc.RequestTimeout.D()
		if lc.InternalAddresses != nil {
			for _, cidr := range *lc.InternalAddresses {
				if pfx, err := netip.ParsePrefix(cidr); err == nil {
					l.InternalAddresses = append(l.InternalAddresses, pfx.Masked())
				}
			}
		}
		for j, al := range lc.AccessLog {
			ap := fmt.Sprintf("%s.access_log[%d]", p, j)
			lg, err := newAccessLog(al, opts)
			if err != nil {
				fail(ap, err)
				continue
			}
			if lg != nil {
				s.logs = append(s.logs, lg)
				l.AccessLogs = append(l.AccessLogs, lg)
			}
		}
		if chain, err := buildChain(cfg, p, lc, table, l.Router()); err != nil {
			fail(p+".filters", err)
		} else {
			l.Chain = chain
		}
		l.NoFastPath = opts.NoFastPath
		l.Init()
		if lc.TLS != nil {
			tc, err := listenerTLS(lc)
			if err != nil {
				fail(p+".tls", err)
			} else {
				s.TLS[lc.Name] = tc
			}
		}
		s.Listeners[lc.Name] = l
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return s, nil
}

func newAccessLog(al config.AccessLog, opts BuildOptions) (*accesslog.Logger, error) {
	var f accesslog.Formatter
	var err error
	if len(al.JSON) > 0 {
		f, err = accesslog.ParseJSON(al.JSON)
	} else {
		f, err = accesslog.ParseText(al.Format)
	}
	if err != nil {
		return nil, err
	}
	if opts.DryRun {
		return nil, nil
	}
	return accesslog.New(accesslog.Options{Path: al.Path, Formatter: f, Stdout: opts.Stdout, Stderr: opts.Stderr})
}

// buildChain compiles the listener's filters and every route's overrides. It returns nil
// when the listener has no filters, so the request path skips the chain entirely.
func buildChain(cfg *config.Config, p string, lc *config.Listener, table *router.Table, terminal http.Handler) (func(*router.Route) http.Handler, error) {
	if len(lc.Filters) == 0 {
		return nil, nil
	}
	var errs config.Errors
	add := func(path, format string, args ...any) {
		errs = append(errs, config.FieldError{Path: path, Line: cfg.Line(path), Msg: fmt.Sprintf(format, args...)})
	}
	base := make([]filter.Filter, len(lc.Filters))
	factories := make([]filter.Factory, len(lc.Filters))
	for i, fc := range lc.Filters {
		fp := fmt.Sprintf("%s.filters[%d]", p, i)
		fac, ok := filter.Lookup(fc.Name)
		if !ok {
			add(fp, "unknown filter %q (known: %v)", fc.Name, filter.Names())
			continue
		}
		f, err := fac.New(fc.Config)
		if err != nil {
			add(fp+"."+fc.Name, "%v", err)
			continue
		}
		base[i], factories[i] = f, fac
	}
	if len(errs) > 0 {
		return nil, errs
	}
	def := filter.Chain(base, terminal)
	perRoute := map[*router.Route]http.Handler{}
	for _, rt := range table.Routes() {
		if len(rt.Config.Filters) == 0 {
			continue
		}
		fs := make([]filter.Filter, 0, len(base))
		for i, fc := range lc.Filters {
			node, ok := rt.Config.Filters[fc.Name]
			if !ok {
				fs = append(fs, base[i])
				continue
			}
			rp := rt.Path + ".filters." + fc.Name
			if off, err := filter.Disabled(node); err != nil {
				add(rp, "%v", err)
				continue
			} else if off {
				continue
			}
			prf, ok := factories[i].(filter.PerRouteFactory)
			if !ok {
				add(rp, "filter %q has no per-route config (only disabled: true)", fc.Name)
				continue
			}
			f, err := prf.PerRoute(base[i], node)
			if err != nil {
				add(rp, "%v", err)
				continue
			}
			fs = append(fs, f)
		}
		for name := range rt.Config.Filters {
			if !hasFilter(lc.Filters, name) {
				add(rt.Path+".filters."+name, "filter %q is not in the listener's filter chain", name)
			}
		}
		perRoute[rt] = filter.Chain(fs, terminal)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if len(perRoute) == 0 {
		return func(*router.Route) http.Handler { return def }, nil
	}
	return func(rt *router.Route) http.Handler {
		if h, ok := perRoute[rt]; ok {
			return h
		}
		return def
	}, nil
}

func hasFilter(fs []config.Filter, name string) bool {
	for _, f := range fs {
		if f.Name == name {
			return true
		}
	}
	return false
}

func listenerTLS(lc *config.Listener) (*tls.Config, error) {
	certs := make([]tls.Certificate, 0, len(lc.TLS.Certificates))
	for i, c := range lc.TLS.Certificates {
		kp, err := tls.LoadX509KeyPair(c.Cert, c.Key)
		if err != nil {
			return nil, fmt.Errorf("certificates[%d]: %w", i, err)
		}
		certs = append(certs, kp)
	}
	tc := &tls.Config{Certificates: certs, MinVersion: tls.VersionTLS12}
	if lc.TLS.MinVersion == "1.3" {
		tc.MinVersion = tls.VersionTLS13
	}
	if *lc.HTTP2 {
		tc.NextProtos = []string{"h2", "http/1.1"}
	} else {
		tc.NextProtos = []string{"http/1.1"}
	}
	return tc, nil
}

// Discard releases a snapshot that was built but never served (pylon validate).
func (s *Snapshot) Discard() { s.close() }

// acquire and release count the requests running on the snapshot, on striped counters
// (every request does it: one shared counter would bounce between cores). acquire returns the
// stripe that release must be given.
func (s *Snapshot) acquire() int {
	i := stripe.Index()
	s.refs[i].n.Add(1)
	return i
}

func (s *Snapshot) release(i int) {
	s.refs[i].n.Add(-1)
	if s.retired.Load() && s.inUse() <= 0 {
		s.close()
	}
}

// inUse is the number of requests on the snapshot. Its stripes are read one by one: a request
// that joins meanwhile finds the snapshot no longer current (acquireCurrent checks after
// acquiring) and leaves it, so a retired snapshot never closes under a request that uses it.
func (s *Snapshot) inUse() int64 {
	var n int64
	for i := range s.refs {
		n += s.refs[i].n.Load()
	}
	return n
}

// retire marks the snapshot replaced; it closes as soon as no request uses it.
func (s *Snapshot) retire() {
	s.retired.Store(true)
	if s.inUse() <= 0 {
		s.close()
	}
}

func (s *Snapshot) close() {
	s.cleanup.Do(func() {
		for _, c := range s.Clusters {
			c.Release()
		}
		for _, lg := range s.logs {
			lg.Close()
		}
	})
}
