package e2e_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/re-factor/resources/client"
	"github.com/re-factor/resources/internal/testkit"
)

// spec is the document the traffic is checked against (E2E_SPEC), and
// router finds its operations.
var (
	spec   *openapi3.T
	router routers.Router
)

func loadSpec(path string) error {
	doc, err := openapi3.NewLoader().LoadFromFile(path)
	if err != nil {
		return err
	}
	doc.Servers = nil // match whatever host serves it
	spec = doc
	router, err = gorillamux.NewRouter(doc)
	return err
}

// exercised records the operations the suite sent requests to, so that a
// route added to the spec without an end-to-end test fails the run.
var exercised sync.Map // "GET /v1/resources" → true

func record(req *http.Request) {
	if route, _, err := router.FindRoute(req); err == nil {
		exercised.Store(req.Method+" "+route.Path, true)
	}
}

// unexercised lists the spec's operations that no test called.
func unexercised() []string {
	var missing []string
	for path, item := range spec.Paths.Map() {
		for method := range item.Operations() {
			if _, ok := exercised.Load(method + " " + path); !ok {
				missing = append(missing, method+" "+path)
			}
		}
	}
	slices.Sort(missing)
	return missing
}

// requireDeclared skips the test unless the spec under test declares the
// operation and, when status is not 0, that status for it: the published
// file knows only the list and does not declare its 400.
func requireDeclared(t *testing.T, method, path string, status int) {
	t.Helper()
	item := spec.Paths.Value(path)
	var op *openapi3.Operation
	if item != nil {
		op = item.GetOperation(method)
	}
	if op == nil {
		t.Skipf("%s %s is not in the spec under test", method, path)
	}
	if status != 0 && op.Responses.Status(status) == nil {
		t.Skipf("the spec under test does not declare %d for %s %s", status, method, path)
	}
}

// requireParam skips the test unless the operation takes the parameter.
func requireParam(t *testing.T, method, path, name string) {
	t.Helper()
	requireDeclared(t, method, path, 0)
	for _, p := range spec.Paths.Value(path).GetOperation(method).Parameters {
		if p.Value != nil && p.Value.Name == name {
			return
		}
	}
	t.Skipf("%s %s takes no %s parameter in the spec under test", method, path, name)
}

// newClient returns a client that sends token (none when empty) and, behind
// Prism, fails t on every violation Prism reports for a response.
func newClient(t *testing.T, token string) *client.ClientWithResponses {
	t.Helper()
	c, err := client.NewClientWithResponses(target.baseURL,
		client.WithHTTPClient(violationChecker{t: t}),
		client.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			return nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// violationChecker is the client's HTTP doer. Prism's proxy lists what
// breaks the spec in an sl-violations header; those located in the
// response are our server's fault. Those located in the request must agree
// with the server, since the spec states every rule the server applies: a
// request Prism finds invalid must not be accepted, and one the server
// refuses with 400 must be one Prism finds invalid.
type violationChecker struct{ t *testing.T }

type violation struct {
	Location []string `json:"location"`
	Severity string   `json:"severity"`
	Code     any      `json:"code"`
	Message  string   `json:"message"`
}

func (v violationChecker) Do(req *http.Request) (*http.Response, error) {
	record(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || !target.prism {
		return resp, err
	}
	var vs []violation
	if header := resp.Header.Get("sl-violations"); header != "" {
		if err := json.Unmarshal([]byte(header), &vs); err != nil {
			v.t.Errorf("%s %s: unreadable sl-violations %q: %v", req.Method, req.URL, header, err)
			return resp, nil
		}
	}
	var requestViolations []string
	for _, vi := range vs {
		switch {
		case len(vi.Location) == 0:
		case vi.Location[0] == "response":
			v.t.Errorf("%s %s: Prism: response %s (%s): %s", req.Method, req.URL, strings.Join(vi.Location, "."), vi.Severity, vi.Message)
		case vi.Location[0] == "request" && vi.Severity == "Error":
			requestViolations = append(requestViolations, strings.Join(vi.Location, ".")+": "+vi.Message)
		}
	}
	switch {
	case resp.StatusCode < 400 && len(requestViolations) > 0:
		v.t.Errorf("%s %s: accepted (%d), but Prism finds the request invalid: %s", req.Method, req.URL, resp.StatusCode, strings.Join(requestViolations, "; "))
	case resp.StatusCode == http.StatusBadRequest && len(requestViolations) == 0:
		v.t.Errorf("%s %s: refused with 400, but Prism finds the request valid", req.Method, req.URL)
	}
	return resp, nil
}

func mustToken(t *testing.T, account, scope string) string {
	return testkit.Token(t, target.secret, account, scope)
}

// seeded is one line of testdata/seed.jsonl, the fields the oracle needs.
type seeded struct {
	ID            string    `json:"id"`
	AccountID     string    `json:"account_id"`
	DirectoryPath string    `json:"directory_path"`
	Tags          []string  `json:"tags"`
	CreatedAt     time.Time `json:"created_at"`
}

func loadSeed(t *testing.T) []seeded {
	t.Helper()
	f, err := os.Open("testdata/seed.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rs []seeded
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r seeded
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	return rs
}
