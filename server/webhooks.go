package server

import (
	"context"

	"github.com/google/uuid"

	"github.com/re-factor/resources"
	"github.com/re-factor/resources/gen"
	"github.com/re-factor/resources/webhooks"
)

// notConfigured answers the webhook routes of a server built without a
// webhooks.Service (tests of other things, tools embedding the server).
var notConfigured = &resources.Error{Kind: resources.ErrUnavailable, Reason: "webhooks are not configured on this server"}

// hooks returns the webhooks service and the caller's account.
func (s *Server) hooks(ctx context.Context) (*webhooks.Service, string, error) {
	account, err := accountOf(ctx)
	if err != nil {
		return nil, "", err
	}
	if s.webhooks == nil {
		return nil, "", notConfigured
	}
	return s.webhooks, account, nil
}

// CreateWebhook serves POST /v1/webhooks.
func (s *Server) CreateWebhook(ctx context.Context, req gen.CreateWebhookRequestObject) (gen.CreateWebhookResponseObject, error) {
	w, account, err := s.hooks(ctx)
	if err != nil {
		return nil, err
	}
	b := req.Body
	r := webhooks.Registration{URL: b.Url, Types: eventTypes(b.Types), Description: orZero(b.Description), Tags: orZero(b.Tags),
		DirectoryPrefix: orZero(b.DirectoryPrefix)}
	ep, err := w.Create(ctx, account, r)
	if err != nil {
		return nil, err
	}
	return gen.CreateWebhook201JSONResponse(webhookBody(ep)), nil
}

func eventTypes(ts *[]gen.EventType) []string {
	if ts == nil {
		return nil
	}
	out := make([]string, len(*ts))
	for i, t := range *ts {
		out[i] = string(t)
	}
	return out
}

// ListWebhooks serves GET /v1/webhooks.
func (s *Server) ListWebhooks(ctx context.Context, _ gen.ListWebhooksRequestObject) (gen.ListWebhooksResponseObject, error) {
	w, account, err := s.hooks(ctx)
	if err != nil {
		return nil, err
	}
	eps, err := w.List(ctx, account)
	if err != nil {
		return nil, err
	}
	return gen.ListWebhooks200JSONResponse{Items: bodies(eps, webhookBody)}, nil
}

// GetWebhook serves GET /v1/webhooks/{webhook_id}.
func (s *Server) GetWebhook(ctx context.Context, req gen.GetWebhookRequestObject) (gen.GetWebhookResponseObject, error) {
	w, account, err := s.hooks(ctx)
	if err != nil {
		return nil, err
	}
	ep, err := w.Get(ctx, account, req.WebhookId.String())
	if err != nil {
		return nil, err
	}
	return gen.GetWebhook200JSONResponse(webhookBody(ep)), nil
}

// UpdateWebhook serves PATCH /v1/webhooks/{webhook_id}.
func (s *Server) UpdateWebhook(ctx context.Context, req gen.UpdateWebhookRequestObject) (gen.UpdateWebhookResponseObject, error) {
	w, account, err := s.hooks(ctx)
	if err != nil {
		return nil, err
	}
	b := req.Body
	c := webhooks.Change{URL: b.Url, Description: b.Description, Tags: b.Tags, DirectoryPrefix: b.DirectoryPrefix,
		Enabled: b.Enabled, RotateSecret: orZero(b.RotateSecret)}
	if b.Types != nil {
		types := eventTypes(b.Types)
		c.Types = &types
	}
	ep, err := w.Update(ctx, account, req.WebhookId.String(), c)
	if err != nil {
		return nil, err
	}
	return gen.UpdateWebhook200JSONResponse(webhookBody(ep)), nil
}

// DeleteWebhook serves DELETE /v1/webhooks/{webhook_id}.
func (s *Server) DeleteWebhook(ctx context.Context, req gen.DeleteWebhookRequestObject) (gen.DeleteWebhookResponseObject, error) {
	w, account, err := s.hooks(ctx)
	if err != nil {
		return nil, err
	}
	if err := w.Delete(ctx, account, req.WebhookId.String()); err != nil {
		return nil, err
	}
	return gen.DeleteWebhook204Response{}, nil
}

// TestWebhook serves POST /v1/webhooks/{webhook_id}/test.
func (s *Server) TestWebhook(ctx context.Context, req gen.TestWebhookRequestObject) (gen.TestWebhookResponseObject, error) {
	w, account, err := s.hooks(ctx)
	if err != nil {
		return nil, err
	}
	res, err := w.Test(ctx, account, req.WebhookId.String())
	if err != nil {
		return nil, err
	}
	a := attemptBody(res.Attempt)
	return gen.TestWebhook200JSONResponse{Id: res.ID, Status: a.Status, LatencyMs: a.LatencyMs, Error: a.Error}, nil
}

// ListWebhookDeliveries serves GET /v1/webhooks/{webhook_id}/deliveries.
func (s *Server) ListWebhookDeliveries(ctx context.Context, req gen.ListWebhookDeliveriesRequestObject) (gen.ListWebhookDeliveriesResponseObject, error) {
	w, account, err := s.hooks(ctx)
	if err != nil {
		return nil, err
	}
	ds, err := w.Deliveries(ctx, account, req.WebhookId.String())
	if err != nil {
		return nil, err
	}
	return gen.ListWebhookDeliveries200JSONResponse{Items: bodies(ds, deliveryBody)}, nil
}

// RetryWebhookDelivery serves POST
// /v1/webhooks/{webhook_id}/deliveries/{delivery_id}/retry.
func (s *Server) RetryWebhookDelivery(ctx context.Context, req gen.RetryWebhookDeliveryRequestObject) (gen.RetryWebhookDeliveryResponseObject, error) {
	w, account, err := s.hooks(ctx)
	if err != nil {
		return nil, err
	}
	d, err := w.Retry(ctx, account, req.WebhookId.String(), req.DeliveryId.String())
	if err != nil {
		return nil, err
	}
	return gen.RetryWebhookDelivery202JSONResponse(deliveryBody(d)), nil
}

func webhookBody(ep resources.WebhookEndpoint) gen.WebhookEndpoint {
	b := gen.WebhookEndpoint{Id: uuid.MustParse(ep.ID), Url: ep.URL, Description: ep.Description,
		Tags: ep.Tags, DirectoryPrefix: ep.DirectoryPrefix, Enabled: ep.Enabled, DisabledReason: ep.DisabledReason,
		PreviousSecretExpiresAt: ep.PreviousExpiresAt, CreatedAt: ep.CreatedAt.UTC(), UpdatedAt: ep.UpdatedAt.UTC(),
		Types: make([]gen.EventType, len(ep.Types))}
	for i, t := range ep.Types {
		b.Types[i] = gen.EventType(t)
	}
	if b.Tags == nil {
		b.Tags = []string{}
	}
	if ep.Secret != "" {
		b.Secret = &ep.Secret
	}
	return b
}

func deliveryBody(d resources.WebhookDelivery) gen.WebhookDelivery {
	b := gen.WebhookDelivery{Id: uuid.MustParse(d.ID), Sequence: d.Sequence, State: gen.WebhookDeliveryState(d.State),
		CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC(), Attempts: make([]gen.WebhookAttempt, len(d.Attempts))}
	if d.ResourceID != "" {
		id := uuid.MustParse(d.ResourceID)
		b.ResourceId = &id
	}
	for i, a := range d.Attempts {
		b.Attempts[i] = attemptBody(a)
	}
	return b
}

func attemptBody(a resources.WebhookAttempt) gen.WebhookAttempt {
	b := gen.WebhookAttempt{Attempt: a.Attempt, LatencyMs: a.Latency.Milliseconds(), At: a.At.UTC()}
	if a.Status != 0 {
		b.Status = &a.Status
	}
	if a.Error != "" {
		b.Error = &a.Error
	}
	return b
}
