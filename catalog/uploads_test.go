package catalog_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"maps"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/uuid"

	"github.com/re-factor/resources"
	"github.com/re-factor/resources/blobstore"
	"github.com/re-factor/resources/blobstore/blobtest"
	"github.com/re-factor/resources/catalog"
	"github.com/re-factor/resources/store/storetest"
	"github.com/re-factor/resources/urlfetch"
)

// TestExpiredUploadsCollected: gc leaves a live upload's bytes (its S3
// multipart upload included) however old, and once the upload is past its
// expiry removes them, its row, and the use of its link.
func TestExpiredUploadsCollected(t *testing.T) {
	eachBackend(t, func(t *testing.T, engine, kind string) {
		ctx := context.Background()
		db, blobs := storetest.Open(t, engine), blobtest.Open(t, kind)
		var now atomic.Pointer[time.Time]
		setNow := func(t time.Time) { now.Store(&t) }
		setNow(time.Now())
		svc, err := catalog.New(catalog.Config{DB: db, Blobs: blobs, Fetcher: urlfetch.New(urlfetch.Config{}),
			UploadExpiry: time.Hour, Now: func() time.Time { return *now.Load() }})
		if err != nil {
			t.Fatal(err)
		}
		link, _, err := svc.CreateUploadLink(ctx, "acct", "", resources.UploadLinkSpec{DirectoryPath: "/in", MaxUploads: ptr(int64(1))})
		if err != nil {
			t.Fatal(err)
		}
		u := startUpload(t, svc, "ana", &link, "big.bin")
		collect := func() int {
			n, err := svc.CollectExpiredUploads(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := svc.CollectGarbage(ctx, time.Now().Add(time.Hour), true, func(blobstore.Orphan) error { return nil }); err != nil {
				t.Fatal(err)
			}
			return n
		}
		if n := collect(); n != 0 {
			t.Fatalf("gc removed %d live uploads", n)
		}
		if _, _, err := svc.WriteUpload(ctx, u, nil, "h", strings.NewReader("more")); err != nil {
			t.Fatalf("the live upload after gc: %v", err)
		}
		setNow(time.Now().Add(2 * time.Hour))
		if _, err := svc.GetUpload(ctx, "acct", u.ID); !errors.Is(err, resources.ErrGone) {
			t.Errorf("an expired upload before gc: got %v, want ErrGone", err)
		}
		if n := collect(); n != 1 {
			t.Fatalf("gc removed %d expired uploads, want 1", n)
		}
		if _, err := db.GetUpload(ctx, "acct", u.ID); err == nil {
			t.Error("the expired upload's row is still there")
		}
		st, err := blobstore.ParsePartialState(u.State)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := blobs.AppendPartial(ctx, blobstore.Key("acct", u.ID), u.ID, st, strings.NewReader("x"), 1); err == nil {
			t.Error("the expired upload's partial object still takes bytes")
		}
		if kind == "s3" {
			if uploads, pending := s3Leftovers(t, blobs); uploads != 0 || pending != 0 {
				t.Errorf("%d multipart uploads and %d pending objects left", uploads, pending)
			}
		}
		// The link's use came back.
		if links, err := db.UploadLinks(ctx, "acct", time.Now()); err != nil || len(links) != 1 || links[0].Uploads != 0 {
			t.Errorf("the link's use did not come back: %+v, %v", links, err)
		}
	})
}

// startUpload creates an upload of 10 MiB named name in /in of "acct" by
// subject (through link when not nil), takes its lease as "h" and writes
// 9 MiB of it: on S3 a part and 1 MiB of pending bytes under uploads/.
func startUpload(t *testing.T, svc *catalog.Service, subject string, link *resources.UploadLink, name string) resources.Upload {
	t.Helper()
	ctx := context.Background()
	u, err := svc.CreateUpload(ctx, "acct", subject, link, catalog.UploadSpec{
		Fields: resources.Fields{Name: name, DirectoryPath: "/in"}, Length: 10 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := svc.LockUpload(ctx, "acct", u.ID, "h", time.Minute); err != nil || !ok {
		t.Fatalf("lock: %v %v", ok, err)
	}
	if u, _, err = svc.WriteUpload(ctx, u, nil, "h", strings.NewReader(strings.Repeat("x", 9<<20))); err != nil {
		t.Fatal(err)
	}
	return u
}

// multipartUploads counts the unfinished multipart uploads of blobs, an
// S3 bucket, and its objects under uploads/ (pending bytes).
func s3Leftovers(t *testing.T, blobs *blobstore.Store) (uploads, pending int) {
	t.Helper()
	ctx := context.Background()
	client := blobtest.S3Client(t)
	mu, err := client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(blobs.Bucket())})
	if err != nil {
		t.Fatal(err)
	}
	objs, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(blobs.Bucket()), Prefix: aws.String("uploads/")})
	if err != nil {
		t.Fatal(err)
	}
	return len(mu.Uploads), len(objs.Contents)
}

// TestOrphanedPartialsCollected: gc removes the bytes of partial objects
// under uploads/ that no live upload holds (a crash after the row went but
// before the bytes did, or before the row was ever written) once they are
// older than the grace period, and never a live upload's, which then
// finishes whole.
func TestOrphanedPartialsCollected(t *testing.T) {
	eachBackend(t, func(t *testing.T, engine, kind string) {
		ctx := context.Background()
		db, blobs := storetest.Open(t, engine), blobtest.Open(t, kind)
		svc, err := catalog.New(catalog.Config{DB: db, Blobs: blobs, Fetcher: urlfetch.New(urlfetch.Config{})})
		if err != nil {
			t.Fatal(err)
		}
		live := startUpload(t, svc, "", nil, "live.bin")
		rowGone := startUpload(t, svc, "", nil, "gone.bin")
		if err := db.DeleteUpload(ctx, "acct", rowGone.ID); err != nil {
			t.Fatal(err)
		}
		// Bytes whose row was never written.
		neverID := uuid.NewString()
		st, err := blobs.StartPartial(ctx, blobstore.Key("acct", neverID), neverID, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := blobs.AppendPartial(ctx, blobstore.Key("acct", neverID), neverID, st, strings.NewReader("abc"), 3); err != nil {
			t.Fatal(err)
		}
		partials := func(cutoff time.Time, remove bool) map[string]bool {
			t.Helper()
			got := map[string]bool{}
			if _, err := svc.CollectGarbage(ctx, cutoff, remove, func(o blobstore.Orphan) error {
				if o.Partial != "" {
					got[o.Partial] = true
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			return got
		}
		if got := partials(time.Now().Add(-time.Hour), true); len(got) != 0 {
			t.Errorf("gc within the grace period removed partial bytes of %v", got)
		}
		got := partials(time.Now().Add(time.Hour), true)
		if want := map[string]bool{rowGone.ID: true, neverID: true}; !maps.Equal(got, want) {
			t.Errorf("gc removed the partial bytes of %v, want those of %v (not the live %s)", got, want, live.ID)
		}
		if got := partials(time.Now().Add(time.Hour), false); len(got) != 0 {
			t.Errorf("partial bytes of %v left after gc", got)
		}
		if kind == "s3" {
			if uploads, pending := s3Leftovers(t, blobs); uploads != 1 || pending != 1 {
				t.Errorf("%d multipart uploads and %d pending objects left, want the live upload's 1 and 1", uploads, pending)
			}
		}
		rest := strings.Repeat("x", 1<<20)
		live, _, err = svc.WriteUpload(ctx, live, nil, "h", strings.NewReader(rest))
		if err != nil {
			t.Fatalf("the live upload after gc: %v", err)
		}
		r, err := svc.CompleteUpload(ctx, live)
		if err != nil {
			t.Fatalf("complete the live upload after gc: %v", err)
		}
		sum := sha256.Sum256([]byte(strings.Repeat("x", 10<<20)))
		if want := hex.EncodeToString(sum[:]); r.SHA256 != want || r.SizeBytes != 10<<20 {
			t.Errorf("the live upload's resource: %d bytes, sha256 %s; want %d, %s", r.SizeBytes, r.SHA256, 10<<20, want)
		}
	})
}
