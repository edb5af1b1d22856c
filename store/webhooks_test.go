package store_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/re-factor/resources"
	"github.com/re-factor/resources/store"
	"github.com/re-factor/resources/store/storetest"
)

// TestOutboxMatchesFilters checks the deliveries each write queues with its
// event: one to each enabled endpoint whose filter matches the event as
// resources.EventFilter.Match says (PostgreSQL matches in SQL), each with
// the event's sequence and an outbox entry; none for a write that rolls
// back; and what a delivery's job then reads.
func TestOutboxMatchesFilters(t *testing.T) {
	ctx := context.Background()
	storetest.EachSetup(t, func(t *testing.T, db *store.DB) {
		var queued int
		db.OnDeliveriesQueued(func() { queued++ })
		now := time.Now().UTC()
		endpoint := func(types, tags []string, prefix string, enabled bool) resources.WebhookEndpoint {
			ep := resources.WebhookEndpoint{ID: uuid.NewString(), AccountID: "acme", URL: "https://example.com/hook",
				Types: types, Tags: tags, DirectoryPrefix: prefix, Secret: "whsec_x", Enabled: enabled,
				CreatedAt: now, UpdatedAt: now}
			if err := db.CreateWebhook(ctx, ep); err != nil {
				t.Fatal(err)
			}
			return ep
		}
		none := []string{}
		eps := []resources.WebhookEndpoint{
			endpoint(none, none, "", true),
			endpoint([]string{resources.EventCreated}, none, "", true),
			endpoint([]string{resources.EventDeleted, resources.EventImported}, none, "", true),
			endpoint(none, []string{"a"}, "", true),
			endpoint(none, []string{"a", "b"}, "", true),
			endpoint(none, none, "/docs", true),
			endpoint([]string{resources.EventUpdated}, []string{"b"}, "/docs/x", true),
			endpoint(none, none, "", false),
		}
		// A write of another account, whose endpoint hears nothing
		// of acme's.
		other := storetest.NewResource("other", 1)
		storetest.MustCreate(t, db, other)
		tagged := storetest.NewResource("acme", 1, storetest.In("/docs/x/y"), storetest.Tagged("a", "b"))
		plain := storetest.NewResource("acme", 2, storetest.In("/elsewhere"), storetest.Tagged("a"))
		storetest.MustCreate(t, db, tagged, plain)
		name := "renamed.txt"
		for _, r := range []resources.Resource{tagged, plain} {
			if _, err := db.UpdateResource(ctx, "acme", r.ID, resources.Update{Name: &name}, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.WriteEventThenFail(ctx, storetest.NewResource("acme", 3)); err == nil {
			t.Fatal("WriteEventThenFail committed")
		}
		if _, err := db.DeleteResource(ctx, "acme", tagged.ID, time.Now()); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ImportResources(ctx, storetest.Seq(storetest.NewResource("acme", 4))); err != nil {
			t.Fatal(err)
		}
		events := mustEvents(t, db, "acme")
		if len(events) != 6 {
			t.Fatalf("events %v, want 6", summary(events))
		}
		total := 0
		for i, ep := range eps {
			var want []int64
			for _, e := range slices.Backward(events) {
				if ep.Enabled && ep.Filter().Match(e) {
					want = append(want, e.Sequence)
				}
			}
			ds, err := db.Deliveries(ctx, "acme", ep.ID, 100)
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for _, d := range ds {
				got = append(got, d.Sequence)
				if e := events[d.Sequence-1]; d.ResourceID != e.ResourceID || d.State != resources.DeliveryPending {
					t.Errorf("endpoint %d: delivery %+v of event %s", i, d, summary([]resources.Event{e}))
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("endpoint %d (types %v, tags %v, prefix %q, enabled %v): deliveries of events %v, want %v",
					i, ep.Types, ep.Tags, ep.DirectoryPrefix, ep.Enabled, got, want)
			}
			total += len(want)
		}
		if queued != 6 {
			t.Errorf("OnDeliveriesQueued called %d times, want 6 (a write with no delivery is one of the 7)", queued)
		}
		// The outbox holds every delivery, once; taken, it is empty.
		var taken []store.OutboxEntry
		for {
			var batch []store.OutboxEntry
			if err := db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
				var err error
				batch, err = tx.TakeOutbox(ctx, 4)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if len(batch) == 0 {
				break
			}
			taken = append(taken, batch...)
		}
		if len(taken) != total {
			t.Errorf("outbox held %d entries, want %d", len(taken), total)
		}
		// Each entry tells its delivery's resource (none for the import's).
		withResource := 0
		for _, e := range taken {
			if d, err := db.Delivery(ctx, e.AccountID, e.EndpointID, e.DeliveryID); err != nil || d.ResourceID != e.ResourceID {
				t.Errorf("outbox entry %+v: delivery %+v, %v", e, d, err)
			}
			if e.ResourceID != "" {
				withResource++
			}
		}
		if withResource == 0 {
			t.Error("no outbox entry tells its delivery's resource")
		}
		// What a delivery job reads: the pending ones of its deliveries,
		// in sequence order, each with its endpoint, its event, and
		// whether an earlier pending delivery of the same resource holds
		// it back.
		ds, err := db.Deliveries(ctx, "acme", eps[0].ID, 100)
		if err != nil || len(ds) != 6 {
			t.Fatalf("deliveries: %d, %v", len(ds), err)
		}
		last := ds[1] // the delete of tagged; ds[0] is the import
		send, err := db.DeliveriesToSend(ctx, "acme", []string{last.ID, ds[0].ID, uuid.NewString(), "not an id"})
		if err != nil || len(send) != 2 {
			t.Fatalf("deliveries to send: %+v, %v", send, err)
		}
		if d := send[0]; d.Delivery.Sequence != 5 || d.Endpoint.ID != eps[0].ID || !d.EventHeld ||
			d.Event.Type != resources.EventDeleted || d.Event.Sequence != 5 || !d.Earlier {
			t.Errorf("delivery to send: %+v", d)
		}
		var attempted []store.Attempt
		for _, d := range ds[2:] {
			if d.ResourceID == tagged.ID {
				attempted = append(attempted, store.Attempt{Delivery: d,
					WebhookAttempt: resources.WebhookAttempt{Status: 200, Latency: time.Millisecond, At: time.Now()},
					State:          resources.DeliveryDelivered})
			}
		}
		if err := db.RecordAttempts(ctx, "acme", attempted); err != nil {
			t.Fatal(err)
		}
		if send, err = db.DeliveriesToSend(ctx, "acme", []string{last.ID, ds[0].ID}); err != nil || len(send) != 2 || send[0].Earlier || send[1].Earlier {
			t.Errorf("after the earlier ones were delivered: %+v, %v", send, err)
		}
		if send[1].Event.Type != resources.EventImported {
			t.Errorf("the import's delivery: %+v", send[1])
		}
		// Delivered, a delivery is no longer to send.
		if send, err = db.DeliveriesToSend(ctx, "acme", []string{attempted[0].Delivery.ID}); err != nil || len(send) != 0 {
			t.Errorf("a delivered delivery to send: %+v, %v", send, err)
		}
		for _, a := range attempted {
			d, err := db.Delivery(ctx, "acme", eps[0].ID, a.Delivery.ID)
			if err != nil || d.State != resources.DeliveryDelivered || len(d.Attempts) != 1 || d.Attempts[0].Attempt != 1 ||
				d.Attempts[0].Status != 200 || d.Attempts[0].Error != "" {
				t.Errorf("attempted: %+v, %v", d, err)
			}
		}
	})
}
