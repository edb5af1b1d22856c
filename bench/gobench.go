package main

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
)

// requestPathPackage holds the Go benchmarks of the server's whole request
// path (router, token, validation, handler, JSON) on an in-memory store,
// BenchmarkRequestPath, and of the store's part of each,
// BenchmarkRequestPathStore: together, what a request costs the server
// alone, without a database server or a load generator on the cores.
const requestPathPackage = "./server"

// goBenchFigures is one sub-benchmark's result.
type goBenchFigures struct {
	nsPerOp                 float64
	bytesPerOp, allocsPerOp int64
}

// goBenchRow is one request: the whole path and, when measured, the store's part.
type goBenchRow struct {
	name  string
	path  goBenchFigures
	store *goBenchFigures
}

// goBenchResult is the section's outcome: rows, or why there are none.
type goBenchResult struct {
	command string
	rows    []goBenchRow
	skipped string
}

// Metrics a benchmark reports itself (cpu-µs/op) come between ns/op and B/op.
var goBenchLine = regexp.MustCompile(`^BenchmarkRequestPath(Store)?/(\S+?)(?:-\d+)?\s+\d+\s+([0-9.]+) ns/op(?:\s+[0-9.]+ \S+/op)*?\s+([0-9]+) B/op\s+([0-9]+) allocs/op`)

// requestPathBench runs the request path's benchmarks in the server's
// module (the working folder) for benchtime each. A missing benchmark or a
// failed run becomes the section's note rather than ending the benchmark.
func requestPathBench(ctx context.Context, benchtime string) goBenchResult {
	args := []string{"test", requestPathPackage, "-run", "^$", "-bench", "^BenchmarkRequestPath(Store)?$",
		"-benchmem", "-benchtime", benchtime, "-count", "1"}
	res := goBenchResult{command: "go " + shellJoin(args)}
	out, err := exec.CommandContext(ctx, "go", args...).CombinedOutput()
	if err != nil {
		res.skipped = fmt.Sprintf("`%s` failed (%v): %s", res.command, err, firstLines(string(out), 5))
		logf("request path benchmarks: %s", res.skipped)
		return res
	}
	res.rows = parseGoBench(string(out))
	if len(res.rows) == 0 {
		res.skipped = requestPathPackage + " has no BenchmarkRequestPath with sub-benchmarks yet, so this section is empty"
		logf("request path benchmarks: %s", res.skipped)
	}
	return res
}

// parseGoBench returns the rows of go test's output, in the order of the
// whole-path benchmarks, each with its store part when there is one.
func parseGoBench(out string) []goBenchRow {
	var rows []goBenchRow
	stores := map[string]goBenchFigures{}
	for line := range strings.Lines(out) {
		m := goBenchLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		var f goBenchFigures
		f.nsPerOp, _ = strconv.ParseFloat(m[3], 64)
		f.bytesPerOp, _ = strconv.ParseInt(m[4], 10, 64)
		f.allocsPerOp, _ = strconv.ParseInt(m[5], 10, 64)
		if m[1] != "" {
			stores[m[2]] = f
			continue
		}
		rows = append(rows, goBenchRow{name: m[2], path: f})
	}
	for i := range rows {
		if f, ok := stores[rows[i].name]; ok {
			rows[i].store = &f
		}
	}
	return rows
}

// shellJoin quotes the arguments a shell would mangle, so the report's
// command can be pasted.
func shellJoin(args []string) string {
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = a
		if strings.ContainsAny(a, "^$*?() ") {
			quoted[i] = "'" + a + "'"
		}
	}
	return strings.Join(quoted, " ")
}

func firstLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[:min(n, len(lines))], " / ")
}
