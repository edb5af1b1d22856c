package resources_test

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// module is this module's path; the packages below are named relative to
// it, "." being the root.
const module = "github.com/re-factor/resources"

// allowed is docs/architecture.md's table of rooms: for each package, the
// packages of ours it may import outside its tests. A package missing here
// fails the test, so a new room is placed on the page before it is built.
var allowed = map[string][]string{
	".":                  {},
	"auth":               {},
	"blobstore":          {},
	"urlfetch":           {},
	"upload":             {},
	"gen":                {},
	"client":             {},
	"console":            {},
	"store":              {"."},
	"store/poolmetrics":  {"store"},
	"catalog":            {".", "store", "blobstore", "urlfetch"},
	"webhooks":           {".", "store", "urlfetch"},
	"server/validation":  {"gen"},
	"server":             {".", "catalog", "webhooks", "auth", "gen", "upload", "server/validation", "tusupload", "console"},
	"tusupload":          {".", "catalog"},
	"cmd/refactor":       {"*"},
	"store/storetest":    {"*"}, // test-only packages: what they test
	"blobstore/blobtest": {"*"},
	"internal/testkit":   {"*"},
	"server/spectest":    {"*"},
	"e2e":                {"*"},
	"resilience":         {"*"},

	"blobstore/blobtest/cmd/buildweed": {"*"}, // builds the tests' S3 server
}

// testOnly are the packages only tests may import.
var testOnly = []string{"store/storetest", "blobstore/blobtest", "internal/testkit", "server/spectest"}

// TestLayering lists every package's imports (tests left out) and fails on
// an arrow docs/architecture.md does not allow: server reaching the store,
// the store reaching the lifecycle, the domain reaching anything, any
// package reaching cmd or a test-only package.
func TestLayering(t *testing.T) {
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	seen := 0
	for dec.More() {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		seen++
		for _, v := range violations(ours(p.ImportPath), p.Imports) {
			t.Error(v)
		}
	}
	if seen < len(allowed)-len(testOnly) {
		t.Fatalf("go list listed %d packages; the table has %d", seen, len(allowed))
	}
}

// violations says what is wrong with the imports of package name, relative
// to the module, against the table.
func violations(name string, imports []string) []string {
	may, ok := allowed[name]
	if !ok {
		return []string{"package " + name + " is in no room of docs/architecture.md (add it there and to allowed)"}
	}
	var out []string
	for _, imp := range imports {
		dep := ours(imp)
		switch {
		case dep == "":
		case strings.HasPrefix(dep, "cmd/"):
			out = append(out, name+" imports "+dep+": nothing imports a command")
		case slices.Contains(testOnly, dep) && !slices.Contains(may, "*"):
			out = append(out, name+" imports "+dep+", which only tests may")
		case !slices.Contains(may, "*") && !slices.Contains(may, dep):
			out = append(out, fmt.Sprintf("%s imports %s: docs/architecture.md allows %s only %q", name, dep, name, may))
		}
	}
	return out
}

// TestLayeringRefuses: the arrows the architecture forbids are caught.
func TestLayeringRefuses(t *testing.T) {
	for _, tt := range []struct{ pkg, imports string }{
		{"server", "store"},
		{"server", "blobstore"},
		{"store", "catalog"},
		{".", "store"},
		{"catalog", "cmd/refactor"},
		{"catalog", "store/storetest"},
		{"newroom", "."},
	} {
		if v := violations(tt.pkg, []string{module + "/" + tt.imports}); len(v) == 0 {
			t.Errorf("%s → %s is allowed", tt.pkg, tt.imports)
		}
	}
	if v := violations("server", []string{module + "/catalog", module, "net/http"}); len(v) > 0 {
		t.Errorf("allowed arrows refused: %q", v)
	}
}

// ours returns path relative to the module ("." for its root), or "" when
// it is not one of ours.
func ours(path string) string {
	if path == module {
		return "."
	}
	rel, ok := strings.CutPrefix(path, module+"/")
	if !ok {
		return ""
	}
	return rel
}
