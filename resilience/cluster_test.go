package resilience

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	_ "github.com/lib/pq" // registers "postgres"
)

// cluster is a throwaway PostgreSQL cluster of this test process, which the
// tests may stop and start: the machine's shared server is never touched.
type cluster struct {
	dir, bin string
	port     int
}

var clusters struct {
	mu   sync.Mutex
	list []*cluster
}

// newCluster initialises and starts a cluster on a free port; it is stopped
// and removed when the test ends. Without the PostgreSQL binaries the test
// skips, or fails under CI=true.
func newCluster(t testing.TB) *cluster {
	t.Helper()
	bin := os.Getenv("STORETEST_PG_BIN")
	if bin == "" {
		bin = "/usr/lib/postgresql/15/bin"
	}
	if _, err := os.Stat(filepath.Join(bin, "initdb")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no PostgreSQL binaries: %v", err)
		}
		t.Skipf("no PostgreSQL binaries: %v", err)
	}
	dir, err := os.MkdirTemp("", "resilience-pg-")
	if err != nil {
		t.Fatal(err)
	}
	if err := chownToPostgres(dir); err != nil {
		t.Fatal(err)
	}
	c := &cluster{dir: dir, bin: bin, port: freePort(t)}
	clusters.mu.Lock()
	clusters.list = append(clusters.list, c)
	clusters.mu.Unlock()
	t.Cleanup(c.remove)
	if err := pgTool(filepath.Join(bin, "initdb"), "-D", c.data(), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"); err != nil {
		t.Fatal(err)
	}
	c.start(t)
	return c
}

func (c *cluster) data() string { return filepath.Join(c.dir, "data") }

// url is the URL of the cluster's postgres database.
func (c *cluster) url() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
}

func (c *cluster) start(t testing.TB) {
	t.Helper()
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c max_connections=200", c.port, c.dir)
	if err := pgTool(filepath.Join(c.bin, "pg_ctl"), "-D", c.data(), "-l", filepath.Join(c.dir, "log"), "-w", "-o", opts, "start"); err != nil {
		t.Fatal(err)
	}
}

// stop shuts the cluster down at once, as a crash or failover would:
// connections are cut and new ones refused.
func (c *cluster) stop(t testing.TB) {
	t.Helper()
	if err := c.stopErr(); err != nil {
		t.Fatal(err)
	}
}

func (c *cluster) stopErr() error {
	return pgTool(filepath.Join(c.bin, "pg_ctl"), "-D", c.data(), "-m", "immediate", "-w", "stop")
}

func (c *cluster) remove() {
	if _, err := os.Stat(filepath.Join(c.data(), "postmaster.pid")); err == nil {
		c.stopErr()
	}
	os.RemoveAll(c.dir)
}

// stopClusters is TestMain's safety net for a test that died before its
// clean-up ran.
func stopClusters() {
	clusters.mu.Lock()
	defer clusters.mu.Unlock()
	for _, c := range clusters.list {
		c.remove()
	}
}

func pgTool(name string, args ...string) error {
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
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return os.Chown(dir, uid, gid)
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
