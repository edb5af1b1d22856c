package main

import (
	"fmt"
	"math"
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
	PoolSize         int
	CursorSecret     string
	PprofAddr        string
	StatementTimeout time.Duration
	BlobURL          string
	BlobTimeout      time.Duration
	MaxContentBytes  int64
	MinUploadRate    int64
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
}

type setting struct {
	name, def, help string
	set             func(c *config, v string) error
}

var settings = []setting{
	{"LISTEN_ADDR", "127.0.0.1:8080", "Address the HTTP server listens on.",
		func(c *config, v string) error { c.ListenAddr = v; return nil }},
	{"DATABASE_URL", "sqlite:data/refactor.db", "`postgres://…` or `postgresql://…` selects PostgreSQL; `sqlite:PATH` selects the embedded SQLite.",
		func(c *config, v string) error { c.DatabaseURL = v; return nil }},
	{"DATABASE_READ_URL", "", "PostgreSQL only: a streaming replica of `DATABASE_URL` serving list and get reads (writes stay on the primary; reads may lag it by the replication delay).",
		func(c *config, v string) error { c.DatabaseReadURL = v; return nil }},
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
	{"PPROF_ADDR", "", "When set, Go's `/debug/pprof/` profiles are served on this address only (keep it on loopback).",
		func(c *config, v string) error { c.PprofAddr = v; return nil }},
	{"METRICS_ADDR", "", "When set, Prometheus metrics are served at `/metrics` on this address only; unset serves them on `LISTEN_ADDR`.",
		func(c *config, v string) error { c.MetricsAddr = v; return nil }},
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

func positiveDuration(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, err
	}
	if d <= 0 {
		return 0, fmt.Errorf("must be positive")
	}
	return d, nil
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
