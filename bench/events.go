package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The events section's shape and targets (issue 20).
const (
	eventsHeading   = "## Events and webhooks"
	latencyRate     = 200 // writes a second through replica A
	latencyTime     = 10 * time.Second
	maxLatencyP99   = 100 * time.Millisecond
	latencyInFlight = 32
	idleSubscribers = 1000
	// idleWindows windows of idleWindow each, before the streams and with
	// them: the least of each is the rate without the bursts of River's
	// periodic maintenance and autovacuum, which would otherwise fall in
	// one and not the other.
	idleWindows       = 4
	idleWindow        = 3 * time.Second
	maxIdleRSS        = 200 << 20
	createConcurrency = 16
	createTime        = 5 * time.Second
	createRounds      = 3 // each way, alternating
	minCreateRatio    = 0.85
	minDeliveries     = 500.0
)

type eventsResult struct {
	loadBefore, loadAfter string
	sent, seen, skipped   int
	failed                int           // creates not answered 200
	ackP50, ackP99        time.Duration // answer on A → event on B's stream
	sendP50, sendP99      time.Duration // request sent to A → event on B's stream
	idleRSS               int64
	idleTxBefore, idleTx  float64 // the database's transactions a second: before the streams, with them
	baselineName          string
	baseline, withHooks   float64 // creates a second
	delivered             int
	deliveryRate          float64
	// A backlog of deliveries held while the creates of one more round
	// queue them, then released: how fast the queue drains.
	backlog   int
	drainRate float64
}

// benchEvents runs the events section on a throwaway PostgreSQL cluster
// with stock settings: two server processes on one database (commit on A
// to an SSE client on B at 200 writes/s), 1,000 idle streams on B, 1 KiB
// creates with one webhook endpoint against a baseline, and the webhook
// deliveries those creates queue to a local receiver.
func benchEvents(ctx context.Context, o options) error {
	dir := filepath.Join(o.work, "events")
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	pg, err := openPostgres(dir, o.pgURL, nil)
	if err != nil {
		return err
	}
	defer pg.close()
	res := eventsResult{loadBefore: loadAverage()}
	dbURL, err := pg.freshDatabase(ctx, "events")
	if err != nil {
		return err
	}
	env := []string{"URI_FETCH_ALLOW_PRIVATE=true"}
	a, err := startServer(ctx, o.bin, dbURL, filepath.Join(dir, "a.log"), o.poolSize, env...)
	if err != nil {
		return err
	}
	defer a.stop()
	b, err := startServer(ctx, o.bin, dbURL, filepath.Join(dir, "b.log"), o.poolSize, env...)
	if err != nil {
		return err
	}
	defer b.stop()
	if err := measureLatency(ctx, a, b, &res); err != nil {
		return err
	}
	if err := measureIdle(ctx, pg, b, &res); err != nil {
		return err
	}
	a.stop()
	b.stop()
	if err := measureCreates(ctx, o, pg, dir, &res); err != nil {
		return err
	}
	res.loadAfter = loadAverage()
	return spliceSection(o.out, eventsHeading, uploadsNextBefore, res.markdown(o))
}

// createOne sends one create of 1 KiB and returns the new id ("" on
// failure).
func createOne(ctx context.Context, client *http.Client, base, tok string, i int64) string {
	content := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("x", 1024)))
	body := fmt.Sprintf(`{"name":"e%09d.txt","directory_path":"/bench/events","content":"data:text/plain;base64,%s"}`, i, content)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/resources", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var r struct{ ID string }
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&r) != nil {
		return ""
	}
	return r.ID
}

// openStream opens an event stream and calls onData with each event's
// data line until ctx ends.
func openStream(ctx context.Context, base, tok string, onData func(string)) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/events/stream", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := streamClient.Do(req)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return fmt.Errorf("stream: %s", resp.Status)
	}
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok && onData != nil {
				onData(data)
			}
		}
	}()
	return nil
}

var streamClient = &http.Client{Transport: &http.Transport{MaxConnsPerHost: 0, MaxIdleConnsPerHost: 2000}}

func measureLatency(ctx context.Context, a, b *serverProc, res *eventsResult) error {
	tok, err := writeToken("latency")
	if err != nil {
		return err
	}
	var mu sync.Mutex
	arrived := map[string]time.Time{}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	err = openStream(sctx, b.url, tok, func(data string) {
		now := time.Now()
		var e struct {
			Data struct{ Resource struct{ ID string } } `json:"data"`
		}
		if json.Unmarshal([]byte(data), &e) == nil {
			mu.Lock()
			arrived[e.Data.Resource.ID] = now
			mu.Unlock()
		}
	})
	if err != nil {
		return err
	}
	time.Sleep(500 * time.Millisecond)
	logf("events: %d writes/s through A for %v, streamed from B", latencyRate, latencyTime)
	type sent struct {
		id        string
		send, ack time.Time
	}
	var sends []sent
	var wg sync.WaitGroup
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}, Timeout: 30 * time.Second}
	tick := time.NewTicker(time.Second / latencyRate)
	var n int64
	// At most latencyInFlight creates wait at once: a server that falls
	// behind gets fewer writes (counted as skipped), not a pile that
	// times out.
	slots := make(chan struct{}, latencyInFlight)
	for end := time.Now().Add(latencyTime); time.Now().Before(end); <-tick.C {
		select {
		case slots <- struct{}{}:
		default:
			res.skipped++
			continue
		}
		n++
		wg.Go(func() {
			defer func() { <-slots }()
			s := sent{send: time.Now()}
			s.id = createOne(ctx, client, a.url, tok, n)
			s.ack = time.Now()
			mu.Lock()
			sends = append(sends, s)
			mu.Unlock()
		})
	}
	tick.Stop()
	wg.Wait()
	time.Sleep(2 * time.Second)
	mu.Lock()
	defer mu.Unlock()
	var fromAck, fromSend []time.Duration
	for _, s := range sends {
		if s.id == "" {
			res.failed++
		}
		if at, ok := arrived[s.id]; ok && s.id != "" {
			fromAck = append(fromAck, max(at.Sub(s.ack), 0))
			fromSend = append(fromSend, at.Sub(s.send))
		}
	}
	res.sent, res.seen = len(sends), len(fromAck)
	res.ackP50, res.ackP99 = percentile(fromAck, 0.50), percentile(fromAck, 0.99)
	res.sendP50, res.sendP99 = percentile(fromSend, 0.50), percentile(fromSend, 0.99)
	logf("events: %d sent, %d seen on B; p99 %v after the answer, %v after the request", res.sent, res.seen, res.ackP99, res.sendP99)
	return nil
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[min(int(float64(len(ds))*p), len(ds)-1)]
}

// transactions returns the database's committed and rolled-back
// transactions so far (each statement outside a transaction is one).
func transactions(ctx context.Context, pg *postgres) (float64, error) {
	var n float64
	err := pg.admin.QueryRowContext(ctx, `SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = 'events'`).Scan(&n)
	return n, err
}

func txRate(ctx context.Context, pg *postgres, d time.Duration) (float64, error) {
	before, err := transactions(ctx, pg)
	if err != nil {
		return 0, err
	}
	time.Sleep(d)
	after, err := transactions(ctx, pg)
	// pg_stat_database is sent by backends at most every 500 ms (and
	// this very query counts): over a few seconds the error is small.
	return (after - before) / d.Seconds(), err
}

// leastTxRate is the least of idleWindows transaction rates measured one
// after the other.
func leastTxRate(ctx context.Context, pg *postgres) (float64, error) {
	least := math.Inf(1)
	for range idleWindows {
		r, err := txRate(ctx, pg, idleWindow)
		if err != nil {
			return 0, err
		}
		least = min(least, r)
	}
	return least, nil
}

func measureIdle(ctx context.Context, pg *postgres, b *serverProc, res *eventsResult) error {
	tok, err := writeToken("idle")
	if err != nil {
		return err
	}
	logf("events: database transactions a second with no stream")
	if res.idleTxBefore, err = leastTxRate(ctx, pg); err != nil {
		return err
	}
	logf("events: %d idle streams on B", idleSubscribers)
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range idleSubscribers {
		if err := openStream(sctx, b.url, tok, nil); err != nil {
			return err
		}
	}
	time.Sleep(2 * time.Second)
	if res.idleTx, err = leastTxRate(ctx, pg); err != nil {
		return err
	}
	res.idleRSS = b.status("VmRSS")
	logf("events: RSS %d MB; %.1f transactions/s (%.1f before the streams)", res.idleRSS>>20, res.idleTx, res.idleTxBefore)
	return nil
}

// receiver counts webhook deliveries and when the first and last came.
type receiver struct {
	n           atomic.Int64
	mu          sync.Mutex
	first, last time.Time
	held        chan struct{} // answers wait until it is closed (hold)
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	io.Copy(io.Discard, req.Body)
	r.mu.Lock()
	held := r.held
	r.mu.Unlock()
	if held != nil {
		<-held
	}
	now := time.Now()
	r.mu.Lock()
	if r.first.IsZero() {
		r.first = now
	}
	r.last = now
	r.mu.Unlock()
	r.n.Add(1)
}

// measureCreates alternates rounds of 1 KiB creates against the baseline
// binary (EVENTS_BASELINE_BIN, a build without the change feed, when set;
// else this binary with no webhook endpoint) and this binary with one
// endpoint, each on a fresh database, after a warm-up round, and measures
// the deliveries.
func measureCreates(ctx context.Context, o options, pg *postgres, dir string, res *eventsResult) error {
	baseline := os.Getenv("EVENTS_BASELINE_BIN")
	res.baselineName = "this binary, no webhook endpoint"
	if baseline != "" {
		res.baselineName = "`" + filepath.Base(baseline) + "` (the build before the change feed)"
	} else {
		baseline = o.bin
	}
	rcv := &receiver{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: rcv}
	go hs.Serve(ln)
	defer hs.Close()
	// The first round after the cluster starts runs slower than the rest
	// (a third, seen in every run): it is a warm-up, and not counted.
	if _, err := createRound(ctx, o, pg, dir, baseline, false, "", nil); err != nil {
		return err
	}
	var base, hooks, rates []float64
	for round := range createRounds {
		for _, withHook := range []bool{false, true} {
			bin := baseline
			if withHook {
				bin = o.bin
			}
			rcv.reset()
			rate, err := createRound(ctx, o, pg, dir, bin, withHook, "http://"+ln.Addr().String(), nil)
			if err != nil {
				return err
			}
			if withHook {
				n, r := rcv.rate()
				res.delivered += n
				rates = append(rates, r)
			}
			logf("events: round %d, endpoint %v: %.0f creates/s", round+1, withHook, rate)
			if withHook {
				hooks = append(hooks, rate)
			} else {
				base = append(base, rate)
			}
		}
	}
	res.baseline, res.withHooks, res.deliveryRate = mean(base), mean(hooks), mean(rates)
	// The rates above cannot exceed the creates': the queue's own pace is
	// measured on a backlog, queued by one more round while the receiver
	// holds every answer, then released.
	rcv.reset()
	rcv.hold()
	held, err := createRound(ctx, o, pg, dir, o.bin, true, "http://"+ln.Addr().String(), rcv.release)
	if err != nil {
		return err
	}
	res.backlog, res.drainRate = rcv.rate()
	logf("events: %.0f creates/s with the deliveries held; their backlog of %d drained at %.0f/s", held, res.backlog, res.drainRate)
	return nil
}

// hold makes every delivery wait for release, so that those queued
// meanwhile pile up.
func (r *receiver) hold() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.held = make(chan struct{})
}

// release answers the held deliveries and counts from now.
func (r *receiver) release() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n.Store(0)
	r.first, r.last = time.Time{}, time.Time{}
	close(r.held)
	r.held = nil
}

func (r *receiver) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n.Store(0)
	r.first, r.last = time.Time{}, time.Time{}
}

// rate returns the deliveries since reset and their rate from the first
// to the last.
func (r *receiver) rate() (int, float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := int(r.n.Load())
	if d := r.last.Sub(r.first); d > 0 {
		return n, float64(n) / d.Seconds()
	}
	return n, 0
}

func mean(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(max(len(xs), 1))
}

// createRound measures the creates of one round on a fresh database, and
// calls afterCreates, if any, once they end.
func createRound(ctx context.Context, o options, pg *postgres, dir, bin string, withHook bool, hookURL string, afterCreates func()) (float64, error) {
	dbURL, err := pg.freshDatabase(ctx, "events")
	if err != nil {
		return 0, err
	}
	srv, err := startServer(ctx, bin, dbURL, filepath.Join(dir, "creates.log"), o.poolSize, "URI_FETCH_ALLOW_PRIVATE=true")
	if err != nil {
		return 0, err
	}
	// The deliveries of this round's creates go on after it, for a while.
	defer func() {
		if withHook {
			time.Sleep(5 * time.Second)
		}
		srv.stop()
	}()
	tok, err := writeToken("creates")
	if err != nil {
		return 0, err
	}
	if withHook {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.url+"/v1/webhooks", strings.NewReader(`{"url":"`+hookURL+`/hook"}`))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			return 0, fmt.Errorf("register webhook: %s", resp.Status)
		}
	}
	var n, ok atomic.Int64
	var wg sync.WaitGroup
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: createConcurrency}, Timeout: 30 * time.Second}
	start := time.Now()
	end := start.Add(createTime)
	for range createConcurrency {
		wg.Go(func() {
			for time.Now().Before(end) {
				if createOne(ctx, client, srv.url, tok, n.Add(1)) != "" {
					ok.Add(1)
				}
			}
		})
	}
	wg.Wait()
	rate := float64(ok.Load()) / time.Since(start).Seconds()
	if afterCreates != nil {
		afterCreates()
	}
	return rate, nil
}

func (r eventsResult) markdown(o options) string {
	var b strings.Builder
	ratio := r.withHooks / r.baseline
	fmt.Fprintf(&b, "%s\n\nWritten by `make bench` (`make bench BENCH_FLAGS=\"-only events\"` runs this section alone) on %s; "+
		"one-minute load average %s at the start, %s at the end (the machine is shared: figures are noisy). "+
		"A throwaway PostgreSQL cluster with stock settings; `refactor serve` processes with `DB_POOL_SIZE=%d`.\n\n",
		eventsHeading, time.Now().UTC().Format("2006-01-02"), r.loadBefore, r.loadAfter, o.poolSize)
	b.WriteString("| what | measured | target |\n|---|---|---|\n")
	fmt.Fprintf(&b, "| commit on replica A → event on an SSE stream held on replica B, %d writes/s offered for %v, at most %d waiting "+
		"(%d sent, %d skipped as %d were waiting, %d not answered 200, %d seen on B) | "+
		"after A's answer: p50 %v, **p99 %v**; after the request was sent: p50 %v, p99 %v | p99 ≤ %v: %s |\n",
		latencyRate, latencyTime, latencyInFlight, r.sent, r.skipped, latencyInFlight, r.failed, r.seen, r.ackP50.Round(time.Millisecond), r.ackP99.Round(time.Millisecond),
		r.sendP50.Round(time.Millisecond), r.sendP99.Round(time.Millisecond), maxLatencyP99, met(r.ackP99 <= maxLatencyP99 && r.seen == r.sent-r.failed && r.skipped == 0))
	fmt.Fprintf(&b, "| %d idle SSE subscribers on B | server RSS **%.0f MB**; database transactions %.1f/s with them, %.1f/s before them (the least of 4 windows of 3 s each; both servers' background: River's poll, the webhook outbox's poll, leader election) | RSS ≤ %d MB: %s; streams add no queries: %s |\n",
		idleSubscribers, float64(r.idleRSS)/(1<<20), r.idleTx, r.idleTxBefore, maxIdleRSS>>20, met(r.idleRSS <= maxIdleRSS),
		met(r.idleTx <= r.idleTxBefore*1.2+1))
	fmt.Fprintf(&b, "| 1 KiB data-URL creates, %d at a time, %d rounds of %v each way, alternating, after an unmeasured one | baseline (%s) **%.0f/s**; with events and one webhook endpoint **%.0f/s** (%.0f%%) | ≥ %.0f%%: %s |\n",
		createConcurrency, createRounds, createTime, r.baselineName, r.baseline, r.withHooks, ratio*100, minCreateRatio*100, met(ratio >= minCreateRatio))
	fmt.Fprintf(&b, "| webhook deliveries to a local receiver: of the creates above, while they are made and 5 s after; "+
		"then a backlog, queued by one more round of creates while the receiver held its answers, released | "+
		"%d delivered, %.0f/s from the first to the last of a round (at most the creates' rate); backlog of %d drained at **%.0f/s** | ≥ %.0f/s: %s |\n\n",
		r.delivered, r.deliveryRate, r.backlog, r.drainRate, minDeliveries, met(r.drainRate >= minDeliveries))
	b.WriteString("The latency after A's answer is a lower bound of commit to stream (the commit precedes the answer), the one after " +
		"the request an upper bound. Idle streams wait on one LISTEN connection per process and cost no query; the database's " +
		"idle transactions are River's poll for due deliveries and the dispatcher's for the webhook outbox (each once a second per server) " +
		"and River's maintenance.\n\n")
	return b.String()
}
