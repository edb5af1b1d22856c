package server

import (
	"testing"
	"time"
)

func TestLimitersRefillAndForget(t *testing.T) {
	l := newLimiters(RateLimit{RPS: 2, Burst: 2})
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	steps := []struct {
		name    string
		account string
		at      time.Duration
		want    time.Duration // wait; zero means allowed
	}{
		{"burst 1", "a", 0, 0},
		{"burst 2", "a", 0, 0},
		{"empty bucket", "a", 0, 500 * time.Millisecond},
		{"refused requests do not add debt", "a", 0, 500 * time.Millisecond},
		{"other account has its own bucket", "b", 0, 0},
		{"one token back after 500ms", "a", 500 * time.Millisecond, 0},
		{"and gone again", "a", 500 * time.Millisecond, 500 * time.Millisecond},
	}
	for _, s := range steps {
		if got := l.wait(s.account, t0.Add(s.at)); got != s.want {
			t.Errorf("%s: wait = %v, want %v", s.name, got, s.want)
		}
	}
	l.wait("c", t0.Add(limiterIdle+time.Second))
	l.wait("c", t0.Add(2*limiterIdle+2*time.Second))
	if _, ok := l.buckets["a"]; ok || len(l.buckets) != 1 {
		t.Errorf("after two idle periods buckets = %v, want only c's", l.buckets)
	}
	if newLimiters(RateLimit{}) != nil || (*limiters)(nil).wait("a", t0) != 0 {
		t.Error("a zero RateLimit must turn limiting off")
	}
}
