package resilience

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// loader sends a mixed load of reads and writes for several accounts and
// keeps the score: statuses, latencies and every create answered 200.
type loader struct {
	base     string
	accounts []string
	tokens   map[string]string
	writes   int // percent of requests that create, update or delete
	maxReqs  int64
	// keep, when set, bounds each account's acknowledged resources: past
	// it, writes delete instead of create, so a long run keeps a steady
	// data set and its latencies stay comparable.
	keep int
	// truncatedOK accepts a download cut off mid-body: once a 200 and its
	// Content-Length are sent, a storage failure can only end the body
	// early, which the client detects.
	truncatedOK bool

	sent   atomic.Int64
	mu     sync.Mutex
	counts map[int]int // by status; 0 is a transport error
	lat    []sample
	acked  map[string]ack // by id: creates answered 200
	bad    []string       // responses that broke a rule, for the report
}

type sample struct {
	at   time.Time
	took time.Duration
}

// ack is a create the server confirmed.
type ack struct {
	account, sha256 string
	content         []byte
}

func newLoader(t testing.TB, base string, accounts []string, writes int, maxReqs int64) *loader {
	l := &loader{base: base, accounts: accounts, tokens: map[string]string{}, writes: writes, maxReqs: maxReqs,
		counts: map[int]int{}, acked: map[string]ack{}}
	for _, a := range accounts {
		l.tokens[a] = token(t, a)
	}
	return l
}

// start runs the load from n workers in the background, until the stop it
// returns is called or maxReqs are sent; stop waits for their last requests
// to end, and may be called again.
func (l *loader) start(n int) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { l.run(ctx, n) })
	return func() { cancel(); wg.Wait() }
}

// run sends requests from n workers until ctx ends or maxReqs are sent.
func (l *loader) run(ctx context.Context, n int) {
	var wg sync.WaitGroup
	for w := range n {
		wg.Go(func() {
			rng := mrand.New(mrand.NewPCG(uint64(w), 20261206))
			for ctx.Err() == nil && l.sent.Add(1) <= l.maxReqs {
				l.one(ctx, rng, w)
			}
		})
	}
	wg.Wait()
}

func (l *loader) one(ctx context.Context, rng *mrand.Rand, worker int) {
	account := l.accounts[rng.IntN(len(l.accounts))]
	tok := l.tokens[account]
	if rng.IntN(100) >= l.writes {
		l.record(ctx, "list", do(ctx, http.MethodGet, l.base+"/v1/resources?"+randomQuery(rng), tok, nil))
		return
	}
	id, ok := l.someAcked(rng, account)
	switch {
	case ok && l.keep > 0 && l.ackedOf(account) > l.keep:
		l.forget(id)
		l.record(ctx, "delete", do(ctx, http.MethodDelete, l.base+"/v1/resource/"+id, tok, nil))
	case !ok || rng.IntN(4) > 0:
		l.create(ctx, rng, account, worker)
	case rng.IntN(2) == 0:
		l.record(ctx, "get", do(ctx, http.MethodGet, l.base+"/v1/resource/"+id+"/content", tok, nil))
	default:
		body := fmt.Appendf(nil, `{"metadata":{"touched":%d}}`, rng.IntN(1000))
		l.record(ctx, "update", do(ctx, http.MethodPut, l.base+"/v1/resource/"+id, tok, body))
	}
}

// randomCreate returns the body of a create of 64 to 64+spread random
// bytes, named prefix-N.bin in dir and tagged "load" and one of a, b, c;
// and the bytes.
func randomCreate(rng *mrand.Rand, spread int, prefix, dir string) (body, content []byte) {
	content = make([]byte, 64+rng.IntN(spread))
	rand.Read(content)
	body, _ = json.Marshal(map[string]any{
		"name":           fmt.Sprintf("%s-%d.bin", prefix, rng.Uint64()),
		"directory_path": dir,
		"content":        "data:application/octet-stream;base64," + base64.StdEncoding.EncodeToString(content),
		"tags":           slices.Compact([]string{"load", []string{"a", "b", "c"}[rng.IntN(3)]}),
	})
	return body, content
}

func (l *loader) create(ctx context.Context, rng *mrand.Rand, account string, worker int) {
	body, content := randomCreate(rng, 4096, fmt.Sprintf("f-%d", worker), fmt.Sprintf("/load/w%d", worker%4))
	r := do(ctx, http.MethodPost, l.base+"/v1/resources", l.tokens[account], body)
	l.record(ctx, "create", r)
	if r.status != http.StatusOK {
		return
	}
	var got struct{ ID, SHA256 string }
	if err := json.Unmarshal(r.body, &got); err != nil || got.ID == "" {
		l.fail("create 200 without an id: %s", r.body)
		return
	}
	sum := sha256.Sum256(content)
	if got.SHA256 != hex.EncodeToString(sum[:]) {
		l.fail("create %s: sha256 %s, want %x", got.ID, got.SHA256, sum)
	}
	l.mu.Lock()
	l.acked[got.ID] = ack{account: account, sha256: got.SHA256, content: content}
	l.mu.Unlock()
}

func (l *loader) someAcked(rng *mrand.Rand, account string) (string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for id, a := range l.acked { // map order is random enough
		if a.account == account && rng.IntN(2) == 0 {
			return id, true
		}
	}
	return "", false
}

func (l *loader) ackedOf(account string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, a := range l.acked {
		if a.account == account {
			n++
		}
	}
	return n
}

func (l *loader) forget(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.acked, id)
}

func randomQuery(rng *mrand.Rand) string {
	qs := []string{"", "tags=load", "tags=load,a", "directory_prefix=/load/w1", "sort=asc",
		"page=2&page_size=5", "created_after=2020-01-01T00:00:00Z", "page=1000"}
	return qs[rng.IntN(len(qs))]
}

// statusTruncated counts downloads cut off mid-body, when truncatedOK.
const statusTruncated = -1

// record counts r; a cancelled request at the end of a run is not counted.
func (l *loader) record(ctx context.Context, op string, r result) {
	if r.err != nil && ctx.Err() != nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.truncatedOK && op == "get" && errors.Is(r.err, io.ErrUnexpectedEOF) {
		l.counts[statusTruncated]++
		return
	}
	l.counts[r.status]++
	l.lat = append(l.lat, sample{at: time.Now(), took: r.took})
	switch {
	case r.err != nil:
		l.bad = append(l.bad, fmt.Sprintf("%s: %v", op, r.err))
	case r.status >= 400 && !isErrorBody(r.body):
		l.bad = append(l.bad, fmt.Sprintf("%s: %d with body %.200s", op, r.status, r.body))
	case r.status == http.StatusServiceUnavailable && r.header.Get("Retry-After") == "":
		l.bad = append(l.bad, fmt.Sprintf("%s: 503 without Retry-After", op))
	}
}

func (l *loader) fail(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.bad = append(l.bad, fmt.Sprintf(format, args...))
}

// snapshot returns the counts so far and how many requests were answered.
func (l *loader) snapshot() (map[int]int, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := map[int]int{}
	n := 0
	for k, v := range l.counts {
		c[k] = v
		n += v
	}
	return c, n
}

// percentile is the p-th percentile latency of the samples taken in
// [from, to).
func (l *loader) percentile(p float64, from, to time.Time) time.Duration {
	l.mu.Lock()
	var ds []time.Duration
	for _, s := range l.lat {
		if !s.at.Before(from) && s.at.Before(to) {
			ds = append(ds, s.took)
		}
	}
	l.mu.Unlock()
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[min(len(ds)-1, int(float64(len(ds))*p))]
}
