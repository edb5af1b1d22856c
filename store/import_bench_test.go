package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/re-factor/resources"
	"github.com/re-factor/resources/store"
	"github.com/re-factor/resources/store/storetest"
)

// importBenchRows is the size of BenchmarkImport's load: several batches
// into one account, as the benchmark dataset's largest account arrives.
const importBenchRows = 50000

// BenchmarkImport times ImportResources into an empty database on both
// engines (the bulk path, analysing included) and reports rows/s beside
// the process's CPU per row. The decoding of JSON Lines is not in it: the
// bench module's figures, from `refactor import` on a million rows, are.
func BenchmarkImport(b *testing.B) {
	rs := make([]resources.Resource, importBenchRows)
	for i := range rs {
		tags := []string{"t000", fmt.Sprintf("t%03d", 1+i%7), fmt.Sprintf("t%03d", 10+i%50)}
		rs[i] = storetest.NewResource("acct-0000", i, storetest.Tagged(tags...),
			storetest.In(fmt.Sprintf("/d%d/d%d", i%8, i/8%8)),
			storetest.CreatedAt(storetest.BaseTime.Add(time.Duration(i)*time.Minute)))
	}
	for _, engine := range storetest.Engines {
		b.Run(engine, func(b *testing.B) {
			var took time.Duration
			start := cpuTime(b)
			var setup time.Duration
			for b.Loop() {
				b.StopTimer()
				setupStart := cpuTime(b)
				db := storetest.Open(b, engine, store.WithStatementTimeout(time.Minute))
				setup += cpuTime(b) - setupStart
				b.StartTimer()
				began := time.Now()
				if _, err := db.ImportResources(context.Background(), storetest.Seq(rs...)); err != nil {
					b.Fatal(err)
				}
				took += time.Since(began)
			}
			b.ReportMetric(float64(importBenchRows*b.N)/took.Seconds(), "rows/s")
			b.ReportMetric(float64(cpuTime(b)-start-setup)/float64(importBenchRows*b.N), "cpu-ns/row")
		})
	}
}
