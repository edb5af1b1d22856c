package catalog_test

import (
	"context"
	"fmt"
	"iter"
	"runtime"
	"runtime/metrics"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/re-factor/resources"
	"github.com/re-factor/resources/blobstore"
	"github.com/re-factor/resources/catalog"
	"github.com/re-factor/resources/store"
	"github.com/re-factor/resources/store/storetest"
	"github.com/re-factor/resources/urlfetch"
)

// TestCollectGarbageConstantMemory runs the merge over 100,000 rows on each engine and
// checks the peak of the live heap, read after forced collections while it
// runs, against what holding the rows' keys would cost: collecting them in a
// map, as gc once did, grows it by about 14 MiB; the merge must stay well
// below. The bucket (mem://, whose listing costs memory of its own for every
// object) holds the bytes of one row in a hundred and as many orphans.
func TestCollectGarbageConstantMemory(t *testing.T) {
	const (
		rows    = 100_000
		orphans = rows / 100
		limit   = 4 << 20
	)
	storetest.EachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		blobs, err := blobstore.Open(ctx, "mem://")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { blobs.Close() })
		svc, err := catalog.New(catalog.Config{DB: db, Blobs: blobs, Fetcher: urlfetch.New(urlfetch.Config{})})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.ImportResources(ctx, gcRows(t, blobs, rows, orphans)); err != nil {
			t.Fatalf("import: %v", err)
		}

		base := liveHeap()
		stop := watchHeap()
		var found int
		referencing, err := svc.CollectGarbage(ctx, time.Now().Add(time.Hour), true, func(blobstore.Orphan) error {
			found++
			return nil
		})
		peak := stop()
		if err != nil || referencing != rows || found != orphans {
			t.Fatalf("gc: %d rows referencing, %d orphans, %v; want %d, %d", referencing, found, err, rows, orphans)
		}
		growth := int64(peak) - int64(base)
		t.Logf("live heap %d KiB before gc, peak %d KiB during it (+%d KiB)", base>>10, peak>>10, growth>>10)
		if growth > limit {
			t.Errorf("the live heap grew by %d KiB while gc merged %d rows, want under %d KiB", growth>>10, rows, limit>>10)
		}
	}, store.WithStatementTimeout(10*time.Minute))
}

// gcRows stores orphans objects that no row references in blobs, and yields
// n rows (over a few accounts) without holding them, storing the bytes of
// one in a hundred.
func gcRows(t *testing.T, blobs *blobstore.Store, n, orphans int) iter.Seq2[resources.Resource, error] {
	ctx := context.Background()
	put := func(key string) {
		if _, err := blobs.Put(ctx, key, strings.NewReader("x"), -1, "text/plain"); err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
	}
	for i := range orphans {
		put(blobstore.Key(fmt.Sprint("acct-", i%7), fmt.Sprintf("orphan-%d", i)))
	}
	return func(yield func(resources.Resource, error) bool) {
		for i := range n {
			account := fmt.Sprint("acct-", i%7)
			key := blobstore.Key(account, uuid.NewString())
			if i%100 == 0 {
				put(key)
			}
			r := storetest.NewResource(account, i, func(r *resources.Resource) {
				r.StorageBucket, r.StorageKey = blobs.Bucket(), key
			})
			if !yield(r, nil) {
				return
			}
		}
	}
}

// watchHeap samples the live heap after forced collections until the
// returned function is called, which returns the largest sample.
func watchHeap() (stop func() uint64) {
	done, peak := make(chan struct{}), make(chan uint64)
	go func() {
		var most uint64
		for {
			runtime.GC()
			most = max(most, liveHeap())
			select {
			case <-done:
				peak <- most
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	return func() uint64 { close(done); return <-peak }
}

// liveHeap is the heap the last collection found live.
func liveHeap() uint64 {
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}
