// Package admin serves Pylon's admin listener: readiness, server info, clusters, the config
// dump and stats, with Envoy's paths and shapes so that existing tooling keeps working.
package admin

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"os"
	"regexp"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.yaml.in/yaml/v3"

	"github.com/pylon-gateway/pylon/internal/admin/mgmt"
	"github.com/pylon-gateway/pylon/internal/config"
	"github.com/pylon-gateway/pylon/internal/runtime"
)

// Info describes the running binary for /server_info.
type Info struct {
	Version    string
	ConfigPath string
	Args       []string
	Started    time.Time
}

// Handler is the admin HTTP handler.
type Handler struct {
	rt    *runtime.Runtime
	info  Info
	mux   *http.ServeMux
	token atomic.Pointer[cachedToken]
}

// New builds the admin handler over a runtime.
func New(rt *runtime.Runtime, info Info) *Handler {
	h := &Handler{rt: rt, info: info, mux: http.NewServeMux()}
	h.mux.HandleFunc("GET /{$}", h.index)
	h.mux.HandleFunc("GET /ready", h.ready)
	h.mux.HandleFunc("GET /server_info", h.serverInfo)
	h.mux.HandleFunc("GET /clusters", h.clusters)
	h.mux.HandleFunc("GET /listeners", h.listeners)
	h.mux.HandleFunc("GET /config_dump", h.configDump)
	h.mux.HandleFunc("GET /stats", h.stats)
	h.mux.HandleFunc("POST /reopen_logs", h.reopenLogs)
	// Go's profiler, for the operator who must know where the CPU goes (Envoy: /cpuprofiler).
	h.mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	h.mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	h.mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	h.mux.Handle("GET /stats/prometheus", promhttp.HandlerFor(rt.Stats().Gatherer(), promhttp.HandlerOpts{}))
	// The management API, when the config has a store (opened once per process).
	if st := rt.Store(); st != nil {
		h.mux.Handle(mgmt.Prefix+"/", mgmt.New(st, mgmt.Options{AdminToken: h.adminToken, Log: slog.Default()}))
	} else {
		h.mux.HandleFunc(mgmt.Prefix+"/", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintln(w, `{"error":{"code":"not_found","message":"the management API needs a store: configure store: {dsn: sqlite:/var/lib/pylon/pylon.db} (see docs/management.md)"}}`)
		})
	}
	return h
}

// adminToken is the management API's administrator token: admin.token of the running
// config, else $PYLON_ADMIN_TOKEN, else none. The resolved value is kept per config
// snapshot, so that a token in a file is read once per reload, not once per request.
func (h *Handler) adminToken() string {
	snap := h.rt.Current()
	var sec *config.Secret
	if snap != nil {
		sec = snap.Config.Admin.Token
	}
	if sec == nil {
		return os.Getenv("PYLON_ADMIN_TOKEN")
	}
	if c := h.token.Load(); c != nil && c.snap == snap {
		return c.value
	}
	v, err := sec.Resolve()
	if err != nil {
		// An unresolvable token admits nobody as admin; users' tokens still work.
		slog.Warn("admin.token cannot be resolved; the management API accepts only user tokens", "error", err.Error())
		v = ""
	}
	h.token.Store(&cachedToken{snap: snap, value: v})
	return v
}

type cachedToken struct {
	snap  *runtime.Snapshot
	value string
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

var endpoints = [][2]string{
	{"/ready", "200 LIVE when serving a config, 503 otherwise"},
	{"/server_info", "version, state, uptime, config version (JSON)"},
	{"/clusters", "every cluster endpoint with its counters and health (?format=json)"},
	{"/listeners", "listeners and their bound addresses (JSON)"},
	{"/config_dump", "the running config as JSON, secrets redacted"},
	{"/stats", "all stats under Envoy's names (?filter=<regex>, ?usedonly, ?format=json)"},
	{"/stats/prometheus", "all stats in Prometheus text format"},
	{"/debug/pprof/", "Go profiles: CPU (/debug/pprof/profile?seconds=N), heap, goroutines"},
	{"POST /reopen_logs", "reopen access log files (after log rotation moved them)"},
	{"/api/v1/", "the management REST API (needs store; OpenAPI at /api/v1/openapi.json)"},
}

func (h *Handler) index(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "pylon %s admin\n\n", h.info.Version)
	for _, e := range endpoints {
		fmt.Fprintf(w, "  %-18s %s\n", e[0], e[1])
	}
}

func (h *Handler) ready(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if h.rt.Current() == nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "PRE_INITIALIZING")
		return
	}
	fmt.Fprintln(w, "LIVE")
}

func (h *Handler) serverInfo(w http.ResponseWriter, r *http.Request) {
	snap := h.rt.Current()
	state, cfgVersion, loaded := "PRE_INITIALIZING", int64(0), ""
	if snap != nil {
		state, cfgVersion, loaded = "LIVE", snap.Version, snap.LoadedAt.UTC().Format(time.RFC3339)
	}
	host, _ := os.Hostname()
	writeJSON(w, map[string]any{
		"version":              h.info.Version,
		"state":                state,
		"hostname":             host,
		"uptime_current_epoch": fmt.Sprintf("%ds", int(time.Since(h.info.Started).Seconds())),
		"uptime_all_epochs":    fmt.Sprintf("%ds", int(time.Since(h.info.Started).Seconds())),
		"command_line_options": map[string]any{"config_path": h.info.ConfigPath, "args": h.info.Args},
		"config_version":       cfgVersion,
		"config_loaded_at":     loaded,
	})
}

type hostStatus struct {
	Address     string `json:"address"`
	Hostname    string `json:"hostname,omitempty"`
	Weight      uint32 `json:"weight"`
	RqActive    int64  `json:"rq_active"`
	HealthFlags string `json:"health_flags"`
	// HealthStatus and SuccessRate have the shape of Envoy's /clusters?format=json.
	HealthStatus healthStatus `json:"health_status"`
	SuccessRate  *value       `json:"success_rate,omitempty"`
}

// healthStatus is Envoy's HostHealthStatus: the flags that are set, and the EDS status
// (always HEALTHY: Pylon has no EDS).
type healthStatus struct {
	FailedActiveHealthCheck bool   `json:"failed_active_health_check,omitempty"`
	FailedOutlierCheck      bool   `json:"failed_outlier_check,omitempty"`
	PendingActiveHC         bool   `json:"pending_active_hc,omitempty"`
	EDSHealthStatus         string `json:"eds_health_status"`
}

// value is Envoy's DoubleValue wrapper: {"value": x}.
type value struct {
	Value float64 `json:"value"`
}

type clusterStatus struct {
	Name           string       `json:"name"`
	MaxConnections int          `json:"max_connections"`
	Type           string       `json:"type"`
	LB             string       `json:"lb_policy"`
	Hosts          []hostStatus `json:"host_statuses"`
	// SuccessRateEjectionThreshold is set when outlier detection computed one in its last
	// interval, as in Envoy.
	SuccessRateEjectionThreshold *value `json:"success_rate_ejection_threshold,omitempty"`

	outlier            bool    // outlier detection is on: the text format shows its figures
	srAverage, srLimit float64 // -1 when not computed
}

// optional wraps a figure that is -1 when not computed.
func optional(v float64) *value {
	if v < 0 {
		return nil
	}
	return &value{v}
}

func (h *Handler) clusterStatuses() []clusterStatus {
	snap := h.rt.Current()
	if snap == nil {
		return nil
	}
	var out []clusterStatus
	for _, cc := range snap.Config.Clusters {
		c := snap.Clusters[cc.Name]
		if c == nil {
			continue
		}
		cs := clusterStatus{Name: c.Name, MaxConnections: cc.MaxConnections, Type: cc.Type, LB: cc.LB, Hosts: []hostStatus{}}
		cs.srAverage, cs.srLimit, cs.outlier = c.SuccessRateFigures()
		cs.SuccessRateEjectionThreshold = optional(cs.srLimit)
		for _, host := range c.Hosts() {
			hh := c.HostHealth(host)
			cs.Hosts = append(cs.Hosts, hostStatus{
				Address: host.Address, Hostname: host.Hostname, Weight: host.Weight, RqActive: host.Active(),
				HealthFlags: hh.Flags(),
				HealthStatus: healthStatus{
					FailedActiveHealthCheck: hh.FailedActiveHC, FailedOutlierCheck: hh.FailedOutlierCheck,
					PendingActiveHC: hh.PendingActiveHC, EDSHealthStatus: "HEALTHY",
				},
				SuccessRate: optional(hh.SuccessRate),
			})
		}
		out = append(out, cs)
	}
	return out
}

// clusters renders Envoy's /clusters text (<cluster>::<host>::<stat>::<value>) or JSON.
func (h *Handler) clusters(w http.ResponseWriter, r *http.Request) {
	cs := h.clusterStatuses()
	if r.URL.Query().Get("format") == "json" {
		writeJSON(w, map[string]any{"cluster_statuses": cs})
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	for _, c := range cs {
		if c.outlier {
			fmt.Fprintf(w, "%s::outlier::success_rate_average::%s\n", c.Name, figure(c.srAverage))
			fmt.Fprintf(w, "%s::outlier::success_rate_ejection_threshold::%s\n", c.Name, figure(c.srLimit))
			fmt.Fprintf(w, "%s::outlier::local_origin_success_rate_average::-1\n", c.Name)
			fmt.Fprintf(w, "%s::outlier::local_origin_success_rate_ejection_threshold::-1\n", c.Name)
		}
		fmt.Fprintf(w, "%s::default_priority::max_connections::%d\n", c.Name, c.MaxConnections)
		for _, host := range c.Hosts {
			p := c.Name + "::" + host.Address + "::"
			fmt.Fprintf(w, "%shostname::%s\n", p, host.Hostname)
			fmt.Fprintf(w, "%srq_active::%d\n", p, host.RqActive)
			fmt.Fprintf(w, "%shealth_flags::%s\n", p, host.HealthFlags)
			fmt.Fprintf(w, "%sweight::%d\n", p, host.Weight)
			sr := -1.0
			if host.SuccessRate != nil {
				sr = host.SuccessRate.Value
			}
			fmt.Fprintf(w, "%ssuccess_rate::%s\n", p, figure(sr))
			fmt.Fprintf(w, "%slocal_origin_success_rate::-1\n", p)
		}
	}
}

// figure renders a success rate as Envoy's text /clusters does: -1 when not computed.
func figure(v float64) string {
	if v < 0 {
		return "-1"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

func (h *Handler) listeners(w http.ResponseWriter, r *http.Request) {
	snap := h.rt.Current()
	var out []map[string]any
	if snap != nil {
		for _, l := range snap.Config.Listeners {
			out = append(out, map[string]any{"name": l.Name, "address": l.Address, "bound_address": h.rt.Addr(l.Name), "tls": l.TLS != nil})
		}
	}
	writeJSON(w, map[string]any{"listener_statuses": out})
}

// secretKey matches config keys whose values must never leave the process.
var secretKey = regexp.MustCompile(`(?i)(api_?key|access_key|secret|password|token|credential|authorization|cookie)`)

// configDump writes the running config as JSON with secrets redacted.
func (h *Handler) configDump(w http.ResponseWriter, r *http.Request) {
	snap := h.rt.Current()
	if snap == nil {
		http.Error(w, "no config loaded", http.StatusServiceUnavailable)
		return
	}
	raw, err := yaml.Marshal(snap.Config)
	if err != nil {
		http.Error(w, "config_dump: "+err.Error(), http.StatusInternalServerError)
		return
	}
	var tree any
	if err := yaml.Unmarshal(raw, &tree); err != nil {
		http.Error(w, "config_dump: "+err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, map[string]any{
		"version":   snap.Version,
		"loaded_at": snap.LoadedAt.UTC().Format(time.RFC3339Nano),
		"config":    redact(tree),
	})
}

// redact replaces the values of secret-looking keys, at any depth.
func redact(v any) any {
	switch t := v.(type) {
	case map[string]any:
		// A header entry {name: authorization, value: ...} hides its value.
		if name, ok := t["name"].(string); ok && secretKey.MatchString(name) {
			if _, ok := t["value"]; ok {
				t["value"] = "[redacted]"
			}
		}
		for k, val := range t {
			if secretKey.MatchString(k) {
				switch val.(type) {
				case map[string]any, []any:
					// A secret reference ({env: NAME} or {file: PATH}) says where the secret
					// comes from, which is useful to see; only inline values are hidden.
					t[k] = redactValues(val)
				default:
					t[k] = "[redacted]"
				}
				continue
			}
			t[k] = redact(val)
		}
	case []any:
		for i := range t {
			t[i] = redact(t[i])
		}
	}
	return v
}

// redactValues hides every "value" field of a secret reference, at any depth.
func redactValues(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, val := range t {
			if k == "value" {
				t[k] = "[redacted]"
				continue
			}
			t[k] = redactValues(val)
		}
	case []any:
		for i := range t {
			t[i] = redactValues(t[i])
		}
	}
	return v
}

func (h *Handler) reopenLogs(w http.ResponseWriter, r *http.Request) {
	if err := h.rt.ReopenLogs(); err != nil {
		http.Error(w, "reopen_logs: "+err.Error(), http.StatusInternalServerError)
		return
	}
	fmt.Fprintln(w, "OK")
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
