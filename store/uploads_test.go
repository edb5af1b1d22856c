package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/re-factor/resources"
	"github.com/re-factor/resources/store"
	"github.com/re-factor/resources/store/storetest"
)

func newUpload(account string, length int64) resources.Upload {
	return resources.Upload{ID: uuid.NewString(), AccountID: account,
		Fields:   resources.Fields{Name: "a.bin", DirectoryPath: "/in", Tags: []string{"t"}, Metadata: json.RawMessage(`{"z":1,"a":2}`)},
		MimeType: "application/pdf", LinkID: uuid.NewString(), CreatedBy: ptr("ana"), Length: length,
		State: []byte("s0"), CreatedAt: linkNow, ExpiresAt: linkNow.Add(24 * time.Hour)}
}

func mustCreateUpload(t *testing.T, db *store.DB, u resources.Upload) {
	t.Helper()
	if err := db.CreateUpload(context.Background(), u, 100); err != nil {
		t.Fatalf("create upload: %v", err)
	}
}

func TestUploadRow(t *testing.T) {
	ctx := context.Background()
	storetest.EachSetup(t, func(t *testing.T, db *store.DB) {
		u := newUpload("acct", 10)
		mustCreateUpload(t, db, u)
		got, err := db.GetUpload(ctx, "acct", u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, u) {
			t.Errorf("get upload:\n got %+v\nwant %+v", got, u)
		}
		_, err = db.GetUpload(ctx, "other", u.ID)
		wantNotFound(t, "another account's upload", err)
		_, err = db.GetUpload(ctx, "acct", "not-a-uuid")
		wantNotFound(t, "a malformed id", err)

		if err := db.SaveUploadProgress(ctx, "acct", u.ID, "h1", 0, 4, []byte("s1"), u.ExpiresAt); !errors.Is(err, resources.ErrConflict) {
			t.Errorf("progress without the lease: got %v, want ErrConflict", err)
		}
		ok, err := db.LockUpload(ctx, "acct", u.ID, "h1", linkNow, linkNow.Add(time.Minute))
		if err != nil || !ok {
			t.Fatalf("lock: %v %v", ok, err)
		}
		// Progress moves the expiry (the catalog's choice: activity extends it).
		later := u.ExpiresAt.Add(time.Hour)
		if err := db.SaveUploadProgress(ctx, "acct", u.ID, "h1", 0, 4, []byte("s1"), later); err != nil {
			t.Fatalf("progress: %v", err)
		}
		if err := db.SaveUploadProgress(ctx, "acct", u.ID, "h1", 0, 8, []byte("s2"), later.Add(time.Hour)); !errors.Is(err, resources.ErrConflict) {
			t.Errorf("progress from a stale offset: got %v, want ErrConflict", err)
		}
		got, _ = db.GetUpload(ctx, "acct", u.ID)
		if got.Offset != 4 || string(got.State) != "s1" || !got.ExpiresAt.Equal(later) {
			t.Errorf("after progress: offset %d state %q expires %s, want 4 s1 %s", got.Offset, got.State, got.ExpiresAt, later)
		}
		if err := db.CompleteUpload(ctx, "acct", u.ID, linkNow.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		got, _ = db.GetUpload(ctx, "acct", u.ID)
		if !got.Done() {
			t.Error("a completed upload is not Done")
		}
		wantDeletesOnce(t, "delete", func() error { return db.DeleteUpload(ctx, "acct", u.ID) })
	})
}

func TestUploadLease(t *testing.T) {
	ctx := context.Background()
	storetest.EachSetup(t, func(t *testing.T, db *store.DB) {
		u := newUpload("acct", 10)
		mustCreateUpload(t, db, u)
		until := linkNow.Add(time.Minute)
		if ok, err := db.LockUpload(ctx, "acct", u.ID, "h1", linkNow, until); err != nil || !ok {
			t.Fatalf("first lock: %v %v", ok, err)
		}
		wanted, err := db.RenewUploadLock(ctx, "acct", u.ID, "h1", until)
		if err != nil || wanted {
			t.Fatalf("renew before anyone waits: wanted %v, %v", wanted, err)
		}
		if ok, err := db.LockUpload(ctx, "acct", u.ID, "h2", linkNow, until); err != nil || ok {
			t.Fatalf("second lock while held: %v %v, want false", ok, err)
		}
		if wanted, err := db.RenewUploadLock(ctx, "acct", u.ID, "h1", until); err != nil || !wanted {
			t.Errorf("renew after a request waits: wanted %v, %v; want true", wanted, err)
		}
		// A lease that lapsed goes to the next request, and its old holder
		// can neither renew it nor write progress.
		if ok, err := db.LockUpload(ctx, "acct", u.ID, "h2", until, until.Add(time.Minute)); err != nil || !ok {
			t.Fatalf("lock after the lease lapsed: %v %v", ok, err)
		}
		if _, err := db.RenewUploadLock(ctx, "acct", u.ID, "h1", until); !errors.Is(err, resources.ErrConflict) {
			t.Errorf("renew of a lost lease: got %v, want ErrConflict", err)
		}
		if err := db.SaveUploadProgress(ctx, "acct", u.ID, "h1", 0, 1, nil, until); !errors.Is(err, resources.ErrConflict) {
			t.Errorf("progress by a lost lease: got %v, want ErrConflict", err)
		}
		if err := db.UnlockUpload(ctx, "acct", u.ID, "h2"); err != nil {
			t.Fatal(err)
		}
		if ok, err := db.LockUpload(ctx, "acct", u.ID, "h3", linkNow, until); err != nil || !ok {
			t.Errorf("lock after unlock: %v %v", ok, err)
		}
		_, err = db.LockUpload(ctx, "other", u.ID, "h4", linkNow, until)
		wantNotFound(t, "lock of another account's upload", err)
	})
}

func TestUploadLimitsAndExpiry(t *testing.T) {
	ctx := context.Background()
	storetest.EachSetup(t, func(t *testing.T, db *store.DB) {
		first, second := newUpload("acct", -1), newUpload("acct", 5)
		if err := db.CreateUpload(ctx, first, 1); err != nil {
			t.Fatal(err)
		}
		if err := db.CreateUpload(ctx, second, 1); !errors.Is(err, resources.ErrTooMany) {
			t.Fatalf("second upload over a limit of 1: got %v, want ErrTooMany", err)
		}
		if err := db.CreateUpload(ctx, newUpload("other", 5), 1); err != nil {
			t.Errorf("another account's upload: %v", err)
		}
		if err := db.DeclareUploadLength(ctx, "acct", first.ID, 7); err != nil {
			t.Fatal(err)
		}
		if err := db.DeclareUploadLength(ctx, "acct", first.ID, 8); !errors.Is(err, resources.ErrConflict) {
			t.Errorf("declaring twice: got %v, want ErrConflict", err)
		}
		if got, _ := db.GetUpload(ctx, "acct", first.ID); got.Length != 7 {
			t.Errorf("declared length %d, want 7", got.Length)
		}
		// A finished upload is not open: it leaves room.
		if err := db.CompleteUpload(ctx, "acct", first.ID, linkNow); err != nil {
			t.Fatal(err)
		}
		if err := db.CreateUpload(ctx, second, 1); err != nil {
			t.Fatalf("after the first finished: %v", err)
		}
		expired, err := db.ExpiredUploads(ctx, linkNow.Add(25*time.Hour), 10)
		if err != nil || len(expired) != 3 {
			t.Fatalf("expired uploads: %d, %v; want 3", len(expired), err)
		}
		if expired, _ := db.ExpiredUploads(ctx, linkNow, 10); len(expired) != 0 {
			t.Errorf("%d uploads expired before their expiry", len(expired))
		}
		// One whose lease is held is being written: gc leaves it until the
		// lease lapses.
		late := linkNow.Add(25 * time.Hour)
		if ok, err := db.LockUpload(ctx, "acct", second.ID, "h1", late, late.Add(time.Minute)); err != nil || !ok {
			t.Fatalf("lock: %v %v", ok, err)
		}
		if expired, err := db.ExpiredUploads(ctx, late, 10); err != nil || len(expired) != 2 {
			t.Errorf("expired uploads while one is leased: %d, %v; want 2", len(expired), err)
		}
		if expired, err := db.ExpiredUploads(ctx, late.Add(time.Minute), 10); err != nil || len(expired) != 3 {
			t.Errorf("expired uploads once the lease lapsed: %d, %v; want 3", len(expired), err)
		}
	})
}

func TestPathTaken(t *testing.T) {
	ctx := context.Background()
	storetest.EachSetup(t, func(t *testing.T, db *store.DB) {
		r := storetest.NewResource("acct", 1)
		storetest.MustImport(t, db, r)
		for _, c := range []struct {
			account, dir, name string
			want               bool
		}{{"acct", r.DirectoryPath, r.Name, true}, {"other", r.DirectoryPath, r.Name, false}, {"acct", r.DirectoryPath, r.Name + "x", false}} {
			if got, err := db.PathTaken(ctx, c.account, c.dir, c.name); err != nil || got != c.want {
				t.Errorf("PathTaken(%q, %q, %q) = %v, %v; want %v", c.account, c.dir, c.name, got, err, c.want)
			}
		}
	})
}

// TestUploadLimitConcurrent: creates racing for one account never pass
// its limit, on every setup (PgBouncer in transaction mode included).
func TestUploadLimitConcurrent(t *testing.T) {
	ctx := context.Background()
	const limit, racers = 3, 24
	storetest.EachSetup(t, func(t *testing.T, db *store.DB) {
		for round := range 3 {
			account := "acct-" + strconv.Itoa(round)
			errs := make(chan error, racers)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for range racers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					errs <- db.CreateUpload(ctx, newUpload(account, 5), limit)
				}()
			}
			close(start)
			wg.Wait()
			close(errs)
			created := 0
			for err := range errs {
				switch {
				case err == nil:
					created++
				case !errors.Is(err, resources.ErrTooMany):
					t.Errorf("round %d: create: %v, want nil or ErrTooMany", round, err)
				}
			}
			if created != limit {
				t.Errorf("round %d: %d of %d racing creates passed a limit of %d", round, created, racers, limit)
			}
		}
	})
}
