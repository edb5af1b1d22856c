package webhooks

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/re-factor/resources/store"
)

func TestBatches(t *testing.T) {
	entry := func(account, endpoint, resource string, i int) store.OutboxEntry {
		return store.OutboxEntry{AccountID: account, EndpointID: endpoint, ResourceID: resource, DeliveryID: fmt.Sprint(i)}
	}
	many := make([]store.OutboxEntry, 2*batchSize+1)
	for i := range many {
		many[i] = entry("a", "e1", fmt.Sprint("r", i), i)
	}
	for _, c := range []struct {
		name    string
		entries []store.OutboxEntry
		want    []string // each job as account/endpoint:deliveries
	}{
		{"none", nil, nil},
		{"one endpoint", []store.OutboxEntry{entry("a", "e1", "r1", 1), entry("a", "e1", "r2", 2)},
			[]string{"a/e1:[1 2]"}},
		{"endpoints and accounts apart", []store.OutboxEntry{entry("a", "e1", "r1", 1), entry("a", "e2", "r1", 2),
			entry("b", "e1", "r1", 3), entry("a", "e1", "r2", 4)},
			[]string{"a/e1:[1 4]", "a/e2:[2]", "b/e1:[3]"}},
		{"a resource's second delivery waits in a job of its own", []store.OutboxEntry{entry("a", "e1", "r1", 1),
			entry("a", "e1", "r2", 2), entry("a", "e1", "r1", 3), entry("a", "e1", "r3", 4)},
			[]string{"a/e1:[1 2]", "a/e1:[3 4]"}},
		{"deliveries without a resource go together", []store.OutboxEntry{entry("a", "e1", "", 1), entry("a", "e1", "", 2)},
			[]string{"a/e1:[1 2]"}},
		{"full jobs", many, []string{"a/e1:[0 1 2 3 4 5 6 7 8 9]", "a/e1:[10 11 12 13 14 15 16 17 18 19]", "a/e1:[20]"}},
	} {
		var got []string
		for _, j := range batches(c.entries) {
			got = append(got, fmt.Sprintf("%s/%s:%v", j.Account, j.Endpoint, j.Deliveries))
		}
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%s: jobs %v, want %v", c.name, got, c.want)
		}
	}
}

// TestDeliveryArgs checks that a job queued before jobs carried several
// deliveries still names its one.
func TestDeliveryArgs(t *testing.T) {
	for _, c := range []struct{ queued, want string }{
		{`{"account":"a","delivery":"d1","endpoint":"e"}`, "[d1]"},
		{`{"account":"a","endpoint":"e","deliveries":["d1","d2"]}`, "[d1 d2]"},
	} {
		var a deliveryArgs
		if err := json.Unmarshal([]byte(c.queued), &a); err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(a.ids()); got != c.want || a.Account != "a" || a.Endpoint != "e" {
			t.Errorf("%s: deliveries %s of %s/%s, want %s of a/e", c.queued, got, a.Account, a.Endpoint, c.want)
		}
	}
}
