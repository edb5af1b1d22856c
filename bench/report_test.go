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

func TestGoBenchLine(t *testing.T) {
	tests := []struct {
		line string
		want []string // name, ns/op, B/op, allocs/op; nil: no match
	}{
		{"BenchmarkRequestPath/Q1-2   \t   10000\t    123456 ns/op\t   12345 B/op\t     123 allocs/op",
			[]string{"Q1", "123456", "12345", "123"}},
		{"BenchmarkRequestPath/get \t 1\t 98.5 ns/op\t 0 B/op\t 0 allocs/op", []string{"get", "98.5", "0", "0"}},
		{"BenchmarkOther/Q1-2 \t 1\t 5 ns/op\t 0 B/op\t 0 allocs/op", nil},
		{"ok  \tgithub.com/re-factor/resources/server\t1.2s", nil},
	}
	for _, tt := range tests {
		m := goBenchLine.FindStringSubmatch(tt.line)
		var got []string
		if m != nil {
			got = m[1:]
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%q: got %q, want %q", tt.line, got, tt.want)
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
