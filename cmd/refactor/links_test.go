package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/re-factor/resources"
	"github.com/re-factor/resources/store/storetest"
)

// TestRevokeLinksAndGC: revoke-links removes an account's links, or all;
// gc removes the rows of links that expired.
func TestRevokeLinksAndGC(t *testing.T) {
	ctx := context.Background()
	for _, engine := range storetest.Engines {
		t.Run(engine, func(t *testing.T) {
			c := newCLI(t, engine)
			c.env["BLOB_URL"] = "file://" + t.TempDir()
			db := storetest.OpenURL(t, c.env["DATABASE_URL"])
			a, b := storetest.NewResource("a", 1), storetest.NewResource("b", 2)
			storetest.MustImport(t, db, a, b)
			now := time.Now()
			link := func(r resources.Resource, expires time.Time) []byte {
				h := sha256.Sum256([]byte(rand.Text()))
				err := db.CreateDownloadLink(ctx, resources.DownloadLink{ID: uuid.NewString(), AccountID: r.AccountID,
					ResourceID: r.ID, Disposition: "attachment", CreatedAt: now, ExpiresAt: expires}, h[:])
				if err != nil {
					t.Fatal(err)
				}
				return h[:]
			}
			live := func(hash []byte) bool {
				_, _, err := db.OpenDownloadLink(ctx, hash, now)
				if err != nil && !errors.Is(err, resources.ErrNotFound) {
					t.Fatal(err)
				}
				return err == nil
			}
			ofA, ofB := link(a, now.Add(time.Hour)), link(b, now.Add(time.Hour))
			link(b, now.Add(-2*time.Hour))

			if _, _, err := c.run("", "revoke-links"); !errors.Is(err, errUsage) {
				t.Errorf("revoke-links without --account or --all: %v, want a usage error", err)
			}
			_, stderr := c.mustRunErr("revoke-links", "--account", "a")
			if !strings.Contains(stderr, "revoked 1 links") || live(ofA) || !live(ofB) {
				t.Errorf("revoke-links --account a: %q; a's live %v, b's live %v", stderr, live(ofA), live(ofB))
			}
			_, stderr = c.mustRunErr("gc")
			if !strings.Contains(stderr, "removed 1 links that expired") || !live(ofB) {
				t.Errorf("gc: %q; b's live %v", stderr, live(ofB))
			}
			_, stderr = c.mustRunErr("revoke-links", "--all")
			if !strings.Contains(stderr, "revoked 1 links") || live(ofB) {
				t.Errorf("revoke-links --all: %q", stderr)
			}
		})
	}
}

func (c *cli) mustRunErr(args ...string) (stdout, stderr string) {
	c.t.Helper()
	stdout, stderr, err := c.run("", args...)
	if err != nil {
		c.t.Fatalf("refactor %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return stdout, stderr
}
