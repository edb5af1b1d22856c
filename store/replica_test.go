package store_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/re-factor/resources"
	"github.com/re-factor/resources/internal/testkit"
	"github.com/re-factor/resources/store"
	"github.com/re-factor/resources/store/storetest"
)

// TestReadURL serves reads from a real streaming replica, made on loopback
// with pg_basebackup from a primary of its own, and checks that lists and
// gets read the replica while writes, and the change feed's reads, go to
// the primary.
func TestReadURL(t *testing.T) {
	t.Parallel()
	primary, replica := startPrimaryAndReplica(t)
	ctx := context.Background()
	db, err := store.Open(ctx, primary.URL("postgres"), store.WithReadURL(replica.URL("postgres")))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	first := storetest.NewResource("acme", 1)
	storetest.MustImport(t, db, first)
	waitForTotal(t, db, 1)
	if _, err := db.GetResource(ctx, "acme", first.ID); err != nil {
		t.Errorf("GetResource on the replica: %v", err)
	}

	// With replay paused, a write reaches the primary but not the reads.
	admin := storetest.SQL(t, replica.URL("postgres"))
	if _, err := admin.ExecContext(ctx, `SELECT pg_wal_replay_pause()`); err != nil {
		t.Fatal(err)
	}
	second := storetest.NewResource("acme", 2)
	storetest.MustImport(t, db, second)
	time.Sleep(200 * time.Millisecond)
	if got := listTotal(t, db); got != 1 {
		t.Errorf("total with replay paused = %d, want 1: reads are not on the replica", got)
	}
	// A get the replica cannot answer yet asks the primary: a client reads
	// back what it has just written, however far the replica lags.
	if got, err := db.GetResource(ctx, "acme", second.ID); err != nil || got.ID != second.ID {
		t.Errorf("GetResource of a resource only the primary has yet: %+v, %v; want it from the primary", got.ID, err)
	}
	if _, err := db.GetResource(ctx, "acme", storetest.NewResource("acme", 3).ID); !errors.Is(err, resources.ErrNotFound) {
		t.Errorf("GetResource of a resource neither has: %v, want ErrNotFound", err)
	}
	// The change feed reads the primary: a stream woken by a commit finds
	// the commit's event however far the replica lags, or would wait for
	// the next change to see it.
	if events, _, err := db.Events(ctx, resources.EventFilter{AccountID: "acme"}); err != nil || len(events) != 2 {
		t.Errorf("Events with replay paused: %d events, %v; want both imports' from the primary", len(events), err)
	}
	if _, last, err := db.EventBounds(ctx, "acme"); err != nil || last != 2 {
		t.Errorf("EventBounds with replay paused: last %d, %v; want 2", last, err)
	}
	if _, err := admin.ExecContext(ctx, `SELECT pg_wal_replay_resume()`); err != nil {
		t.Fatal(err)
	}
	waitForTotal(t, db, 2)
}

// startPrimaryAndReplica starts two throwaway clusters, stopped when the
// test ends. Without the PostgreSQL programs it skips, or fails if CI=true.
func startPrimaryAndReplica(t *testing.T) (primary, replica *storetest.Cluster) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts two PostgreSQL clusters")
	}
	dir, err := os.MkdirTemp("", "storetest-replica-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	// The servers run as the postgres user when we are root.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// Durability is not under test: skip the fsyncs.
	primary, err = storetest.StartCluster(dir+"/primary", "fsync=off", "full_page_writes=off")
	if err != nil {
		testkit.Unavailable(t, "primary: %v", err)
	}
	t.Cleanup(func() { primary.Stop() })
	replica, err = storetest.StartReplica(primary, dir+"/replica", "fsync=off")
	if err != nil {
		t.Fatalf("replica: %v", err)
	}
	t.Cleanup(func() { replica.Stop() })
	return primary, replica
}

func listTotal(t *testing.T, db *store.DB) int64 {
	t.Helper()
	return mustList(t, db, resources.Filter{AccountID: "acme", Page: 1, PageSize: 10}).Total
}

// waitForTotal waits for replication to bring the replica's total to want.
// Until the replica has replayed the migrations, lists fail: retry those.
func waitForTotal(t *testing.T, db *store.DB, want int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		page, err := db.ListResources(context.Background(),
			resources.Filter{AccountID: "acme", Page: 1, PageSize: 10})
		if err == nil && page.Total == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica after 10s: total %d, error %v; want total %d", page.Total, err, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
