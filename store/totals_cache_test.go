package store

import (
	"fmt"
	"testing"
	"time"

	"github.com/re-factor/resources"
)

func TestTotalsCacheStaysBounded(t *testing.T) {
	c := newTotalsCache()
	for i := range 3 * maxTotals {
		c.put(totalKey(resources.Filter{AccountID: "acme", DirectoryPrefix: fmt.Sprintf("/d%d", i)}),
			cachedTotal{generation: 1, total: int64(i)})
		if len(c.entries) > maxTotals {
			t.Fatalf("%d entries after %d puts, at most %d", len(c.entries), i+1, maxTotals)
		}
	}
	last := totalKey(resources.Filter{AccountID: "acme", DirectoryPrefix: fmt.Sprintf("/d%d", 3*maxTotals-1)})
	if got, ok := c.get(last); !ok || got.total != 3*maxTotals-1 {
		t.Errorf("the last total put: %+v, %v", got, ok)
	}
}

func TestTotalKey(t *testing.T) {
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 123456000, time.UTC)
	t0ns := t0.Add(700 * time.Nanosecond) // in the same microsecond
	t1 := t0.Add(time.Microsecond)
	same := []struct{ a, b resources.Filter }{
		{resources.Filter{AccountID: "a", Tags: []string{"x", "y"}}, resources.Filter{AccountID: "a", Tags: []string{"y", "x", "x"}}},
		// Page, order and cursor do not change the total.
		{resources.Filter{AccountID: "a", Page: 1, PageSize: 20}, resources.Filter{AccountID: "a", Page: 7, PageSize: 100, Ascending: true, Cursor: "c"}},
		// created_at > t compares with t rounded down, < t with t rounded up.
		{resources.Filter{AccountID: "a", CreatedAfter: &t0}, resources.Filter{AccountID: "a", CreatedAfter: &t0ns}},
		{resources.Filter{AccountID: "a", CreatedBefore: &t0ns}, resources.Filter{AccountID: "a", CreatedBefore: &t1}},
	}
	for _, c := range same {
		if totalKey(c.a) != totalKey(c.b) {
			t.Errorf("%+v and %+v have different keys", c.a, c.b)
		}
	}
	differ := []resources.Filter{
		{AccountID: "a"},
		{AccountID: "b"},
		{AccountID: "a", Tags: []string{"x"}},
		{AccountID: "a", Tags: []string{"x", "y"}},
		{AccountID: "a", Tags: []string{"xy"}},
		{AccountID: "a", DirectoryPrefix: "x"},
		{AccountID: "ax"},
		{AccountID: "a", CreatedAfter: &t0},
		{AccountID: "a", CreatedBefore: &t0},
		{AccountID: "a", CreatedAfter: &t1},
		{AccountID: "a", CreatedAfter: &t0, CreatedBefore: &t1},
	}
	seen := map[totalsKey]int{}
	for i, f := range differ {
		if j, ok := seen[totalKey(f)]; ok {
			t.Errorf("%+v and %+v have the same key", differ[j], f)
		}
		seen[totalKey(f)] = i
	}
}
