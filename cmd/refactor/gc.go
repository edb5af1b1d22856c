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
	blobs, err := blobstore.Open(ctx, cfg.BlobURL)
	if err != nil {
		return err
	}
	defer blobs.Close()
	keys, err := referencedKeys(ctx, db, blobs.Bucket())
	if err != nil {
		return err
	}
	orphans, err := blobs.Orphans(ctx, cutoff, func(_ context.Context, page []string) (map[string]bool, error) {
		found := make(map[string]bool, len(page))
		for _, k := range page {
			found[k] = keys[k]
		}
		return found, nil
	}, !*dryRun)
	var bytes int64
	for _, o := range orphans {
		bytes += o.Size
		fmt.Fprintf(stdout, "%s\t%d\t%s\n", o.Key, o.Size, o.ModTime.UTC().Format(time.RFC3339))
	}
	verb := "removed"
	if *dryRun {
		verb = "would remove"
	}
	fmt.Fprintf(stderr, "gc: %s %d orphans (%d bytes); %d resources reference bytes in bucket %q\n",
		verb, len(orphans), bytes, len(keys), blobs.Bucket())
	return err
}

// referencedKeys returns the storage keys of every resource whose bytes are
// in bucket, read in one consistent pass over the table.
func referencedKeys(ctx context.Context, db *store.DB, bucket string) (map[string]bool, error) {
	keys := map[string]bool{}
	err := db.ExportResources(ctx, "", func(r store.Resource) error {
		if r.StorageBucket == bucket {
			keys[r.StorageKey] = true
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("gc: read resources: %w", err)
	}
	return keys, nil
}
