package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"time"

	"github.com/re-factor/resources/auth"
	"github.com/re-factor/resources/server"
	"github.com/re-factor/resources/store/poolmetrics"
)

// The garbage collector's defaults for serve, unless GOGC or GOMEMLIMIT
// say otherwise. A list request leaves nothing behind, so the live heap is
// small and at GOGC 100 collecting is a large share of a request's CPU;
// at 400 it collects four times less often. The soft limit makes it
// collect sooner again should the live heap ever grow towards it (many
// large requests at once), so the trade never costs unbounded memory; it
// is as low as it is because the binary's code and SQLite's caches sit
// beside the heap in the RSS the benchmark's target bounds (bench/notes.md
// has the figures).
const (
	serveGCPercent   = 400
	serveMemoryLimit = 64 << 20
)

func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(serveGCPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(serveMemoryLimit)
	}
}

func serve(ctx context.Context, cfg config, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dev := fs.Bool("dev", false, "development mode: keep a secret in data/ when JWT_SECRET is unset, load demo data into an empty database, print a signed-in console link and a curl")
	eph := fs.Bool("ephemeral", false, "a throwaway server for tests: database and bytes in memory, JWT_SECRET or a random secret, a token printed")
	seedFile := fs.String("seed", "", "with --ephemeral: JSON Lines `file` (the import format) to load at start")
	account := fs.String("account", demoAccount, "with --dev or --ephemeral: the account of the printed token")
	fs.StringVar(&cfg.ListenAddr, "listen", cfg.ListenAddr, "address to listen on (LISTEN_ADDR)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if *seedFile != "" && !*eph {
		fmt.Fprintln(stderr, "refactor serve: --seed needs --ephemeral (use refactor import for a lasting database)")
		return errUsage
	}
	logger := slog.New(slog.NewJSONHandler(stderr, nil))
	tuneGC()

	if *eph {
		cfg = ephemeral(cfg)
	}
	if *dev || *eph {
		cfg.ShutdownGrace = 0 // no load balancer watches these
	}
	if *dev && cfg.JWTSecret == "" && cfg.JWTJWKSURL == "" {
		secret, err := devSecret(devSecretPath)
		if err != nil {
			return err
		}
		cfg.JWTSecret = secret
	}
	b, err := openBackend(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer b.Close()
	var seeded int64
	seedFrom := *seedFile
	if *seedFile != "" {
		if seeded, err = seed(ctx, b.catalog, *seedFile); err != nil {
			return err
		}
	}
	if *dev {
		demo, err := loadDemoIfEmpty(ctx, b.catalog, logger)
		if err != nil {
			return err
		}
		if demo > 0 {
			seeded, seedFrom = demo, "the demo data"
		}
	}
	verifier, err := auth.New(ctx, authConfig(cfg))
	if err != nil {
		return err
	}
	defer verifier.Close()
	metrics := server.NewMetrics(buildInfo(), poolmetrics.Collector(b.db))
	drain := server.NewDrain()
	handler, err := server.New(server.Config{
		Catalog: b.catalog, Verifier: verifier, Logger: logger, Drain: drain, Webhooks: b.webhooks,
		RateLimit: server.RateLimit{RPS: cfg.RateLimitRPS, Burst: cfg.RateLimitBurst},
		PublicURL: cfg.PublicURL, LinkRedirect: cfg.LinkRedirect,
		LinkMissLimit: server.RateLimit{RPS: cfg.LinkMissRPS, Burst: cfg.LinkMissBurst},

		Metrics:            metrics,
		ServeMetrics:       cfg.MetricsAddr == "",
		CORSAllowedOrigins: cfg.CORSOrigins,
	})
	if err != nil {
		return err
	}
	// Starting (the spec's documents, validators, drivers) leaves megabytes
	// of garbage beside what serving keeps, and a collection during it sets
	// the heap's goal from both, at GOGC 400 five times their size: collect
	// once now, so the first goal is set from what serving keeps, and give
	// the pages back.
	debug.FreeOSMemory()

	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return err
	}
	if cfg.MetricsAddr != "" {
		stop, err := serveMetrics(cfg.MetricsAddr, metrics, cfg, logger)
		if err != nil {
			ln.Close()
			return err
		}
		defer stop()
	}
	if cfg.PprofAddr != "" {
		stop, err := servePprof(cfg.PprofAddr, logger)
		if err != nil {
			ln.Close()
			return err
		}
		defer stop()
	}
	logger.Info("serving", "addr", ln.Addr().String(), "database", b.db.Engine(), "version", buildInfo().Version)
	if *dev || *eph {
		banner := devBanner{addr: ln.Addr().String(), account: *account, ephemeral: *eph, seeded: seeded, seedFrom: seedFrom}
		if err := banner.print(stdout, cfg.JWTSecret); err != nil {
			return err
		}
	}
	stopEvents := runEvents(ctx, b, cfg, logger)
	defer stopEvents()
	return serveUntilDone(ctx, newHTTPServer(handler, cfg), ln, drain, cfg, logger)
}

// pruneEvery is how often serve prunes events past EVENTS_RETENTION.
const pruneEvery = time.Hour

// runEvents starts what the change feed needs beside requests: the one
// LISTEN connection that wakes this server's streams on other servers'
// commits (PostgreSQL), the hourly pruning and the webhook deliveries.
// stop ends them, letting deliveries in flight finish for a few seconds.
func runEvents(ctx context.Context, b *backend, cfg config, logger *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{}, 2)
	if err := b.webhooks.Start(context.WithoutCancel(ctx)); err != nil {
		logger.Error("webhook deliveries not running", "error", err.Error())
	}
	go func() {
		defer func() { done <- struct{}{} }()
		if err := b.catalog.ListenEvents(ctx); err != nil {
			logger.Error("event streams wake only on this server's writes", "error", err.Error())
		}
	}()
	go func() {
		defer func() { done <- struct{}{} }()
		t := time.NewTicker(pruneEvery)
		defer t.Stop()
		for {
			if n, err := b.catalog.PruneEvents(ctx, cfg.EventsRetention); err != nil && ctx.Err() == nil {
				logger.Warn("pruning events", "error", err.Error())
			} else if n > 0 {
				logger.Info("pruned events", "count", n, "retention", cfg.EventsRetention.String())
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() {
		cancel()
		<-done
		<-done
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		if err := b.webhooks.Stop(sctx); err != nil {
			logger.Warn("webhook deliveries stopped before the attempts in flight ended", "error", err.Error())
		}
	}
}

// serveMetrics serves /metrics on its own listener, so that scrapes need
// not reach the public address. stop closes it.
func serveMetrics(addr string, m *server.Metrics, cfg config, logger *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	srv := newHTTPServer(mux, cfg)
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics server stopped", "error", err.Error())
		}
	}()
	logger.Info("serving metrics", "addr", ln.Addr().String())
	return func() { srv.Close() }, nil
}

// HTTP timeouts. The header and idle ones are fixed; the read and write
// ones follow the largest body the server reads at the slowest rate worth
// waiting for (MIN_UPLOAD_RATE), so raising MAX_CONTENT_BYTES raises them.
const (
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 120 * time.Second
	// handlerAllowance is what a request may take besides moving its body:
	// the storage and database work around it. A uri create lifts the
	// deadlines for its fetch, which may be as large as an upload and ends
	// when the origin stalls (server.liftDeadlines).
	handlerAllowance = 60 * time.Second
)

func newHTTPServer(h http.Handler, cfg config) *http.Server {
	transfer := time.Duration(float64(server.MaxBodyBytes(cfg.MaxContentBytes)) / float64(cfg.MinUploadRate) * float64(time.Second))
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readHeaderTimeout + transfer,
		WriteTimeout:      readHeaderTimeout + transfer + handlerAllowance,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    64 << 10,
	}
}

// serveUntilDone serves until ctx ends (SIGTERM or SIGINT), then shuts down
// without failing a request: /readyz answers 503 at once and the server goes
// on serving for SHUTDOWN_GRACE, long enough for load balancers to notice
// and send new requests elsewhere; then it stops accepting connections,
// closes the idle ones, tells streaming responses to end (drain.Stopped),
// and waits for the requests in flight. It returns within SHUTDOWN_TIMEOUT
// of the signal, with an error when requests were still running then.
func serveUntilDone(ctx context.Context, srv *http.Server, ln net.Listener, drain *server.Drain, cfg config, logger *slog.Logger) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	drain.Begin()
	logger.Info("draining: not ready, serving on", "grace", cfg.ShutdownGrace.String(), "timeout", cfg.ShutdownTimeout.String())
	select {
	case err := <-errc:
		return err
	case <-time.After(cfg.ShutdownGrace):
	}
	logger.Info("shutting down: no new connections, finishing requests in flight")
	drain.Stop()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
		return fmt.Errorf("shutdown: requests still in flight after SHUTDOWN_TIMEOUT (%v), cut: %w", cfg.ShutdownTimeout, err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	logger.Info("stopped")
	return nil
}

func authConfig(cfg config) auth.Config {
	c := auth.Config{
		JWKSURL:      cfg.JWTJWKSURL,
		Issuer:       cfg.JWTIssuer,
		Audience:     cfg.JWTAudience,
		AccountClaim: cfg.JWTAccountClaim,
	}
	if cfg.JWTSecret != "" {
		c.Secret = []byte(cfg.JWTSecret)
	}
	return c
}
