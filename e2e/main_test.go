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
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// target is the server under test, set up by TestMain.
var target struct {
	baseURL    string
	metricsURL string // set when TestMain started the server
	secret     []byte
	prism      bool
}

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	target.baseURL = os.Getenv("E2E_BASE_URL")
	target.secret = []byte(os.Getenv("E2E_JWT_SECRET"))
	target.prism = os.Getenv("E2E_PRISM") == "true"
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
	cleanup := func() { os.RemoveAll(dir) }
	bin := filepath.Join(dir, "refactor")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/refactor").CombinedOutput(); err != nil {
		cleanup()
		return nil, fmt.Errorf("go build: %v\n%s", err, out)
	}
	addr, err := freeAddr()
	if err != nil {
		cleanup()
		return nil, err
	}
	secret := make([]byte, 32)
	rand.Read(secret)
	target.secret = []byte(hex.EncodeToString(secret))
	target.baseURL = "http://" + addr
	metricsAddr, err := freeAddr()
	if err != nil {
		cleanup()
		return nil, err
	}
	target.metricsURL = "http://" + metricsAddr + "/metrics"
	env := append(os.Environ(),
		"DATABASE_URL=sqlite:"+filepath.Join(dir, "db.sqlite"),
		"BLOB_URL=file://"+filepath.Join(dir, "blobs"),
		"JWT_SECRET="+string(target.secret),
		"LISTEN_ADDR="+addr,
		"METRICS_ADDR="+metricsAddr,
	)
	imp := exec.Command(bin, "import", "--file", "testdata/seed.jsonl")
	imp.Env = env
	if out, err := imp.CombinedOutput(); err != nil {
		cleanup()
		return nil, fmt.Errorf("import seed: %v\n%s", err, out)
	}
	srv := exec.Command(bin, "serve")
	srv.Env = env
	log, err := os.Create(filepath.Join(dir, "serve.log"))
	if err != nil {
		cleanup()
		return nil, err
	}
	srv.Stdout, srv.Stderr = log, log
	if err := srv.Start(); err != nil {
		cleanup()
		return nil, err
	}
	stop = func() {
		srv.Process.Signal(os.Interrupt)
		srv.Wait()
		log.Close()
		cleanup()
	}
	if err := waitReady(target.baseURL+"/readyz", 15*time.Second); err != nil {
		b, _ := os.ReadFile(log.Name())
		stop()
		return nil, fmt.Errorf("%v; server log:\n%s", err, b)
	}
	return stop, nil
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func waitReady(url string, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready after %v", url, limit)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
