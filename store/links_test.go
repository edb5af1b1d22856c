package store_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/re-factor/resources"
	"github.com/re-factor/resources/store"
	"github.com/re-factor/resources/store/storetest"
)

// linkNow is the clock of the link tests.
var linkNow = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func newHash(t *testing.T) []byte {
	t.Helper()
	h := sha256.Sum256([]byte(rand.Text()))
	return h[:]
}

func ptr[T any](v T) *T { return &v }

func mustDownloadLink(t *testing.T, db *store.DB, r resources.Resource, max *int64, expires time.Time) (resources.DownloadLink, []byte) {
	t.Helper()
	l := resources.DownloadLink{ID: uuid.NewString(), AccountID: r.AccountID, ResourceID: r.ID, Disposition: "inline",
		MaxDownloads: max, CreatedBy: ptr("ana"), CreatedAt: linkNow, ExpiresAt: expires}
	hash := newHash(t)
	if err := db.CreateDownloadLink(context.Background(), l, hash); err != nil {
		t.Fatalf("create download link: %v", err)
	}
	return l, hash
}

func wantNotFound(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, resources.ErrNotFound) {
		t.Errorf("%s: got %v, want ErrNotFound", what, err)
	}
}

// wantDeletesOnce checks that del succeeds, and then finds nothing to
// delete.
func wantDeletesOnce(t *testing.T, what string, del func() error) {
	t.Helper()
	if err := del(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	wantNotFound(t, what+" twice", del())
}

func TestDownloadLinks(t *testing.T) {
	ctx := context.Background()
	storetest.EachSetup(t, func(t *testing.T, db *store.DB) {
		r := storetest.NewResource("acct", 1, storetest.Tagged("a", "b"))
		other := storetest.NewResource("other", 2)
		storetest.MustImport(t, db, r, other)
		l, hash := mustDownloadLink(t, db, r, ptr(int64(2)), linkNow.Add(time.Hour))

		gotLink, gotRes, err := db.OpenDownloadLink(ctx, hash, linkNow)
		if err != nil {
			t.Fatal(err)
		}
		if gotRes.ID != r.ID || !slices.Equal(gotRes.Tags, r.Tags) || gotRes.StorageKey != r.StorageKey {
			t.Errorf("resource = %+v, want %+v", gotRes, r)
		}
		if gotLink.ID != l.ID || gotLink.AccountID != "acct" || gotLink.Disposition != "inline" ||
			*gotLink.MaxDownloads != 2 || gotLink.Downloads != 0 || *gotLink.CreatedBy != "ana" ||
			!gotLink.ExpiresAt.Equal(l.ExpiresAt) || !gotLink.CreatedAt.Equal(linkNow) {
			t.Errorf("link = %+v, want %+v", gotLink, l)
		}

		_, _, err = db.OpenDownloadLink(ctx, newHash(t), linkNow)
		wantNotFound(t, "unknown token", err)
		_, _, err = db.OpenDownloadLink(ctx, hash, linkNow.Add(time.Hour))
		wantNotFound(t, "expired", err)
		_, err = db.SpendDownload(ctx, "acct", l.ID, linkNow.Add(time.Hour))
		wantNotFound(t, "spend expired", err)
		_, err = db.SpendDownload(ctx, "other", l.ID, linkNow)
		wantNotFound(t, "spend another account's", err)

		for want := int64(1); want <= 2; want++ {
			if n, err := db.SpendDownload(ctx, "acct", l.ID, linkNow); err != nil || n != want {
				t.Fatalf("spend %d: got %d, %v", want, n, err)
			}
		}
		_, err = db.SpendDownload(ctx, "acct", l.ID, linkNow)
		wantNotFound(t, "spend used up", err)
		_, _, err = db.OpenDownloadLink(ctx, hash, linkNow)
		wantNotFound(t, "open used up", err)

		unlimited, _ := mustDownloadLink(t, db, r, nil, linkNow.Add(time.Minute))
		later, _ := mustDownloadLink(t, db, r, nil, linkNow.Add(2*time.Minute))
		links, err := db.DownloadLinks(ctx, "acct", r.ID, linkNow)
		if err != nil {
			t.Fatal(err)
		}
		// Used up: not listed. Same created_at: by id, descending.
		ids := []string{unlimited.ID, later.ID}
		slices.Sort(ids)
		slices.Reverse(ids)
		if len(links) != 2 || links[0].ID != ids[0] || links[1].ID != ids[1] || links[0].MaxDownloads != nil {
			t.Errorf("live links = %+v, want %v", links, ids)
		}
		_, err = db.DownloadLinks(ctx, "other", r.ID, linkNow)
		wantNotFound(t, "list another account's resource", err)

		wantNotFound(t, "revoke another account's", db.DeleteDownloadLink(ctx, "other", r.ID, later.ID))
		wantNotFound(t, "revoke under another resource", db.DeleteDownloadLink(ctx, "acct", other.ID, later.ID))
		wantNotFound(t, "revoke a bad id", db.DeleteDownloadLink(ctx, "acct", r.ID, "nope"))
		wantDeletesOnce(t, "revoke", func() error { return db.DeleteDownloadLink(ctx, "acct", r.ID, later.ID) })

		wantNotFound(t, "a link to another account's resource", db.CreateDownloadLink(ctx,
			resources.DownloadLink{ID: uuid.NewString(), AccountID: "acct", ResourceID: other.ID, Disposition: "attachment",
				CreatedAt: linkNow, ExpiresAt: linkNow.Add(time.Hour)}, newHash(t)))
	})
}

func TestDeletingAResourceRevokesItsLinks(t *testing.T) {
	ctx := context.Background()
	storetest.EachSetup(t, func(t *testing.T, db *store.DB) {
		r := storetest.NewResource("acct", 1)
		storetest.MustImport(t, db, r)
		l, hash := mustDownloadLink(t, db, r, nil, linkNow.Add(time.Hour))
		if _, err := db.DeleteResource(ctx, "acct", r.ID, time.Now()); err != nil {
			t.Fatal(err)
		}
		_, _, err := db.OpenDownloadLink(ctx, hash, linkNow)
		wantNotFound(t, "open", err)
		_, err = db.SpendDownload(ctx, "acct", l.ID, linkNow)
		wantNotFound(t, "spend", err)
		// The same id again: the link did not survive as a row.
		storetest.MustImport(t, db, r)
		_, _, err = db.OpenDownloadLink(ctx, hash, linkNow)
		wantNotFound(t, "open after the id came back", err)
	})
}

// TestUnknownTokensWriteNothing looks up tokens no link has: nothing is
// committed, as SQLite's data_version, read on a connection of the test's
// own, would show (it moves with every commit of another connection).
func TestUnknownTokensWriteNothing(t *testing.T) {
	ctx := context.Background()
	url := storetest.URL(t, store.SQLite)
	db := storetest.OpenURL(t, url)
	r := storetest.NewResource("acct", 1)
	storetest.MustImport(t, db, r)
	mustDownloadLink(t, db, r, ptr(int64(1)), linkNow.Add(time.Hour))
	mustUploadLink(t, db, "acct", ptr(int64(1)), linkNow.Add(time.Hour))
	watcher, err := sql.Open("sqlite", strings.TrimPrefix(url, "sqlite:"))
	if err != nil {
		t.Fatal(err)
	}
	defer watcher.Close()
	watcher.SetMaxOpenConns(1)
	version := func() (v int64) {
		if err := watcher.QueryRowContext(ctx, `PRAGMA data_version`).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	before := version()
	for range 100 {
		if _, _, err := db.OpenDownloadLink(ctx, newHash(t), linkNow); !errors.Is(err, resources.ErrNotFound) {
			t.Fatalf("open: %v", err)
		}
		if _, err := db.FindUploadLink(ctx, newHash(t), linkNow); !errors.Is(err, resources.ErrNotFound) {
			t.Fatalf("find: %v", err)
		}
	}
	if after := version(); after != before {
		t.Errorf("data_version %d → %d: looking up unknown tokens committed a write", before, after)
	}
	if err := db.ReleaseUpload(ctx, "acct", uuid.NewString()); err != nil {
		t.Fatal(err)
	}
	if _, err := db.DeleteLinks(ctx, "acct"); err != nil {
		t.Fatal(err)
	}
	if after := version(); after == before {
		t.Error("data_version did not move after a delete: the check sees nothing")
	}
}

// TestSpendDownloadConcurrently spends a 5-use link from 32 goroutines:
// exactly 5 succeed.
func TestSpendDownloadConcurrently(t *testing.T) {
	ctx := context.Background()
	storetest.EachSetup(t, func(t *testing.T, db *store.DB) {
		r := storetest.NewResource("acct", 1)
		storetest.MustImport(t, db, r)
		l, _ := mustDownloadLink(t, db, r, ptr(int64(5)), linkNow.Add(time.Hour))
		var ok, gone atomic.Int64
		var wg sync.WaitGroup
		for range 32 {
			wg.Go(func() {
				_, err := db.SpendDownload(ctx, "acct", l.ID, linkNow)
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, resources.ErrNotFound):
					gone.Add(1)
				default:
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if ok.Load() != 5 || gone.Load() != 27 {
			t.Errorf("%d spent, %d refused; want 5 and 27", ok.Load(), gone.Load())
		}
	})
}

func mustUploadLink(t *testing.T, db *store.DB, account string, max *int64, expires time.Time) (resources.UploadLink, []byte) {
	t.Helper()
	l := resources.UploadLink{ID: uuid.NewString(), AccountID: account, DirectoryPath: "/inbox", AllowSubdirectories: true,
		MaxBytes: 1000, MimeTypes: []string{"image/*"}, MaxUploads: max, Tags: []string{"partner"},
		CreatedAt: linkNow, ExpiresAt: expires}
	hash := newHash(t)
	if err := db.CreateUploadLink(context.Background(), l, hash); err != nil {
		t.Fatalf("create upload link: %v", err)
	}
	return l, hash
}

func TestUploadLinks(t *testing.T) {
	ctx := context.Background()
	storetest.EachSetup(t, func(t *testing.T, db *store.DB) {
		l, hash := mustUploadLink(t, db, "acct", ptr(int64(2)), linkNow.Add(time.Hour))
		got, err := db.FindUploadLink(ctx, hash, linkNow)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != l.ID || got.AccountID != "acct" || got.DirectoryPath != "/inbox" || !got.AllowSubdirectories ||
			got.MaxBytes != 1000 || !slices.Equal(got.MimeTypes, l.MimeTypes) || *got.MaxUploads != 2 ||
			!slices.Equal(got.Tags, l.Tags) || got.CreatedBy != nil || !got.ExpiresAt.Equal(l.ExpiresAt) {
			t.Errorf("link = %+v, want %+v", got, l)
		}
		_, err = db.FindUploadLink(ctx, newHash(t), linkNow)
		wantNotFound(t, "unknown token", err)
		_, err = db.FindUploadLink(ctx, hash, linkNow.Add(time.Hour))
		wantNotFound(t, "expired", err)
		wantNotFound(t, "reserve expired", db.ReserveUpload(ctx, "acct", l.ID, linkNow.Add(time.Hour)))

		for range 2 {
			if err := db.ReserveUpload(ctx, "acct", l.ID, linkNow); err != nil {
				t.Fatal(err)
			}
		}
		wantNotFound(t, "reserve used up", db.ReserveUpload(ctx, "acct", l.ID, linkNow))
		_, err = db.FindUploadLink(ctx, hash, linkNow)
		wantNotFound(t, "find used up", err)
		if err := db.ReleaseUpload(ctx, "acct", l.ID); err != nil {
			t.Fatal(err)
		}
		if err := db.ReserveUpload(ctx, "acct", l.ID, linkNow); err != nil {
			t.Errorf("reserve after a release: %v", err)
		}

		open, _ := mustUploadLink(t, db, "acct", nil, linkNow.Add(time.Minute))
		mustUploadLink(t, db, "other", nil, linkNow.Add(time.Minute))
		links, err := db.UploadLinks(ctx, "acct", linkNow)
		if err != nil {
			t.Fatal(err)
		}
		if len(links) != 1 || links[0].ID != open.ID || links[0].MaxUploads != nil {
			t.Errorf("live upload links = %+v, want only %s", links, open.ID)
		}
		wantNotFound(t, "revoke another account's", db.DeleteUploadLink(ctx, "other", open.ID))
		wantDeletesOnce(t, "revoke", func() error { return db.DeleteUploadLink(ctx, "acct", open.ID) })
	})
}

func TestReserveUploadConcurrently(t *testing.T) {
	ctx := context.Background()
	storetest.EachSetup(t, func(t *testing.T, db *store.DB) {
		l, _ := mustUploadLink(t, db, "acct", ptr(int64(5)), linkNow.Add(time.Hour))
		var ok atomic.Int64
		var wg sync.WaitGroup
		for range 32 {
			wg.Go(func() {
				err := db.ReserveUpload(ctx, "acct", l.ID, linkNow)
				if err == nil {
					ok.Add(1)
				} else if !errors.Is(err, resources.ErrNotFound) {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if ok.Load() != 5 {
			t.Errorf("%d reserved, want 5", ok.Load())
		}
	})
}

func TestPurgeAndDeleteLinks(t *testing.T) {
	ctx := context.Background()
	storetest.EachSetup(t, func(t *testing.T, db *store.DB) {
		r := storetest.NewResource("acct", 1)
		o := storetest.NewResource("other", 1)
		storetest.MustImport(t, db, r, o)
		expired, _ := mustDownloadLink(t, db, r, nil, linkNow.Add(-time.Minute))
		usedUp, _ := mustDownloadLink(t, db, r, ptr(int64(1)), linkNow.Add(time.Hour))
		if _, err := db.SpendDownload(ctx, "acct", usedUp.ID, linkNow); err != nil {
			t.Fatal(err)
		}
		_, live := mustDownloadLink(t, db, r, ptr(int64(1)), linkNow.Add(time.Hour))
		_, otherLive := mustDownloadLink(t, db, o, nil, linkNow.Add(time.Hour))
		mustUploadLink(t, db, "acct", nil, linkNow.Add(-time.Minute))
		_, liveUpload := mustUploadLink(t, db, "acct", nil, linkNow.Add(time.Hour))

		n, err := db.PurgeLinks(ctx, linkNow)
		if err != nil || n != 3 {
			t.Fatalf("purge: %d, %v; want 3 (an expired and a used-up download link, an expired upload link)", n, err)
		}
		wantNotFound(t, "revoke a purged link", db.DeleteDownloadLink(ctx, "acct", r.ID, expired.ID))
		if _, _, err := db.OpenDownloadLink(ctx, live, linkNow); err != nil {
			t.Errorf("purge removed a live link: %v", err)
		}
		if n, err := db.DeleteLinks(ctx, "acct"); err != nil || n != 2 {
			t.Fatalf("delete the account's links: %d, %v; want 2", n, err)
		}
		_, err = db.FindUploadLink(ctx, liveUpload, linkNow)
		wantNotFound(t, "upload link after delete", err)
		if _, _, err := db.OpenDownloadLink(ctx, otherLive, linkNow); err != nil {
			t.Errorf("another account's link went: %v", err)
		}
		if n, err := db.DeleteLinks(ctx, ""); err != nil || n != 1 {
			t.Fatalf("delete every link: %d, %v; want 1", n, err)
		}
	})
}
