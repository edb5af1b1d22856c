package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/re-factor/resources/blobstore"
)

// gcCmd removes stored bytes that no resource references: what a crash
// between writing the bytes and the row of a create, or between deleting the
// row and the bytes, leaves behind. Bytes younger than the grace period may
// belong to a create still in flight, so they stay. It also removes the
// rows of links that expired (before the same cutoff) or were used up,
// which answer as if they never existed, resumable uploads past their
// expiry (an unfinished one's bytes, S3 multipart parts included; a live
// upload's never), bytes under uploads/ older than the grace period that
// no unfinished upload claims, and the events older than EVENTS_RETENTION.
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
	b, err := openBackend(ctx, forBatch(cfg), nil)
	if err != nil {
		return err
	}
	defer b.Close()
	if !*dryRun {
		// First, so that their bytes, no longer claimed, go below.
		n, err := b.catalog.CollectExpiredUploads(ctx)
		fmt.Fprintf(stderr, "gc: removed %d expired unfinished uploads\n", n)
		if err != nil {
			return err
		}
	}
	var orphans, bytes int64
	referencing, err := b.catalog.CollectGarbage(ctx, cutoff, !*dryRun, func(o blobstore.Orphan) error {
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
		verb, orphans, bytes, referencing, b.catalog.Bucket())
	if err != nil || *dryRun {
		return err
	}
	n, err := b.catalog.PurgeLinks(ctx, cutoff)
	fmt.Fprintf(stderr, "gc: removed %d links that expired before %s or were used up\n", n, cutoff.UTC().Format(time.RFC3339))
	if err != nil {
		return err
	}
	n, err = b.catalog.PruneEvents(ctx, cfg.EventsRetention)
	fmt.Fprintf(stderr, "gc: removed %d events older than EVENTS_RETENTION (%v)\n", n, cfg.EventsRetention)
	return err
}
