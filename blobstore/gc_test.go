package blobstore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/re-factor/resources/blobstore"
	"github.com/re-factor/resources/blobstore/blobtest"
)

// referenced is a Referenced that yields keys in byte order.
func referenced(keys ...string) blobstore.Referenced {
	sorted := slices.Sorted(slices.Values(keys))
	return func(_ context.Context, fn func(string) error) error {
		for _, k := range sorted {
			if err := fn(k); err != nil {
				return err
			}
		}
		return nil
	}
}

// orphans runs st.Orphans and returns the keys it found, in the order found.
func orphans(st *blobstore.Store, olderThan time.Time, ref blobstore.Referenced, remove bool) ([]string, error) {
	var keys []string
	err := st.Orphans(context.Background(), olderThan, ref, nil, remove, func(o blobstore.Orphan) error {
		keys = append(keys, o.Key)
		return nil
	})
	return keys, err
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
		blobstore.SetPageSize(st, 2) // several pages, deleting as it goes
		// Accounts "a" and "a-b": the keys of a-b sort before those of a
		// ('-' < '/'), though a directory walk meets a first.
		kept := []string{blobstore.Key("a", "kept"), blobstore.Key("a-b", "kept"), blobstore.Key("acct-2", "kept")}
		orphaned := []string{
			blobstore.Key("a", "orphan-1"), blobstore.Key("a-b", "orphan-2"), blobstore.Key("a-b-c", "orphan-3"),
			blobstore.Key("acct-2", "orphan-4"), blobstore.Key("acct-3", "orphan-5"), blobstore.Key("acct-3", "orphan-6"),
		}
		foreign := "elsewhere/not-ours"
		for _, k := range slices.Concat(kept, orphaned, []string{foreign}) {
			put(t, st, k, []byte(k))
		}
		cut := pastSecond()
		young := blobstore.Key("a", "young")
		put(t, st, young, []byte("young"))
		slices.Sort(orphaned)
		// Rows may also name keys with no object (their bytes in another
		// bucket under the same key, say) or outside the prefix.
		ref := referenced(slices.Concat(kept, []string{blobstore.Key("a", "gone"), blobstore.Key("zz", "gone"), "0-first", "~last"})...)

		found, err := orphans(st, cut, ref, false)
		if err != nil || !slices.Equal(found, orphaned) {
			t.Fatalf("Orphans (dry run) = %q, %v; want %q in this order", found, err, orphaned)
		}
		for _, k := range orphaned {
			if !exists(t, st, k) {
				t.Errorf("dry run removed %q", k)
			}
		}

		injected := errors.New("injected database failure")
		failing := func(context.Context, func(string) error) error { return injected }
		if _, err := orphans(st, cut, failing, true); !errors.Is(err, injected) {
			t.Fatalf("Orphans with a failing database: err = %v, want the injected error", err)
		}
		for _, k := range orphaned {
			if !exists(t, st, k) {
				t.Errorf("Orphans with a failing database removed %q", k)
			}
		}
		// Keys out of order are a bug that would make referenced objects
		// look orphaned: Orphans stops at the first it sees.
		unsorted := func(_ context.Context, fn func(string) error) error {
			for _, k := range []string{kept[2], kept[0]} {
				if err := fn(k); err != nil {
					return err
				}
			}
			return nil
		}
		if _, err := orphans(st, cut, unsorted, false); err == nil || !strings.Contains(err.Error(), "out of order") {
			t.Fatalf("Orphans with unsorted keys: err = %v, want out of order", err)
		}

		found, err = orphans(st, cut, ref, true)
		if err != nil || !slices.Equal(found, orphaned) {
			t.Fatalf("Orphans = %q, %v; want %q", found, err, orphaned)
		}
		for _, k := range orphaned {
			if exists(t, st, k) {
				t.Errorf("orphan %q was not removed", k)
			}
		}
		for _, k := range slices.Concat(kept, []string{young, foreign}) {
			if !exists(t, st, k) {
				t.Errorf("%q was removed", k)
			}
		}
		if found, err := orphans(st, cut, ref, true); err != nil || len(found) != 0 {
			t.Errorf("second Orphans = %q, %v; want none", found, err)
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
	if found, err := orphans(st, time.Now().Add(-time.Hour), referenced(), true); err != nil || len(found) != 0 {
		t.Fatalf("Orphans older than an hour = %q, %v; want none", found, err)
	}
	var found []blobstore.Orphan
	err = st.Orphans(ctx, time.Now().Add(time.Minute), referenced(), nil, true, func(o blobstore.Orphan) error {
		found = append(found, o)
		return nil
	})
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
	found, err := orphans(st, time.Now().Add(-time.Hour), referenced(), true)
	if err != nil || len(found) != 1 || found[0] != key+".18b4a1c3d2e5f607.tmp" {
		t.Fatalf("Orphans = %q, %v; want the temporary file", found, err)
	}
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary file still there: %v", err)
	}
}
