package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/riverqueue/river"

	"github.com/re-factor/resources"
)

// deliveryArgs is a delivery's job, queued from the outbox (dispatch). The
// job reads the rest (the event's sequence, the event, the endpoint) from
// the delivery's row when it runs.
type deliveryArgs struct {
	Account  string `json:"account"`
	Delivery string `json:"delivery"`
	Endpoint string `json:"endpoint"`
}

func (deliveryArgs) Kind() string { return "webhook_delivery" }

type deliveryWorker struct {
	river.WorkerDefaults[deliveryArgs]
	s *Service
}

// orderWait is how long a delivery waits for an earlier one of the same
// resource to the same endpoint before looking again.
const orderWait = time.Second

func (w *deliveryWorker) Timeout(*river.Job[deliveryArgs]) time.Duration {
	return w.s.cfg.AttemptTimeout + 5*time.Second
}

// Work makes one attempt at a delivery. Its error makes River retry (or,
// on the last attempt, give up, and the endpoint is disabled).
func (w *deliveryWorker) Work(ctx context.Context, job *river.Job[deliveryArgs]) error {
	s, a := w.s, job.Args
	// One query for the delivery, its endpoint, its event and whether an
	// earlier one holds it back.
	got, err := s.db.DeliveryToSend(ctx, a.Account, a.Delivery)
	if errors.Is(err, resources.ErrNotFound) {
		return river.JobCancel(err) // its endpoint was deleted, and its deliveries with it
	}
	if err != nil {
		return err
	}
	d, ep, e := got.Delivery, got.Endpoint, got.Event
	if !ep.Enabled {
		return river.JobCancel(s.finish(ctx, d, resources.WebhookAttempt{Error: "endpoint disabled"}, resources.DeliveryFailed))
	}
	if got.Earlier {
		return river.JobSnooze(orderWait)
	}
	if !got.EventHeld {
		return river.JobCancel(s.finish(ctx, d, resources.WebhookAttempt{Error: "event pruned before delivery"}, resources.DeliveryFailed))
	}
	attempt := s.send(ctx, ep, e)
	if attempt.Error == "" {
		return s.finish(ctx, d, attempt, resources.DeliveryDelivered)
	}
	if job.Attempt < job.MaxAttempts {
		if err := s.finish(ctx, d, attempt, resources.DeliveryPending); err != nil {
			return err
		}
		return errors.New(attempt.Error)
	}
	// Disabled before the delivery shows failed, so that whoever sees the
	// failure also sees why deliveries stopped.
	reason := fmt.Sprintf("delivery of event %d failed %d times since %s; last: %s", d.Sequence, job.Attempt,
		job.CreatedAt.UTC().Format(time.RFC3339), attempt.Error)
	if err := s.db.DisableWebhook(ctx, a.Account, a.Endpoint, reason, s.cfg.Now()); err != nil {
		return err
	}
	if err := s.finish(ctx, d, attempt, resources.DeliveryFailed); err != nil {
		return err
	}
	s.log.WarnContext(ctx, "webhook disabled", "account", a.Account, "webhook", a.Endpoint, "reason", reason)
	return river.JobCancel(errors.New(attempt.Error))
}

// finish records the attempt and the delivery's new state.
func (s *Service) finish(ctx context.Context, d resources.WebhookDelivery, a resources.WebhookAttempt, state string) error {
	if a.At.IsZero() {
		a.At = s.cfg.Now()
	}
	return s.db.RecordAttempt(context.WithoutCancel(ctx), d, a, state)
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
