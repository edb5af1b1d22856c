package resilience

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	api "github.com/re-factor/resources/client"
)

// feedSubscribers is how many clients of TestDeployment hold the change
// feed's stream open through HAProxy, as a UI or a pipeline would.
const feedSubscribers = 3

// streamClient has no overall timeout: a stream lasts until the server
// ends it or the test does.
var streamClient = &http.Client{Transport: &http.Transport{}}

// feedWatch is the change feed's consumers in TestDeployment: SSE
// subscribers that reconnect through HAProxy with Last-Event-ID whenever
// their stream ends, and a webhook endpoint.
type feedWatch struct {
	base, token string
	receiver    *hookReceiver
	subs        []*subscriber
	wg          sync.WaitGroup
}

// subscriber is one SSE client: the sequences it was given, in order.
type subscriber struct {
	mu         sync.Mutex
	last       int64    // the last sequence received
	wrong      []string // a sequence that was not last+1: a gap or a repeat
	reconnects int
	errs       []string // why a reconnection was refused
}

// startFeedWatch registers the webhook endpoint and opens the streams from
// the account's first event.
func startFeedWatch(t *testing.T, base, tok string) *feedWatch {
	t.Helper()
	w := &feedWatch{base: base, token: tok, receiver: newHookReceiver(t, 0)}
	r := do(context.Background(), http.MethodPost, base+"/v1/webhooks", tok, []byte(`{"url":"`+w.receiver.srv.URL+`/hook"}`))
	var ep struct{ Secret string }
	if r.status != http.StatusCreated || json.Unmarshal(r.body, &ep) != nil {
		t.Fatalf("register the webhook endpoint: %s", describe(r))
	}
	w.receiver.secret.Store(&ep.Secret)
	return w
}

// run keeps every subscriber's stream open until ctx ends.
func (w *feedWatch) run(ctx context.Context) {
	for range feedSubscribers {
		s := &subscriber{}
		w.subs = append(w.subs, s)
		w.wg.Go(func() { s.follow(ctx, w.base, w.token) })
	}
}

// follow reads the stream, and when it ends (a SIGTERM's retry hint, a
// SIGKILL's cut connection) opens it again from the last sequence it got,
// after the server's retry hint, as an EventSource does.
func (s *subscriber) follow(ctx context.Context, base, tok string) {
	retry := 100 * time.Millisecond
	for first := true; ctx.Err() == nil; first = false {
		if !first {
			s.mu.Lock()
			s.reconnects++
			s.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-time.After(retry):
			}
		}
		if hint, err := s.read(ctx, base, tok); err != nil && ctx.Err() == nil {
			s.mu.Lock()
			s.errs = append(s.errs, err.Error())
			s.mu.Unlock()
		} else if hint > 0 {
			retry = hint
		}
	}
}

// read holds one stream open until it ends, returning the retry hint the
// server gave, if any.
func (s *subscriber) read(ctx context.Context, base, tok string) (time.Duration, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/events/stream?after=0", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	s.mu.Lock()
	if s.last > 0 {
		req.Header.Set("Last-Event-ID", strconv.FormatInt(s.last, 10))
	}
	s.mu.Unlock()
	resp, err := streamClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("stream: %s", resp.Status)
	}
	var hint time.Duration
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		v = strings.TrimPrefix(v, " ")
		switch k {
		case "id":
			seq, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return hint, fmt.Errorf("event id %q: %v", v, err)
			}
			s.got(seq)
		case "retry":
			if ms, err := strconv.Atoi(v); err == nil {
				hint = time.Duration(ms) * time.Millisecond
			}
		}
	}
	return hint, nil
}

func (s *subscriber) got(seq int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if seq != s.last+1 {
		s.wrong = append(s.wrong, fmt.Sprintf("%d after %d", seq, s.last))
	}
	s.last = max(s.last, seq)
}

// check waits, once the load has stopped, until every subscriber has read
// up to the account's last event and the receiver has had every event,
// then checks that no stream skipped or repeated one and that each
// delivery was signed by the endpoint's key.
func (w *feedWatch) check(t *testing.T, stop context.CancelFunc) {
	t.Helper()
	defer func() { stop(); w.wg.Wait() }()
	events := allEvents(t, w.base, w.token)
	final := int64(len(events))
	deadline := time.Now().Add(90 * time.Second)
	for !w.caughtUp(final) {
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for i, s := range w.subs {
		s.mu.Lock()
		t.Logf("SSE subscriber %d: up to sequence %d of %d, %d reconnections", i+1, s.last, final, s.reconnects)
		if s.last != final || len(s.wrong) > 0 {
			t.Errorf("SSE subscriber %d read up to %d of %d events; out of order: %v; refused reconnections: %v",
				i+1, s.last, final, s.wrong, s.errs)
		}
		s.mu.Unlock()
	}
	w.checkDeliveries(t, events)
}

func (w *feedWatch) caughtUp(final int64) bool {
	for _, s := range w.subs {
		s.mu.Lock()
		last := s.last
		s.mu.Unlock()
		if last < final {
			return false
		}
	}
	got, _ := w.receiver.count()
	return got >= int(final)
}

// checkDeliveries checks that the receiver got each of the account's
// events, by its webhook-id, with a valid signature.
func (w *feedWatch) checkDeliveries(t *testing.T, events []api.Event) {
	t.Helper()
	h := w.receiver
	h.mu.Lock()
	defer h.mu.Unlock()
	var missing []string
	for _, e := range events {
		if _, ok := h.got[e.Id.String()]; !ok {
			missing = append(missing, fmt.Sprintf("%d (%s)", e.Sequence, e.Type))
		}
	}
	t.Logf("webhook receiver: %d of %d events delivered, %d with an invalid signature", len(h.got), len(events), h.invalid)
	if len(missing) > 0 || h.invalid > 0 {
		t.Errorf("webhook deliveries: %d events not delivered (%s), %d invalid signatures",
			len(missing), strings.Join(missing[:min(len(missing), 20)], ", "), h.invalid)
	}
	if len(h.got) > len(events) {
		t.Errorf("the receiver was sent %d events, the account's feed holds %d", len(h.got), len(events))
	}
}
