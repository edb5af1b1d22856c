package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/lib/pq" // registers "postgres"

	"github.com/re-factor/resources/internal/testkit"
)

// SQL opens the PostgreSQL database at url with database/sql, beside the
// store, for what a test does behind its back (locks, plans, replication);
// it is closed when the test ends.
func SQL(tb testing.TB, url string) *sql.DB {
	tb.Helper()
	db, err := sql.Open("postgres", url)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

const defaultProbeURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// pg is the PostgreSQL server the tests of this process share.
var pg struct {
	once    sync.Once
	err     error    // why there is no server
	admin   *sql.DB  // connected to its maintenance database
	base    *url.URL // that database's URL
	cluster string   // the throwaway cluster's folder, if one was started
	source  string   // where the server came from, for the log
	logged  sync.Once
	dbs     atomic.Int64
}

// bouncer is the PgBouncer in front of pg that the tests of this process
// share, started by the first test that needs it.
var bouncer struct {
	once sync.Once
	b    *PgBouncer
	err  error
}

// pgBouncerURL creates a database for the test and returns its URL through
// PgBouncer.
func pgBouncerURL(tb testing.TB) string {
	tb.Helper()
	direct, err := url.Parse(postgresURL(tb))
	if err != nil {
		tb.Fatal(err)
	}
	bouncer.once.Do(func() {
		dir, err := os.MkdirTemp("", "storetest-pgbouncer-")
		if err != nil {
			bouncer.err = err
			return
		}
		if bouncer.b, bouncer.err = StartPgBouncer(dir, pg.base.String()); bouncer.err != nil {
			os.RemoveAll(dir)
		}
	})
	if bouncer.err != nil {
		testkit.Unavailable(tb, "storetest: no PgBouncer: %v", bouncer.err)
	}
	return bouncer.b.URL(strings.TrimPrefix(direct.Path, "/"))
}

// stopPgBouncer stops the shared PgBouncer, if any, and removes its folder.
func stopPgBouncer() {
	if bouncer.b == nil {
		return
	}
	if err := bouncer.b.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "storetest: stop pgbouncer:", err)
	}
	os.RemoveAll(bouncer.b.Dir)
}

// postgresURL creates a database for the test and returns its URL.
func postgresURL(tb testing.TB) string {
	tb.Helper()
	pg.once.Do(findPostgres)
	if pg.err != nil {
		testkit.Unavailable(tb, "storetest: no PostgreSQL: %v", pg.err)
	}
	pg.logged.Do(func() { tb.Logf("storetest: PostgreSQL from %s", pg.source) })
	// The pid keeps parallel test binaries apart, the random part leftovers
	// of a crashed run.
	name := fmt.Sprintf("storetest_%d_%d_%s", os.Getpid(), pg.dbs.Add(1), strings.ToLower(rand.Text()[:6]))
	ctx := context.Background()
	if _, err := pg.admin.ExecContext(ctx, `CREATE DATABASE `+name); err != nil {
		tb.Fatalf("storetest: %v", err)
	}
	tb.Cleanup(func() {
		if _, err := pg.admin.ExecContext(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			tb.Errorf("storetest: %v", err)
		}
	})
	u := *pg.base
	u.Path = "/" + name
	return u.String()
}

func findPostgres() {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		pg.source = "TEST_DATABASE_URL " + redact(u)
		if err := connect(u); err != nil {
			pg.err = fmt.Errorf("TEST_DATABASE_URL: %w", err)
		}
		return
	}
	probe := os.Getenv("STORETEST_PG_PROBE_URL")
	if probe == "" {
		probe = defaultProbeURL
	}
	pg.source = redact(probe)
	probeErr := connect(probe)
	if probeErr == nil {
		return
	}
	pg.source = "a throwaway cluster in " + os.TempDir()
	u, err := startCluster()
	if err == nil {
		err = connect(u)
	}
	if err != nil {
		pg.err = fmt.Errorf("%s: %v; throwaway cluster: %w", redact(probe), probeErr, err)
	}
}

func connect(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return err
	}
	db, err := sql.Open("postgres", rawURL)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return err
	}
	pg.admin, pg.base = db, u
	return nil
}

// startCluster initialises and starts a PostgreSQL cluster in a new
// temporary folder, listening on a free port, and returns its URL.
func startCluster() (string, error) {
	bin := os.Getenv("STORETEST_PG_BIN")
	if bin == "" {
		bin = "/usr/lib/postgresql/15/bin"
	}
	if _, err := os.Stat(filepath.Join(bin, "initdb")); err != nil {
		return "", fmt.Errorf("no initdb in %s (set STORETEST_PG_BIN): %w", bin, err)
	}
	dir, err := os.MkdirTemp("", "storetest-pg-")
	if err != nil {
		return "", err
	}
	pg.cluster = dir
	if err := chownToPostgres(dir); err != nil {
		return "", err
	}
	port, err := testkit.FreePort()
	if err != nil {
		return "", err
	}
	data := filepath.Join(dir, "data")
	if err := runPostgresTool(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres",
		"--auth=trust", "-E", "UTF8", "--no-sync"); err != nil {
		return "", err
	}
	settings := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off "+
		"-c synchronous_commit=off -c full_page_writes=off -c max_connections=300", port, dir)
	if err := runPostgresTool(filepath.Join(bin, "pg_ctl"), "-D", data, "-l", filepath.Join(dir, "log"),
		"-w", "-o", settings, "start"); err != nil {
		return "", err
	}
	pg.source = fmt.Sprintf("a throwaway cluster in %s, port %d", dir, port)
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port), nil
}

// stopCluster stops the throwaway cluster, if any, and removes its folder.
func stopCluster() {
	if pg.cluster == "" {
		return
	}
	if pg.admin != nil {
		pg.admin.Close()
	}
	data := filepath.Join(pg.cluster, "data")
	if _, err := os.Stat(filepath.Join(data, "postmaster.pid")); err == nil {
		bin := os.Getenv("STORETEST_PG_BIN")
		if bin == "" {
			bin = "/usr/lib/postgresql/15/bin"
		}
		if err := runPostgresTool(filepath.Join(bin, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop"); err != nil {
			fmt.Fprintln(os.Stderr, "storetest:", err)
		}
	}
	os.RemoveAll(pg.cluster)
}

// runPostgresTool runs a PostgreSQL program, as the postgres user when we
// are root: initdb and the server refuse to run as root.
func runPostgresTool(name string, args ...string) error {
	cmd := exec.Command(name, args...)
	if os.Geteuid() == 0 {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", name}, args...)...)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %w\n%s", filepath.Base(name), err, out)
	}
	return nil
}

func chownToPostgres(dir string) error {
	c, err := postgresUser()
	if c == nil {
		return err
	}
	return os.Chown(dir, int(c.Uid), int(c.Gid))
}

// postgresUser returns the postgres user's ids when we are root, whose
// files and programs PostgreSQL's and PgBouncer's refuse, and nil otherwise:
// then what we make is already theirs to use.
func postgresUser() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, err
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// redact hides a password in a URL before it is printed.
func redact(rawURL string) string {
	if u, err := url.Parse(rawURL); err == nil {
		return u.Redacted()
	}
	return "the PostgreSQL URL"
}
