package webhooks

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/re-factor/resources"
	"github.com/re-factor/resources/store"
)

// RotationOverlap is how long the previous key still signs after a
// rotation, so that receivers can switch keys without dropping a delivery.
const RotationOverlap = 24 * time.Hour

// maxDescription is the most characters of an endpoint's description.
const maxDescription = 1024

// Registration is what a client says of a new endpoint.
type Registration struct {
	URL             string
	Description     string
	Types           []string // none: every type
	Tags            []string
	DirectoryPrefix string
}

// Change lists what an update changes; nil leaves a field as it is.
type Change struct {
	URL             *string
	Description     *string
	Types           *[]string
	Tags            *[]string
	DirectoryPrefix *string
	// Enabled true re-enables a disabled endpoint (and clears the
	// reason); false disables it.
	Enabled *bool
	// RotateSecret makes a new key; the old one signs too for
	// RotationOverlap.
	RotateSecret bool
}

// Create registers an endpoint of the account; the answer holds its
// secret, which no later read shows.
func (s *Service) Create(ctx context.Context, account string, r Registration) (resources.WebhookEndpoint, error) {
	now := s.cfg.Now().UTC()
	ep := resources.WebhookEndpoint{ID: uuid.NewString(), AccountID: account, URL: r.URL, Description: r.Description,
		Types: r.Types, Tags: r.Tags, DirectoryPrefix: r.DirectoryPrefix, Secret: NewSecret(), Enabled: true,
		CreatedAt: now, UpdatedAt: now}
	ep, err := s.check(ep)
	if err != nil {
		return resources.WebhookEndpoint{}, err
	}
	if err := s.db.CreateWebhook(ctx, ep); err != nil {
		return resources.WebhookEndpoint{}, err
	}
	return ep, nil
}

// check refuses an endpoint the rules do not allow, and returns it in
// normal form.
func (s *Service) check(ep resources.WebhookEndpoint) (resources.WebhookEndpoint, error) {
	if err := s.fetcher.CheckDestination(ep.URL); err != nil {
		kind := resources.ErrInvalid
		return ep, &resources.Error{Kind: kind, Field: "url", Reason: strings.TrimPrefix(err.Error(), "uri: "), Err: err}
	}
	if len([]rune(ep.Description)) > maxDescription {
		return ep, resources.Invalid("description", "must be at most %d characters", maxDescription)
	}
	types := []string{}
	for _, t := range ep.Types {
		if !slices.Contains(resources.EventTypes, t) {
			return ep, resources.Invalid("types", "%q is no event type (want one of %s)", t, strings.Join(resources.EventTypes, ", "))
		}
		if !slices.Contains(types, t) {
			types = append(types, t)
		}
	}
	ep.Types = types
	tags, err := resources.NormalizeTags(ep.Tags)
	if err != nil {
		return ep, err
	}
	ep.Tags = tags
	if ep.Tags == nil {
		ep.Tags = []string{}
	}
	return ep, nil
}

// Get returns the account's endpoint id, without its secret.
func (s *Service) Get(ctx context.Context, account, id string) (resources.WebhookEndpoint, error) {
	ep, err := s.db.Webhook(ctx, account, id)
	return hideSecret(ep), err
}

// List returns the account's endpoints, without their secrets.
func (s *Service) List(ctx context.Context, account string) ([]resources.WebhookEndpoint, error) {
	eps, err := s.db.Webhooks(ctx, account)
	for i := range eps {
		eps[i] = hideSecret(eps[i])
	}
	return eps, err
}

func hideSecret(ep resources.WebhookEndpoint) resources.WebhookEndpoint {
	ep.Secret, ep.PreviousSecret = "", nil
	return ep
}

// Update applies c to the account's endpoint id. The answer holds the new
// secret when c rotates it, and no secret otherwise.
func (s *Service) Update(ctx context.Context, account, id string, c Change) (resources.WebhookEndpoint, error) {
	ep, err := s.db.Webhook(ctx, account, id)
	if err != nil {
		return resources.WebhookEndpoint{}, err
	}
	now := s.cfg.Now().UTC()
	apply(&ep, c)
	if c.RotateSecret {
		prev, until := ep.Secret, now.Add(RotationOverlap)
		ep.Secret, ep.PreviousSecret, ep.PreviousExpiresAt = NewSecret(), &prev, &until
	}
	ep.UpdatedAt = now
	if ep, err = s.check(ep); err != nil {
		return resources.WebhookEndpoint{}, err
	}
	if err := s.db.UpdateWebhook(ctx, ep); err != nil {
		return resources.WebhookEndpoint{}, err
	}
	if !c.RotateSecret {
		return hideSecret(ep), nil
	}
	ep.PreviousSecret = nil
	return ep, nil
}

func apply(ep *resources.WebhookEndpoint, c Change) {
	if c.URL != nil {
		ep.URL = *c.URL
	}
	if c.Description != nil {
		ep.Description = *c.Description
	}
	if c.Types != nil {
		ep.Types = *c.Types
	}
	if c.Tags != nil {
		ep.Tags = *c.Tags
	}
	if c.DirectoryPrefix != nil {
		ep.DirectoryPrefix = *c.DirectoryPrefix
	}
	if c.Enabled != nil {
		ep.Enabled = *c.Enabled
		ep.DisabledReason = nil
		if !ep.Enabled {
			reason := "disabled by the account"
			ep.DisabledReason = &reason
		}
	}
}

// Delete removes the account's endpoint id and its deliveries; queued
// jobs find it gone and end.
func (s *Service) Delete(ctx context.Context, account, id string) error {
	return s.db.DeleteWebhook(ctx, account, id)
}

// maxDeliveries is how many of an endpoint's latest deliveries Deliveries
// returns.
const maxDeliveries = 100

// Deliveries returns the endpoint's latest deliveries with their attempts.
func (s *Service) Deliveries(ctx context.Context, account, id string) ([]resources.WebhookDelivery, error) {
	if _, err := s.db.Webhook(ctx, account, id); err != nil {
		return nil, err
	}
	return s.db.Deliveries(ctx, account, id, maxDeliveries)
}

// Retry queues the endpoint's delivery again, by hand: after it failed,
// or to send it once more.
func (s *Service) Retry(ctx context.Context, account, endpointID, deliveryID string) (resources.WebhookDelivery, error) {
	var d resources.WebhookDelivery
	err := s.db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		if d, err = tx.RetryDelivery(ctx, account, endpointID, deliveryID, s.cfg.Now()); err != nil {
			return err
		}
		_, err = s.river.InsertTx(ctx, tx.SQL(), deliveryArgs{Account: d.AccountID, Endpoint: d.EndpointID, Deliveries: []string{d.ID}}, nil)
		return err
	})
	return d, err
}

// TestResult is how a test message went.
type TestResult struct {
	ID      string // the message's webhook-id
	Attempt resources.WebhookAttempt
}

// Test sends the endpoint a signed webhook.test message now, whether or
// not it is enabled, and tells how it went.
func (s *Service) Test(ctx context.Context, account, id string) (TestResult, error) {
	ep, err := s.db.Webhook(ctx, account, id)
	if err != nil {
		return TestResult{}, err
	}
	msgID := uuid.NewString()
	body := fmt.Appendf(nil, `{"id":%q,"type":"webhook.test","timestamp":%q,"data":{"webhook_id":%q}}`,
		msgID, s.cfg.Now().UTC().Format(time.RFC3339Nano), ep.ID)
	return TestResult{ID: msgID, Attempt: s.post(ctx, ep, msgID, body)}, nil
}
