package e2e_test

import (
	"bufio"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/re-factor/resources/client"
)

// TestEvents replays a create, an update and a delete as the account's
// events, oldest first and in sequence, and reads the first of them again
// from the server-sent event stream, resumed from the sequence before it.
func TestEvents(t *testing.T) {
	requireDeclared(t, http.MethodGet, "/v1/events", http.StatusOK)
	c := newClient(t, mustToken(t, writer, "resources:read resources:write"))
	dir := "/e2e/events-" + rand.Text()[:8]
	created, err := c.CreateResourceWithResponse(t.Context(), client.ResourceCreate{Name: "a.txt", DirectoryPath: dir,
		Content: ptr("data:text/plain;base64," + base64.StdEncoding.EncodeToString([]byte("hi")))})
	if err != nil || created.JSON200 == nil {
		t.Fatalf("create: %v, %d %s", err, created.StatusCode(), created.Body)
	}
	id := created.JSON200.Id
	if r, err := c.UpdateResourceWithResponse(t.Context(), id, client.ResourceUpdate{Name: ptr("b.txt")}); err != nil || r.JSON200 == nil {
		t.Fatalf("update: %v, %d %s", err, r.StatusCode(), r.Body)
	}
	if r, err := c.DeleteResourceWithResponse(t.Context(), id); err != nil || r.StatusCode() != http.StatusNoContent {
		t.Fatalf("delete: %v, %d %s", err, r.StatusCode(), r.Body)
	}

	list, err := c.ListEventsWithResponse(t.Context(), &client.ListEventsParams{DirectoryPrefix: ptr(dir)})
	if err != nil || list.JSON200 == nil {
		t.Fatalf("list events: %v, %d %s", err, list.StatusCode(), list.Body)
	}
	var types []string
	for i, e := range list.JSON200.Items {
		types = append(types, string(e.Type))
		if i > 0 && e.Sequence <= list.JSON200.Items[i-1].Sequence {
			t.Errorf("events out of order: %d after %d", e.Sequence, list.JSON200.Items[i-1].Sequence)
		}
	}
	if got := strings.Join(types, ","); got != "resource.created,resource.updated,resource.deleted" {
		t.Fatalf("events of %s: %s", dir, got)
	}
	first := list.JSON200.Items[0]

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	// Prism's proxy holds a response until it ends, and a stream does not:
	// the stream goes to the server itself.
	direct := func(_ context.Context, req *http.Request) error {
		u, err := url.Parse(cmp.Or(target.directURL, target.baseURL))
		req.URL.Scheme, req.URL.Host = u.Scheme, u.Host
		return err
	}
	stream, err := c.StreamEvents(ctx, &client.StreamEventsParams{After: ptr(first.Sequence - 1), DirectoryPrefix: ptr(dir)}, direct)
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
	defer stream.Body.Close()
	if stream.StatusCode != http.StatusOK || !strings.HasPrefix(stream.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("stream: %d %s", stream.StatusCode, stream.Header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(stream.Body)
	for sc.Scan() {
		if seq, ok := strings.CutPrefix(sc.Text(), "id: "); ok {
			if seq != strconv.FormatInt(first.Sequence, 10) {
				t.Errorf("the stream resumed at %s, want %d", seq, first.Sequence)
			}
			return
		}
	}
	t.Fatalf("the stream ended before an event: %v", sc.Err())
}

// createIn creates a small resource in dir and returns its id.
func createIn(t *testing.T, c *client.ClientWithResponses, dir string) client.ResourceId {
	t.Helper()
	created, err := c.CreateResourceWithResponse(t.Context(), client.ResourceCreate{
		Name: "ev-" + rand.Text()[:8] + ".txt", DirectoryPath: dir, Content: ptr("data:text/plain;base64,aGk="),
	})
	if err != nil || created.JSON200 == nil {
		t.Fatalf("create: %v, %d %s", err, created.StatusCode(), created.Body)
	}
	id := created.JSON200.Id
	t.Cleanup(func() { c.DeleteResourceWithResponse(context.Background(), id) })
	return id
}

// TestWebhookEndpoints registers an endpoint on a host that never
// resolves: every route answers, the test message and the delivery fail
// with the reason, and the delivery can be queued again by hand.
func TestWebhookEndpoints(t *testing.T) {
	requireDeclared(t, http.MethodPost, "/v1/webhooks", http.StatusCreated)
	c := newClient(t, mustToken(t, writer, "resources:read resources:write"))
	dir := "/e2e/hooks-" + rand.Text()[:8]
	made, err := c.CreateWebhookWithResponse(t.Context(), client.WebhookCreate{
		Url: "https://receiver.invalid/hook", DirectoryPrefix: &dir, Types: &[]client.EventType{client.EventTypeResourceCreated}})
	if err != nil || made.JSON201 == nil || made.JSON201.Secret == nil || !strings.HasPrefix(*made.JSON201.Secret, "whsec_") {
		t.Fatalf("register: %v, %d %s", err, made.StatusCode(), made.Body)
	}
	hook := made.JSON201.Id
	t.Cleanup(func() { c.DeleteWebhookWithResponse(context.Background(), hook) })
	got, err := c.GetWebhookWithResponse(t.Context(), hook)
	if err != nil || got.JSON200 == nil || got.JSON200.Secret != nil {
		t.Errorf("get: %v, %d %s (the secret is shown once)", err, got.StatusCode(), got.Body)
	}
	list, err := c.ListWebhooksWithResponse(t.Context())
	if err != nil || list.JSON200 == nil || len(list.JSON200.Items) == 0 {
		t.Errorf("list: %v, %d", err, list.StatusCode())
	}
	test, err := c.TestWebhookWithResponse(t.Context(), hook)
	if err != nil || test.JSON200 == nil || test.JSON200.Error == nil {
		t.Errorf("test message to a host that never resolves: %v, %d %s", err, test.StatusCode(), test.Body)
	}
	createIn(t, c, dir)
	var delivery client.WebhookDelivery
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		ds, err := c.ListWebhookDeliveriesWithResponse(t.Context(), hook)
		if err != nil || ds.JSON200 == nil {
			t.Fatalf("deliveries: %v, %d", err, ds.StatusCode())
		}
		if len(ds.JSON200.Items) == 1 && len(ds.JSON200.Items[0].Attempts) > 0 {
			delivery = ds.JSON200.Items[0]
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no attempt within 20 s: %s", ds.Body)
		}
	}
	if a := delivery.Attempts[0]; a.Error == nil || delivery.State != client.WebhookDeliveryStatePending {
		t.Errorf("delivery %+v, attempt %+v: want pending with the attempt's error", delivery, a)
	}
	again, err := c.RetryWebhookDeliveryWithResponse(t.Context(), hook, delivery.Id)
	if err != nil || again.JSON202 == nil {
		t.Errorf("retry: %v, %d %s", err, again.StatusCode(), again.Body)
	}
	off, err := c.UpdateWebhookWithResponse(t.Context(), hook, client.WebhookUpdate{Enabled: ptr(false)})
	if err != nil || off.JSON200 == nil || off.JSON200.Enabled || off.JSON200.DisabledReason == nil {
		t.Errorf("disable: %v, %d %s", err, off.StatusCode(), off.Body)
	}
	del, err := c.DeleteWebhookWithResponse(t.Context(), hook)
	if err != nil || del.StatusCode() != http.StatusNoContent {
		t.Errorf("delete: %v, %d", err, del.StatusCode())
	}
}
