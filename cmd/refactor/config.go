package main

import (
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/re-factor/resources/blobstore"
)

// config is everything the binary reads from its environment. settings below
// is the one place each variable is named, defaulted and described; the
// README's configuration table is generated from it (`refactor config`).
type config struct {
	ListenAddr       string
	DatabaseURL      string
	DatabaseReadURL  string
	DatabaseDirect   string
	EventsRetention  time.Duration
	WebhookRetryBase time.Duration
	PoolSize         int
	CursorSecret     string
	PprofAddr        string
	StatementTimeout time.Duration
	BlobURL          string
	BlobTimeout      time.Duration
	MaxContentBytes  int64
	MinUploadRate    int64
	MaxUploadBytes   int64
	MaxOpenUploads   int
	UploadExpiry     time.Duration
	FetchPrivate     bool
	JWTSecret        string
	JWTJWKSURL       string
	JWTIssuer        string
	JWTAudience      string
	JWTAccountClaim  string
	RateLimitRPS     float64
	RateLimitBurst   int
	CORSOrigins      []string
	MetricsAddr      string
	PublicURL        string
	LinkRedirect     bool
	LinkMissRPS      float64
	LinkMissBurst    int
	ShutdownGrace    time.Duration
	ShutdownTimeout  time.Duration
}

type setting struct {
	name, def, help string
	set             func(c *config, v string) error
}

var settings = []setting{
	{"LISTEN_ADDR", "127.0.0.1:8080", "Address the HTTP server listens on.",
		func(c *config, v string) error { c.ListenAddr = v; return nil }},
	{"DATABASE_URL", "sqlite:data/refactor.db", "`postgres://…` or `postgresql://…` selects PostgreSQL; `sqlite:PATH` selects the embedded SQLite. Behind PgBouncer (or another pooler) in transaction mode, add `pool_mode=transaction` to the URL's parameters.",
		func(c *config, v string) error { c.DatabaseURL = v; return nil }},
	{"DATABASE_READ_URL", "", "PostgreSQL only: a streaming replica of `DATABASE_URL` serving list and get reads (writes stay on the primary; lists may lag it by the replication delay, and a get the replica cannot answer yet asks the primary). `pool_mode=transaction` as for `DATABASE_URL`.",
		func(c *config, v string) error { c.DatabaseReadURL = v; return nil }},
	{"DATABASE_DIRECT_URL", "", "PostgreSQL only: a direct connection to the primary (not through a pooler in transaction mode, which cannot carry `LISTEN`), on which each server holds one connection that wakes its event streams when any server commits a change. Unset: `DATABASE_URL`, which must then be direct.",
		func(c *config, v string) error { c.DatabaseDirect = v; return nil }},
	{"EVENTS_RETENTION", "168h", "How long the change feed keeps events (Go duration; 7 days by default). Older events are pruned every hour by `serve` and by `refactor gc`; a reader asking for a pruned sequence gets 410 and re-lists.",
		func(c *config, v string) (err error) { c.EventsRetention, err = positiveDuration(v); return err }},
	{"WEBHOOK_RETRY_BASE", "30s", "Wait before a failed webhook delivery's first retry (Go duration); each further wait doubles, up to 6 h, with ±20% jitter, for 15 attempts (about 34 hours at 30 s), after which the endpoint is disabled with the reason.",
		func(c *config, v string) (err error) { c.WebhookRetryBase, err = positiveDuration(v); return err }},
	{"DB_POOL_SIZE", "10", "Most database connections per pool (the primary's, and the replica's when set); a few per database core is plenty.",
		func(c *config, v string) error { n, err := positiveInt(v); c.PoolSize = int(n); return err }},
	{"DB_STATEMENT_TIMEOUT", "5s", "Longest any one database statement may run (Go duration).",
		func(c *config, v string) (err error) { c.StatementTimeout, err = positiveDuration(v); return err }},
	{"BLOB_URL", "file://data/blobs", "Where resource bytes live: `file://DIR`, `s3://bucket?endpoint=…&region=…`, `gs://bucket`, `azblob://container`.",
		func(c *config, v string) error { c.BlobURL = v; return nil }},
	{"BLOB_TIMEOUT", blobstore.DefaultTimeout.String(), "Deadline of each storage operation (Go duration): opening a download, a delete, a page of a listing. An upload or download fails when one of its reads or writes makes no progress for this long; one that keeps moving is never cut. 503 with `Retry-After` beyond.",
		func(c *config, v string) (err error) { c.BlobTimeout, err = positiveDuration(v); return err }},
	{"MAX_CONTENT_BYTES", "26214400", "Largest resource content accepted (bytes; 413 beyond). A create's body may be this in base64 plus 1 MiB; other request bodies 1 MiB.",
		func(c *config, v string) (err error) { c.MaxContentBytes, err = positiveInt(v); return err }},
	{"MAX_UPLOAD_BYTES", "10737418240", "Largest resumable upload (tus, `/v1/uploads`) accepted (bytes; 413 beyond), apart from `MAX_CONTENT_BYTES`.",
		func(c *config, v string) (err error) { c.MaxUploadBytes, err = positiveInt(v); return err }},
	{"MAX_OPEN_UPLOADS", "100", "Most unfinished resumable uploads an account may have (429 beyond).",
		func(c *config, v string) error { n, err := positiveInt(v); c.MaxOpenUploads = int(n); return err }},
	{"UPLOAD_EXPIRY", "24h", "How long an unfinished resumable upload lives after its creation or its last stored byte (sent as `Upload-Expires`; 410 past it); `refactor gc` removes the bytes of those past it (Go duration).",
		func(c *config, v string) (err error) { c.UploadExpiry, err = positiveDuration(v); return err }},
	{"MIN_UPLOAD_RATE", "524288", "Slowest upload or download the server waits for (bytes a second). The read timeout is 10 s plus the largest body (`MAX_CONTENT_BYTES` in base64, plus 1 MiB) at this rate; the write timeout is 60 s longer, for the work between. Header (10 s) and idle (120 s) timeouts are fixed.",
		func(c *config, v string) (err error) { c.MinUploadRate, err = positiveInt(v); return err }},
	{"URI_FETCH_ALLOW_PRIVATE", "false", "Let `uri` creates fetch from loopback, private and link-local addresses (never on the internet).",
		func(c *config, v string) (err error) { c.FetchPrivate, err = strconv.ParseBool(v); return err }},
	{"JWT_SECRET", "", "HMAC secret verifying HS256/HS384/HS512 tokens (and signing `refactor token`).",
		func(c *config, v string) error { c.JWTSecret = v; return nil }},
	{"JWT_JWKS_URL", "", "JWKS URL for RS/PS/ES/EdDSA keys; fetched at start, cached and refreshed.",
		func(c *config, v string) error { c.JWTJWKSURL = v; return nil }},
	{"JWT_ISSUER", "", "When set, tokens must carry this `iss`.",
		func(c *config, v string) error { c.JWTIssuer = v; return nil }},
	{"JWT_AUDIENCE", "", "When set, tokens must carry this `aud`.",
		func(c *config, v string) error { c.JWTAudience = v; return nil }},
	{"JWT_ACCOUNT_CLAIM", "account_id", "Claim naming the token's account (the tenant).",
		func(c *config, v string) error { c.JWTAccountClaim = v; return nil }},
	{"RATE_LIMIT_RPS", "0", "Requests a second each account may make on average (token bucket, per replica; 429 with `Retry-After` beyond). `0` turns rate limiting off.",
		func(c *config, v string) (err error) { c.RateLimitRPS, err = nonNegativeFloat(v); return err }},
	{"RATE_LIMIT_BURST", "20", "Requests an account may make at once before `RATE_LIMIT_RPS` applies.",
		func(c *config, v string) error { n, err := positiveInt(v); c.RateLimitBurst = int(n); return err }},
	{"CORS_ALLOWED_ORIGINS", "", "Comma-separated browser origins allowed to call the API, such as `https://app.example.com` (`*` for any). Unset turns CORS off.",
		func(c *config, v string) error { c.CORSOrigins = splitList(v); return nil }},
	{"CURSOR_SECRET", "", "Key signing list cursors (`next_cursor`); replicas of the server must share it. Unset: a random key per process, so cursors do not survive a restart.",
		func(c *config, v string) error { c.CursorSecret = v; return nil }},
	{"PUBLIC_URL", "", "Scheme, host and any path prefix clients reach the server at, such as `https://files.example.com`: the start of every download link's URL. Unset: the scheme and host of the request that creates the link.",
		func(c *config, v string) error { c.PublicURL = v; return publicURL(v) }},
	{"LINK_REDIRECT", "api", "How downloads through links are served: `api` (by the server, like `/content`) or `storage` (302 to a storage URL signed for at most 60 seconds, so the bytes never pass through the server; needs an `s3://`, `gs://` or `azblob://` `BLOB_URL`).",
		func(c *config, v string) error { return c.linkRedirect(v) }},
	{"LINK_MISS_RPS", "10", "Link requests that find no link (an unknown, expired, used-up or revoked token) each client address may make a second, on average (per replica; beyond it, every link request of that address is a 429 with `Retry-After` until it refills). Requests that find their link take nothing from it. `0` turns it off.",
		func(c *config, v string) (err error) { c.LinkMissRPS, err = nonNegativeFloat(v); return err }},
	{"LINK_MISS_BURST", "50", "Link requests that find no link a client address may make at once before `LINK_MISS_RPS` applies.",
		func(c *config, v string) error { n, err := positiveInt(v); c.LinkMissBurst = int(n); return err }},
	{"PPROF_ADDR", "", "When set, Go's `/debug/pprof/` profiles are served on this address only (keep it on loopback).",
		func(c *config, v string) error { c.PprofAddr = v; return nil }},
	{"METRICS_ADDR", "", "When set, Prometheus metrics are served at `/metrics` on this address only; unset serves them on `LISTEN_ADDR`.",
		func(c *config, v string) error { c.MetricsAddr = v; return nil }},
	{"SHUTDOWN_GRACE", "5s", "On SIGTERM or SIGINT, how long `serve` goes on serving while `/readyz` answers 503, so that load balancers stop sending it requests before it stops accepting connections (Go duration; `0s` stops at once; `--dev` and `--ephemeral` use `0s`).",
		func(c *config, v string) (err error) { c.ShutdownGrace, err = nonNegativeDuration(v); return err }},
	{"SHUTDOWN_TIMEOUT", "25s", "Longest a shutdown takes from the signal to the exit (Go duration): the grace, then requests in flight finish; past it the rest are cut and `serve` exits 1. Keep it under the orchestrator's own limit (Kubernetes kills after 30 s).",
		func(c *config, v string) (err error) { c.ShutdownTimeout, err = positiveDuration(v); return err }},
}

// loadConfig reads every setting from getenv, falling back to its default.
func loadConfig(getenv func(string) string) (config, error) {
	var c config
	for _, s := range settings {
		v := getenv(s.name)
		if v == "" {
			v = s.def
		}
		if err := s.set(&c, v); err != nil {
			return config{}, fmt.Errorf("%s=%q: %w", s.name, v, err)
		}
	}
	if c.ShutdownGrace >= c.ShutdownTimeout {
		return config{}, fmt.Errorf("SHUTDOWN_GRACE (%v) must be shorter than SHUTDOWN_TIMEOUT (%v), which it is part of", c.ShutdownGrace, c.ShutdownTimeout)
	}
	return c, nil
}

func positiveInt(v string) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, err
	}
	if n <= 0 {
		return 0, fmt.Errorf("must be positive")
	}
	return n, nil
}

func nonNegativeFloat(v string) (float64, error) {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, err
	}
	if f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, fmt.Errorf("must be a finite number, zero or more")
	}
	return f, nil
}

func nonNegativeDuration(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, err
	}
	if d < 0 {
		return 0, fmt.Errorf("must not be negative")
	}
	return d, nil
}

// publicURL checks PUBLIC_URL: an http or https URL with a host and
// nothing after its path.
func publicURL(v string) error {
	if v == "" {
		return nil
	}
	u, err := url.Parse(v)
	if err != nil {
		return err
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("must be an http or https URL with a host and an optional path, such as https://files.example.com")
	}
	return nil
}

func (c *config) linkRedirect(v string) error {
	switch v {
	case "api":
		c.LinkRedirect = false
	case "storage":
		c.LinkRedirect = true
	default:
		return fmt.Errorf("must be api or storage")
	}
	return nil
}

func positiveDuration(v string) (time.Duration, error) {
	d, err := nonNegativeDuration(v)
	if err == nil && d == 0 {
		err = fmt.Errorf("must be positive")
	}
	return d, err
}

// splitList splits a comma-separated value, dropping spaces and empty items.
func splitList(v string) []string {
	var items []string
	for item := range strings.SplitSeq(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			items = append(items, item)
		}
	}
	return items
}

// configTable renders settings as the README's Markdown table.
func configTable() string {
	var b strings.Builder
	b.WriteString("| variable | default | meaning |\n|---|---|---|\n")
	for _, s := range settings {
		def := "(unset)"
		if s.def != "" {
			def = "`" + s.def + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", s.name, def, s.help)
	}
	return b.String()
}
