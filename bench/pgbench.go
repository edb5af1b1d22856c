package main

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/re-factor/resources/store"
	"github.com/re-factor/resources/store/storetest"
)

// pgbench runs q's statement — the very SQL and parameters the server sends —
// with workers clients for d, over the extended protocol with parameters as
// lib/pq sends them (untyped text), prepared when the server prepares it,
// and returns transactions per second.
func pgbench(ctx context.Context, databaseURL string, q store.ListQuery, workers int, d time.Duration, script string) (float64, error) {
	sqlText, defs := pgbenchScript(q)
	if err := os.WriteFile(script, []byte(sqlText+";\n"), 0o644); err != nil {
		return 0, err
	}
	// The server prepares the statements it may plan once (see
	// store.ListQuery.Prepared); pgbench does as it does.
	mode := "extended"
	if q.Prepared {
		mode = "prepared"
	}
	args := []string{"-n", "-M", mode, "-c", strconv.Itoa(workers), "-j", "2",
		"-T", strconv.Itoa(max(int(d.Seconds()), 1)), "-f", script}
	args = append(args, defs...)
	args = append(args, databaseURL)
	cmd := exec.CommandContext(ctx, pgbenchPath(), args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("pgbench: %w\n%s", err, out)
	}
	m := regexp.MustCompile(`tps = ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("pgbench: no tps in output:\n%s", out)
	}
	return strconv.ParseFloat(string(m[1]), 64)
}

// pgbenchScript turns q's $N placeholders into pgbench variables, which
// pgbench sends as parameters in extended mode, and returns -D definitions.
func pgbenchScript(q store.ListQuery) (string, []string) {
	s := strings.Join(strings.Fields(q.SQL), " ") // one line: a pgbench command
	var defs []string
	for i := len(q.Args); i >= 1; i-- {
		s = strings.ReplaceAll(s, "$"+strconv.Itoa(i), ":p"+strconv.Itoa(i))
	}
	for i, a := range q.Args {
		defs = append(defs, "-D", fmt.Sprintf("p%d=%s", i+1, argText(a)))
	}
	return s, defs
}

func argText(a any) string {
	if v, ok := a.(driver.Valuer); ok { // the store's timestamps
		a, _ = v.Value()
	}
	if t, ok := a.(time.Time); ok {
		return t.UTC().Format(time.RFC3339Nano)
	}
	return fmt.Sprint(a)
}

func pgbenchPath() string {
	if p := filepath.Join(storetest.PGBin(), "pgbench"); fileExists(p) {
		return p
	}
	return "pgbench"
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// explain returns EXPLAIN (ANALYZE, BUFFERS) of q, run as the server runs it.
func explain(ctx context.Context, db *sql.DB, q store.ListQuery) (string, error) {
	rows, err := db.QueryContext(ctx, `EXPLAIN (ANALYZE, BUFFERS) `+q.SQL, q.Args...)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return "", err
		}
		b.WriteString(line + "\n")
	}
	return b.String(), rows.Err()
}
