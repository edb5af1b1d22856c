package main

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// cpuPart is one share of the server's CPU profile.
type cpuPart struct {
	where string
	share float64 // of all samples, 0 to 1
}

// cpuSplit divides the samples of `go tool pprof -traces` output among
// cpuWhere's categories, each sample counted once, largest share first:
// the evidence for what of a request's CPU is the server's own code and
// what is the driver, the kernel, the runtime and compression.
func cpuSplit(traces string) (parts []cpuPart, total time.Duration) {
	sums := map[string]time.Duration{}
	for _, block := range strings.Split(traces, "-----------+-------------------------------------------------------") {
		var frames []string
		var d time.Duration
		for line := range strings.Lines(block) {
			line = strings.TrimSpace(line)
			if line == "" {
				continue
			}
			if frames == nil {
				// The first line of a trace is its time, then its leaf.
				m := traceHead.FindStringSubmatch(line)
				if m == nil {
					break
				}
				n, _ := strconv.ParseFloat(m[1], 64)
				d = time.Duration(n * float64(unit[m[2]]))
				line = m[3]
			}
			frames = append(frames, line)
		}
		if len(frames) > 0 {
			sums[cpuWhere(frames)] += d
			total += d
		}
	}
	for w, d := range sums {
		parts = append(parts, cpuPart{w, float64(d) / float64(total)})
	}
	slices.SortFunc(parts, func(a, b cpuPart) int {
		return cmp.Or(cmp.Compare(b.share, a.share), strings.Compare(a.where, b.where))
	})
	return parts, total
}

var (
	traceHead = regexp.MustCompile(`^([0-9.]+)(ns|us|µs|ms|s)\s+(.*)$`)
	unit      = map[string]time.Duration{"ns": time.Nanosecond, "us": time.Microsecond, "µs": time.Microsecond,
		"ms": time.Millisecond, "s": time.Second}
	leafKernel    = regexp.MustCompile(`Syscall6|syscall\.Syscall|syscall\.RawSyscall`)
	leafScheduler = regexp.MustCompile(`runtime\.(futex|usleep|netpoll|epollwait|osyield)`)
	collecting    = regexp.MustCompile(`runtime\.(gcBgMarkWorker|gcDrain|gcAssistAlloc|bgsweep|bgscavenge|markroot)`)
	scheduling    = regexp.MustCompile(`runtime\.(schedule|findRunnable|mcall|park_m|goexit0|stealWork|wakep)`)
	ourJSON       = regexp.MustCompile(`server\.(writeJSON|appendResource)|VisitListResourcesResponse|VisitGetResourceResponse`)
)

// The categories of cpuWhere.
const (
	whereDBSocket   = "kernel: the database's socket (lib/pq's reads and writes)"
	whereLogWrite   = "kernel: writing the access log"
	whereHTTPSocket = "kernel: the client's socket (HTTP)"
	whereScheduler  = "Go runtime: scheduler (idle Ps spinning, futex, netpoll)"
	whereGC         = "Go runtime: garbage collector (background)"
	whereGzip       = "compression (klauspost/compress gzip)"
	wherePQ         = "driver: lib/pq (protocol, decoding each value)"
	whereSQL        = "driver: database/sql and sqlx (conversion into the scan types)"
	whereHTTP       = "net/http and echo (parsing, headers, routing)"
	whereValidation = "ours: request validation (kin-openapi)"
	whereLog        = "ours: access log (slog)"
	whereStore      = "ours: store (SQL text, cursor, scan types)"
	whereJSON       = "ours: the page's JSON"
	whereToken      = "ours: the bearer token"
	whereOurs       = "ours: handler, generated glue, middleware"
	whereRuntime    = "Go runtime: other (allocation outside a known caller)"
)

// cpuWhere names where a sample's time went, from its frames, leaf first:
// kernel work and the runtime's own goroutines by the leaf, anything else
// by the first frame (leaf upward) of a library or of this repository.
func cpuWhere(frames []string) string {
	stack := strings.Join(frames, "\n")
	switch leaf := frames[0]; {
	case leafKernel.MatchString(leaf):
		switch {
		case strings.Contains(stack, "lib/pq"):
			return whereDBSocket
		case strings.Contains(stack, "log/slog"):
			return whereLogWrite
		}
		return whereHTTPSocket
	case leafScheduler.MatchString(leaf):
		return whereScheduler
	case collecting.MatchString(stack):
		return whereGC
	case scheduling.MatchString(stack) && !strings.Contains(stack, "re-factor/resources"):
		return whereScheduler
	}
	other := ""
	for i, f := range frames {
		switch {
		case strings.Contains(f, "compress/flate") || strings.Contains(f, "compress/gzip") ||
			strings.Contains(f, "gzhttp") || strings.Contains(f, "compress/zstd"):
			return whereGzip
		case strings.Contains(f, "lib/pq"):
			return wherePQ
		case strings.HasPrefix(f, "database/sql") || strings.Contains(f, "jmoiron/sqlx"):
			return whereSQL
		case strings.Contains(f, "kin-openapi") || strings.Contains(f, "server/validation"):
			return whereValidation
		case strings.HasPrefix(f, "log/slog") || strings.Contains(f, "accessLog") || strings.Contains(f, "RequestLogger"):
			return whereLog
		case strings.Contains(f, "re-factor/resources") || strings.Contains(f, "oapi-codegen"):
			// Our helpers (appendString, Filter.Validate) are named by
			// what they serve, further up.
			rest := strings.Join(frames[i:], "\n")
			switch {
			case ourJSON.MatchString(rest):
				return whereJSON
			case strings.Contains(rest, "resources/store."):
				return whereStore
			case strings.Contains(rest, "server/validation"):
				return whereValidation
			case strings.Contains(f, "resources/auth") || strings.Contains(f, "authenticate"):
				return whereToken
			}
			return whereOurs
		case strings.Contains(f, "golang-jwt"):
			return whereToken
		case strings.HasPrefix(f, "net/http") || strings.Contains(f, "labstack/echo") ||
			strings.HasPrefix(f, "net/textproto") || strings.HasPrefix(f, "net/url"):
			return whereHTTP
		case other == "" && (strings.HasPrefix(f, "github.com/") || strings.HasPrefix(f, "golang.org/")):
			// Another library: ours when our code called it (a uuid
			// for the request id, metrics), else its own.
			if p := strings.SplitN(f, "/", 4); len(p) >= 3 {
				other = "other library: " + p[1] + "/" + strings.SplitN(p[2], ".", 2)[0]
			}
		}
	}
	return cmp.Or(other, whereRuntime)
}

// writeCPUSplit writes parts as a table.
func writeCPUSplit(b *strings.Builder, parts []cpuPart, total time.Duration) {
	fmt.Fprintf(b, "\nWhere the server's CPU went (%.2f s of samples, each counted once: kernel and runtime work by the "+
		"innermost frame, the rest by the first library or package of ours above it; `bench/cpusplit.go`):\n\n", total.Seconds())
	b.WriteString("| where | share |\n|---|--:|\n")
	for _, p := range parts {
		fmt.Fprintf(b, "| %s | %.1f%% |\n", p.where, 100*p.share)
	}
}
