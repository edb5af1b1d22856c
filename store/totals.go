package store

import (
	"crypto/sha256"
	"encoding/binary"
	"sync"
	"time"

	"github.com/re-factor/resources"
)

// maxTotals bounds the totals cache: a few thousand filters, each a key and
// two numbers, whatever the traffic.
const maxTotals = 4096

// totalsCache holds exact totals that no maintained count answers (several
// tags, a prefix, a time window), each with the account's generation it was
// counted at (migration 0007). The list statement counts again only when
// the account's generation differs from the cached one, in the same
// snapshot as its page, so a cached total is only ever used while it is
// still exact.
type totalsCache = filterCache[cachedTotal]

// totalsKey is a hash of the account and the filter's conditions: tags
// sorted and distinct, prefix, and the window's bounds as compared.
type totalsKey [sha256.Size]byte

type cachedTotal struct {
	generation, total int64
}

func newTotalsCache() *totalsCache { return newFilterCache[cachedTotal]() }

// filterCache maps a filter's key to what was read for it, at most
// maxTotals entries: when it is full, an arbitrary entry makes room (Go's
// map iteration starts at a random place).
type filterCache[V any] struct {
	mu      sync.Mutex
	entries map[totalsKey]V
}

func newFilterCache[V any]() *filterCache[V] {
	return &filterCache[V]{entries: make(map[totalsKey]V)}
}

func (c *filterCache[V]) get(k totalsKey) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.entries[k]
	return v, ok
}

func (c *filterCache[V]) put(k totalsKey, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[k]; !ok && len(c.entries) >= maxTotals {
		for old := range c.entries {
			delete(c.entries, old)
			break
		}
	}
	c.entries[k] = v
}

func (c *filterCache[V]) drop(k totalsKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, k)
}

// totalKey returns the key of f's total. Each part is written with its
// length, so that no two filters give the same bytes.
func totalKey(f resources.Filter) totalsKey {
	h := sha256.New()
	field := func(s string) {
		h.Write(binary.AppendUvarint(nil, uint64(len(s))))
		h.Write([]byte(s))
	}
	bound := func(t *time.Time) {
		if t == nil {
			field("")
			return
		}
		field(string(binary.AppendVarint(nil, t.UnixMicro())))
	}
	field(f.AccountID)
	field(f.DirectoryPrefix)
	after := f.CreatedAfter
	if after != nil {
		a := after.Truncate(time.Microsecond)
		after = &a
	}
	before := f.CreatedBefore
	if before != nil {
		b := ceilMicro(*before)
		before = &b
	}
	bound(after)
	bound(before)
	tags := distinct(f.Tags)
	for _, t := range tags {
		field(t)
	}
	var k totalsKey
	h.Sum(k[:0])
	return k
}

// countsCache holds what prefixFirst weighs for a filter (the counts
// countPrefix reads, the account's generation first), so that a page of
// tags under a prefix does not count the prefix's entries on every request:
// that took 0.6 to 1 ms of a page that otherwise takes 1.5 to 3 at 1M
// rows. The counts only steer the choice of plan, which reads the same
// page either way, so they are used until a list statement sees another
// generation; a walk that stands on them checks the generation it reads
// (ListQuery.walkStandsAt).
type countsCache = filterCache[[]int64]

func newCountsCache() *countsCache { return newFilterCache[[]int64]() }
