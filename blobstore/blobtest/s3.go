package blobtest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"gocloud.dev/blob/s3blob"

	"github.com/re-factor/resources/blobstore"
	"github.com/re-factor/resources/internal/testkit"
)

// shared is the test process's S3 server. It is package state because one
// server serves every test of the process; Main stops it.
var shared struct {
	mu      sync.Mutex
	srv     *server
	err     error // why it could not be started; not tried again
	buckets atomic.Int64
}

// sharedServer returns the running server, starting it on first use. It
// returns the (remembered) error when it cannot.
func sharedServer() (*server, error) {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.srv != nil || shared.err != nil {
		return shared.srv, shared.err
	}
	bin, err := ServerPath()
	if err == nil {
		shared.srv, err = startServer(bin)
	}
	shared.err = err
	return shared.srv, err
}

// stopShared stops the server if it runs. It returns an error when it does
// not exit.
func stopShared() error {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.srv == nil {
		return nil
	}
	err := shared.srv.stop()
	shared.srv = nil
	shared.err = fmt.Errorf("S3 server already stopped")
	return err
}

// server returns the shared server, or ends the test as the package comment
// says when there is none.
func needServer(tb testing.TB) *server {
	tb.Helper()
	srv, err := sharedServer()
	if err == nil {
		return srv
	}
	testkit.Unavailable(tb, "blobtest: no S3 server: %v", err)
	return nil
}

// newBucket creates a bucket with a name unique on the server, deleted with
// its contents when the test ends, and returns its name.
func newBucket(tb testing.TB, srv *server) string {
	tb.Helper()
	name := fmt.Sprintf("blobtest-%d-%d", os.Getpid(), shared.buckets.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client := srv.client()
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		tb.Fatalf("blobtest: create bucket %q at %s: %v", name, srv.endpoint, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := client.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(name)}); err != nil {
			tb.Logf("blobtest: delete bucket %q: %v", name, err)
		}
	})
	return name
}

// openS3 opens a fresh bucket on the shared server.
func openS3(tb testing.TB, opts []blobstore.Option) *blobstore.Store {
	tb.Helper()
	srv := needServer(tb)
	name := newBucket(tb, srv)
	b, err := s3blob.OpenBucket(context.Background(), srv.client(), name, nil)
	if err != nil {
		tb.Fatalf("blobtest: open bucket %q: %v", name, err)
	}
	return blobstore.New(b, name, opts...)
}

// S3URL creates a fresh bucket on the shared S3 server, as Open does, and
// returns its s3:// URL for blobstore.Open. The URL carries no credentials:
// the caller sets AWS_ACCESS_KEY_ID to AccessKey and AWS_SECRET_ACCESS_KEY to
// SecretKey (t.Setenv). Like Open, it skips or fails the test when there is no
// server.
func S3URL(tb testing.TB) string {
	tb.Helper()
	srv := needServer(tb)
	name := newBucket(tb, srv)
	q := url.Values{"endpoint": {srv.endpoint}, "region": {Region}}
	return (&url.URL{Scheme: "s3", Host: name, RawQuery: q.Encode()}).String()
}

// S3Client returns a client of the shared S3 server, for tests that look
// behind a store (at multipart uploads, say). Like Open, it skips or fails
// the test when there is no server.
func S3Client(tb testing.TB) *s3.Client {
	tb.Helper()
	return needServer(tb).client()
}

// Bucket creates a fresh bucket on the shared S3 server, starting it on
// first use, and returns its s3:// URL, for programs that are not tests
// (the benchmark), which call Cleanup when done. The caller sets
// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY as S3URL says.
func Bucket(ctx context.Context) (string, error) {
	srv, err := sharedServer()
	if err != nil {
		return "", err
	}
	name := fmt.Sprintf("bench-%d-%d", os.Getpid(), shared.buckets.Add(1))
	if _, err := srv.client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		return "", fmt.Errorf("blobtest: create bucket %q at %s: %w", name, srv.endpoint, err)
	}
	q := url.Values{"endpoint": {srv.endpoint}, "region": {Region}}
	return (&url.URL{Scheme: "s3", Host: name, RawQuery: q.Encode()}).String(), nil
}
