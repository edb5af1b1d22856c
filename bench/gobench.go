package main

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
)

// requestPathPackage and requestPathBenchmark name the Go benchmarks of the
// server's whole request path (router, token, validation, JSON) over an
// in-memory list result: what a request costs the server without a database.
const (
	requestPathPackage   = "./server"
	requestPathBenchmark = "BenchmarkRequestPath"
)

// goBenchRow is one sub-benchmark's result.
type goBenchRow struct {
	name                  string
	nsPerOp               float64
	bytesPerOp, allocsPer int64
}

// goBenchResult is the section's outcome: rows, or why there are none.
type goBenchResult struct {
	command string
	rows    []goBenchRow
	skipped string
}

var goBenchLine = regexp.MustCompile(`^` + requestPathBenchmark +
	`/(\S+?)(?:-\d+)?\s+\d+\s+([0-9.]+) ns/op\s+([0-9]+) B/op\s+([0-9]+) allocs/op`)

// requestPathBench runs the request path's benchmarks in the server's
// module (the working folder) for benchtime each. A missing benchmark or a
// failed run becomes the section's note rather than ending the benchmark.
func requestPathBench(ctx context.Context, benchtime string) goBenchResult {
	args := []string{"test", requestPathPackage, "-run", "^$", "-bench", "^" + requestPathBenchmark + "$",
		"-benchmem", "-benchtime", benchtime, "-count", "1"}
	res := goBenchResult{command: "go " + strings.Join(args, " ")}
	out, err := exec.CommandContext(ctx, "go", args...).CombinedOutput()
	if err != nil {
		res.skipped = fmt.Sprintf("`%s` failed (%v): %s", res.command, err, firstLines(string(out), 5))
		logf("request path benchmarks: %s", res.skipped)
		return res
	}
	for line := range strings.Lines(string(out)) {
		m := goBenchLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		ns, _ := strconv.ParseFloat(m[2], 64)
		b, _ := strconv.ParseInt(m[3], 10, 64)
		a, _ := strconv.ParseInt(m[4], 10, 64)
		res.rows = append(res.rows, goBenchRow{name: m[1], nsPerOp: ns, bytesPerOp: b, allocsPer: a})
	}
	if len(res.rows) == 0 {
		res.skipped = fmt.Sprintf("%s has no %s with sub-benchmarks yet, so this section is empty",
			requestPathPackage, requestPathBenchmark)
		logf("request path benchmarks: %s", res.skipped)
	}
	return res
}

func firstLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[:min(n, len(lines))], " / ")
}
