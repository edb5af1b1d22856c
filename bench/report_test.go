package main

import (
	"slices"
	"testing"
)

func TestPlanShape(t *testing.T) {
	stock := `Limit  (cost=0.29..79.21 rows=20 width=56) (actual time=0.045..0.111 rows=20 loops=1)
  Buffers: shared hit=22
  ->  Index Only Scan Backward using resources_created_idx on resources r_1  (cost=0.29..221.26 rows=56 width=56) (actual time=0.044..0.108 rows=20 loops=1)
        Index Cond: (account_id = 'acct-0000'::text)
        Heap Fetches: 20
Planning Time: 5.534 ms
JIT:
  Functions: 12
  Options: Inlining false, Optimization false, Expressions true, Deforming true
  Timing: Generation 1.2 ms, Inlining 0.0 ms, Optimization 0.5 ms, Emission 9.1 ms, Total 10.8 ms
Execution Time: 0.793 ms
`
	tuned := `Limit  (cost=0.29..22.24 rows=20 width=56) (actual time=0.050..0.116 rows=20 loops=1)
  Buffers: shared hit=22
  ->  Index Only Scan Backward using resources_created_idx on resources r_1  (cost=0.29..61.77 rows=56 width=56) (actual time=0.048..0.113 rows=20 loops=1)
        Index Cond: (account_id = 'acct-0000'::text)
        Heap Fetches: 0
Planning Time: 0.1 ms
Execution Time: 0.2 ms
`
	other := `Limit  (cost=0.29..22.24 rows=20 width=56) (actual time=0.050..0.116 rows=20 loops=1)
  ->  Sort  (cost=1.00..2.00 rows=56 width=56) (actual time=0.048..0.113 rows=20 loops=1)
        ->  Seq Scan on resources r_1  (cost=0.29..61.77 rows=56 width=56) (actual time=0.048..0.113 rows=20 loops=1)
`
	tests := []struct {
		name string
		a, b string
		same bool
	}{
		{"figures, heap fetches and JIT differ", stock, tuned, true},
		{"nodes differ", tuned, other, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := planShape(tt.a) == planShape(tt.b); got != tt.same {
				t.Errorf("same shape = %v, want %v\n%s\n---\n%s", got, tt.same, planShape(tt.a), planShape(tt.b))
			}
		})
	}
}

func TestParseGoBench(t *testing.T) {
	out := `goos: linux
BenchmarkRequestPath/Q1-2   	   10000	    123456 ns/op	       430.9 cpu-µs/op	   12345 B/op	     123 allocs/op
BenchmarkRequestPath/get    	       1	      98.5 ns/op	       0 B/op	       0 allocs/op
BenchmarkRequestPathStore/Q1-2	   20000	     23456 ns/op	    2345 B/op	      23 allocs/op
BenchmarkOther/Q1-2 	 1	 5 ns/op	 0 B/op	 0 allocs/op
ok  	github.com/re-factor/resources/server	1.2s
`
	got := parseGoBench(out)
	want := []goBenchRow{
		{name: "Q1", path: goBenchFigures{123456, 12345, 123}, store: &goBenchFigures{23456, 2345, 23}},
		{name: "get", path: goBenchFigures{98.5, 0, 0}},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d rows %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.name != w.name || g.path != w.path || (g.store == nil) != (w.store == nil) ||
			(g.store != nil && *g.store != *w.store) {
			t.Errorf("row %d = %+v (store %v), want %+v (store %v)", i, g, g.store, w, w.store)
		}
	}
}

func TestParseSetups(t *testing.T) {
	tests := []struct {
		list, pgURL string
		want        []string // names; nil: an error
	}{
		{"stock,tuned,sqlite", "", []string{"stock", "tuned", "sqlite"}},
		{"sqlite, stock", "", []string{"stock", "sqlite"}},
		{"tuned", "postgres://h/db", []string{"tuned"}},
		{"stock,tuned", "postgres://h/db", nil},
		{"stock,mysql", "", nil},
		{"", "", nil},
	}
	for _, tt := range tests {
		got, err := parseSetups(tt.list, tt.pgURL)
		var names []string
		for _, s := range got {
			names = append(names, s.name)
		}
		if (err != nil) != (tt.want == nil) || !slices.Equal(names, tt.want) {
			t.Errorf("parseSetups(%q, %q) = %q, %v; want %q", tt.list, tt.pgURL, names, err, tt.want)
		}
	}
}

func TestAnalyseLines(t *testing.T) {
	out := "read 10 MB\r\x1b[Kread 20 MB\nanalysing 3 tables: 1.2 s\nimported 1000000 resources\n"
	if got, want := analyseLines(out), []string{"analysing 3 tables: 1.2 s"}; !slices.Equal(got, want) {
		t.Errorf("analyseLines = %q, want %q", got, want)
	}
}
