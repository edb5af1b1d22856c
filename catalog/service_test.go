package catalog_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/re-factor/resources"
	"github.com/re-factor/resources/blobstore"
	"github.com/re-factor/resources/blobstore/blobtest"
	"github.com/re-factor/resources/catalog"
	"github.com/re-factor/resources/store"
	"github.com/re-factor/resources/store/storetest"
	"github.com/re-factor/resources/urlfetch"
)

func TestMain(m *testing.M) { blobtest.Main(m, storetest.Cleanup) }

// clock is the fixed time of every test service.
var clock = time.Date(2026, 11, 29, 1, 2, 3, 0, time.UTC)

// env is a service on a real database and a real blob store.
type env struct {
	svc   *catalog.Service
	db    *store.DB
	blobs *blobstore.Store
}

func newEnv(t *testing.T, engine string, blobs *blobstore.Store, maxContent int64) env {
	t.Helper()
	db := storetest.Open(t, engine)
	svc, err := catalog.New(catalog.Config{DB: db, Blobs: blobs, MaxContentBytes: maxContent,
		Fetcher: urlfetch.New(urlfetch.Config{}), Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	return env{svc: svc, db: db, blobs: blobs}
}

// eachBackend runs f as a subtest on every database engine with every
// storage kind.
func eachBackend(t *testing.T, f func(t *testing.T, engine, kind string)) {
	for _, engine := range storetest.Engines {
		for _, kind := range blobtest.Kinds {
			t.Run(engine+"/"+kind, func(t *testing.T) { f(t, engine, kind) })
		}
	}
}

// forBackends runs f on every database engine with every storage kind.
func forBackends(t *testing.T, f func(t *testing.T, e env)) {
	eachBackend(t, func(t *testing.T, engine, kind string) { f(t, newEnv(t, engine, blobtest.Open(t, kind), 0)) })
}

// create makes a resource of account "acct" with content in dir/name.
func (e env) create(t *testing.T, dir, name, content string) (resources.Resource, error) {
	t.Helper()
	ctx := context.Background()
	d := e.svc.NewDraft("acct", "tester")
	defer d.Discard(ctx)
	if err := d.PutContent(ctx, strings.NewReader(content), "text/plain"); err != nil {
		return resources.Resource{}, err
	}
	return d.Create(ctx, resources.Fields{Name: name, DirectoryPath: dir, Tags: []string{" b", "a"}})
}

func (e env) mustCreate(t *testing.T, dir, name, content string) resources.Resource {
	t.Helper()
	r, err := e.create(t, dir, name, content)
	if err != nil {
		t.Fatalf("create %s/%s: %v", dir, name, err)
	}
	return r
}

// keys returns every key in the storage.
func (e env) keys(t *testing.T) []string {
	t.Helper()
	var keys []string
	none := func(context.Context, func(string) error) error { return nil }
	err := e.blobs.Orphans(context.Background(), time.Now().Add(time.Hour), none, nil, false, func(o blobstore.Orphan) error {
		keys = append(keys, o.Key)
		return nil
	})
	if err != nil {
		t.Fatalf("list storage: %v", err)
	}
	slices.Sort(keys)
	return keys
}

// wantError checks that err is an *Error of kind with the client message msg.
func wantError(t *testing.T, err, kind error, msg string) {
	t.Helper()
	var re *resources.Error
	if !errors.As(err, &re) || !errors.Is(err, kind) || re.Message() != msg {
		t.Errorf("error %v, want %v saying %q", err, kind, msg)
	}
}

func TestCreate(t *testing.T) {
	forBackends(t, func(t *testing.T, e env) {
		r := e.mustCreate(t, "/docs", "a.txt", "hello")
		sum := sha256.Sum256([]byte("hello"))
		got, err := e.svc.Get(context.Background(), "acct", r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.SHA256 != hex.EncodeToString(sum[:]) || got.SizeBytes != 5 || got.MimeType != "text/plain" ||
			got.StorageBucket != e.blobs.Bucket() || got.StorageKey != blobstore.Key("acct", r.ID) ||
			!slices.Equal(got.Tags, []string{"a", "b"}) || *got.CreatedBy != "tester" || !got.CreatedAt.Equal(clock) {
			t.Errorf("stored %+v", got)
		}
		if keys := e.keys(t); !slices.Equal(keys, []string{r.StorageKey}) {
			t.Errorf("storage holds %q, want the one key %q", keys, r.StorageKey)
		}
	})
}

// TestCreateFailureRemovesBytes: when the row cannot be written, the bytes
// stored for it are removed again.
func TestCreateFailureRemovesBytes(t *testing.T) {
	forBackends(t, func(t *testing.T, e env) {
		first := e.mustCreate(t, "/docs", "a.txt", "one")
		_, err := e.create(t, "/docs", "a.txt", "two")
		wantError(t, err, resources.ErrConflict, `"/docs/a.txt" already exists`)
		if keys := e.keys(t); !slices.Equal(keys, []string{first.StorageKey}) {
			t.Errorf("storage holds %q, want only the first resource's %q", keys, first.StorageKey)
		}
	})
}

func TestCreateRules(t *testing.T) {
	uri := "https://example.com/x"
	tests := []struct {
		name    string
		content string // "" for none
		fields  resources.Fields
		kind    error
		says    string
	}{
		{"no content", "", resources.Fields{Name: "a", DirectoryPath: "/"}, resources.ErrInvalid, "content and uri: give exactly one of the two"},
		{"content and uri", "x", resources.Fields{Name: "a", DirectoryPath: "/", URI: &uri}, resources.ErrInvalid, "content and uri: give exactly one of the two"},
		{"name with a slash", "x", resources.Fields{Name: "a/b", DirectoryPath: "/"}, resources.ErrInvalid, `name: must not contain "/"`},
		{"relative path", "x", resources.Fields{Name: "a", DirectoryPath: "docs"}, resources.ErrInvalid, `directory_path: must start with "/"`},
		{"metadata not an object", "x", resources.Fields{Name: "a", DirectoryPath: "/", Metadata: json.RawMessage(`[1]`)}, resources.ErrInvalid, "metadata: must be a JSON object"},
		{"too large", "0123456789x", resources.Fields{Name: "a", DirectoryPath: "/"}, resources.ErrTooLarge, "content is larger than 10 bytes"},
	}
	e := newEnv(t, store.SQLite, blobtest.Open(t, "file"), 10)
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := e.svc.NewDraft("acct", "")
			err := func() error {
				defer d.Discard(ctx)
				if tt.content != "" {
					if err := d.PutContent(ctx, strings.NewReader(tt.content), ""); err != nil {
						return err
					}
				}
				_, err := d.Create(ctx, tt.fields)
				return err
			}()
			wantError(t, err, tt.kind, tt.says)
			if keys := e.keys(t); len(keys) > 0 {
				t.Errorf("storage holds %q after a refused create", keys)
			}
		})
	}
}

// TestDelete: the row goes first, then the bytes; a delete that finds no
// row leaves the bytes, and bytes in another bucket are never removed.
func TestDelete(t *testing.T) {
	forBackends(t, func(t *testing.T, e env) {
		ctx := context.Background()
		r := e.mustCreate(t, "/", "a.txt", "a")
		wantError(t, e.svc.Delete(ctx, "other", r.ID), resources.ErrNotFound, "resource not found")
		if keys := e.keys(t); !slices.Equal(keys, []string{r.StorageKey}) {
			t.Fatalf("a refused delete left storage holding %q", keys)
		}
		if err := e.svc.Delete(ctx, "acct", r.ID); err != nil {
			t.Fatal(err)
		}
		_, err := e.svc.Get(ctx, "acct", r.ID)
		wantError(t, err, resources.ErrNotFound, "resource not found")
		if keys := e.keys(t); len(keys) > 0 {
			t.Errorf("storage holds %q after the delete", keys)
		}

		// A row imported from another bucket whose key we happen to hold.
		elsewhere := storetest.NewResource("acct", 1, func(r *resources.Resource) {
			r.StorageBucket, r.StorageKey = "elsewhere", blobstore.Key("acct", r.ID)
		})
		if _, err := e.blobs.Put(ctx, elsewhere.StorageKey, strings.NewReader(""), -1, ""); err != nil {
			t.Fatal(err)
		}
		storetest.MustImport(t, e.db, elsewhere)
		_, _, err = e.svc.Download(ctx, "acct", elsewhere.ID)
		wantError(t, err, resources.ErrNotFound, "resource not found")
		if err := e.svc.Delete(ctx, "acct", elsewhere.ID); err != nil {
			t.Fatal(err)
		}
		if keys := e.keys(t); !slices.Equal(keys, []string{elsewhere.StorageKey}) {
			t.Errorf("deleting a row of another bucket left storage holding %q", keys)
		}
	})
}

func TestUpdate(t *testing.T) {
	forBackends(t, func(t *testing.T, e env) {
		ctx := context.Background()
		r := e.mustCreate(t, "/", "a.txt", "a")
		e.mustCreate(t, "/", "b.txt", "b")
		str := func(s string) *string { return &s }
		tests := []struct {
			name string
			id   string
			u    resources.Update
			kind error
			says string
		}{
			// Invalid fields are refused whether or not the id exists.
			{"bad name, missing id", "7a4bb1b9-6f6b-4f32-8d5f-38f3c4b1a001", resources.Update{Name: str("")}, resources.ErrInvalid, "name: is required"},
			{"bad path", r.ID, resources.Update{DirectoryPath: str("/a/")}, resources.ErrInvalid, `directory_path: must not end with "/"`},
			{"bad metadata", r.ID, resources.Update{Metadata: json.RawMessage(`"x"`)}, resources.ErrInvalid, "metadata: must be a JSON object"},
			{"missing id", "7a4bb1b9-6f6b-4f32-8d5f-38f3c4b1a001", resources.Update{Name: str("c.txt")}, resources.ErrNotFound, "resource not found"},
			{"taken path", r.ID, resources.Update{Name: str("b.txt")}, resources.ErrConflict, "another resource of the account has this directory_path and name"},
		}
		for _, tt := range tests {
			_, err := e.svc.Update(ctx, "acct", tt.id, tt.u)
			wantError(t, err, tt.kind, tt.says)
		}
		got, err := e.svc.Update(ctx, "acct", r.ID, resources.Update{Name: str("c.txt"), DirectoryPath: str("/moved"), Metadata: json.RawMessage(`{ "k": 1 }`)})
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "c.txt" || got.DirectoryPath != "/moved" || string(got.Metadata) != `{"k":1}` ||
			got.StorageKey != r.StorageKey || !got.UpdatedAt.Equal(clock) {
			t.Errorf("updated %+v", got)
		}
	})
}

// TestDownload: nothing is opened until the bytes are wanted, then one
// read of exactly the bytes asked for.
func TestDownload(t *testing.T) {
	for _, kind := range blobtest.Kinds {
		t.Run(kind, func(t *testing.T) {
			blobs, probe := blobtest.OpenProbed(t, kind)
			e := newEnv(t, store.SQLite, blobs, 0)
			ctx := context.Background()
			r := e.mustCreate(t, "/", "a.txt", "0123456789")
			got, c, err := e.svc.Download(ctx, "acct", r.ID)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if got.ID != r.ID || len(probe.Reads()) != 0 {
				t.Fatalf("Download returned %s and opened %v, want %s and nothing opened", got.ID, probe.Reads(), r.ID)
			}
			if _, err := c.Seek(-4, io.SeekEnd); err != nil {
				t.Fatal(err)
			}
			if err := c.Open(2); err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(c)
			if err != nil || string(b) != "67" {
				t.Fatalf("read %q, %v; want \"67\"", b, err)
			}
			reads := probe.Reads()
			if len(reads) != 1 || reads[0].Offset != 6 || reads[0].Length != 2 {
				t.Errorf("reads %+v, want one of 2 bytes at 6", reads)
			}
			_, _, err = e.svc.Download(ctx, "other", r.ID)
			wantError(t, err, resources.ErrNotFound, "resource not found")
		})
	}
}

// TestImport: bytes given with the rows are stored first and must match
// them; when the rows cannot be stored, no bytes are left.
func TestImport(t *testing.T) {
	forBackends(t, func(t *testing.T, e env) {
		ctx := context.Background()
		sum := sha256.Sum256([]byte("hi"))
		good := storetest.NewResource("acct", 1, func(r *resources.Resource) { r.SHA256, r.SizeBytes = hex.EncodeToString(sum[:]), 2 })
		wrong := storetest.NewResource("acct", 2) // says empty
		hi := func(resources.Resource) io.Reader { return strings.NewReader("hi") }

		if _, err := e.svc.Import(ctx, storetest.Lines(t, good, wrong), catalog.ImportOptions{Content: hi}); err == nil || !strings.Contains(err.Error(), "sha256") {
			t.Fatalf("import of a mismatched hash: %v, want an error naming sha256", err)
		}
		if keys := e.keys(t); len(keys) > 0 {
			t.Fatalf("a failed import left %q in storage", keys)
		}
		n, err := e.svc.Import(ctx, storetest.Lines(t, good), catalog.ImportOptions{Content: hi})
		if err != nil || n != 1 {
			t.Fatalf("import: %d, %v", n, err)
		}
		_, c, err := e.svc.Download(ctx, "acct", good.ID)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if b, err := io.ReadAll(c); err != nil || string(b) != "hi" {
			t.Errorf("downloaded %q, %v; want \"hi\"", b, err)
		}
	})
}

// TestImportLargerThanContentLimit: a resource may hold up to
// MaxUploadBytes (a resumable upload's, a uri's), so its bytes import
// whole past MaxContentBytes, and not past MaxUploadBytes.
func TestImportLargerThanContentLimit(t *testing.T) {
	for _, engine := range storetest.Engines {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			svc, err := catalog.New(catalog.Config{DB: storetest.Open(t, engine), Blobs: blobtest.Open(t, "file"),
				Fetcher: urlfetch.New(urlfetch.Config{}), MaxContentBytes: 1 << 10, MaxUploadBytes: 4 << 10})
			if err != nil {
				t.Fatal(err)
			}
			for i, c := range []struct {
				size int
				ok   bool
			}{{4 << 10, true}, {4<<10 + 1, false}} {
				data := strings.Repeat("x", c.size)
				sum := sha256.Sum256([]byte(data))
				r := storetest.NewResource("acct", i, func(r *resources.Resource) { r.SHA256, r.SizeBytes = hex.EncodeToString(sum[:]), int64(c.size) })
				n, err := svc.Import(ctx, storetest.Lines(t, r), catalog.ImportOptions{Content: func(resources.Resource) io.Reader { return strings.NewReader(data) }})
				if c.ok && (err != nil || n != 1) {
					t.Errorf("import of %d bytes: %d, %v; want 1", c.size, n, err)
				}
				if !c.ok && (!errors.Is(err, blobstore.ErrTooLarge) || n != 0) {
					t.Errorf("import of %d bytes: %d, %v; want 0, too large", c.size, n, err)
				}
			}
		})
	}
}

// TestImportInvalidLine: a line that breaks a rule stops the import with an
// error naming the line and the rule, and nothing is stored (the store's
// TestImportResourcesAtomic shows all or none over several batches).
func TestImportInvalidLine(t *testing.T) {
	const count = 50
	storetest.EachEngine(t, func(t *testing.T, db *store.DB) {
		svc, err := catalog.New(catalog.Config{DB: db, Blobs: blobtest.Open(t, "file"), Fetcher: urlfetch.New(urlfetch.Config{})})
		if err != nil {
			t.Fatal(err)
		}
		rs := make([]resources.Resource, count)
		for i := range rs {
			rs[i] = storetest.NewResource("acme", i, storetest.In("/docs"), storetest.Tagged("t"))
		}
		rs[count-2].Name = ""
		n, err := svc.Import(context.Background(), storetest.Lines(t, rs...), catalog.ImportOptions{})
		if !errors.Is(err, resources.ErrInvalid) || n != 0 {
			t.Fatalf("got %d, %v; want 0, ErrInvalid", n, err)
		}
		for _, s := range []string{"line 49", "name: is required"} {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("error %q does not name %s", err, s)
			}
		}
		if got, err := svc.Count(context.Background(), ""); err != nil || got != 0 {
			t.Errorf("%d resources stored (%v), want none", got, err)
		}
	})
}
