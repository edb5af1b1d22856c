// Package testkit holds what the module's test packages share: a free
// loopback port, the refactor binary built and started, a signed token, and
// the rule for a missing tool or service (skip locally, fail under CI=true).
package testkit

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/re-factor/resources/auth"
)

// Unavailable ends the test for want of something the machine lacks (a
// database, a browser, a tool): it skips, or fails under CI=true, where
// .ci/run installs everything the tests need.
func Unavailable(tb testing.TB, format string, args ...any) {
	tb.Helper()
	if os.Getenv("CI") == "true" {
		tb.Fatalf(format, args...)
	}
	tb.Skipf(format+" (CI=true makes this fail)", args...)
}

// Token returns an HS256 token signed with secret for account with scope,
// valid for a day (longer than any test runs), whose subject is "tester".
func Token(tb testing.TB, secret []byte, account, scope string) string {
	tb.Helper()
	tok, err := auth.Sign(secret, auth.Token{Account: account, Subject: "tester", Scope: scope, TTL: 24 * time.Hour})
	if err != nil {
		tb.Fatalf("sign a token for %q: %v", account, err)
	}
	return tok
}

// FreePorts returns n distinct loopback ports that were free a moment ago.
func FreePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		// Each listener stays open until all are found, so no port repeats.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// FreePort returns a loopback port that was free a moment ago.
func FreePort() (int, error) {
	ports, err := FreePorts(1)
	if err != nil {
		return 0, err
	}
	return ports[0], nil
}

// FreeAddr returns a loopback host:port that was free a moment ago.
func FreeAddr() (string, error) {
	port, err := FreePort()
	if err != nil {
		return "", err
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), nil
}

// WaitReady polls url with GET until it answers 200, and fails after limit.
func WaitReady(url string, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready after %v", url, limit)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// SyncBuffer is a bytes.Buffer that a child process or concurrent handlers
// write while the test reads it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// noRedirects is the default client but for redirects, which it returns.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// Send sends req and returns the answer's status, header and whole body,
// a redirect's included (it is not followed); it fails the test when there
// is no answer.
func Send(tb testing.TB, req *http.Request) (status int, header http.Header, body []byte) {
	tb.Helper()
	resp, err := noRedirects.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("%s %s: read the body: %v", req.Method, req.URL, err)
	}
	return resp.StatusCode, resp.Header, body
}

// seed is the property tests' seed: fixed, so that make test is the same
// run every time, unless -seed asks for another (0: a new one each run).
var seed = flag.Uint64("seed", 20261206, "seed of the property tests' random cases (0: a new one each run, logged)")

// Seed returns the seed a property test draws its cases from, and logs it
// so a failing run can be repeated with -seed.
func Seed(tb testing.TB) uint64 {
	tb.Helper()
	s := *seed
	if s == 0 {
		s = rand.Uint64()
	}
	tb.Logf("seed %d (-seed=%[1]d repeats this run)", s)
	return s
}
