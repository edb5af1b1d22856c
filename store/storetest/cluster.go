package storetest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/re-factor/resources/internal/testkit"
)

// Cluster is a PostgreSQL cluster of its own, in a folder, listening on a
// loopback port with trust authentication: for tests that need a server to
// themselves (a primary and its replica) and for benchmarks.
type Cluster struct {
	Dir  string // holds data/, the log and the socket
	Port int
	bin  string
}

// PGBin returns the folder of the PostgreSQL programs: STORETEST_PG_BIN, or
// /usr/lib/postgresql/15/bin.
func PGBin() string {
	if bin := os.Getenv("STORETEST_PG_BIN"); bin != "" {
		return bin
	}
	return "/usr/lib/postgresql/15/bin"
}

// StartCluster initialises a cluster in dir (created if missing) and starts
// it on a free port. settings are extra "name=value" server settings.
func StartCluster(dir string, settings ...string) (*Cluster, error) {
	c, err := newCluster(dir)
	if err != nil {
		return nil, err
	}
	if err := runPostgresTool(filepath.Join(c.bin, "initdb"), "-D", c.data(), "-U", "postgres",
		"--auth=trust", "-E", "UTF8", "--no-sync"); err != nil {
		return nil, err
	}
	return c, c.startFresh(settings)
}

// StartReplica makes a streaming replica of primary in dir with
// pg_basebackup and starts it on a free port of its own. It follows the
// primary until stopped.
func StartReplica(primary *Cluster, dir string, settings ...string) (*Cluster, error) {
	c := primary
	r, err := newCluster(dir)
	if err != nil {
		return nil, err
	}
	// -R writes standby.signal and the connection to the primary; -X stream
	// copies the WAL written meanwhile, so the copy starts consistent.
	if err := runPostgresTool(filepath.Join(r.bin, "pg_basebackup"), "-D", r.data(), "-R", "-X", "stream",
		"-c", "fast", "-h", "127.0.0.1", "-p", fmt.Sprint(c.Port), "-U", "postgres"); err != nil {
		return nil, err
	}
	return r, r.startFresh(settings)
}

// startFresh starts a new cluster, on another free port when the one found
// was taken meanwhile: tests in parallel packages find ports at once.
func (c *Cluster) startFresh(settings []string) error {
	for attempt := 1; ; attempt++ {
		err := c.start(settings)
		if err == nil {
			return nil
		}
		log := c.Log()
		if attempt == 3 || !strings.Contains(log, "could not bind") && !strings.Contains(log, "could not create any TCP/IP sockets") {
			return fmt.Errorf("%w\n%s", err, log)
		}
		if c.Port, err = testkit.FreePort(); err != nil {
			return err
		}
	}
}

func newCluster(dir string) (*Cluster, error) {
	bin := PGBin()
	if _, err := os.Stat(filepath.Join(bin, "initdb")); err != nil {
		return nil, fmt.Errorf("no initdb in %s (set STORETEST_PG_BIN): %w", bin, err)
	}
	port, err := postgresFolder(dir)
	if err != nil {
		return nil, err
	}
	return &Cluster{Dir: dir, Port: port, bin: bin}, nil
}

// postgresFolder creates dir (if missing) for a program that runs as the
// postgres user, and finds the program a free loopback port.
func postgresFolder(dir string) (port int, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, err
	}
	if err := chownToPostgres(dir); err != nil {
		return 0, err
	}
	return testkit.FreePort()
}

func (c *Cluster) data() string { return filepath.Join(c.Dir, "data") }

func (c *Cluster) start(settings []string) error {
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s", c.Port, c.Dir)
	for _, s := range settings {
		opts += " -c " + s
	}
	return runPostgresTool(filepath.Join(c.bin, "pg_ctl"), "-D", c.data(), "-l", filepath.Join(c.Dir, "log"),
		"-w", "-t", "60", "-o", opts, "start")
}

// URL returns the URL of database db on the cluster.
func (c *Cluster) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.Port, db)
}

// Start starts a stopped cluster again, as a failover or restart would.
func (c *Cluster) Start(settings ...string) error { return c.start(settings) }

// Stop stops the server at once; the folder stays, for Remove.
func (c *Cluster) Stop() error {
	return runPostgresTool(filepath.Join(c.bin, "pg_ctl"), "-D", c.data(), "-m", "immediate", "-w", "stop")
}

// Log returns the end of the server's log, for failure messages.
func (c *Cluster) Log() string {
	b, _ := os.ReadFile(filepath.Join(c.Dir, "log"))
	s := string(b)
	if i := strings.LastIndexByte(s[:max(len(s)-4000, 0)], '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}
