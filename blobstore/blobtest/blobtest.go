// Package blobtest opens blob stores for tests: a directory ("file") or a
// bucket on a real S3 server listening on 127.0.0.1 ("s3").
//
// The S3 server is SeaweedFS (`weed server -s3`), started once per test
// process at the first Open of kind "s3" and shared; each Open gets a fresh
// bucket, removed when the test ends. Packages that use it stop the server
// from TestMain:
//
//	func TestMain(m *testing.M) { blobtest.Main(m) }
//
// The weed binary is looked for, in order, at $BLOBTEST_WEED, in the tools
// cache (<user cache dir>/refactor-tools/bin/weed-<ServerVersion>) and on
// PATH. Tests never build it: `make tools` does, once, with
//
//	go run ./blobstore/blobtest/cmd/buildweed
//
// which takes ServerModule at ServerVersion from the Go module proxy and
// compiles it into the tools cache: about 6 minutes on 2 cores with empty
// module and build caches (2 GB of modules, 2.6 GB of memory at peak), about
// 2 seconds once built. Without the binary, an "s3" Open fails the test when
// the environment has CI=true, and skips it otherwise.
//
// The server takes about 11 seconds to store its first object (its master
// holds allocations while it warms up), once per test process.
//
// The server runs with fixed credentials ([AccessKey], [SecretKey]), binds
// 127.0.0.1 only, uses free ports and a temporary data directory, and has
// telemetry off.
package blobtest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/re-factor/resources/blobstore"
)

// Kinds lists the kinds of store that Open accepts; tests run for each.
var Kinds = []string{"file", "s3"}

// Timeout is the deadline of the stores Open and OpenProbed return unless
// their options set another: long, so that a test of something else does not
// fail because the machine, and the S3 server on it, is busy. Tests of
// deadlines set their own with blobstore.WithTimeout.
const Timeout = 30 * time.Second

// Open returns a new, empty store of the given kind with opts, closed (and,
// for "s3", emptied and deleted) when the test ends. It fails the test for an
// unknown kind or when the store cannot be opened; see the package comment
// for when an "s3" store is skipped instead.
func Open(tb testing.TB, kind string, opts ...blobstore.Option) *blobstore.Store {
	tb.Helper()
	opts = append([]blobstore.Option{blobstore.WithTimeout(Timeout)}, opts...)
	var st *blobstore.Store
	switch kind {
	case "file":
		st = openFile(tb, opts)
	case "s3":
		st = openS3(tb, opts)
	default:
		tb.Fatalf("blobtest: unknown kind %q (want one of %q)", kind, Kinds)
	}
	tb.Cleanup(func() {
		if err := st.Close(); err != nil {
			tb.Errorf("blobtest: %v", err)
		}
	})
	return st
}

// openFile opens a store in a temporary directory.
func openFile(tb testing.TB, opts []blobstore.Option) *blobstore.Store {
	tb.Helper()
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(filepath.Join(tb.TempDir(), "blobs"))}
	st, err := blobstore.Open(context.Background(), u.String(), opts...)
	if err != nil {
		tb.Fatalf("blobtest: %v", err)
	}
	return st
}

// Main runs the tests of m, calls each of also (other packages' clean-ups,
// such as storetest.Cleanup), stops the S3 server if a test started it, and
// exits with the tests' status.
func Main(m *testing.M, also ...func()) {
	code := m.Run()
	for _, f := range also {
		f()
	}
	if err := Cleanup(); err != nil && code == 0 {
		code = 1
	}
	os.Exit(code)
}

// Cleanup stops the shared S3 server, if one was started, reporting a
// failure on stderr: for a TestMain that also needs other clean-ups.
func Cleanup() error {
	err := stopShared()
	if err != nil {
		fmt.Fprintf(os.Stderr, "blobtest: %v\n", err)
	}
	return err
}
