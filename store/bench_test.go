package store_test

import (
	"context"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/re-factor/resources"
	"github.com/re-factor/resources/store"
	"github.com/re-factor/resources/store/storetest"
)

// benchRows is the size of the large account: enough for the list's
// indexes to matter, small enough to load in a second or two per engine.
const benchRows = 20000

// BenchmarkStore times the store's read paths on both engines, and on
// PostgreSQL through PgBouncer: the first page of a large account, a
// one-week window of it, the whole of a small account, and a get by id; the
// first page and the get also from 16 goroutines at once (the "-16" ones),
// as a server under load runs them. Compare runs with benchstat.
func BenchmarkStore(b *testing.B) {
	for _, engine := range storetest.Setups {
		b.Run(engine, func(b *testing.B) {
			// The default timeout can cut the seeding short on a busy machine.
			db := storetest.Open(b, engine, store.WithStatementTimeout(time.Minute), store.WithPoolSize(concurrency))
			rs := make([]resources.Resource, 0, benchRows+20)
			for i := range benchRows {
				// Half an hour apart: the large account spans about 14 months.
				created := storetest.BaseTime.Add(time.Duration(i) * 30 * time.Minute)
				rs = append(rs, storetest.NewResource("large", i, storetest.CreatedAt(created),
					storetest.Tagged("t"+string(rune('a'+i%5))), storetest.In("/docs")))
			}
			for i := range 20 {
				rs = append(rs, storetest.NewResource("small", i, storetest.Tagged("x")))
			}
			storetest.MustImport(b, db, rs...)
			weekStart := storetest.BaseTime.Add(90 * 24 * time.Hour)
			weekEnd := weekStart.Add(7 * 24 * time.Hour)
			lists := []struct {
				name string
				f    resources.Filter
			}{
				{"list-first-page", resources.Filter{AccountID: "large", Page: 1, PageSize: 50}},
				{"list-one-week", resources.Filter{AccountID: "large", Page: 1, PageSize: 50,
					CreatedAfter: &weekStart, CreatedBefore: &weekEnd}},
				{"list-small-account", resources.Filter{AccountID: "small", Page: 1, PageSize: 50}},
			}
			ctx := context.Background()
			for _, l := range lists {
				b.Run(l.name, func(b *testing.B) {
					loop(b, func() error {
						_, err := db.ListResources(ctx, l.f)
						return err
					})
				})
			}
			get := func() error {
				_, err := db.GetResource(ctx, "large", rs[benchRows/2].ID)
				return err
			}
			b.Run("get-by-id", func(b *testing.B) { loop(b, get) })
			b.Run("list-first-page-16", func(b *testing.B) {
				loopParallel(b, func() error {
					_, err := db.ListResources(ctx, lists[0].f)
					return err
				})
			})
			b.Run("get-by-id-16", func(b *testing.B) { loopParallel(b, get) })
		})
	}
}

// loop runs op in a benchmark loop and reports allocations and, beside
// wall time, this process's CPU time per op (cpu-ns/op), which a busy
// machine disturbs less. A PostgreSQL server's CPU time is not in it.
func loop(b *testing.B, op func() error) {
	b.ReportAllocs()
	start := cpuTime(b)
	for b.Loop() {
		if err := op(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N), "cpu-ns/op")
}

// concurrency is how many goroutines loopParallel runs op in.
const concurrency = 16

// loopParallel is loop with op run by concurrency goroutines at once.
func loopParallel(b *testing.B, op func() error) {
	b.ReportAllocs()
	b.SetParallelism(max(concurrency/runtime.GOMAXPROCS(0), 1))
	start := cpuTime(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := op(); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N), "cpu-ns/op")
}

func cpuTime(b *testing.B) time.Duration {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		b.Fatal(err)
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}
