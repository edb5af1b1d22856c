package main

import (
	"net/url"
	"strings"
	"testing"
)

func TestWithServerSettings(t *testing.T) {
	got, err := withServerSettings("postgres://bench@127.0.0.1:5432/bench_1m?sslmode=disable&application_name=a%2Bb")
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(got)
	if err != nil {
		t.Fatal(err)
	}
	// libpq, which pgbench uses, reads a + as a plus, not a space.
	if strings.Contains(u.RawQuery, "+") {
		t.Errorf("query %q has a +", u.RawQuery)
	}
	q := u.Query()
	for k, want := range map[string]string{
		"options":          "-c jit=off -c max_parallel_workers_per_gather=0",
		"sslmode":          "disable",
		"application_name": "a+b",
	} {
		if q.Get(k) != want {
			t.Errorf("%s = %q, want %q", k, q.Get(k), want)
		}
	}
	if u.Host != "127.0.0.1:5432" || u.Path != "/bench_1m" || u.User.Username() != "bench" {
		t.Errorf("got %s, want the same server, database and user", got)
	}
}
