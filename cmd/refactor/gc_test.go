package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/re-factor/resources/blobstore"
	"github.com/re-factor/resources/store"
	"github.com/re-factor/resources/store/storetest"
)

// gcFixture is a database and a file:// bucket holding bytes that rows
// reference and orphans: bytes written by creates that crashed before their
// row was.
type gcFixture struct {
	c     *cli
	blobs *blobstore.Store
	dir   string
	// content maps every key put in the bucket to its bytes.
	content map[string][]byte
}

func newGCFixture(t *testing.T, engine string) *gcFixture {
	t.Helper()
	dir := t.TempDir()
	c := newCLI(t, engine)
	c.env["BLOB_URL"] = "file://" + dir
	blobs, err := blobstore.Open(context.Background(), c.env["BLOB_URL"])
	if err != nil {
		t.Fatalf("open %s: %v", c.env["BLOB_URL"], err)
	}
	t.Cleanup(func() { blobs.Close() })
	return &gcFixture{c: c, blobs: blobs, dir: dir, content: map[string][]byte{}}
}

// put stores content at the key of a new resource of account and returns
// the key.
func (f *gcFixture) put(account, content string) string {
	f.c.t.Helper()
	key := blobstore.Key(account, uuid.NewString())
	if _, err := f.blobs.Put(context.Background(), key, strings.NewReader(content), -1, "text/plain"); err != nil {
		f.c.t.Fatalf("put %s: %v", key, err)
	}
	f.content[key] = []byte(content)
	return key
}

// age sets the modification time of the bytes at key to d ago.
func (f *gcFixture) age(key string, d time.Duration) {
	f.c.t.Helper()
	when := time.Now().Add(-d)
	if err := os.Chtimes(filepath.Join(f.dir, filepath.FromSlash(key)), when, when); err != nil {
		f.c.t.Fatalf("age %s: %v", key, err)
	}
}

// gcRow is a JSON Lines record of a resource of account whose bytes are at
// key in bucket.
func gcRow(t *testing.T, account, bucket, key, content string) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"id": uuid.NewString(), "account_id": account, "name": key[strings.LastIndex(key, "/")+1:] + ".txt",
		"directory_path": "/gc", "mime_type": "text/plain", "sha256": gcSHA256(content),
		"storage_bucket": bucket, "storage_key": key, "size_bytes": len(content), "tags": []string{},
		"created_at": "2024-01-02T03:04:05Z", "updated_at": "2024-01-02T03:04:05Z",
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(b) + "\n"
}

// stored returns the keys of the bucket, sorted, failing when the bytes at
// one differ from what was put there.
func (f *gcFixture) stored() []string {
	f.c.t.Helper()
	var keys []string
	for key, want := range f.content {
		rc, err := f.blobs.NewRangeReader(context.Background(), key, 0, -1)
		if errors.Is(err, blobstore.ErrNotFound) {
			continue
		}
		if err != nil {
			f.c.t.Fatalf("read %s: %v", key, err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || string(got) != string(want) {
			f.c.t.Fatalf("bytes at %s = %q, %v; want %q", key, got, err, want)
		}
		keys = append(keys, key)
	}
	slices.Sort(keys)
	return keys
}

// gcListed returns the keys gc printed, one per line before a tab.
func gcListed(stdout string) []string {
	var keys []string
	for line := range strings.Lines(stdout) {
		key, _, _ := strings.Cut(line, "\t")
		keys = append(keys, key)
	}
	return keys
}

func gcSHA256(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func gcSorted(keys ...string) []string {
	keys = slices.Clone(keys)
	slices.Sort(keys)
	return keys
}

func gcWithout(keys []string, drop ...string) []string {
	return slices.DeleteFunc(slices.Clone(keys), func(k string) bool { return slices.Contains(drop, k) })
}

// TestGC runs refactor gc against bytes that rows reference, an old orphan,
// a young one, and bytes whose key only a row in another bucket names (an
// orphan too: that row's bytes live elsewhere). Each step runs on the state
// the one before left.
func TestGC(t *testing.T) {
	for _, engine := range storetest.Engines {
		t.Run(engine, func(t *testing.T) {
			f := newGCFixture(t, engine)
			bucket := f.blobs.Bucket()
			refOld, refNew := f.put("acct", "referenced and old"), f.put("other", "referenced and new")
			oldOrphan, newOrphan := f.put("acct", "old orphan"), f.put("acct", "young orphan")
			elsewhere := f.put("other", "named only by a row in another bucket")
			f.age(refOld, 2*time.Hour)
			f.age(oldOrphan, 2*time.Hour)
			f.c.mustRun(gcRow(t, "acct", bucket, refOld, "referenced and old")+
				gcRow(t, "other", bucket, refNew, "referenced and new")+
				gcRow(t, "other", "another-bucket", elsewhere, "elsewhere"),
				"import", "--file", "-")

			all := gcSorted(refOld, refNew, oldOrphan, newOrphan, elsewhere)
			tests := []struct {
				name   string
				args   []string
				listed []string // in key order
				left   []string
				says   string
			}{
				{"dry run lists the old orphan", []string{"--dry-run"},
					[]string{oldOrphan}, all, "would remove 1 orphans"},
				{"dry run without grace lists every orphan", []string{"--dry-run", "--grace", "0s"},
					gcSorted(oldOrphan, newOrphan, elsewhere), all, "would remove 3 orphans"},
				{"a grace longer than any age removes nothing", []string{"--grace", "3h"},
					nil, all, "removed 0 orphans"},
				{"the default grace removes the old orphan", nil,
					[]string{oldOrphan}, gcWithout(all, oldOrphan), "removed 1 orphans"},
				{"young orphans outlive an hour's grace", []string{"--grace", "1h"},
					nil, gcWithout(all, oldOrphan), "removed 0 orphans"},
				{"no grace removes the rest", []string{"--grace", "0s"},
					gcSorted(newOrphan, elsewhere), gcSorted(refOld, refNew), "removed 2 orphans"},
				{"then nothing is left to remove", []string{"--grace", "0s"},
					nil, gcSorted(refOld, refNew), "removed 0 orphans"},
			}
			for _, tt := range tests {
				stdout, stderr, err := f.c.run("", append([]string{"gc"}, tt.args...)...)
				if err != nil {
					t.Fatalf("%s: gc %v: %v\n%s", tt.name, tt.args, err, stderr)
				}
				if got := gcListed(stdout); !slices.Equal(got, tt.listed) {
					t.Errorf("%s: gc %v listed %v, want %v", tt.name, tt.args, got, tt.listed)
				}
				if got := f.stored(); !slices.Equal(got, tt.left) {
					t.Errorf("%s: after gc %v the bucket holds %v, want %v", tt.name, tt.args, got, tt.left)
				}
				if !strings.Contains(stderr, tt.says) || !strings.Contains(stderr, "2 resources reference bytes") {
					t.Errorf("%s: gc %v said %q, want %q and 2 referencing resources", tt.name, tt.args, stderr, tt.says)
				}
			}
		})
	}
}

func TestGCUsage(t *testing.T) {
	c := newCLI(t, "sqlite")
	c.env["BLOB_URL"] = "file://" + t.TempDir()
	for _, args := range [][]string{{"--grace", "soon"}, {"--dry-run=maybe"}, {"--force"}} {
		if _, _, err := c.run("", append([]string{"gc"}, args...)...); !errors.Is(err, errUsage) {
			t.Errorf("gc %v: error %v, want usage", args, err)
		}
	}
}

// TestGCConstantMemory runs gc's merge over 100,000 rows on each engine and
// checks the peak of the live heap, read after forced collections while it
// runs, against what holding the rows' keys would cost: collecting them in a
// map, as gc once did, grows it by about 14 MiB; the merge must stay well
// below. The bucket (mem://, whose listing costs memory of its own for every
// object) holds the bytes of one row in a hundred and as many orphans.
func TestGCConstantMemory(t *testing.T) {
	const (
		rows    = 100_000
		orphans = rows / 100
		limit   = 4 << 20
	)
	for _, engine := range storetest.Engines {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			db := storetest.Open(t, engine, store.WithStatementTimeout(10*time.Minute))
			blobs, err := blobstore.Open(ctx, "mem://")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { blobs.Close() })
			if _, err := db.ImportResources(ctx, gcRows(t, blobs, rows, orphans)); err != nil {
				t.Fatalf("import: %v", err)
			}

			base := liveHeap()
			stop := watchHeap()
			var found int
			referencing, err := collect(ctx, db, blobs, time.Now().Add(time.Hour), true, func(blobstore.Orphan) error {
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
		})
	}
}

// gcRows stores orphans objects that no row references in blobs, and yields
// n rows (over a few accounts) without holding them, storing the bytes of
// one in a hundred.
func gcRows(t *testing.T, blobs *blobstore.Store, n, orphans int) iter.Seq2[store.Resource, error] {
	ctx := context.Background()
	put := func(key string) {
		if _, err := blobs.Put(ctx, key, strings.NewReader("x"), -1, "text/plain"); err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
	}
	for i := range orphans {
		put(blobstore.Key(fmt.Sprint("acct-", i%7), fmt.Sprintf("orphan-%d", i)))
	}
	return func(yield func(store.Resource, error) bool) {
		for i := range n {
			account := fmt.Sprint("acct-", i%7)
			key := blobstore.Key(account, uuid.NewString())
			if i%100 == 0 {
				put(key)
			}
			r := storetest.NewResource(account, i, func(r *store.Resource) {
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
