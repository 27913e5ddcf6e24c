// Package app is Pylon's command line: flags, wiring of the built-ins, signals and reloads.
package app

import (
	"context"
	_ "embed"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/pylon-gateway/pylon/internal/access"
	"github.com/pylon-gateway/pylon/internal/admin"
	"github.com/pylon-gateway/pylon/internal/config"
	"github.com/pylon-gateway/pylon/internal/config/envoy"
	"github.com/pylon-gateway/pylon/internal/gcfloor"
	"github.com/pylon-gateway/pylon/internal/limits"
	"github.com/pylon-gateway/pylon/internal/llm/cache"
	"github.com/pylon-gateway/pylon/internal/llm/gateway"
	"github.com/pylon-gateway/pylon/internal/llm/session"
	"github.com/pylon-gateway/pylon/internal/runtime"
	"github.com/pylon-gateway/pylon/internal/stats"
	"github.com/pylon-gateway/pylon/internal/store"
	"github.com/pylon-gateway/pylon/internal/store/sqlstore"
	"github.com/redis/go-redis/v9"
)

//go:embed default.yaml
var defaultConfig []byte

// DefaultConfig returns the embedded default config document.
func DefaultConfig() []byte { return defaultConfig }

// DefaultGCMinHeapMB is serve's --gc-min-heap-mb: the heap goal's floor, in MiB.
const DefaultGCMinHeapMB = 20

// Version is set at build time with -ldflags "-X github.com/pylon-gateway/pylon/internal/app.Version=v1.2.3".
var Version = ""

// VersionString is the version of this binary.
func VersionString() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

const usage = `Pylon: an Envoy-grade L7 proxy and AI gateway in one binary.

Usage:
  pylon serve [-c FILE] [flags]   run the gateway (no -c: the embedded default config)
  pylon validate -c FILE          check a config (Pylon or Envoy YAML); exit 1 listing every error
                                  by field path and line
  pylon config-default            print the embedded default config
  pylon version                   print the version
  pylon help                      this text

Flags of serve:
  -c, --config FILE      config file: Pylon YAML, or an Envoy v3 bootstrap with static_resources
                         (loaded with Envoy's own types; see README). Without it Pylon serves its embedded
                         default: a listener on 127.0.0.1:8080 and the admin on 127.0.0.1:9901.
  --log-level LEVEL      debug, info (default), warn, error
  --log-format FORMAT    text (default) or json
  --watch=false          do not reload when the config file changes (SIGHUP still reloads)
  --gc-min-heap-mb N     keep the garbage collector's heap goal at least N MiB (default 20; 0: GOGC
                         alone): while the live heap is small, collections are spaced out for at most
                         N MiB of memory (README, Performance); GOGC and GOMEMLIMIT still apply
  --fast-path=false      serve every request through the standard path (the fast path forwards plain
                         requests from their raw bytes; README, Performance)

Reloads: on SIGHUP (which also reopens access log files, for log rotation), and when the config file changes, Pylon validates the new config and swaps
it in atomically; requests in flight finish on the old one. An invalid config is logged and the
old one keeps serving.
Shutdown: SIGTERM or SIGINT stop accepting, let in-flight requests finish within the config's
drain_timeout (default 15s), then exit.

Admin endpoints: /ready /server_info /clusters /listeners /config_dump /stats /stats/prometheus,
and the management REST API under /api/v1/ when the config has a store (docs/management.md).
Docs: README.md, docs/config.md and docs/management.md.

` + mgmtUsage

// Main runs the command line and returns the process exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		args = []string{"serve"}
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stdout, stderr)
	case "validate":
		return validate(args[1:], stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintf(stdout, "pylon %s\n", VersionString())
		return 0
	case "config-default":
		stdout.Write(defaultConfig)
		return 0
	case "tenant", "app", "key", "subscription", "user":
		return mgmtCommand(args, stdout, stderr)
	case "help", "--help", "-h", "-help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		if strings.HasPrefix(args[0], "-") {
			// `pylon -c file` reads as `pylon serve -c file`.
			return serve(args, stdout, stderr)
		}
		fmt.Fprintf(stderr, "pylon: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	return fs
}

func validate(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("validate", stderr)
	var path string
	fs.StringVar(&path, "c", "", "config file")
	fs.StringVar(&path, "config", "", "config file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if path == "" && fs.NArg() == 1 {
		path = fs.Arg(0)
	}
	if path == "" {
		fmt.Fprintln(stderr, "pylon validate: a config file is required: pylon validate -c FILE")
		return 2
	}
	if err := check(path); err != nil {
		fmt.Fprintf(stderr, "%s: invalid config:\n%s\n", path, indent(err.Error()))
		return 1
	}
	fmt.Fprintf(stdout, "%s: ok\n", path)
	return 0
}

// check loads and fully compiles a config without binding sockets or opening log files.
func check(path string) error {
	cfg, err := loadFile(path)
	if err != nil {
		return err
	}
	snap, err := runtime.Build(cfg, nil, runtime.BuildOptions{Stats: stats.New(), Log: slog.New(slog.DiscardHandler), DryRun: true})
	if err != nil {
		return err
	}
	snap.Discard()
	return nil
}

func indent(s string) string { return "  " + strings.ReplaceAll(s, "\n", "\n  ") }

func serve(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("serve", stderr)
	var path, level, format string
	var watch bool
	var gcMinHeap int
	var fastPath bool
	fs.StringVar(&path, "c", "", "config file")
	fs.StringVar(&path, "config", "", "config file")
	fs.StringVar(&level, "log-level", "info", "log level")
	fs.StringVar(&format, "log-format", "text", "log format")
	fs.BoolVar(&watch, "watch", true, "reload when the config file changes")
	fs.IntVar(&gcMinHeap, "gc-min-heap-mb", DefaultGCMinHeapMB, "minimum heap goal of the garbage collector, MiB")
	fs.BoolVar(&fastPath, "fast-path", true, "forward plain requests from their raw bytes")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if gcMinHeap < 0 || gcMinHeap > 1<<20 {
		fmt.Fprintf(stderr, "pylon serve: --gc-min-heap-mb: want 0 to %d MiB, got %d\n", 1<<20, gcMinHeap)
		return 2
	}
	logger, err := newLogger(stderr, level, format)
	if err != nil {
		fmt.Fprintf(stderr, "pylon serve: %v\n", err)
		return 2
	}
	g, err := Start(context.Background(), Options{ConfigPath: path, Log: logger, Stdout: stdout, Args: os.Args, NoFastPath: !fastPath})
	if err != nil {
		fmt.Fprintf(stderr, "pylon serve: %s\n", err)
		return 1
	}
	// The process's collector is tuned here, not in Start: an in-process gateway (tests,
	// embedding) leaves its host's GC settings alone.
	defer gcfloor.Start(uint64(gcMinHeap) << 20).Stop()
	if path == "" {
		pub := g.Runtime.Addr("public")
		fmt.Fprintf(stdout, "Pylon %s is running on its embedded default config.\n"+
			"  LLM API: http://%s/v1/  (OpenAI and Anthropic SDKs: set the base URL; model \"demo\" needs no key)\n"+
			"  admin:   http://%s/  (management API under /api/v1: set PYLON_ADMIN_TOKEN; state in pylon-data/pylon.db)\n"+
			"Try: curl http://%s/v1/chat/completions -H 'content-type: application/json' -d '{\"model\":\"demo\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}'\n"+
			"Next: write a config (`pylon config-default > pylon.yaml`), then `pylon serve -c pylon.yaml`. See README.md.\n",
			VersionString(), pub, g.Runtime.Addr("admin"), pub)
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	var changes <-chan struct{}
	if watch && path != "" {
		w, err := watchFile(path, logger)
		if err != nil {
			logger.Warn("not watching the config file; SIGHUP still reloads", "error", err)
		} else {
			defer w.Close()
			changes = w.changes
		}
	}
	for {
		select {
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				g.Reload()
				if err := g.Runtime.ReopenLogs(); err != nil {
					logger.Warn("reopening access logs", "error", err)
				}
				continue
			}
			logger.Info("shutting down", "signal", sig.String(), "drain_timeout", g.DrainTimeout())
			ctx, cancel := context.WithTimeout(context.Background(), g.DrainTimeout())
			err := g.Shutdown(ctx)
			cancel()
			if err != nil {
				logger.Warn("drain deadline passed; connections closed", "error", err)
			}
			return 0
		case <-changes:
			g.Reload()
		}
	}
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: want debug, info, warn or error, got %q", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format: want text or json, got %q", format)
}

// Options configure a gateway started in-process.
type Options struct {
	ConfigPath string // "" -> the embedded default
	ConfigYAML []byte // used when ConfigPath is "" and this is set (tests)
	Log        *slog.Logger
	Stdout     io.Writer
	Args       []string
	NoFastPath bool // serve --fast-path=false
}

// Gateway is a running Pylon.
type Gateway struct {
	Runtime *runtime.Runtime
	opts    Options
	store   *sqlstore.DB // nil without a management plane
	stop    func()       // ends the background work of the LLM state
}

// Start loads the config, binds the listeners and serves until Shutdown.
func Start(ctx context.Context, opts Options) (*Gateway, error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	cfg, err := loadConfig(opts)
	if err != nil {
		return nil, err
	}
	// The store is opened once per process: changing store.dsn takes a restart.
	var st *sqlstore.DB
	if cfg.Store != nil {
		if st, err = sqlstore.Open(ctx, cfg.Store.DSN); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
	}
	shared, stop, err := llmShared(ctx, cfg, st, opts.Log)
	if err != nil {
		if st != nil {
			st.Close()
		}
		return nil, err
	}
	rt := runtime.New(runtime.BuildOptions{Stats: stats.New(), Log: opts.Log, Stdout: opts.Stdout, Store: storeOrNil(st), LLM: shared, NoFastPath: opts.NoFastPath})
	rt.Admin = admin.New(rt, admin.Info{Version: VersionString(), ConfigPath: opts.ConfigPath, Args: opts.Args, Started: time.Now()})
	if err := rt.Apply(ctx, cfg); err != nil {
		stop()
		if st != nil {
			st.Close()
		}
		return nil, err
	}
	return &Gateway{Runtime: rt, opts: opts, store: st, stop: stop}, nil
}

// llmShared builds the LLM gateway's process-wide state: the access view of the store
// (followed in the background) and the limiter (Redis when configured, else in process).
// stop ends the background work.
func llmShared(ctx context.Context, cfg *config.Config, st *sqlstore.DB, log *slog.Logger) (*gateway.Shared, func(), error) {
	shared := gateway.NewShared()
	bg, cancel := context.WithCancel(context.Background())
	var closers []func()
	stop := func() {
		cancel()
		dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Second)
		shared.Drain(dctx)
		dcancel()
		for _, c := range closers {
			c()
		}
	}
	if st != nil {
		acc, err := access.New(ctx, st, log)
		if err != nil {
			stop()
			return nil, nil, err
		}
		shared.Access = acc
		go acc.Run(bg, cfg.Store.PollInterval.D())
	}
	if rc := cfg.Redis; rc != nil {
		pw, err := rc.Password.Resolve()
		if err != nil {
			stop()
			return nil, nil, fmt.Errorf("redis.password: %w", err)
		}
		client := redis.NewClient(&redis.Options{Addr: rc.Address, Username: rc.Username, Password: pw, DB: rc.DB})
		closers = append(closers, func() { client.Close() })
		shared.Limiter = limits.NewRedis(client, limits.RedisOptions{Prefix: rc.Prefix + "limits:"})
		if sc := cfg.LLM.Sessions; sc != nil {
			shared.Sessions = session.NewRedis(client, session.RedisOptions{Prefix: rc.Prefix + "session:",
				Options: session.Options{TTL: sc.TTL.D()}})
		}
		if cc := cfg.LLM.Cache; cc != nil {
			shared.CacheStore = cache.NewRedis(client, cache.RedisOptions{Prefix: rc.Prefix})
			if sc := cc.Semantic; sc != nil {
				shared.Semantic = cache.NewSemantic(cache.SemanticOptions{EmbeddingModel: sc.EmbeddingModel, MaxEntries: sc.MaxEntries,
					Redis: client, Prefix: rc.Prefix + "llmsem:", Logger: log})
			}
		}
	} else {
		shared.Limiter = limits.NewLocal(limits.LocalOptions{})
		if cc := cfg.LLM.Cache; cc != nil && cc.Semantic != nil {
			shared.Semantic = cache.NewSemantic(cache.SemanticOptions{EmbeddingModel: cc.Semantic.EmbeddingModel,
				MaxEntries: cc.Semantic.MaxEntries, Logger: log})
		}
		if sc := cfg.LLM.Sessions; sc != nil {
			shared.Sessions = session.NewMemory(session.MemoryOptions{Options: session.Options{TTL: sc.TTL.D()},
				MaxSessions: sc.MaxSessions, MaxBytes: sc.MaxBytes})
		}
	}
	if shared.Semantic != nil {
		go shared.Semantic.Run(bg)
	}
	return shared, stop, nil
}

// storeOrNil keeps a nil *DB from becoming a non-nil store.Store.
func storeOrNil(st *sqlstore.DB) store.Store {
	if st == nil {
		return nil
	}
	return st
}

func loadConfig(opts Options) (*config.Config, error) {
	switch {
	case opts.ConfigPath != "":
		return loadFile(opts.ConfigPath)
	case opts.ConfigYAML != nil:
		return config.Load(opts.ConfigYAML)
	default:
		return config.Load(defaultConfig)
	}
}

// loadFile reads a config file in either front door's format: an Envoy v3 bootstrap (it has
// static_resources) or Pylon's own YAML. Both compile into the same model.
func loadFile(path string) (*config.Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if envoy.IsEnvoy(data) {
		return envoy.Load(data)
	}
	return config.Load(data)
}

// Reload re-reads the config and applies it; on error the running config stays and the
// error is logged and returned.
func (g *Gateway) Reload() error {
	cfg, err := loadConfig(g.opts)
	if err == nil {
		err = g.Runtime.Apply(context.Background(), cfg)
	}
	if err != nil {
		g.opts.Log.Error("config rejected; the previous config keeps serving", "error", err.Error())
		return err
	}
	return nil
}

// DrainTimeout is the configured graceful-shutdown deadline.
func (g *Gateway) DrainTimeout() time.Duration {
	if s := g.Runtime.Current(); s != nil && s.Config.DrainTimeout > 0 {
		return s.Config.DrainTimeout.D()
	}
	return config.DefaultDrainTimeout
}

// Shutdown drains and stops the gateway.
func (g *Gateway) Shutdown(ctx context.Context) error {
	err := g.Runtime.Shutdown(ctx)
	g.stop()
	if g.store != nil {
		g.store.Close()
	}
	return err
}

// fileWatcher reports changes to one file, including the atomic rename-into-place that editors
// and Kubernetes config maps use: it watches the directory and filters by name.
type fileWatcher struct {
	w       *fsnotify.Watcher
	changes chan struct{}
}

func watchFile(path string, log *slog.Logger) (*fileWatcher, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	if err := w.Add(filepath.Dir(abs)); err != nil {
		w.Close()
		return nil, err
	}
	fw := &fileWatcher{w: w, changes: make(chan struct{}, 1)}
	go func() {
		var debounce <-chan time.Time
		for {
			select {
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if filepath.Clean(ev.Name) == abs || strings.Contains(ev.Name, "..data") {
					debounce = time.After(200 * time.Millisecond)
				}
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				log.Warn("config watcher", "error", err)
			case <-debounce:
				debounce = nil
				select {
				case fw.changes <- struct{}{}:
				default:
				}
			}
		}
	}()
	return fw, nil
}

func (fw *fileWatcher) Close() error { return fw.w.Close() }
