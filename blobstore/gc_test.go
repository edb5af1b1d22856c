package blobstore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/re-factor/resources/blobstore"
	"github.com/re-factor/resources/blobstore/blobtest"
)

// refs is a Referenced that claims a fixed set of keys and records the keys
// it was asked about.
type refs struct {
	mu    sync.Mutex
	keep  map[string]bool
	asked []string
}

func (r *refs) referenced(_ context.Context, keys []string) (map[string]bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.asked = append(r.asked, keys...)
	found := make(map[string]bool)
	for _, k := range keys {
		if r.keep[k] {
			found[k] = true
		}
	}
	return found, nil
}

// orphanKeys returns the keys of orphans, sorted.
func orphanKeys(orphans []blobstore.Orphan) []string {
	var keys []string
	for _, o := range orphans {
		keys = append(keys, o.Key)
	}
	slices.Sort(keys)
	return keys
}

// exists reports whether an object is stored at key.
func exists(t *testing.T, st *blobstore.Store, key string) bool {
	t.Helper()
	r, err := st.NewRangeReader(context.Background(), key, 0, 1)
	if errors.Is(err, blobstore.ErrNotFound) {
		return false
	}
	if err != nil {
		t.Fatalf("NewRangeReader(%q): %v", key, err)
	}
	r.Close()
	return true
}

// pastSecond returns, after writes made before it was called, a time later
// than their modification times and not later than those of writes made
// after it returns, even where modification times have whole seconds (S3).
func pastSecond() time.Time {
	time.Sleep(1100 * time.Millisecond)
	return time.Now().Truncate(time.Second)
}

func TestOrphans(t *testing.T) {
	forEachKind(t, func(t *testing.T, kind string, st *blobstore.Store) {
		ctx := context.Background()
		blobstore.SetPageSize(st, 2) // several pages, deleting as it goes
		kept := []string{blobstore.Key("acct-1", "kept"), blobstore.Key("acct-2", "kept")}
		orphans := []string{
			blobstore.Key("acct-1", "orphan-1"), blobstore.Key("acct-1", "orphan-2"),
			blobstore.Key("acct-2", "orphan-3"), blobstore.Key("acct-3", "orphan-4"),
			blobstore.Key("acct-3", "orphan-5"),
		}
		foreign := "elsewhere/not-ours"
		for _, k := range slices.Concat(kept, orphans, []string{foreign}) {
			put(t, st, k, []byte(k))
		}
		cut := pastSecond()
		young := blobstore.Key("acct-1", "young")
		put(t, st, young, []byte("young"))
		slices.Sort(orphans)

		r := &refs{keep: map[string]bool{kept[0]: true, kept[1]: true}}
		found, err := st.Orphans(ctx, cut, r.referenced, false)
		if err != nil || !slices.Equal(orphanKeys(found), orphans) {
			t.Fatalf("Orphans (dry run) = %q, %v; want %q", orphanKeys(found), err, orphans)
		}
		for _, k := range r.asked {
			if k == young || k == foreign {
				t.Errorf("Orphans asked about %q", k)
			}
		}
		for _, k := range orphans {
			if !exists(t, st, k) {
				t.Errorf("dry run removed %q", k)
			}
		}

		injected := errors.New("injected database failure")
		failing := func(context.Context, []string) (map[string]bool, error) { return nil, injected }
		if _, err := st.Orphans(ctx, cut, failing, true); !errors.Is(err, injected) {
			t.Fatalf("Orphans with a failing check: err = %v, want the injected error", err)
		}
		for _, k := range orphans {
			if !exists(t, st, k) {
				t.Errorf("Orphans with a failing check removed %q", k)
			}
		}

		found, err = st.Orphans(ctx, cut, r.referenced, true)
		if err != nil || !slices.Equal(orphanKeys(found), orphans) {
			t.Fatalf("Orphans = %q, %v; want %q", orphanKeys(found), err, orphans)
		}
		for _, k := range orphans {
			if exists(t, st, k) {
				t.Errorf("orphan %q was not removed", k)
			}
		}
		for _, k := range slices.Concat(kept, []string{young, foreign}) {
			if !exists(t, st, k) {
				t.Errorf("%q was removed", k)
			}
		}
		if found, err := st.Orphans(ctx, cut, r.referenced, true); err != nil || len(found) != 0 {
			t.Errorf("second Orphans = %q, %v; want none", orphanKeys(found), err)
		}
	})
}

// TestOrphansUploads checks that Orphans aborts the multipart uploads that a
// crash in the middle of a Put leaves on S3.
func TestOrphansUploads(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := blobtest.Open(t, "s3")
	client := blobtest.S3Client(t)
	key := blobstore.Key("acct-1", "crashed")
	up, err := client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(st.Bucket()), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("CreateMultipartUpload: %v", err)
	}
	none := func(context.Context, []string) (map[string]bool, error) { return nil, nil }
	if found, err := st.Orphans(ctx, time.Now().Add(-time.Hour), none, true); err != nil || len(found) != 0 {
		t.Fatalf("Orphans older than an hour = %+v, %v; want none", found, err)
	}
	found, err := st.Orphans(ctx, time.Now().Add(time.Minute), none, true)
	if err != nil || len(found) != 1 || found[0].Key != key || found[0].Upload != aws.ToString(up.UploadId) {
		t.Fatalf("Orphans = %+v, %v; want the upload %s of %q", found, err, aws.ToString(up.UploadId), key)
	}
	assertGone(t, "s3", st, key)
}

// TestOrphansTempFiles checks that Orphans removes the temporary files that a
// crash in the middle of a Put leaves in a file:// store.
func TestOrphansTempFiles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := blobstore.Open(ctx, "file://"+dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	key := blobstore.Key("acct-1", "crashed")
	tmp := filepath.Join(dir, filepath.FromSlash(key)) + ".18b4a1c3d2e5f607.tmp"
	if err := os.MkdirAll(filepath.Dir(tmp), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tmp, []byte("partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(tmp, old, old); err != nil {
		t.Fatal(err)
	}
	none := func(context.Context, []string) (map[string]bool, error) { return nil, nil }
	found, err := st.Orphans(ctx, time.Now().Add(-time.Hour), none, true)
	if err != nil || len(found) != 1 {
		t.Fatalf("Orphans = %+v, %v; want the temporary file", found, err)
	}
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary file still there: %v", err)
	}
}
