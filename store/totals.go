package store

import (
	"crypto/sha256"
	"encoding/binary"
	"sync"
	"time"
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
type totalsCache struct {
	mu      sync.Mutex
	entries map[totalsKey]cachedTotal
}

// totalsKey is a hash of the account and the filter's conditions: tags
// sorted and distinct, prefix, and the window's bounds as compared.
type totalsKey [sha256.Size]byte

type cachedTotal struct {
	generation, total int64
}

func newTotalsCache() *totalsCache {
	return &totalsCache{entries: make(map[totalsKey]cachedTotal)}
}

// get returns the cached total of k and the generation it was counted at.
func (c *totalsCache) get(k totalsKey) (cachedTotal, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.entries[k]
	return t, ok
}

// put caches t for k. When the cache is full, an arbitrary entry makes
// room: Go's map iteration starts at a random place.
func (c *totalsCache) put(k totalsKey, t cachedTotal) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[k]; !ok && len(c.entries) >= maxTotals {
		for old := range c.entries {
			delete(c.entries, old)
			break
		}
	}
	c.entries[k] = t
}

// totalKey returns the key of f's total. Each part is written with its
// length, so that no two filters give the same bytes.
func totalKey(f ResourceFilter) totalsKey {
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
