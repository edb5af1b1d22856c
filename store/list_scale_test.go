package store_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/re-factor/resources"
	"github.com/re-factor/resources/internal/testkit"
	"github.com/re-factor/resources/store"
	"github.com/re-factor/resources/store/storetest"
)

// TestAccountCounts checks that the counts behind the unfiltered and
// one-tag totals follow every kind of write, not only the store's own
// methods.
func TestAccountCounts(t *testing.T) {
	storetest.EachSetup(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var rs []resources.Resource
		for i := range 5 {
			rs = append(rs, storetest.NewResource("acme", i, storetest.Tagged("x")))
		}
		moved := storetest.NewResource("other", 10)
		rs = append(rs, moved, storetest.NewResource("other", 11), storetest.NewResource("other", 12))
		storetest.MustImport(t, db, rs...)
		steps := []struct {
			name           string
			sql            string
			args           []any
			acme, other, x int64 // totals: unfiltered, and of acme tagged x
		}{
			{"import", "", nil, 5, 3, 5},
			{"delete", `DELETE FROM resources WHERE account_id = 'acme' AND id = $1`, []any{rs[0].ID}, 4, 3, 4},
			{"delete none", `DELETE FROM resources WHERE account_id = 'nobody'`, nil, 4, 3, 4},
			{"update in place", `UPDATE resources SET name = name || '.bak' WHERE account_id = 'acme'`, nil, 4, 3, 4},
			{"move between accounts", `UPDATE resources SET account_id = 'acme' WHERE id = $1`, []any{moved.ID}, 5, 2, 4},
			{"untag", `DELETE FROM resource_tags WHERE account_id = 'acme' AND resource_id = $1`, []any{rs[1].ID}, 5, 2, 3},
			{"tag", `INSERT INTO resource_tags (account_id, resource_id, tag) VALUES ('acme', $1, 'x')`, []any{moved.ID}, 5, 2, 4},
			{"rename tag", `UPDATE resource_tags SET tag = 'y' WHERE resource_id = $1`, []any{moved.ID}, 5, 2, 3},
			{"delete all", `DELETE FROM resources`, nil, 0, 0, 0},
		}
		for _, s := range steps {
			if s.sql != "" {
				if err := db.ExecSQL(ctx, s.sql, s.args...); err != nil {
					t.Fatalf("%s: %v", s.name, err)
				}
			}
			for _, c := range []struct {
				account string
				tags    []string
				want    int64
			}{{"acme", nil, s.acme}, {"other", nil, s.other}, {"acme", []string{"x"}, s.x}} {
				f := resources.Filter{AccountID: c.account, Tags: c.tags, Page: 1, PageSize: 1}
				if got := mustList(t, db, f).Total; got != c.want {
					t.Errorf("after %s: total of %s tagged %v = %d, want %d", s.name, c.account, c.tags, got, c.want)
				}
			}
		}
	})
}

// TestListCursor walks every page with cursors, in both orders and with
// created_at ties, while new resources arrive, and checks that each original
// resource comes exactly once, in order.
func TestListCursor(t *testing.T) {
	const count = 23
	storetest.EachSetup(t, func(t *testing.T, db *store.DB) {
		rs := mustSeedTies(t, db, count)
		added := 0
		for _, ascending := range []bool{true, false} {
			for _, size := range []int64{1, 4, 7, 23} {
				t.Run(fmt.Sprintf("ascending=%v/size=%d", ascending, size), func(t *testing.T) {
					f := resources.Filter{AccountID: "acme", Ascending: ascending, Page: 1, PageSize: size}
					// Only the originals: arrivals may sort anywhere.
					var got []string
					for want := int64(1); ; want++ {
						page := mustList(t, db, f)
						if page.Page != want {
							t.Errorf("page number = %d, want %d", page.Page, want)
						}
						for _, r := range page.Items {
							if !strings.HasPrefix(r.Name, "new-") {
								got = append(got, r.ID)
							}
						}
						// A resource created meanwhile, newest of all; a
						// few, or an ascending walk would never end.
						if want <= 3 {
							added++
							storetest.MustImport(t, db, storetest.NewResource("acme", 1000+added,
								func(r *resources.Resource) { r.Name = fmt.Sprintf("new-%d", added) }))
						}
						if page.NextCursor == "" {
							break
						}
						f.Cursor = page.NextCursor
					}
					want := make([]string, len(rs))
					for i, r := range rs {
						want[i] = r.ID
					}
					if !ascending {
						slices.Reverse(want)
					}
					if !slices.Equal(got, want) {
						t.Errorf("walk = %v\nwant %v", got, want)
					}
				})
			}
		}
	})
}

func TestListCursorRejected(t *testing.T) {
	storetest.EachSetup(t, func(t *testing.T, db *store.DB) {
		for i := range 5 {
			storetest.MustImport(t, db, storetest.NewResource("acme", i, storetest.Tagged("x")))
		}
		f := resources.Filter{AccountID: "acme", Tags: []string{"x"}, Page: 1, PageSize: 2}
		cur := mustList(t, db, f).NextCursor
		if cur == "" {
			t.Fatal("no next cursor on a full first page")
		}
		tampered := []byte(cur)
		tampered[len(tampered)/2] ^= 1
		tests := []struct {
			name string
			edit func(*resources.Filter)
		}{
			{"tampered", func(f *resources.Filter) { f.Cursor = string(tampered) }},
			{"not base64", func(f *resources.Filter) { f.Cursor = "!!" }},
			{"other account", func(f *resources.Filter) { f.AccountID = "other" }},
			{"other tags", func(f *resources.Filter) { f.Tags = nil }},
			{"other order", func(f *resources.Filter) { f.Ascending = true }},
			{"other page size", func(f *resources.Filter) { f.PageSize = 3 }},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				g := f
				g.Cursor = cur
				tt.edit(&g)
				_, err := db.ListResources(context.Background(), g)
				var verr *resources.Error
				if !errors.As(err, &verr) || verr.Field != "cursor" {
					t.Errorf("ListResources = %v, want an ErrInvalid error for cursor", err)
				}
			})
		}
	})
}

// TestListCursorAfterDeletes walks on after the rows already seen are
// deleted: the total shrinks, and the walk must still reach the end.
func TestListCursorAfterDeletes(t *testing.T) {
	storetest.EachSetup(t, func(t *testing.T, db *store.DB) {
		var rs []resources.Resource
		for i := range 10 {
			rs = append(rs, storetest.NewResource("acme", i))
		}
		storetest.MustImport(t, db, rs...)
		f := resources.Filter{AccountID: "acme", Ascending: true, Page: 1, PageSize: 3}
		page := mustList(t, db, f)
		for _, r := range page.Items {
			if err := db.ExecSQL(context.Background(), `DELETE FROM resources WHERE id = $1`, r.ID); err != nil {
				t.Fatal(err)
			}
		}
		var got []string
		for page.NextCursor != "" {
			f.Cursor = page.NextCursor
			page = mustList(t, db, f)
			got = append(got, itemIDs(page)...)
		}
		var want []string
		for _, r := range rs[3:] {
			want = append(want, r.ID)
		}
		if !slices.Equal(got, want) {
			t.Errorf("walk after deletes = %v\nwant %v", got, want)
		}
	})
}

// TestListTagsUnderPrefix pages through filters of tags under a prefix, by
// page number and by cursor, in both orders and with created_at ties, and
// checks every page and total against the filter written plainly. On
// PostgreSQL one filter reads its prefix's short range whole and another
// walks its rarest tag (ListQuery.Walk): both must give the same pages as
// the planner's statement would.
func TestListTagsUnderPrefix(t *testing.T) {
	const count = 60
	storetest.EachSetup(t, func(t *testing.T, db *store.DB) {
		var rs []resources.Resource
		for i := range count {
			rs = append(rs, storetest.NewResource("acme", i, storetest.CreatedAt(*at(i / 3)),
				func(r *resources.Resource) {
					r.DirectoryPath = fmt.Sprintf("/p/x%d", i%3)
					if i%6 == 0 {
						r.DirectoryPath = "/p/deep"
					}
					for _, tag := range []struct {
						name  string
						every int
					}{{"a", 2}, {"b", 3}, {"c", 5}} {
						if i%tag.every == 0 {
							r.Tags = append(r.Tags, tag.name)
						}
					}
				}))
		}
		storetest.MustImport(t, db, rs...)
		slices.SortFunc(rs, func(a, b resources.Resource) int {
			return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
		})
		for _, base := range []resources.Filter{
			{Tags: []string{"a"}, DirectoryPrefix: "/p/deep"},
			{Tags: []string{"a", "b"}, DirectoryPrefix: "/p"},
			{Tags: []string{"a", "c"}, DirectoryPrefix: "/p/x", CreatedAfter: at(2), CreatedBefore: at(17)},
		} {
			base.AccountID = "acme"
			var want []string
			for _, r := range rs {
				if testkit.Matches(r, base) {
					want = append(want, r.ID)
				}
			}
			for _, ascending := range []bool{true, false} {
				if !ascending {
					want = slices.Clone(want)
					slices.Reverse(want)
				}
				for _, size := range []int64{1, 4, 7, 100} {
					name := fmt.Sprintf("%v/%s/ascending=%v/size=%d", base.Tags, base.DirectoryPrefix, ascending, size)
					t.Run(name, func(t *testing.T) {
						f := base
						f.Ascending, f.PageSize = ascending, size
						var numbered, cursored []string
						for f.Page = 1; f.Page <= int64(len(want))/size+1; f.Page++ {
							page := mustList(t, db, f)
							if page.Total != int64(len(want)) {
								t.Errorf("page %d: total = %d, want %d", f.Page, page.Total, len(want))
							}
							numbered = append(numbered, itemIDs(page)...)
						}
						f.Page = 1
						for {
							page := mustList(t, db, f)
							cursored = append(cursored, itemIDs(page)...)
							if page.NextCursor == "" {
								break
							}
							f.Cursor = page.NextCursor
						}
						if !slices.Equal(numbered, want) || !slices.Equal(cursored, want) {
							t.Errorf("by page number %v\nby cursor %v\nwant %v", numbered, cursored, want)
						}
					})
				}
			}
		}
	})
}

// TestListTagsUnderPrefixAfterWrites lists a page of tags under a prefix,
// then adds more than a walk reads of newer resources with the tag in the
// window but outside the prefix, and lists again: the page must still hold
// the older matches, however the store weighed the filter the first time
// (on PostgreSQL a walk of a short window stands without falling back, on
// counts it keeps until the account changes).
func TestListTagsUnderPrefixAfterWrites(t *testing.T) {
	storetest.EachEngine(t, func(t *testing.T, db *store.DB) {
		var rs []resources.Resource
		for i := range 30 {
			rs = append(rs, storetest.NewResource("acme", i, func(r *resources.Resource) {
				r.DirectoryPath = fmt.Sprintf("/p/d%d", i%2)
				r.Tags = []string{"a", "b"}
			}))
		}
		storetest.MustImport(t, db, rs...)
		f := resources.Filter{AccountID: "acme", Page: 1, PageSize: 10, Tags: []string{"a", "b"},
			DirectoryPrefix: "/p", CreatedAfter: at(-1), CreatedBefore: at(100000)}
		before := mustList(t, db, f)
		if before.Total != 30 || len(before.Items) != 10 {
			t.Fatalf("before the writes: %d items, total %d; want 10 and 30", len(before.Items), before.Total)
		}
		var more []resources.Resource
		for i := range 2100 {
			more = append(more, storetest.NewResource("acme", 100+i, func(r *resources.Resource) {
				r.DirectoryPath = "/q"
				r.Tags = []string{"a", "b"}
			}))
		}
		storetest.MustImport(t, db, more...)
		after := mustList(t, db, f)
		if !slices.Equal(itemIDs(after), itemIDs(before)) || after.Total != before.Total {
			t.Errorf("after the writes: %v total %d; want %v total %d",
				itemIDs(after), after.Total, itemIDs(before), before.Total)
		}
	})
}
