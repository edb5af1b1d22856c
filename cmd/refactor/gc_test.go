package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/re-factor/resources/blobstore"
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
