package server_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/re-factor/resources"
	"github.com/re-factor/resources/blobstore/blobtest"
	"github.com/re-factor/resources/store"
	"github.com/re-factor/resources/store/storetest"
)

// Accounts of the request-path benchmark, named and sized after
// cmd/refactor-bench's largest and smallest account (the smallest holds
// 133 rows at a million; the largest needs only enough rows for its
// windows to fill a page).
const (
	benchLarge, benchLargeRows = "acct-0000", 2000
	benchSmall, benchSmallRows = "acct-0999", 133
)

// benchStart is the oldest created_at of the benchmark's rows, which are an
// hour apart.
var benchStart = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// benchEngine is the store of the request-path benchmarks.
var benchEngine = flag.String("bench.engine", "sqlite-memory",
	"store of BenchmarkRequestPath: sqlite-memory, or postgres for the load benchmark's engine")

// BenchmarkRequestPath serves the load benchmark's light requests
// in-process, as its load generator sends them (bearer token, gzip
// accepted), through the real router: authentication, validation, the
// handler, JSON and compression. The store holds resources shaped like the
// benchmark's, so the list pages have its size: SQLite in memory, whose
// share BenchmarkRequestPathStore measures, or with -bench.engine=postgres
// the load benchmark's engine. cpu-µs/op is this process's CPU time (user
// and system, GC included) per request: with PostgreSQL, what the load
// benchmark calls the server's CPU, less the socket I/O. Compare allocs/op
// first; times are noisy on a shared machine.
func BenchmarkRequestPath(b *testing.B) {
	h, _, ids := newBenchServer(b)
	tok := mustToken(b, benchLarge, "resources:read")
	small := mustToken(b, benchSmall, "resources:read")
	for _, bc := range benchRequests(ids) {
		b.Run(bc.name, func(b *testing.B) {
			tok := tok
			if bc.filter.AccountID == benchSmall {
				tok = small
			}
			req := httptest.NewRequest(http.MethodGet, bc.target, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("Accept-Encoding", "gzip")
			serve := func() *httptest.ResponseRecorder {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req.Clone(context.Background()))
				return rec
			}
			checkBenchResponse(b, serve(), bc.items)
			b.ReportAllocs()
			n, cpu := 0, processCPU()
			for b.Loop() {
				if rec := serve(); rec.Code != http.StatusOK {
					b.Fatalf("GET %s = %d %s", bc.target, rec.Code, rec.Body)
				}
				n++
			}
			b.ReportMetric(float64((processCPU()-cpu).Microseconds())/float64(n), "cpu-µs/op")
		})
	}
}

// BenchmarkRequestPathStore is the store's part of BenchmarkRequestPath's
// list requests: the same queries straight to the store.
func BenchmarkRequestPathStore(b *testing.B) {
	_, db, ids := newBenchServer(b)
	ctx := context.Background()
	for _, bc := range benchRequests(ids) {
		if bc.filter.AccountID == "" {
			continue
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := db.ListResources(ctx, bc.filter); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

type benchRequest struct {
	name, target string
	filter       resources.Filter // the list's, for the store alone
	items        int              // resources in the answer; -1 for one resource
}

// benchRequests are Q1, Q5 and Q9 of cmd/refactor-bench/queries.go, and a
// read of one resource.
func benchRequests(ids []string) []benchRequest {
	weekStart := benchStart.Add(40 * 24 * time.Hour)
	weekEnd := weekStart.Add(7 * 24 * time.Hour)
	return []benchRequest{
		{name: "Q1", target: "/v1/resources",
			filter: resources.Filter{AccountID: benchLarge, Page: 1, PageSize: 20}, items: 20},
		{name: "Q5", target: "/v1/resources?created_after=" + weekStart.Format(time.RFC3339) +
			"&created_before=" + weekEnd.Format(time.RFC3339),
			filter: resources.Filter{AccountID: benchLarge, Page: 1, PageSize: 20,
				CreatedAfter: &weekStart, CreatedBefore: &weekEnd}, items: 20},
		{name: "Q9", target: "/v1/resources",
			filter: resources.Filter{AccountID: benchSmall, Page: 1, PageSize: 20}, items: 20},
		{name: "get", target: "/v1/resource/" + ids[0], items: -1},
	}
}

// newBenchServer returns the server on a store in memory holding both
// accounts, and the ids of the large account's resources.
func newBenchServer(b *testing.B) (http.Handler, *store.DB, []string) {
	b.Helper()
	ctx := context.Background()
	var db *store.DB
	switch *benchEngine {
	case "sqlite-memory":
		var err error
		if db, err = store.Open(ctx, "sqlite::memory:"); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		if err := db.Migrate(ctx); err != nil {
			b.Fatal(err)
		}
	case store.Postgres:
		db = storetest.Open(b, store.Postgres)
	default:
		b.Fatalf("-bench.engine %q: want sqlite-memory or postgres", *benchEngine)
	}
	r := rand.New(rand.NewPCG(1, 2))
	var rs []resources.Resource
	var ids []string
	for i := range benchLargeRows + benchSmallRows {
		acct := benchLarge
		if i >= benchLargeRows {
			acct = benchSmall
		}
		res := benchResource(r, acct, i)
		if acct == benchLarge {
			ids = append(ids, res.ID)
		}
		rs = append(rs, res)
	}
	storetest.MustImport(b, db, rs...)
	h := newHandler(b, db, blobtest.Open(b, "file"), nil)
	return h, db, ids
}

// benchResource is shaped like a row of cmd/refactor-bench's dataset: one
// to five tags, a nested directory, a quarter with metadata.
func benchResource(r *rand.Rand, account string, n int) resources.Resource {
	tags := []string{"t000", "t001", "t002", "t003", "t004"}[:1+r.IntN(5)]
	res := storetest.NewResource(account, n, storetest.Tagged(tags...),
		storetest.In(fmt.Sprintf("/d%d/d%d", r.IntN(8), r.IntN(8))),
		storetest.CreatedAt(benchStart.Add(time.Duration(n)*time.Hour+time.Duration(r.IntN(1e6))*time.Microsecond)))
	var sum [16]byte
	for i := range sum {
		sum[i] = byte(r.IntN(256))
	}
	res.SHA256 = strings.Repeat(hex.EncodeToString(sum[:]), 2) // as random as the dataset's
	res.Name = fmt.Sprintf("file-%07d.dat", n)
	res.MimeType = "application/pdf"
	res.StorageBucket, res.StorageKey = "bench", account+"/"+res.ID
	res.SizeBytes = r.Int64N(10 << 20)
	by := fmt.Sprintf("user-%d", r.IntN(20))
	res.CreatedBy = &by
	if n%4 == 0 {
		res.Metadata = json.RawMessage(fmt.Sprintf(`{"source":"bench","batch":%d}`, r.IntN(1000)))
	}
	return res
}

// checkBenchResponse makes sure the benchmark measures a full answer.
func checkBenchResponse(b *testing.B, rec *httptest.ResponseRecorder, items int) {
	b.Helper()
	if rec.Code != http.StatusOK {
		b.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if items < 0 {
		return
	}
	if got := rec.Header().Get("Content-Encoding"); got != "gzip" {
		b.Fatalf("Content-Encoding %q, want gzip", got)
	}
	var page struct{ Items []json.RawMessage }
	if err := json.Unmarshal(decode(b, "gzip", rec.Body.Bytes()), &page); err != nil {
		b.Fatal(err)
	}
	if len(page.Items) != items {
		b.Fatalf("%d items, want %d", len(page.Items), items)
	}
}

// processCPU is the CPU time this process has used, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
