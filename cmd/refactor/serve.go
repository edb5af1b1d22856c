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
	"github.com/re-factor/resources/blobstore"
	"github.com/re-factor/resources/resources"
	"github.com/re-factor/resources/server"
	"github.com/re-factor/resources/store"
	"github.com/re-factor/resources/urlfetch"
)

// The garbage collector's defaults for serve, unless GOGC or GOMEMLIMIT
// say otherwise. A list request leaves nothing behind, so the live heap is
// a few MB and GOGC 100 collected every ~100 requests: ~36 µs of CPU a
// request, a third of the server's own budget. At 400 it collects four
// times less often for a heap goal of ~30 MB; the soft limit makes it
// collect sooner again should the live heap ever grow towards it (many
// large requests at once), so the trade never costs unbounded memory. At
// 96 MiB the benchmark's peak RSS on SQLite reached 150 MB (the binary's
// code is ~44 MB of it, SQLite's caches ~20 MB), the target's edge.
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

// shutdownGrace is how long in-flight requests get to finish after SIGTERM.
const shutdownGrace = 15 * time.Second

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
	if *dev && cfg.JWTSecret == "" && cfg.JWTJWKSURL == "" {
		secret, err := devSecret(devSecretPath)
		if err != nil {
			return err
		}
		cfg.JWTSecret = secret
	}
	db, err := openDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	blobs, err := openBlobs(ctx, cfg)
	if err != nil {
		return err
	}
	defer blobs.Close()
	svc, err := resources.New(resources.Config{
		DB: db, Blobs: blobs, Logger: logger, MaxContentBytes: cfg.MaxContentBytes,
		Fetcher: urlfetch.New(urlfetch.Config{AllowPrivate: cfg.FetchPrivate}),
	})
	if err != nil {
		return err
	}
	var seeded int64
	if *seedFile != "" {
		if seeded, err = seed(ctx, svc, *seedFile); err != nil {
			return err
		}
	}
	if *dev {
		if err := loadDemoIfEmpty(ctx, db, svc, logger); err != nil {
			return err
		}
	}
	verifier, err := auth.New(ctx, authConfig(cfg))
	if err != nil {
		return err
	}
	defer verifier.Close()
	metrics := server.NewMetrics(db, buildInfo())
	handler, err := server.New(server.Config{
		DB: db, Resources: svc, Verifier: verifier, Logger: logger,
		RateLimit: server.RateLimit{RPS: cfg.RateLimitRPS, Burst: cfg.RateLimitBurst},

		Metrics:            metrics,
		ServeMetrics:       cfg.MetricsAddr == "",
		CORSAllowedOrigins: cfg.CORSOrigins,
	})
	if err != nil {
		return err
	}

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
	logger.Info("serving", "addr", ln.Addr().String(), "database", db.Engine(), "version", buildInfo().Version)
	if *dev || *eph {
		banner := devBanner{addr: ln.Addr().String(), account: *account, ephemeral: *eph, seeded: seeded, seedFile: *seedFile}
		if err := banner.print(stdout, cfg.JWTSecret); err != nil {
			return err
		}
	}
	return serveUntilDone(ctx, newHTTPServer(handler, cfg), ln, logger)
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
	// a uri create's fetch (60 s at most) and the storage and database
	// work around it.
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

// serveUntilDone serves until ctx ends (SIGINT/SIGTERM), then lets in-flight
// requests finish within shutdownGrace.
func serveUntilDone(ctx context.Context, srv *http.Server, ln net.Listener, logger *slog.Logger) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// batchStatementTimeout bounds one statement of a batch command (import,
// export, gc). DB_STATEMENT_TIMEOUT protects requests; a 20,000-row import
// batch into a busy SQLite file may rightly take longer than a request.
const batchStatementTimeout = 10 * time.Minute

// forBatch is cfg for a batch command run by an operator.
func forBatch(cfg config) config {
	cfg.StatementTimeout = max(cfg.StatementTimeout, batchStatementTimeout)
	return cfg
}

// openDB opens DATABASE_URL and brings its schema up to date.
func openDB(ctx context.Context, cfg config) (*store.DB, error) {
	opts := []store.Option{store.WithStatementTimeout(cfg.StatementTimeout),
		store.WithPoolSize(cfg.PoolSize), store.WithReadURL(cfg.DatabaseReadURL)}
	if cfg.CursorSecret != "" {
		opts = append(opts, store.WithCursorKey([]byte(cfg.CursorSecret)))
	}
	db, err := store.Open(ctx, cfg.DatabaseURL, opts...)
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// openBlobs opens BLOB_URL, each operation bounded by BLOB_TIMEOUT.
func openBlobs(ctx context.Context, cfg config) (*blobstore.Store, error) {
	return blobstore.Open(ctx, cfg.BlobURL, blobstore.WithTimeout(cfg.BlobTimeout))
}

func migrate(ctx context.Context, cfg config) error {
	db, err := openDB(ctx, cfg)
	if err != nil {
		return err
	}
	return db.Close()
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
