package store_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/re-factor/resources"
	"github.com/re-factor/resources/store"
	"github.com/re-factor/resources/store/storetest"
)

// randomWide returns n random characters of four UTF-8 bytes each: the
// widest text the character limits allow, and incompressible, so that
// PostgreSQL cannot squeeze an over-long index entry under its limit.
func randomWide(rng *rand.Rand, n int) string {
	var b strings.Builder
	for range n {
		b.WriteRune(rune(0x10000 + rng.IntN(0x100000)))
	}
	return b.String()
}

// widePath returns a directory path of exactly n characters of random
// four-byte segments.
func widePath(rng *rand.Rand, n int) string {
	var b strings.Builder
	for left := n; left > 0; {
		seg := min(left-1, 1+rng.IntN(40))
		if left-1-seg == 1 { // a lone "/" cannot end the path
			seg++
		}
		b.WriteString("/" + randomWide(rng, seg))
		left -= 1 + seg
	}
	return b.String()
}

// TestLongestValues stores names, paths and tags at their character limits
// in four-byte characters (1,020, 4,096 and 256 bytes), which no index may
// refuse: creates, conflicts, moves, prefix lists, imports and exports work
// as they do for short values, never with an internal error.
func TestLongestValues(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 13))
	name := randomWide(rng, resources.MaxNameChars)
	dir := widePath(rng, resources.MaxDirectoryPathChars)
	if utf8.RuneCountInString(dir) != resources.MaxDirectoryPathChars || resources.ValidateDirectoryPath(dir) != nil {
		t.Fatalf("widePath made %d characters: %v", utf8.RuneCountInString(dir), resources.ValidateDirectoryPath(dir))
	}
	tags := make([]string, resources.MaxTags)
	for i := range tags {
		tags[i] = randomWide(rng, resources.MaxTagChars)
	}
	slices.Sort(tags)
	ctx := context.Background()
	storetest.EachSetup(t, func(t *testing.T, db *store.DB) {
		wide := storetest.NewResource("acme", 1, storetest.In(dir), storetest.Tagged(tags...))
		wide.Name = name
		if err := db.CreateResource(ctx, wide); err != nil {
			t.Fatalf("create at the limits: %v", err)
		}
		again := storetest.NewResource("acme", 2, storetest.In(dir))
		again.Name = name
		if err := db.CreateResource(ctx, again); !errors.Is(err, resources.ErrConflict) {
			t.Errorf("second create at the same wide path: %v, want ErrConflict", err)
		}
		// The same path and a name differing in its last character is free.
		again.Name = name[:len(name)-4] + "x"
		if err := db.CreateResource(ctx, again); err != nil {
			t.Fatalf("create beside it: %v", err)
		}

		cut := func(n int) string { // dir's first n characters
			runes := []rune(dir)
			return string(runes[:n])
		}
		for _, tt := range []struct {
			name   string
			prefix string
			want   int
		}{
			{"whole path", dir, 2},
			{"past the indexed key", cut(300), 2},
			{"the indexed key exactly", cut(256), 2},
			{"short", cut(3), 2},
			{"longer than any path", dir + "/x", 0},
			{"differs past the indexed key", cut(299) + "x", 0},
		} {
			f := resources.Filter{AccountID: "acme", DirectoryPrefix: tt.prefix, Page: 1, PageSize: 10}
			page, err := db.ListResources(ctx, f)
			if err != nil || len(page.Items) != tt.want || page.Total != int64(tt.want) {
				t.Errorf("prefix %s: %d items, total %d, %v; want %d", tt.name, len(page.Items), page.Total, err, tt.want)
			}
		}
		tagged := resources.Filter{AccountID: "acme", Tags: tags[:2], Page: 1, PageSize: 10}
		if page, err := db.ListResources(ctx, tagged); err != nil || page.Total != 1 {
			t.Errorf("list by two wide tags: total %d, %v; want 1", page.Total, err)
		}

		moved := widePath(rng, resources.MaxDirectoryPathChars)
		u := resources.Update{DirectoryPath: &moved}
		if _, err := db.UpdateResource(ctx, "acme", again.ID, u, storetest.BaseTime); err != nil {
			t.Fatalf("move to another wide path: %v", err)
		}
		u = resources.Update{DirectoryPath: &dir, Name: &name}
		if _, err := db.UpdateResource(ctx, "acme", again.ID, u, storetest.BaseTime); !errors.Is(err, resources.ErrConflict) {
			t.Errorf("move onto the wide resource: %v, want ErrConflict", err)
		}

		// Import loads with COPY on PostgreSQL and finds the conflicting
		// line from the index's key, which holds digests.
		clash := storetest.NewResource("acme", 3, storetest.In(dir))
		clash.Name = name
		_, err := db.ImportResources(ctx, storetest.Seq(storetest.NewResource("acme", 4), clash))
		if !errors.Is(err, resources.ErrConflict) || !strings.Contains(err.Error(), "resource 2") {
			t.Errorf("import onto the wide path: %v, want ErrConflict naming resource 2", err)
		}
		copied := storetest.NewResource("other", 1, storetest.In(dir), storetest.Tagged(tags...))
		copied.Name = name
		storetest.MustImport(t, db, copied)
	})
}
