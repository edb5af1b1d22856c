package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/re-factor/resources"
	"github.com/re-factor/resources/store"
	"github.com/re-factor/resources/store/storetest"
)

// mustEvents returns every event of the account.
func mustEvents(t *testing.T, db *store.DB, account string) []resources.Event {
	t.Helper()
	var all []resources.Event
	for after := int64(0); ; {
		es, next, err := db.Events(context.Background(), resources.EventFilter{AccountID: account, After: after,
			Limit: store.MaxEventLimit})
		if err != nil {
			t.Fatal(err)
		}
		if len(es) == 0 {
			return all
		}
		all, after = append(all, es...), next
	}
}

// summary is an event's type, sequence and resource, what most checks need.
func summary(es []resources.Event) []string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = fmt.Sprintf("%d %s %s", e.Sequence, e.Type, e.ResourceID)
	}
	return s
}

func TestEventsFollowCommittedWrites(t *testing.T) {
	ctx := context.Background()
	storetest.EachSetup(t, func(t *testing.T, db *store.DB) {
		a := storetest.NewResource("acme", 1, storetest.Tagged("x"))
		storetest.MustCreate(t, db, a)
		// Refused writes: a taken path, a missing resource.
		taken := storetest.NewResource("acme", 2)
		taken.Name, taken.DirectoryPath = a.Name, a.DirectoryPath
		if err := db.CreateResource(ctx, taken); !errors.Is(err, resources.ErrConflict) {
			t.Fatalf("create on a taken path: %v", err)
		}
		name := "renamed"
		if _, err := db.UpdateResource(ctx, "acme", storetest.NewResource("acme", 3).ID,
			resources.Update{Name: &name}, time.Now()); !errors.Is(err, resources.ErrNotFound) {
			t.Fatalf("update of a missing resource: %v", err)
		}
		// A write that fails after writing its event takes it back,
		// and its sequence number too.
		if err := db.WriteEventThenFail(ctx, storetest.NewResource("acme", 4)); err == nil {
			t.Fatal("WriteEventThenFail committed")
		}
		if _, err := db.UpdateResource(ctx, "acme", a.ID, resources.Update{Name: &name}, time.Now()); err != nil {
			t.Fatal(err)
		}
		if _, err := db.DeleteResource(ctx, "acme", a.ID, time.Now()); err != nil {
			t.Fatal(err)
		}
		// Another account's writes are not this one's, and count on
		// their own.
		other := storetest.NewResource("other", 1)
		storetest.MustCreate(t, db, other)
		storetest.MustImport(t, db, storetest.NewResource("acme", 5), storetest.NewResource("acme", 6),
			storetest.NewResource("other", 2))

		got := mustEvents(t, db, "acme")
		want := []string{"1 resource.created " + a.ID, "2 resource.updated " + a.ID,
			"3 resource.deleted " + a.ID, "4 resources.imported "}
		if s := summary(got); !slices.Equal(s, want) {
			t.Fatalf("events:\n got %q\nwant %q", s, want)
		}
		wantOther := []string{"1 resource.created " + other.ID, "2 resources.imported "}
		if s := summary(mustEvents(t, db, "other")); !slices.Equal(s, wantOther) {
			t.Errorf("other account's events:\n got %q\nwant %q", s, wantOther)
		}
		checkData(t, got, a)
	})
}

// checkData checks the payloads of TestEventsFollowCommittedWrites.
func checkData(t *testing.T, es []resources.Event, a resources.Resource) {
	t.Helper()
	var created struct{ Resource resources.Resource }
	if err := json.Unmarshal(es[0].Data, &created); err != nil {
		t.Fatal(err)
	}
	if created.Resource.ID != a.ID || created.Resource.Name != a.Name || !slices.Equal(created.Resource.Tags, a.Tags) {
		t.Errorf("created data = %s, want resource %s", es[0].Data, a.ID)
	}
	var updated struct {
		Resource resources.Resource
		Changed  []string
	}
	if err := json.Unmarshal(es[1].Data, &updated); err != nil {
		t.Fatal(err)
	}
	if updated.Resource.Name != "renamed" || !slices.Equal(updated.Changed, []string{"name"}) {
		t.Errorf("updated data = %s, want name renamed and changed [name]", es[1].Data)
	}
	want := fmt.Sprintf(`{"resource":{"id":%q,"name":%q,"directory_path":%q,"tags":["x"]}}`, a.ID, "renamed", a.DirectoryPath)
	if string(es[2].Data) != want {
		t.Errorf("deleted data = %s, want %s", es[2].Data, want)
	}
	if string(es[3].Data) != `{"imported":2}` {
		t.Errorf("imported data = %s, want {\"imported\":2}", es[3].Data)
	}
	for _, e := range es {
		if e.ID == "" || e.Timestamp.IsZero() || e.AccountID != "acme" {
			t.Errorf("event %d lacks id, timestamp or account: %+v", e.Sequence, e)
		}
	}
}

// TestEventSequenceGapless writes concurrently, with writes that fail
// among them, and checks that the account's sequences run 1..n, one per
// committed write, in the order the changes committed.
func TestEventSequenceGapless(t *testing.T) {
	ctx := context.Background()
	const writers, each = 8, 15
	storetest.EachEngine(t, func(t *testing.T, db *store.DB) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		created := map[string]bool{}
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					r := storetest.NewResource("acme", w*each+i+1)
					if i%3 == 2 {
						r.Name = "taken" // all but one of these fail
					}
					if err := db.CreateResource(ctx, r); err == nil {
						mu.Lock()
						created[r.ID] = true
						mu.Unlock()
					} else if !errors.Is(err, resources.ErrConflict) {
						t.Error(err)
					}
				}
			})
		}
		wg.Wait()
		got := mustEvents(t, db, "acme")
		if len(got) != len(created) {
			t.Fatalf("%d events for %d committed creates", len(got), len(created))
		}
		for i, e := range got {
			if e.Sequence != int64(i+1) || !created[e.ResourceID] {
				t.Fatalf("event %d: sequence %d, resource %s (committed: %v)", i, e.Sequence, e.ResourceID, created[e.ResourceID])
			}
		}
	})
}

func TestEventsFilterAndPrune(t *testing.T) {
	ctx := context.Background()
	storetest.EachEngine(t, func(t *testing.T, db *store.DB) {
		var rs []resources.Resource
		for i := range 6 {
			dir := "/in"
			if i%2 == 1 {
				dir = "/out"
			}
			rs = append(rs, storetest.NewResource("acme", i+1, storetest.In(dir), storetest.Tagged("t"+fmt.Sprint(i%3))))
			storetest.MustCreate(t, db, rs[i])
		}
		if _, err := db.DeleteResource(ctx, "acme", rs[0].ID, time.Now()); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name string
			f    resources.EventFilter
			want []int64
			next int64
		}{
			{"all", resources.EventFilter{}, []int64{1, 2, 3, 4, 5, 6, 7}, 7},
			{"after and limit", resources.EventFilter{After: 2, Limit: 2}, []int64{3, 4}, 4},
			{"prefix", resources.EventFilter{DirectoryPrefix: "/in"}, []int64{1, 3, 5, 7}, 7},
			{"tags", resources.EventFilter{Tags: []string{"t0"}}, []int64{1, 4, 7}, 7},
			{"types", resources.EventFilter{Types: []string{resources.EventDeleted}}, []int64{7}, 7},
			{"prefix, limited", resources.EventFilter{DirectoryPrefix: "/out", Limit: 1}, []int64{2}, 2},
		}
		for _, tt := range tests {
			tt.f.AccountID = "acme"
			es, next, err := db.Events(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for _, e := range es {
				got = append(got, e.Sequence)
			}
			if !slices.Equal(got, tt.want) || next != tt.next {
				t.Errorf("%s: got %v next %d, want %v next %d", tt.name, got, next, tt.want, tt.next)
			}
		}

		// Pruning everything: a reader behind gets ErrGone with the
		// oldest held, one at the end does not, and sequences go on.
		if n, err := db.PruneEvents(ctx, time.Now().Add(time.Hour)); err != nil || n != 7 {
			t.Fatalf("PruneEvents = %d, %v; want 7", n, err)
		}
		_, _, err := db.Events(ctx, resources.EventFilter{AccountID: "acme", After: 3})
		var gone *resources.EventsGone
		if !errors.Is(err, resources.ErrGone) || !errors.As(err, &gone) || gone.Oldest != 8 {
			t.Fatalf("events after a pruned sequence: %v, want ErrGone with oldest 8", err)
		}
		if es, _, err := db.Events(ctx, resources.EventFilter{AccountID: "acme", After: 7}); err != nil || len(es) != 0 {
			t.Fatalf("events after the last: %v, %v", es, err)
		}
		if _, err := db.DeleteResource(ctx, "acme", rs[1].ID, time.Now()); err != nil {
			t.Fatal(err)
		}
		if oldest, last, err := db.EventBounds(ctx, "acme"); err != nil || oldest != 8 || last != 8 {
			t.Errorf("EventBounds = %d, %d, %v; want 8, 8", oldest, last, err)
		}
	})
}
