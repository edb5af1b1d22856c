package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/re-factor/resources/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// cli runs the binary's commands in-process against one database.
type cli struct {
	t   *testing.T
	env map[string]string
}

func newCLI(t *testing.T, engine string) *cli {
	return &cli{t: t, env: map[string]string{
		"DATABASE_URL": storetest.URL(t, engine),
		"JWT_SECRET":   "cli-test-secret-0123456789abcdefghij",
	}}
}

func (c *cli) run(stdin string, args ...string) (stdout, stderr string, err error) {
	var out, errOut bytes.Buffer
	err = run(context.Background(), args, strings.NewReader(stdin), &out, &errOut, func(k string) string { return c.env[k] })
	return out.String(), errOut.String(), err
}

func (c *cli) mustRun(stdin string, args ...string) string {
	c.t.Helper()
	out, errOut, err := c.run(stdin, args...)
	if err != nil {
		c.t.Fatalf("refactor %s: %v\n%s", strings.Join(args, " "), err, errOut)
	}
	return out
}

// demoInput is the demo data in the import format.
func demoInput(t *testing.T) string {
	t.Helper()
	lines, _, err := demoLines()
	if err != nil {
		t.Fatal(err)
	}
	return string(lines)
}

func TestExportImportRoundTrip(t *testing.T) {
	demo := demoInput(t)
	for _, engine := range storetest.Engines {
		t.Run(engine, func(t *testing.T) {
			first := newCLI(t, engine)
			first.mustRun(demo, "import", "--file", "-")
			exported := first.mustRun("", "export")
			if n := strings.Count(exported, "\n"); n != strings.Count(demo, "\n") {
				t.Fatalf("exported %d lines, imported %d", n, strings.Count(demo, "\n"))
			}
			second := newCLI(t, engine)
			second.mustRun(exported, "import", "--file", "-")
			if again := second.mustRun("", "export"); again != exported {
				t.Errorf("export after re-import differs:\n%s\n---\n%s", exported, again)
			}
			one := first.mustRun("", "export", "--account", "acme")
			if strings.Count(one, "\n") != 2 || strings.Contains(one, `"account_id":"demo"`) {
				t.Errorf("export --account acme:\n%s", one)
			}
		})
	}
}

func TestImportIsAtomicAndNamesTheLine(t *testing.T) {
	c := newCLI(t, "sqlite")
	lines := strings.SplitAfter(demoInput(t), "\n")
	bad := strings.Replace(lines[2], `"directory_path":"/`, `"directory_path":"relative/`, 1)
	input := lines[0] + lines[1] + bad + lines[3]
	_, _, err := c.run(input, "import", "--file", "-")
	if err == nil || !strings.Contains(err.Error(), "line 3") || !strings.Contains(err.Error(), "directory_path") {
		t.Fatalf("import error = %v, want one naming line 3 and directory_path", err)
	}
	if out := c.mustRun("", "export"); out != "" {
		t.Errorf("a failed import left rows behind:\n%s", out)
	}
}

func TestTokenCommand(t *testing.T) {
	c := newCLI(t, "sqlite")
	tok := strings.TrimSpace(c.mustRun("", "token", "--account", "a1", "--sub", "me"))
	if strings.Count(tok, ".") != 2 {
		t.Errorf("token = %q, want a compact JWT", tok)
	}
	if _, _, err := c.run("", "token"); err == nil {
		t.Error("token without --account succeeded")
	}
	if _, _, err := c.run("", "nope"); !errors.Is(err, errUsage) {
		t.Errorf("unknown command error = %v, want usage", err)
	}
}
