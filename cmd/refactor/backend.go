package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/re-factor/resources/blobstore"
	"github.com/re-factor/resources/catalog"
	"github.com/re-factor/resources/store"
	"github.com/re-factor/resources/urlfetch"
	"github.com/re-factor/resources/webhooks"
)

// backend is what the commands open: the database, the bytes and the
// catalog over both, through which every command reaches resources.
type backend struct {
	db      *store.DB
	blobs   *blobstore.Store
	catalog *catalog.Service
	// webhooks queues the deliveries of every command's writes (each
	// event's transaction inserts their jobs); serve also runs them.
	webhooks *webhooks.Service
}

// openBackend opens DATABASE_URL, bringing its schema up to date, and
// BLOB_URL, each storage operation bounded by BLOB_TIMEOUT. logger nil is
// slog's default.
func openBackend(ctx context.Context, cfg config, logger *slog.Logger) (*backend, error) {
	db, err := openDB(ctx, cfg)
	if err != nil {
		return nil, err
	}
	blobs, err := blobstore.Open(ctx, cfg.BlobURL, blobstore.WithTimeout(cfg.BlobTimeout))
	if err != nil {
		db.Close()
		return nil, err
	}
	fetcher := urlfetch.New(urlfetch.Config{AllowPrivate: cfg.FetchPrivate})
	svc, err := catalog.New(catalog.Config{
		DB: db, Blobs: blobs, Logger: logger, MaxContentBytes: cfg.MaxContentBytes, Fetcher: fetcher,
		MaxUploadBytes: cfg.MaxUploadBytes, MaxOpenUploads: cfg.MaxOpenUploads, UploadExpiry: cfg.UploadExpiry,
	})
	if err != nil {
		blobs.Close()
		db.Close()
		return nil, err
	}
	hooks, err := webhooks.New(webhooks.Config{DB: db, Fetcher: fetcher, Logger: logger, RetryBase: cfg.WebhookRetryBase})
	if err != nil {
		blobs.Close()
		db.Close()
		return nil, err
	}
	return &backend{db: db, blobs: blobs, catalog: svc, webhooks: hooks}, nil
}

// Close closes the storage and the database.
func (b *backend) Close() {
	b.blobs.Close()
	b.db.Close()
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
		store.WithPoolSize(cfg.PoolSize), store.WithReadURL(cfg.DatabaseReadURL),
		store.WithListenURL(cfg.DatabaseDirect)}
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
	// River's own tables, for the webhook deliveries, by River's migrator.
	if err := webhooks.Migrate(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func migrate(ctx context.Context, cfg config) error {
	db, err := openDB(ctx, cfg)
	if err != nil {
		return err
	}
	return db.Close()
}
