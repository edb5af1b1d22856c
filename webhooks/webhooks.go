// Package webhooks delivers an account's events to the HTTPS endpoints it
// registers, signed as the Standard Webhooks specification says, at least
// once: each delivery is a row written by the statement that writes the
// event itself (store), with its entry in an outbox, so a committed change
// always has its deliveries and a rolled-back one never has; a dispatcher
// in each process turns outbox entries into durable jobs (River, on the
// same database) in batches, taking them and queueing the jobs in one
// transaction; a job carries a few deliveries to one endpoint and sends
// them at once. Jobs retry what failed with exponential backoff and jitter
// for more than a day, each attempt bounded; an endpoint whose delivery
// exhausts its attempts is disabled with the reason. Deliveries of one
// resource reach one endpoint in sequence order: a later one waits while
// an earlier one is pending.
package webhooks

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/re-factor/resources/store"
	"github.com/re-factor/resources/urlfetch"
)

// Defaults of Config.
const (
	DefaultAttemptTimeout = 10 * time.Second
	DefaultRetryBase      = 30 * time.Second
	DefaultRetryMax       = 6 * time.Hour
	// DefaultMaxAttempts with the default backoff retries for about 34
	// hours: 30 s doubling to 6 h, then every 6 h.
	DefaultMaxAttempts = 15
	// DefaultWorkers is enough jobs at once, each of up to batchSize
	// deliveries, for a few hundred deliveries a second to a receiver
	// answering within a few hundred milliseconds; they share the pool
	// with requests, each holding a connection only for its queries, never
	// while it posts.
	DefaultWorkers = 20
)

// fetchCooldown is the least time between two fetches of due jobs while
// a fetch keeps filling every free worker: a backlog is drained at up to
// Workers jobs per fetchCooldown (4,000 deliveries a second by default,
// the jobs full), and a queue that keeps up makes at most 20 fetches a
// second, each a few jobs.
const fetchCooldown = 50 * time.Millisecond

// Config holds what a Service depends on and its tuning.
type Config struct {
	DB      *store.DB
	Fetcher *urlfetch.Fetcher
	Logger  *slog.Logger
	// AttemptTimeout bounds one delivery attempt.
	AttemptTimeout time.Duration
	// The wait before retry n is RetryBase·2^(n-1), at most RetryMax,
	// with up to a fifth of it as jitter either way.
	RetryBase, RetryMax time.Duration
	MaxAttempts         int
	// Workers is how many delivery jobs run at once in this process; each
	// sends its deliveries, at most batchSize, at once.
	Workers int
	// PollInterval is how often idle workers look for due jobs (River in
	// poll-only mode: lib/pq carries no River listener). Default 1 s.
	PollInterval time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Service registers endpoints and delivers to them.
type Service struct {
	db      *store.DB
	fetcher *urlfetch.Fetcher
	log     *slog.Logger
	cfg     Config
	river   *river.Client[*sql.Tx]
	// queued wakes the dispatcher: this process committed deliveries.
	queued chan struct{}
	// stopDispatch stops the dispatcher, which closes dispatched when
	// it has.
	stopDispatch context.CancelFunc
	dispatched   chan struct{}
}

// Migrate brings River's own tables up to date in db's database, with
// River's migrator (run by refactor migrate, and by serve at start).
func Migrate(ctx context.Context, db *store.DB) error {
	m, err := rivermigrate.New(driver(db), nil)
	if err != nil {
		return fmt.Errorf("webhooks: migrate: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("webhooks: migrate: %w", err)
	}
	return nil
}

func driver(db *store.DB) riverdriver.Driver[*sql.Tx] {
	if db.Engine() == store.SQLite {
		return riversqlite.New(db.Pool())
	}
	return riverdatabasesql.New(db.Pool())
}

// New returns a Service over cfg.DB, whose writes from now on queue the
// deliveries of their events. Start it to deliver.
func New(cfg Config) (*Service, error) {
	if cfg.DB == nil || cfg.Fetcher == nil {
		return nil, errors.New("webhooks: Config needs DB and Fetcher")
	}
	cfg.AttemptTimeout = cmp.Or(cfg.AttemptTimeout, DefaultAttemptTimeout)
	cfg.RetryBase = cmp.Or(cfg.RetryBase, DefaultRetryBase)
	cfg.RetryMax = cmp.Or(cfg.RetryMax, DefaultRetryMax)
	cfg.MaxAttempts = cmp.Or(cfg.MaxAttempts, DefaultMaxAttempts)
	cfg.Workers = cmp.Or(cfg.Workers, DefaultWorkers)
	cfg.PollInterval = cmp.Or(cfg.PollInterval, time.Second)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Service{db: cfg.DB, fetcher: cfg.Fetcher, log: cmp.Or(cfg.Logger, slog.Default()), cfg: cfg,
		queued: make(chan struct{}, 1)}
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &deliveryWorker{s: s}); err != nil {
		return nil, fmt.Errorf("webhooks: %w", err)
	}
	client, err := river.NewClient(driver(cfg.DB), &river.Config{
		// The queue fetches again as soon as it has room while there is
		// more to do; the client's own cooldown is also how often River
		// adds a pg_notify to a transaction that queues a job, which no
		// process listens to in poll-only mode: once a poll interval.
		Queues: map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.Workers,
			FetchCooldown: min(cfg.PollInterval, fetchCooldown)}},
		Workers:           workers,
		PollOnly:          true,
		FetchPollInterval: cfg.PollInterval,
		FetchCooldown:     cfg.PollInterval,
		MaxAttempts:       cfg.MaxAttempts,
		RetryPolicy:       s,
		JobTimeout:        cfg.AttemptTimeout + 5*time.Second,
		// A job left running by a process that died (SIGKILL, a lost
		// machine) is run again after this, not River's default hour:
		// twice the longest a live attempt can run.
		RescueStuckJobsAfter: 2 * (cfg.AttemptTimeout + 5*time.Second),
		Logger:               slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return nil, fmt.Errorf("webhooks: %w", err)
	}
	s.river = client
	cfg.DB.OnDeliveriesQueued(func() {
		select {
		case s.queued <- struct{}{}:
		default: // already woken
		}
	})
	return s, nil
}

// Start starts queueing and delivering, until Stop.
func (s *Service) Start(ctx context.Context) error {
	if err := s.river.Start(ctx); err != nil {
		return err
	}
	dctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.stopDispatch, s.dispatched = cancel, make(chan struct{})
	go s.dispatchLoop(dctx)
	return nil
}

// Stop stops queueing, and delivering once the attempts in flight end (or
// ctx does).
func (s *Service) Stop(ctx context.Context) error {
	if s.stopDispatch != nil {
		s.stopDispatch()
		select {
		case <-s.dispatched:
		case <-ctx.Done():
		}
	}
	return s.river.Stop(ctx)
}

// NextRetry is the backoff (river.ClientRetryPolicy): RetryBase doubling
// per error, at most RetryMax, ±20% jitter so that an endpoint coming back
// is not hit by every delivery at once.
func (s *Service) NextRetry(job *rivertype.JobRow) time.Time {
	n := min(len(job.Errors), 30)
	d := min(s.cfg.RetryBase<<n, s.cfg.RetryMax)
	if d <= 0 { // shifted past int64
		d = s.cfg.RetryMax
	}
	jitter := time.Duration((rand.Float64()*0.4 - 0.2) * float64(d))
	return s.cfg.Now().Add(d + jitter)
}

// outboxBatch is the most outbox entries one transaction of the dispatcher
// turns into jobs.
const outboxBatch = 500

// dispatchCooldown is the least time between two transactions of the
// dispatcher that found less than a full batch: the deliveries of the
// commits meanwhile are queued together, each transaction costing four
// statements. River's poll-only queue sees the jobs at its next fetch
// anyway (PollInterval, sooner while it is busy).
const dispatchCooldown = 100 * time.Millisecond

// dispatchLoop queues the jobs of the outbox's deliveries: when this
// process commits some, and every poll interval for those of processes
// that stopped before they queued theirs.
func (s *Service) dispatchLoop(ctx context.Context) {
	defer close(s.dispatched)
	poll := time.NewTicker(s.cfg.PollInterval)
	defer poll.Stop()
	for {
		n, err := s.dispatch(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "webhook outbox", "err", err)
		}
		if err == nil && n == outboxBatch {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-s.queued:
		case <-poll.C:
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(dispatchCooldown):
		}
	}
}

// dispatch takes one batch of the outbox and queues its jobs, in one
// transaction, and returns how many entries it took.
func (s *Service) dispatch(ctx context.Context) (int, error) {
	var n int
	err := s.db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		entries, err := tx.TakeOutbox(ctx, outboxBatch)
		if err != nil || len(entries) == 0 {
			return err
		}
		var jobs []river.InsertManyParams
		for _, args := range batches(entries) {
			jobs = append(jobs, river.InsertManyParams{Args: args})
		}
		if _, err := s.river.InsertManyFastTx(ctx, tx.SQL(), jobs); err != nil {
			return fmt.Errorf("webhooks: queue %d deliveries: %w", len(entries), err)
		}
		n = len(entries)
		return nil
	})
	return n, err
}

// batches groups the deliveries of entries into jobs: each of one endpoint,
// at most batchSize deliveries, no two of one resource.
func batches(entries []store.OutboxEntry) []deliveryArgs {
	type filling struct {
		job       int
		resources []string
	}
	var jobs []deliveryArgs
	open := map[[2]string]*filling{} // by account and endpoint
	for _, e := range entries {
		key := [2]string{e.AccountID, e.EndpointID}
		f := open[key]
		if f == nil || len(f.resources) == batchSize || (e.ResourceID != "" && slices.Contains(f.resources, e.ResourceID)) {
			f = &filling{job: len(jobs)}
			open[key] = f
			jobs = append(jobs, deliveryArgs{Account: e.AccountID, Endpoint: e.EndpointID})
		}
		jobs[f.job].Deliveries = append(jobs[f.job].Deliveries, e.DeliveryID)
		f.resources = append(f.resources, e.ResourceID)
	}
	return jobs
}
