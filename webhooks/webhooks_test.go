package webhooks_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/re-factor/resources"
	"github.com/re-factor/resources/store"
	"github.com/re-factor/resources/store/storetest"
	"github.com/re-factor/resources/urlfetch"
	"github.com/re-factor/resources/webhooks"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// receiver is a webhook endpoint that records what it is sent and fails
// its first `fail` requests with 500.
type receiver struct {
	mu       sync.Mutex
	fail     int
	got      []received
	requests int
	srv      *httptest.Server
}

type received struct {
	header http.Header
	body   []byte
	event  struct {
		ID       string `json:"id"`
		Sequence int64  `json:"sequence"`
		Type     string `json:"type"`
		Data     struct {
			Resource struct{ ID string } `json:"resource"`
		} `json:"data"`
	}
}

func newReceiver(t *testing.T, fail int) *receiver {
	r := &receiver{fail: fail}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.requests++
		if r.requests <= r.fail {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		rec := received{header: req.Header.Clone(), body: body}
		if err := json.Unmarshal(body, &rec.event); err != nil {
			t.Errorf("delivery body %s: %v", body, err)
		}
		r.got = append(r.got, rec)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// waitFor waits until the receiver holds n deliveries.
func (r *receiver) waitFor(t *testing.T, n int) []received {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		got := append([]received(nil), r.got...)
		r.mu.Unlock()
		if len(got) >= n {
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("receiver got %d deliveries in 30 s, want %d", len(r.got), n)
	return nil
}

// newService runs a delivery service on db with quick retries.
func newService(t *testing.T, db *store.DB, allowPrivate bool) *webhooks.Service {
	t.Helper()
	ctx := context.Background()
	if err := webhooks.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	s, err := webhooks.New(webhooks.Config{DB: db, Fetcher: urlfetch.New(urlfetch.Config{AllowPrivate: allowPrivate}),
		RetryBase: 20 * time.Millisecond, RetryMax: 100 * time.Millisecond, MaxAttempts: 6,
		PollInterval: 20 * time.Millisecond, AttemptTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		s.Stop(sctx)
	})
	return s
}

// idleService returns a service on db that is never started: it registers
// endpoints, and writes leave their deliveries in the outbox.
func idleService(t *testing.T, db *store.DB) *webhooks.Service {
	t.Helper()
	if err := webhooks.Migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	s, err := webhooks.New(webhooks.Config{DB: db, Fetcher: urlfetch.New(urlfetch.Config{AllowPrivate: true})})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// verify checks a delivery's Standard Webhooks signature with secret.
func verify(t *testing.T, r received, secret string) {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(r.header.Get("webhook-id") + "." + r.header.Get("webhook-timestamp") + "." + string(r.body)))
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if !strings.Contains(r.header.Get("webhook-signature"), want) || r.header.Get("webhook-id") != r.event.ID {
		t.Errorf("signature %q, id %q: want %q, id %q", r.header.Get("webhook-signature"), r.header.Get("webhook-id"), want, r.event.ID)
	}
}

func TestDeliveries(t *testing.T) {
	ctx := context.Background()
	storetest.EachEngine(t, func(t *testing.T, db *store.DB) {
		s := newService(t, db, true)
		// Down for its first 4 requests, then up.
		rcv := newReceiver(t, 4)
		ep, err := s.Create(ctx, "acme", webhooks.Registration{URL: rcv.srv.URL + "/hook",
			Types: []string{resources.EventCreated, resources.EventUpdated, resources.EventDeleted}})
		if err != nil {
			t.Fatal(err)
		}
		other, err := s.Create(ctx, "acme", webhooks.Registration{URL: rcv.srv.URL + "/other", DirectoryPrefix: "/nowhere"})
		if err != nil {
			t.Fatal(err)
		}
		// Two resources, each created, updated, deleted: per resource,
		// the order must hold through the failures.
		a, b := storetest.NewResource("acme", 1), storetest.NewResource("acme", 2)
		storetest.MustCreate(t, db, a, b)
		for _, r := range []resources.Resource{a, b} {
			name := "renamed-" + r.Name
			if _, err := db.UpdateResource(ctx, "acme", r.ID, resources.Update{Name: &name}, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		for _, r := range []resources.Resource{a, b} {
			if _, err := db.DeleteResource(ctx, "acme", r.ID, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		got := rcv.waitFor(t, 6)
		last := map[string]int64{}
		seen := map[int64]bool{}
		for _, r := range got {
			verify(t, r, ep.Secret)
			id := r.event.Data.Resource.ID
			if r.event.Sequence <= last[id] {
				t.Errorf("resource %s: event %d delivered after %d", id, r.event.Sequence, last[id])
			}
			last[id], seen[r.event.Sequence] = r.event.Sequence, true
		}
		if len(seen) != 6 {
			t.Errorf("delivered sequences %v, want 1..6", seen)
		}
		// Attempts are visible; the endpoint whose filter matched
		// nothing got nothing.
		// The receiver answers before the attempt is recorded.
		var ds []resources.WebhookDelivery
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			ds, err = s.Deliveries(ctx, "acme", ep.ID)
			if err != nil || len(ds) != 6 {
				t.Fatalf("deliveries: %d, %v", len(ds), err)
			}
			if !slices.ContainsFunc(ds, func(d resources.WebhookDelivery) bool { return d.State == resources.DeliveryPending }) ||
				time.Now().After(deadline) {
				break
			}
		}
		failed := 0
		for _, d := range ds {
			if d.State != resources.DeliveryDelivered {
				t.Errorf("delivery %d: %s", d.Sequence, d.State)
			}
			for _, a := range d.Attempts {
				if a.Status == http.StatusInternalServerError {
					failed++
				}
			}
		}
		if failed != 4 {
			t.Errorf("%d attempts answered 500, want 4", failed)
		}
		if ds, err := s.Deliveries(ctx, "acme", other.ID); err != nil || len(ds) != 0 {
			t.Errorf("filtered endpoint's deliveries: %d, %v", len(ds), err)
		}
	})
}

func TestRefusedDestinations(t *testing.T) {
	db := storetest.Open(t, store.SQLite)
	s := newService(t, db, false)
	for _, u := range []string{"http://example.com/hook", "https://127.0.0.1/hook", "https://10.1.2.3/hook",
		"https://[::1]/hook", "ftp://example.com/", "https://user:pw@example.com/"} {
		if _, err := s.Create(context.Background(), "acme", webhooks.Registration{URL: u}); err == nil {
			t.Errorf("%s: registered", u)
		}
	}
}

// TestOutboxOfAStoppedProcess checks that deliveries committed by a process
// that stopped before it queued their jobs are queued by another.
func TestOutboxOfAStoppedProcess(t *testing.T) {
	ctx := context.Background()
	storetest.EachEngine(t, func(t *testing.T, db *store.DB) {
		// Never started: its writes leave their deliveries in the
		// outbox.
		stopped := idleService(t, db)
		rcv := newReceiver(t, 0)
		if _, err := stopped.Create(ctx, "acme", webhooks.Registration{URL: rcv.srv.URL + "/hook"}); err != nil {
			t.Fatal(err)
		}
		r := storetest.NewResource("acme", 1)
		storetest.MustCreate(t, db, r)
		time.Sleep(100 * time.Millisecond)
		if n := len(rcv.waitFor(t, 0)); n != 0 {
			t.Fatalf("%d delivered before any process ran the queue", n)
		}
		// Another service, as another process would run, starts:
		// its dispatcher takes what the outbox holds.
		newService(t, db, true)
		got := rcv.waitFor(t, 1)
		if got[0].event.Data.Resource.ID != r.ID || got[0].event.Type != resources.EventCreated {
			t.Errorf("delivered %+v, want the creation of %s", got[0].event, r.ID)
		}
	})
}

// TestRetrySendsOnlyWhatFailed checks that the deliveries queued together
// are sent together and that a failed one is retried alone: the others,
// delivered, are not sent again.
func TestRetrySendsOnlyWhatFailed(t *testing.T) {
	ctx := context.Background()
	storetest.EachEngine(t, func(t *testing.T, db *store.DB) {
		// Registered while no process delivers, so that the creates'
		// deliveries wait in the outbox and are queued at once.
		rcv := newReceiver(t, 1)
		ep, err := idleService(t, db).Create(ctx, "acme", webhooks.Registration{URL: rcv.srv.URL + "/hook"})
		if err != nil {
			t.Fatal(err)
		}
		const n = 5
		for i := range n {
			storetest.MustCreate(t, db, storetest.NewResource("acme", i))
		}
		s := newService(t, db, true)
		rcv.waitFor(t, n)
		var ds []resources.WebhookDelivery
		waitUntil(t, func() bool {
			ds, err = s.Deliveries(ctx, "acme", ep.ID)
			return err == nil && !slices.ContainsFunc(ds, func(d resources.WebhookDelivery) bool { return d.State != resources.DeliveryDelivered })
		})
		time.Sleep(200 * time.Millisecond) // time for a delivery sent twice to arrive
		if got := len(rcv.waitFor(t, n)); got != n {
			t.Errorf("%d deliveries received, want %d: one sent again", got, n)
		}
		attempts := map[int]int{} // number of attempts → deliveries
		for _, d := range ds {
			attempts[len(d.Attempts)]++
		}
		if attempts[1] != n-1 || attempts[2] != 1 {
			t.Errorf("deliveries by their number of attempts: %v, want %d with one and 1 with two", attempts, n-1)
		}
	})
}

func waitUntil(t *testing.T, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("not reached in 30 s")
		}
	}
}
