package resilience

import (
	"context"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

var outages = flag.Int("outages", 2, "PostgreSQL stops in TestDatabaseOutage")

// stmtTimeout is DB_STATEMENT_TIMEOUT for the fault suites: every request
// must be answered within it plus slack, database or not.
const stmtTimeout = 2 * time.Second

// slowest is the longest any answer may take during a fault.
const slowest = stmtTimeout + 3*time.Second

// TestDatabaseOutage stops PostgreSQL under a mixed load and starts it
// again, several times, without touching the server: during the outage
// every request gets 503 {"error"} with Retry-After within the timeout and
// /readyz says 503; afterwards the same process serves 200s again.
func TestDatabaseOutage(t *testing.T) {
	c := newCluster(t)
	srv := startServer(t, "DATABASE_URL="+c.url(), "BLOB_URL=file://"+t.TempDir(),
		"DB_STATEMENT_TIMEOUT="+stmtTimeout.String())
	l := newLoader(t, srv.URL, []string{"a", "b", "c"}, 30, 1<<40)
	stopLoad := l.start(4)
	defer stopLoad()

	time.Sleep(time.Second)
	for i := range *outages {
		c.stop(t)
		waitStatus(t, srv.URL+"/readyz", http.StatusServiceUnavailable, 2*slowest)
		time.Sleep(2 * time.Second) // the load meets the outage
		before, _ := l.snapshot()
		c.start(t)
		waitStatus(t, srv.URL+"/readyz", http.StatusOK, 15*time.Second)
		waitOK(t, l, before, 15*time.Second)
		t.Logf("outage %d: survived; answers so far by status: %v", i+1, before)
	}
	stopLoad()
	checkFaultAnswers(t, l, slowest)
}

// TestBlobStoreOutage makes file:// storage fail under load (its folder
// becomes a file) and heals it: writes and downloads get 503 {"error"}
// meanwhile, lists keep working, and the server recovers by itself.
func TestBlobStoreOutage(t *testing.T) {
	c := newCluster(t)
	blobs := filepath.Join(t.TempDir(), "blobs")
	srv := startServer(t, "DATABASE_URL="+c.url(), "BLOB_URL=file://"+blobs,
		"DB_STATEMENT_TIMEOUT="+stmtTimeout.String())
	l := newLoader(t, srv.URL, []string{"a", "b"}, 50, 1<<40)
	stopLoad := l.start(4)
	defer stopLoad()

	time.Sleep(time.Second)
	if err := os.Rename(blobs, blobs+".away"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(blobs, []byte("not a folder"), 0o600); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	before, _ := l.snapshot()
	if before[http.StatusServiceUnavailable] == 0 {
		t.Errorf("no 503 while storage was broken: %v", before)
	}
	// Swap the folder back in one step: between a remove and a rename, a
	// create's MkdirAll would make a fresh blobs folder in its place.
	if err := unix.Renameat2(unix.AT_FDCWD, blobs+".away", unix.AT_FDCWD, blobs, unix.RENAME_EXCHANGE); err != nil {
		t.Fatal(err)
	}
	os.Remove(blobs + ".away")
	waitOK(t, l, before, 15*time.Second)
	stopLoad()
	checkFaultAnswers(t, l, slowest)
	t.Logf("storage outage survived; answers by status: %v", before)
}

// checkFaultAnswers: only 2xx, 404 (a racing delete) and 503 are allowed,
// all well-formed, none slower than bound.
func checkFaultAnswers(t *testing.T, l *loader, bound time.Duration) {
	t.Helper()
	counts, n := l.snapshot()
	for status, k := range counts {
		switch status {
		case http.StatusOK, http.StatusNotFound, http.StatusServiceUnavailable, statusTruncated:
		default:
			t.Errorf("%d answers with status %d (0 is a transport error)", k, status)
		}
	}
	for _, b := range l.bad[:min(len(l.bad), 10)] {
		t.Errorf("bad answer: %s", b)
	}
	worst := l.percentile(1, time.Time{}, time.Now().Add(time.Hour))
	if worst > bound {
		t.Errorf("slowest answer took %v, want under %v", worst, bound)
	}
	t.Logf("%d requests answered: %v; slowest %v", n, counts, worst.Round(time.Millisecond))
}

// waitStatus polls url until it answers want.
func waitStatus(t *testing.T, url string, want int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		r := do(context.Background(), http.MethodGet, url, "", nil)
		if r.status == want {
			if want >= 400 && !isErrorBody(r.body) {
				t.Errorf("GET %s = %d %s, want {\"error\"}", url, r.status, r.body)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s still %d %s after %v, want %d", url, r.status, r.body, within, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitOK waits until the load gets 200s again after the counts in before.
func waitOK(t *testing.T, l *loader, before map[int]int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		now, _ := l.snapshot()
		if now[http.StatusOK] > before[http.StatusOK]+20 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery within %v: answers %v, before %v", within, now, before)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
