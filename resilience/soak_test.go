package resilience

import (
	"context"
	"flag"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/re-factor/resources/internal/testkit"
)

var (
	soakFor  = flag.Duration("soak", 10*time.Second, "how long TestSoak runs (10m by hand)")
	soakReqs = flag.Int64("soak.requests", 2_000_000, "most requests TestSoak sends")
)

// TestSoak serves a mixed load (70% reads, 30% writes, four accounts) on
// PostgreSQL for -soak: no 5xx at all; resident memory, goroutines and
// threads flat; the p99 of the last third not much worse than the first's.
func TestSoak(t *testing.T) {
	// Without /proc the memory and thread checks would compare nothing.
	if _, err := os.ReadFile("/proc/self/status"); err != nil {
		testkit.Unavailable(t, "TestSoak reads the server's memory and threads from /proc: %v", err)
	}
	c := newCluster(t)
	srv := startServer(t, "DATABASE_URL="+c.url(), "BLOB_URL=file://"+t.TempDir())
	l := newLoader(t, srv.URL, []string{"a", "b", "c", "d"}, 30, *soakReqs)
	l.keep = 300

	// A warm-up fills pools and caches before the baseline is taken.
	warm, cancelWarm := context.WithTimeout(context.Background(), min(*soakFor/10, 10*time.Second))
	l.run(warm, 4)
	cancelWarm()
	before, err := srv.measure()
	if err != nil {
		t.Fatalf("measure the server after the warm-up: %v", err)
	}
	start := time.Now()

	ctx, cancel := context.WithTimeout(context.Background(), *soakFor)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { l.run(ctx, 8) })
	wg.Wait()
	end := time.Now()
	// Requests still finishing hold goroutines; give them a moment.
	time.Sleep(500 * time.Millisecond)
	after, err := srv.measure()
	if err != nil {
		t.Fatalf("measure the server after the load: %v", err)
	}

	counts, n := l.snapshot()
	fivexx := 0
	for status, k := range counts {
		if status >= 500 || status == 0 {
			fivexx += k
		}
	}
	third := end.Sub(start) / 3
	p99first := l.percentile(0.99, start, start.Add(third))
	p99last := l.percentile(0.99, end.Add(-third), end)
	t.Logf("soak %v: %d requests answered (%.0f/s), statuses %v, 5xx or transport errors %d",
		end.Sub(start).Round(time.Second), n, float64(n)/end.Sub(start).Seconds(), counts, fivexx)
	t.Logf("RSS %d KiB -> %d KiB; goroutines %d -> %d; OS threads %d -> %d; p99 first third %v, last third %v",
		before.rssKB, after.rssKB, before.goroutines, after.goroutines, before.threads, after.threads, p99first, p99last)

	if fivexx > 0 {
		t.Errorf("%d answers were 5xx or transport errors", fivexx)
	}
	for _, b := range l.bad[:min(len(l.bad), 10)] {
		t.Errorf("bad answer: %s", b)
	}
	if bad := counts[http.StatusBadRequest] + counts[http.StatusUnauthorized]; bad > 0 {
		t.Errorf("%d answers were 400/401: the loader or the server is wrong", bad)
	}
	// Growth beyond a fixed allowance plus half again is a leak, not noise.
	if after.rssKB > before.rssKB*3/2+64<<10 {
		t.Errorf("RSS grew from %d KiB to %d KiB", before.rssKB, after.rssKB)
	}
	if after.goroutines > before.goroutines+50 {
		t.Errorf("goroutines went from %d to %d", before.goroutines, after.goroutines)
	}
	if after.threads > before.threads*2+8 {
		t.Errorf("OS threads grew from %d to %d", before.threads, after.threads)
	}
	// A few seconds' p99 on a shared two-core machine is mostly its
	// neighbours; drift means something only over minutes.
	if *soakFor >= time.Minute && p99last > 3*p99first+100*time.Millisecond {
		t.Errorf("p99 went from %v to %v", p99first, p99last)
	}
}
