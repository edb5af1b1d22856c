package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/re-factor/resources/blobstore"
	"github.com/re-factor/resources/store"
)

// gcCmd removes stored bytes that no resource references: what a crash
// between writing the bytes and the row of a create, or between deleting the
// row and the bytes, leaves behind. Bytes younger than the grace period may
// belong to a create still in flight, so they stay.
func gcCmd(ctx context.Context, cfg config, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gc", flag.ContinueOnError)
	fs.SetOutput(stderr)
	grace := fs.Duration("grace", time.Hour, "leave bytes younger than this (longer than any create can take)")
	dryRun := fs.Bool("dry-run", false, "list what would be removed, remove nothing")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	// Taken before reading the rows: bytes older than this were written
	// before any row a create in flight could still add.
	cutoff := time.Now().Add(-*grace)
	db, err := openDB(ctx, forBatch(cfg))
	if err != nil {
		return err
	}
	defer db.Close()
	blobs, err := openBlobs(ctx, cfg)
	if err != nil {
		return err
	}
	defer blobs.Close()
	var orphans, bytes int64
	referencing, err := collect(ctx, db, blobs, cutoff, !*dryRun, func(o blobstore.Orphan) error {
		orphans++
		bytes += o.Size
		_, err := fmt.Fprintf(stdout, "%s\t%d\t%s\n", o.Key, o.Size, o.ModTime.UTC().Format(time.RFC3339))
		return err
	})
	verb := "removed"
	if *dryRun {
		verb = "would remove"
	}
	fmt.Fprintf(stderr, "gc: %s %d orphans (%d bytes); %d resources reference bytes in bucket %q\n",
		verb, orphans, bytes, referencing, blobs.Bucket())
	return err
}

// collect merges the storage keys that rows reference with the bucket's
// listing, both in key order, so memory does not grow with either. It calls
// found with each object older than cutoff that no row references (after
// removing it, when remove is true) and returns how many rows reference the
// bucket.
func collect(ctx context.Context, db *store.DB, blobs *blobstore.Store, cutoff time.Time, remove bool, found func(blobstore.Orphan) error) (int64, error) {
	var n int64
	referenced := func(ctx context.Context, fn func(string) error) error {
		return db.StorageKeys(ctx, blobs.Bucket(), func(key string) error {
			n++
			return fn(key)
		})
	}
	err := blobs.Orphans(ctx, cutoff, referenced, remove, found)
	if err != nil {
		err = fmt.Errorf("gc: %w", err)
	}
	return n, err
}
