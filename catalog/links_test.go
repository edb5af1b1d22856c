package catalog_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/re-factor/resources"
	"github.com/re-factor/resources/blobstore/blobtest"
	"github.com/re-factor/resources/catalog"
	"github.com/re-factor/resources/store/storetest"
	"github.com/re-factor/resources/urlfetch"
)

// linkEnv is an env whose clock the test moves.
type linkEnv struct {
	env
	now atomic.Pointer[time.Time]
}

func (e *linkEnv) advance(d time.Duration) {
	t := e.now.Load().Add(d)
	e.now.Store(&t)
}

// forLinkBackends runs f on every database engine with every storage
// kind, on a service whose clock starts at clock and moves when f says.
func forLinkBackends(t *testing.T, f func(t *testing.T, e *linkEnv)) {
	eachBackend(t, func(t *testing.T, engine, kind string) { f(t, newLinkEnv(t, engine, kind, 0)) })
}

func newLinkEnv(t *testing.T, engine, kind string, presignTTL time.Duration) *linkEnv {
	t.Helper()
	e := &linkEnv{}
	start := clock
	e.now.Store(&start)
	db := storetest.Open(t, engine)
	blobs := blobtest.Open(t, kind)
	svc, err := catalog.New(catalog.Config{DB: db, Blobs: blobs, Fetcher: urlfetch.New(urlfetch.Config{}),
		Now: func() time.Time { return *e.now.Load() }, PresignTTL: presignTTL})
	if err != nil {
		t.Fatal(err)
	}
	e.env = env{svc: svc, db: db, blobs: blobs}
	return e
}

func ptr[T any](v T) *T { return &v }

func readAll(t *testing.T, c *catalog.Content) []byte {
	t.Helper()
	defer c.Close()
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDownloadLinkLife(t *testing.T) {
	ctx := context.Background()
	forLinkBackends(t, func(t *testing.T, e *linkEnv) {
		r := e.mustCreate(t, "/docs", "a.txt", "hello")
		l, token, err := e.svc.CreateDownloadLink(ctx, "acct", r.ID, "ana",
			resources.DownloadLinkSpec{ExpiresIn: time.Minute, MaxDownloads: ptr(int64(2))})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(token, catalog.DownloadTokenPrefix) || len(token) != 47 {
			t.Errorf("token %q, want rfd_ and 43 base64url characters", token)
		}
		if l.Disposition != "attachment" || !l.ExpiresAt.Equal(clock.Add(time.Minute)) || *l.CreatedBy != "ana" {
			t.Errorf("link = %+v", l)
		}
		gotLink, gotRes, body, err := e.svc.OpenDownloadLink(ctx, token)
		if err != nil {
			t.Fatal(err)
		}
		if gotLink.ID != l.ID || gotRes.ID != r.ID || string(readAll(t, body)) != "hello" {
			t.Errorf("opened %+v of %+v", gotLink, gotRes)
		}
		for range 2 {
			if err := e.svc.SpendDownload(ctx, gotLink); err != nil {
				t.Fatal(err)
			}
		}
		wantError(t, e.svc.SpendDownload(ctx, gotLink), resources.ErrNotFound, "link not found")
		_, _, _, err = e.svc.OpenDownloadLink(ctx, token)
		wantError(t, err, resources.ErrNotFound, "link not found")

		for _, bad := range []string{"", "rfd_", token[:len(token)-1], "rfu_" + token[4:], token + "A", strings.Replace(token, token[10:11], "!", 1)} {
			_, _, _, err := e.svc.OpenDownloadLink(ctx, bad)
			wantError(t, err, resources.ErrNotFound, "link not found")
		}
		_, _, err = e.svc.CreateDownloadLink(ctx, "other", r.ID, "", resources.DownloadLinkSpec{})
		wantError(t, err, resources.ErrNotFound, "resource not found")
		_, _, err = e.svc.CreateDownloadLink(ctx, "acct", r.ID, "", resources.DownloadLinkSpec{ExpiresIn: 8 * 24 * time.Hour})
		wantError(t, err, resources.ErrInvalid, "expires_in: must be between 1 and 604800 seconds")
	})
}

func TestDownloadLinkExpiresRevokesAndGoesWithItsResource(t *testing.T) {
	ctx := context.Background()
	forLinkBackends(t, func(t *testing.T, e *linkEnv) {
		r := e.mustCreate(t, "/docs", "a.txt", "hello")
		spec := resources.DownloadLinkSpec{ExpiresIn: time.Hour}
		expiring, expiringToken, _ := e.svc.CreateDownloadLink(ctx, "acct", r.ID, "", spec)
		revoked, revokedToken, _ := e.svc.CreateDownloadLink(ctx, "acct", r.ID, "", spec)
		e.advance(time.Minute)
		_, lastToken, err := e.svc.CreateDownloadLink(ctx, "acct", r.ID, "", resources.DownloadLinkSpec{ExpiresIn: 2 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		links, err := e.svc.DownloadLinks(ctx, "acct", r.ID)
		if err != nil || len(links) != 3 {
			t.Fatalf("links = %v, %v; want 3", links, err)
		}
		if err := e.svc.RevokeDownloadLink(ctx, "acct", r.ID, revoked.ID); err != nil {
			t.Fatal(err)
		}
		_, _, _, err = e.svc.OpenDownloadLink(ctx, revokedToken)
		wantError(t, err, resources.ErrNotFound, "link not found")
		wantError(t, e.svc.RevokeDownloadLink(ctx, "acct", r.ID, revoked.ID), resources.ErrNotFound, "link not found")

		e.advance(time.Hour - time.Minute - time.Microsecond)
		if _, _, _, err := e.svc.OpenDownloadLink(ctx, expiringToken); err != nil {
			t.Errorf("a microsecond before expiry: %v", err)
		}
		e.advance(time.Microsecond)
		_, _, _, err = e.svc.OpenDownloadLink(ctx, expiringToken)
		wantError(t, err, resources.ErrNotFound, "link not found")
		wantError(t, e.svc.SpendDownload(ctx, expiring), resources.ErrNotFound, "link not found")
		if links, _ := e.svc.DownloadLinks(ctx, "acct", r.ID); len(links) != 1 {
			t.Errorf("live links after expiry and revocation: %v, want 1", links)
		}

		if err := e.svc.Delete(ctx, "acct", r.ID); err != nil {
			t.Fatal(err)
		}
		_, _, _, err = e.svc.OpenDownloadLink(ctx, lastToken)
		wantError(t, err, resources.ErrNotFound, "link not found")
		_, err = e.svc.DownloadLinks(ctx, "acct", r.ID)
		wantError(t, err, resources.ErrNotFound, "resource not found")
	})
}

// TestPresignDownload: a presigned S3 URL serves the bytes with the link's
// disposition, then expires; a file:// bucket cannot presign.
func TestPresignDownload(t *testing.T) {
	ctx := context.Background()
	for _, kind := range blobtest.Kinds {
		t.Run(kind, func(t *testing.T) {
			e := newLinkEnv(t, "sqlite", kind, time.Second)
			if kind == "file" {
				if err := e.svc.CanPresign(ctx); err == nil {
					t.Error("a file:// bucket says it can presign")
				}
				return
			}
			if err := e.svc.CanPresign(ctx); err != nil {
				t.Fatal(err)
			}
			r := e.mustCreate(t, "/docs", "a b.txt", "hello")
			_, token, err := e.svc.CreateDownloadLink(ctx, "acct", r.ID, "", resources.DownloadLinkSpec{Disposition: "inline"})
			if err != nil {
				t.Fatal(err)
			}
			l, r, _, err := e.svc.OpenDownloadLink(ctx, token)
			if err != nil {
				t.Fatal(err)
			}
			u, err := e.svc.PresignDownload(ctx, l, r)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.Get(u)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !bytes.Equal(b, []byte("hello")) ||
				resp.Header.Get("Content-Disposition") != `inline; filename="a b.txt"` || resp.Header.Get("Content-Type") != "text/plain" {
				t.Errorf("GET presigned: %d %q %v", resp.StatusCode, b, resp.Header)
			}
			time.Sleep(2100 * time.Millisecond) // the storage's clock, not ours
			resp, err = http.Get(u)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("GET an expired presigned URL: %d, want 403", resp.StatusCode)
			}
		})
	}
}

func TestUploadLinkDrafts(t *testing.T) {
	ctx := context.Background()
	forLinkBackends(t, func(t *testing.T, e *linkEnv) {
		l, token, err := e.svc.CreateUploadLink(ctx, "acct", "ana", resources.UploadLinkSpec{DirectoryPath: "/inbox",
			MaxBytes: 10, MimeTypes: []string{"image/*"}, MaxUploads: ptr(int64(2)), Tags: []string{"partner"}})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(token, catalog.UploadTokenPrefix) {
			t.Errorf("token %q, want the prefix rfu_", token)
		}
		found, err := e.svc.FindUploadLink(ctx, token)
		if err != nil || found.ID != l.ID {
			t.Fatalf("find: %+v, %v", found, err)
		}
		// attempt admits dir, puts content of mediaType and creates, as
		// the server does; it returns the first error.
		attempt := func(dir, mediaType, content string, tags ...string) (resources.Resource, error) {
			d := e.svc.NewLinkDraft(found)
			defer d.Discard(ctx)
			if err := d.Admit(ctx, dir); err != nil {
				return resources.Resource{}, err
			}
			if err := d.PutContent(ctx, strings.NewReader(content), mediaType); err != nil {
				return resources.Resource{}, err
			}
			return d.Create(ctx, resources.Fields{Name: "f" + content, DirectoryPath: dir, Tags: tags})
		}
		_, err = attempt("/inbox/sub", "image/png", "x")
		wantError(t, err, resources.ErrForbidden, "directory_path: must be /inbox for this upload link")
		_, err = attempt("/inbox", "text/html", "x")
		wantError(t, err, resources.ErrForbidden, "content: media type text/html is not one of image/*, which this upload link accepts")
		_, err = attempt("/inbox", "image/png", "12345678901")
		wantError(t, err, resources.ErrTooLarge, "content is larger than 10 bytes, the most this upload link accepts")
		if keys := e.keys(t); len(keys) != 0 {
			t.Errorf("refused uploads left %q in storage", keys)
		}

		d := e.svc.NewLinkDraft(found)
		wantError(t, d.PutContent(ctx, strings.NewReader("x"), "image/png"), resources.ErrInvalid,
			"directory_path: must be given before content with an upload link")
		d.Discard(ctx)

		// The refusals gave their uses back: two uploads succeed.
		r, err := attempt("/inbox", "image/png", "1234567890", "mine")
		if err != nil {
			t.Fatal(err)
		}
		if r.AccountID != "acct" || *r.CreatedBy != "upload-link:"+l.ID || !slices.Equal(r.Tags, []string{"mine", "partner"}) {
			t.Errorf("created %+v", r)
		}
		if _, err := attempt("/inbox", "image/gif", "2"); err != nil {
			t.Fatal(err)
		}
		_, err = attempt("/inbox", "image/png", "3")
		wantError(t, err, resources.ErrNotFound, "link not found")
		_, err = e.svc.FindUploadLink(ctx, token)
		wantError(t, err, resources.ErrNotFound, "link not found")
	})
}

func TestUploadLinkExpiresAndRevokes(t *testing.T) {
	ctx := context.Background()
	e := newLinkEnv(t, "sqlite", "file", 0)
	l, token, err := e.svc.CreateUploadLink(ctx, "acct", "", resources.UploadLinkSpec{DirectoryPath: "/in",
		AllowSubdirectories: true, ExpiresIn: time.Minute, MimeTypes: []string{"application/pdf"}})
	if err != nil {
		t.Fatal(err)
	}
	if l.MaxBytes != catalog.DefaultMaxContentBytes || l.MaxUploads != nil {
		t.Errorf("defaults: %+v", l)
	}
	wantError(t, e.svc.ReserveUpload(ctx, l, "/in", "", 5), resources.ErrForbidden,
		"content: must declare its media type, one of application/pdf, for this upload link")
	wantError(t, e.svc.ReserveUpload(ctx, l, "/in", "application/pdf", catalog.DefaultMaxContentBytes+1), resources.ErrTooLarge,
		"content is larger than 26214400 bytes, the most this upload link accepts")
	if err := e.svc.ReserveUpload(ctx, l, "/in/a/b", "application/pdf", 5); err != nil {
		t.Errorf("reserve beneath the folder: %v", err)
	}
	e.advance(time.Minute)
	_, err = e.svc.FindUploadLink(ctx, token)
	wantError(t, err, resources.ErrNotFound, "link not found")
	wantError(t, e.svc.ReserveUpload(ctx, l, "/in", "application/pdf", 5), resources.ErrNotFound, "link not found")
	e.advance(-time.Second)
	if links, err := e.svc.UploadLinks(ctx, "acct"); err != nil || len(links) != 1 {
		t.Fatalf("links: %v, %v", links, err)
	}
	if err := e.svc.RevokeUploadLink(ctx, "acct", l.ID); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.FindUploadLink(ctx, token)
	wantError(t, err, resources.ErrNotFound, "link not found")
	if n, err := e.svc.RevokeLinks(ctx, "acct"); err != nil || n != 0 {
		t.Errorf("revoke all after revoking the one: %d, %v", n, err)
	}
	if _, err := e.svc.FindUploadLink(ctx, "rfu_short"); !errors.Is(err, resources.ErrNotFound) {
		t.Errorf("malformed token: %v", err)
	}
}
