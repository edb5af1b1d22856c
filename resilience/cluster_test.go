package resilience

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	_ "github.com/lib/pq" // registers "postgres"

	"github.com/re-factor/resources/internal/testkit"
	"github.com/re-factor/resources/store/storetest"
)

// clusterSettings make a throwaway cluster quick and roomy for load.
var clusterSettings = []string{"fsync=off", "max_connections=200"}

// cluster is a throwaway PostgreSQL cluster of this test process, which the
// tests may stop and start: the machine's shared server is never touched.
type cluster struct{ *storetest.Cluster }

var clusters struct {
	mu   sync.Mutex
	list []*cluster
}

// databases gives, by engine, the URL of a new database for the server: a
// throwaway PostgreSQL cluster's, or an SQLite file's.
var databases = map[string]func(t *testing.T) string{
	"postgres": func(t *testing.T) string { return newCluster(t).url() },
	"sqlite":   func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "refactor.db") },
}

// newCluster initialises and starts a cluster on a free port; it is stopped
// and removed when the test ends. Without the PostgreSQL binaries the test
// skips, or fails under CI=true.
func newCluster(t testing.TB) *cluster {
	t.Helper()
	return keepCluster(t, func(dir string) (*storetest.Cluster, error) {
		return storetest.StartCluster(dir, clusterSettings...)
	})
}

// newReplica makes a streaming replica of primary (pg_basebackup -R) and
// starts it on a port of its own; like newCluster's, it is stopped and
// removed when the test ends.
func newReplica(t testing.TB, primary *cluster) *cluster {
	t.Helper()
	return keepCluster(t, func(dir string) (*storetest.Cluster, error) {
		return storetest.StartReplica(primary.Cluster, dir, clusterSettings...)
	})
}

// keepCluster starts a cluster with start in a new folder and registers it
// for removal at the test's end.
func keepCluster(t testing.TB, start func(dir string) (*storetest.Cluster, error)) *cluster {
	t.Helper()
	if _, err := os.Stat(filepath.Join(storetest.PGBin(), "initdb")); err != nil {
		testkit.Unavailable(t, "no PostgreSQL binaries: %v", err)
	}
	dir, err := os.MkdirTemp("", "resilience-pg-")
	if err != nil {
		t.Fatal(err)
	}
	sc, err := start(dir)
	if err != nil {
		os.RemoveAll(dir)
		t.Fatal(err)
	}
	c := &cluster{sc}
	clusters.mu.Lock()
	clusters.list = append(clusters.list, c)
	clusters.mu.Unlock()
	t.Cleanup(c.remove)
	return c
}

// url is the URL of the cluster's postgres database.
func (c *cluster) url() string { return c.URL("postgres") }

func (c *cluster) start(t testing.TB) {
	t.Helper()
	if err := c.Start(clusterSettings...); err != nil {
		t.Fatal(err)
	}
}

// stop shuts the cluster down at once, as a crash or failover would:
// connections are cut and new ones refused.
func (c *cluster) stop(t testing.TB) {
	t.Helper()
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
}

func (c *cluster) remove() {
	if _, err := os.Stat(filepath.Join(c.Dir, "data", "postmaster.pid")); err == nil {
		c.Stop()
	}
	os.RemoveAll(c.Dir)
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
