package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/re-factor/resources"
	"github.com/re-factor/resources/store"
)

// batchSize is the most deliveries one job carries. A job reads its
// deliveries in one query, sends them at once and records their attempts in
// one statement, where a job per delivery cost the queue an insert, a fetch
// and a completion and the database a read and a record for each.
const batchSize = 10

// deliveryArgs is a job of deliveries to one endpoint, queued from the
// outbox (dispatch), never two of one resource: their order is kept by the
// later one waiting for the earlier. The job reads the rest (the events'
// sequences, the events, the endpoint) from the deliveries' rows when it
// runs.
type deliveryArgs struct {
	Account    string   `json:"account"`
	Endpoint   string   `json:"endpoint"`
	Deliveries []string `json:"deliveries,omitempty"`
	// Delivery is the one delivery of a job queued before jobs carried
	// several, which may still be waiting for a retry.
	Delivery string `json:"delivery,omitempty"`
}

func (deliveryArgs) Kind() string { return "webhook_delivery" }

func (a deliveryArgs) ids() []string {
	if a.Delivery != "" {
		return append([]string{a.Delivery}, a.Deliveries...)
	}
	return a.Deliveries
}

type deliveryWorker struct {
	river.WorkerDefaults[deliveryArgs]
	s *Service
}

// orderWait is how long a delivery waits for an earlier one of the same
// resource to the same endpoint before looking again.
const orderWait = time.Second

// Timeout bounds a job: its attempts run at once, each within the attempt
// timeout, and reading and recording them is quick.
func (w *deliveryWorker) Timeout(*river.Job[deliveryArgs]) time.Duration {
	return w.s.cfg.AttemptTimeout + 5*time.Second
}

// Work makes one attempt at each of the job's pending deliveries that is
// not held back by an earlier one. A failed attempt makes River retry the
// job (or, on its last attempt, give up, and the endpoint is disabled); a
// retry sends only what is still pending. A held delivery snoozes the job.
func (w *deliveryWorker) Work(ctx context.Context, job *river.Job[deliveryArgs]) error {
	s := w.s
	due, err := s.db.DeliveriesToSend(ctx, job.Args.Account, job.Args.ids())
	if err != nil {
		return err
	}
	var settled []store.Attempt // attempted or given up, to record
	var send []store.DeliveryToSend
	held := false
	for _, d := range due {
		switch {
		case !d.Endpoint.Enabled:
			settled = append(settled, s.giveUp(d, "endpoint disabled"))
		case d.Earlier:
			held = true
		case !d.EventHeld:
			settled = append(settled, s.giveUp(d, "event pruned before delivery"))
		default:
			send = append(send, d)
		}
	}
	// A failed delivery stays pending for the job's retry, unless this is
	// its last attempt.
	last := job.Attempt >= job.MaxAttempts
	failed := resources.DeliveryPending
	if last {
		failed = resources.DeliveryFailed
	}
	sent := s.sendAll(ctx, send)
	var failure *store.Attempt
	for i := range sent {
		sent[i].State = resources.DeliveryDelivered
		if sent[i].Error != "" {
			sent[i].State, failure = failed, &sent[i]
		}
	}
	if failure != nil && last {
		if err := s.disable(ctx, job, *failure); err != nil {
			return err
		}
	}
	if err := s.db.RecordAttempts(context.WithoutCancel(ctx), job.Args.Account, append(settled, sent...)); err != nil {
		return err
	}
	switch {
	case failure != nil && last:
		return river.JobCancel(errors.New(failure.Error))
	case failure != nil:
		return errors.New(failure.Error)
	case held:
		return river.JobSnooze(orderWait)
	}
	return nil
}

// giveUp is the attempt that fails d without sending it.
func (s *Service) giveUp(d store.DeliveryToSend, why string) store.Attempt {
	return store.Attempt{Delivery: d.Delivery, WebhookAttempt: resources.WebhookAttempt{Error: why, At: s.cfg.Now()},
		State: resources.DeliveryFailed}
}

// disable disables the job's endpoint after the last attempt of the job
// failed (f is one of its failures), before the deliveries show failed, so
// that whoever sees a failure also sees why deliveries stopped.
func (s *Service) disable(ctx context.Context, job *river.Job[deliveryArgs], f store.Attempt) error {
	a := job.Args
	reason := fmt.Sprintf("delivery of event %d failed %d times since %s; last: %s", f.Delivery.Sequence, job.Attempt,
		job.CreatedAt.UTC().Format(time.RFC3339), f.Error)
	if err := s.db.DisableWebhook(context.WithoutCancel(ctx), a.Account, a.Endpoint, reason, s.cfg.Now()); err != nil {
		return err
	}
	s.log.WarnContext(ctx, "webhook disabled", "account", a.Account, "webhook", a.Endpoint, "reason", reason)
	return nil
}

// sendAll makes an attempt at each delivery, all at once, and returns the
// attempts, their states left for the caller to set.
func (s *Service) sendAll(ctx context.Context, ds []store.DeliveryToSend) []store.Attempt {
	out := make([]store.Attempt, len(ds))
	var wg sync.WaitGroup
	for i, d := range ds {
		wg.Go(func() {
			out[i] = store.Attempt{Delivery: d.Delivery, WebhookAttempt: s.send(ctx, d.Endpoint, d.Event)}
		})
	}
	wg.Wait()
	return out
}

// send posts e to the endpoint, signed, within the attempt timeout.
func (s *Service) send(ctx context.Context, ep resources.WebhookEndpoint, e resources.Event) resources.WebhookAttempt {
	body, err := json.Marshal(e)
	if err != nil {
		return resources.WebhookAttempt{Error: err.Error(), At: s.cfg.Now()}
	}
	return s.post(ctx, ep, e.ID, body)
}

// post sends one signed message and tells how it went.
func (s *Service) post(ctx context.Context, ep resources.WebhookEndpoint, id string, body []byte) resources.WebhookAttempt {
	now := s.cfg.Now()
	sig, err := Sign(ep.Secrets(now), id, now, body)
	if err != nil {
		return resources.WebhookAttempt{Error: err.Error(), At: now}
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	h.Set("webhook-signature", sig)
	actx, cancel := context.WithTimeout(ctx, s.cfg.AttemptTimeout)
	defer cancel()
	start := time.Now()
	status, err := s.fetcher.Post(actx, ep.URL, h, body)
	a := resources.WebhookAttempt{Status: status, Latency: time.Since(start), At: now}
	switch {
	case err != nil:
		a.Error = err.Error()
	case status < 200 || status > 299:
		a.Error = "answered " + strconv.Itoa(status)
	}
	return a
}
