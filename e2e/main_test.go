// Package e2e drives a running server through the generated Go client
// (package client). By default TestMain builds cmd/refactor, loads
// testdata/seed.jsonl into a fresh SQLite database and serves it on a free
// loopback port. contract.sh instead points the tests at Prism's validating
// proxy in front of one server:
//
//	E2E_BASE_URL    the API to test (no server is started)
//	E2E_JWT_SECRET  the HMAC secret that server verifies tokens with
//	E2E_SPEC        the spec the traffic is checked against; routes and
//	                statuses it does not declare are skipped (default
//	                ../openapi.yaml)
//	E2E_PRISM=true  fail on every violation Prism reports for a response
package e2e_test

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/re-factor/resources/internal/testkit"
)

// target is the server under test, set up by TestMain.
var target struct {
	baseURL    string
	metricsURL string // set when TestMain started the server
	secret     []byte
	prism      bool
	directURL  string // the server itself behind Prism (E2E_DIRECT_URL): for what a proxy would hold (a stream)
}

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	target.baseURL = os.Getenv("E2E_BASE_URL")
	target.secret = []byte(os.Getenv("E2E_JWT_SECRET"))
	target.prism = os.Getenv("E2E_PRISM") == "true"
	target.directURL = os.Getenv("E2E_DIRECT_URL")
	specPath := cmp.Or(os.Getenv("E2E_SPEC"), "../openapi.yaml")
	if err := loadSpec(specPath); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	if target.baseURL == "" {
		stop, err := startServer()
		if err != nil {
			fmt.Fprintln(os.Stderr, "e2e: start server:", err)
			return 1
		}
		defer stop()
	}
	code := m.Run()
	// Only a full run can tell: -run selects a subset on purpose.
	if f := flag.Lookup("test.run"); code == 0 && f != nil && f.Value.String() == "" {
		if missing := unexercised(); len(missing) > 0 {
			fmt.Fprintf(os.Stderr, "e2e: no test calls these operations of %s:\n  %s\n",
				specPath, strings.Join(missing, "\n  "))
			code = 1
		}
	}
	return code
}

// startServer runs the real binary the way an operator would: import the
// seed, then serve, and waits until it is ready.
func startServer() (stop func(), err error) {
	dir, err := os.MkdirTemp("", "refactor-e2e-")
	if err != nil {
		return nil, err
	}
	srv, err := serveSeed(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	target.baseURL = srv.URL
	return func() { srv.Stop(); os.RemoveAll(dir) }, nil
}

// serveSeed builds the binary into dir and serves the seed from a database
// and storage there.
func serveSeed(dir string) (*testkit.Server, error) {
	bin, err := testkit.BuildRefactor(dir)
	if err != nil {
		return nil, err
	}
	metricsAddr, err := testkit.FreeAddr()
	if err != nil {
		return nil, err
	}
	secret := make([]byte, 32)
	rand.Read(secret)
	target.secret = []byte(hex.EncodeToString(secret))
	target.metricsURL = "http://" + metricsAddr + "/metrics"
	env := []string{
		"DATABASE_URL=sqlite:" + filepath.Join(dir, "db.sqlite"),
		"BLOB_URL=file://" + filepath.Join(dir, "blobs"),
		"JWT_SECRET=" + string(target.secret),
		"METRICS_ADDR=" + metricsAddr,
	}
	imp := exec.Command(bin, "import", "--file", "testdata/seed.jsonl")
	imp.Env = append(os.Environ(), env...)
	if out, err := imp.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("import seed: %v\n%s", err, out)
	}
	return testkit.StartServer(bin, env...)
}
