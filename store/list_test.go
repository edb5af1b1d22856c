package store_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/re-factor/resources"
	"github.com/re-factor/resources/store"
	"github.com/re-factor/resources/store/storetest"
)

// listFixture is one account's resources, named by their n: resource n was
// created at storetest.BaseTime plus n seconds.
var listFixture = []struct {
	n    int
	dir  string
	tags []string
}{
	{1, "/docs", []string{"alpha", "beta"}},
	{2, "/docs/sub", []string{"alpha"}},
	{3, "/Docs", []string{"Alpha"}},
	{4, "/100%", nil},
	{5, "/a_b", nil},
	{6, "/axb", nil},
	{7, `/back\slash`, nil},
	{8, "/star*", nil},
	{9, "/starry", nil},
	{10, "/ünïcode", nil},
	{11, "/ÜNÏCODE", nil},
	{12, "/¿q", nil}, // "¿" ends in the byte 0xbf
	{13, "/À", nil},  // the first character after "¿" in byte order
	{14, "/docs", []string{"beta", "gamma"}},
}

// seedList stores listFixture in account "acme" and, under the same paths
// and tags, in account "other". It returns acme's ids by n.
func seedList(t *testing.T, db *store.DB) map[int]string {
	ids := map[int]string{}
	var rs []resources.Resource
	for _, f := range listFixture {
		acme := storetest.NewResource("acme", f.n, storetest.In(f.dir), storetest.Tagged(f.tags...))
		other := storetest.NewResource("other", f.n, storetest.In(f.dir), storetest.Tagged(f.tags...))
		ids[f.n] = acme.ID
		rs = append(rs, acme, other)
	}
	storetest.MustImport(t, db, rs...)
	return ids
}

func at(n int) *time.Time {
	t := storetest.BaseTime.Add(time.Duration(n) * time.Second)
	return &t
}

func TestListResourcesFilters(t *testing.T) {
	half := func(n int) *time.Time { t := at(n).Add(500 * time.Nanosecond); return &t }
	all := []int{14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1}
	tests := []struct {
		name   string
		filter resources.Filter // AccountID, Page and PageSize filled in
		want   []int            // resources by n, in order
	}{
		{"no filter", resources.Filter{}, all},
		{"ascending", resources.Filter{Ascending: true}, []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}},
		{"one tag", resources.Filter{Tags: []string{"alpha"}}, []int{2, 1}},
		{"all tags", resources.Filter{Tags: []string{"alpha", "beta"}}, []int{1}},
		{"tags case-sensitive", resources.Filter{Tags: []string{"Alpha"}}, []int{3}},
		{"missing tag", resources.Filter{Tags: []string{"alpha", "nope"}}, nil},
		{"repeated tag", resources.Filter{Tags: []string{"beta", "beta"}}, []int{14, 1}},
		{"tag with NUL", resources.Filter{Tags: []string{"a\x00"}}, nil},
		{"prefix", resources.Filter{DirectoryPrefix: "/docs"}, []int{14, 2, 1}},
		{"prefix is a string prefix", resources.Filter{DirectoryPrefix: "/doc"}, []int{14, 2, 1}},
		{"prefix case-sensitive", resources.Filter{DirectoryPrefix: "/Docs"}, []int{3}},
		{"prefix root", resources.Filter{DirectoryPrefix: "/"}, all},
		{"prefix %", resources.Filter{DirectoryPrefix: "/100%"}, []int{4}},
		{"prefix % alone", resources.Filter{DirectoryPrefix: "%"}, nil},
		{"prefix _", resources.Filter{DirectoryPrefix: "/a_"}, []int{5}},
		{"prefix backslash", resources.Filter{DirectoryPrefix: `/back\`}, []int{7}},
		{"prefix *", resources.Filter{DirectoryPrefix: "/star*"}, []int{8}},
		{"prefix unicode", resources.Filter{DirectoryPrefix: "/ü"}, []int{10}},
		{"prefix unicode case", resources.Filter{DirectoryPrefix: "/Ü"}, []int{11}},
		{"prefix ending in 0xbf", resources.Filter{DirectoryPrefix: "/¿"}, []int{12}},
		{"prefix invalid UTF-8", resources.Filter{DirectoryPrefix: "/\xc3"}, nil},
		{"created after is strict", resources.Filter{CreatedAfter: at(12)}, []int{14, 13}},
		{"created before is strict", resources.Filter{CreatedBefore: at(3)}, []int{2, 1}},
		{"created between", resources.Filter{CreatedAfter: at(1), CreatedBefore: at(4)}, []int{3, 2}},
		{"created after, sub-microsecond", resources.Filter{CreatedAfter: half(12)}, []int{14, 13}},
		{"created before, sub-microsecond", resources.Filter{CreatedBefore: half(2)}, []int{2, 1}},
		{"after equals before", resources.Filter{CreatedAfter: at(3), CreatedBefore: at(3)}, nil},
		{"after later than before", resources.Filter{CreatedAfter: at(5), CreatedBefore: at(3)}, nil},
		{"combined", resources.Filter{Tags: []string{"alpha"}, DirectoryPrefix: "/docs", CreatedAfter: at(1)}, []int{2}},
		{"combined ascending", resources.Filter{Tags: []string{"beta"}, DirectoryPrefix: "/docs", Ascending: true}, []int{1, 14}},
		{"tags in a window", resources.Filter{Tags: []string{"alpha", "beta"}, CreatedBefore: at(2)}, []int{1}},
		{"tags after the window", resources.Filter{Tags: []string{"alpha", "beta"}, CreatedAfter: at(1)}, nil},
		{"tags, prefix and window", resources.Filter{Tags: []string{"beta", "gamma"}, DirectoryPrefix: "/docs",
			CreatedAfter: at(13), CreatedBefore: at(15)}, []int{14}},
		{"tags and a prefix they miss", resources.Filter{Tags: []string{"alpha", "beta"}, DirectoryPrefix: "/docs/"}, nil},
	}
	storetest.EachSetup(t, func(t *testing.T, db *store.DB) {
		ids := seedList(t, db)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				f := tt.filter
				f.AccountID, f.Page, f.PageSize = "acme", 1, resources.MaxPageSize
				page := mustList(t, db, f)
				want := make([]string, len(tt.want))
				for i, n := range tt.want {
					want[i] = ids[n]
				}
				if got := itemIDs(page); !slices.Equal(got, want) {
					t.Errorf("items = %v, want %v", names(page), tt.want)
				}
				if page.Total != int64(len(tt.want)) {
					t.Errorf("total = %d, want %d", page.Total, len(tt.want))
				}
			})
		}
	})
}

func itemIDs(p resources.Page) []string {
	ids := make([]string, len(p.Items))
	for i, r := range p.Items {
		ids[i] = r.ID
	}
	return ids
}

// names shows items by the n in their names, for failure messages.
func names(p resources.Page) []string {
	var s []string
	for _, r := range p.Items {
		s = append(s, strings.TrimSuffix(strings.TrimPrefix(r.Name, "file-"), ".txt"))
	}
	return s
}

func TestListResourcesTenants(t *testing.T) {
	storetest.EachSetup(t, func(t *testing.T, db *store.DB) {
		seedList(t, db)
		storetest.MustImport(t, db, storetest.NewResource("other", 99, storetest.Tagged("alpha")))
		tests := []struct {
			account   string
			tags      []string
			wantTotal int64
		}{
			{"acme", nil, 14},
			{"other", nil, 15},
			{"acme", []string{"alpha"}, 2},
			{"other", []string{"alpha"}, 3},
			{"nobody", nil, 0},
			{"ACME", nil, 0},
		}
		for _, tt := range tests {
			t.Run(fmt.Sprint(tt.account, tt.tags), func(t *testing.T) {
				page := mustList(t, db, resources.Filter{AccountID: tt.account, Tags: tt.tags, Page: 1, PageSize: 100})
				if page.Total != tt.wantTotal || int64(len(page.Items)) != tt.wantTotal {
					t.Errorf("total %d, %d items; want %d", page.Total, len(page.Items), tt.wantTotal)
				}
				if page.Items == nil {
					t.Error("items are nil, want an empty slice")
				}
				for _, r := range page.Items {
					if r.AccountID != tt.account {
						t.Errorf("item %s belongs to %q", r.ID, r.AccountID)
					}
				}
			})
		}
	})
}

func TestListResourcesPagination(t *testing.T) {
	const count = 23
	storetest.EachSetup(t, func(t *testing.T, db *store.DB) {
		rs := mustSeedTies(t, db, count)
		asc := make([]string, count)
		for i, r := range rs {
			asc[i] = r.ID
		}
		desc := slices.Clone(asc)
		slices.Reverse(desc)

		for _, ascending := range []bool{true, false} {
			want := desc
			if ascending {
				want = asc
			}
			for _, size := range []int64{1, 4, 7, 23, 100} {
				t.Run(fmt.Sprintf("ascending=%v/size=%d", ascending, size), func(t *testing.T) {
					f := resources.Filter{AccountID: "acme", Ascending: ascending, PageSize: size}
					var got []string
					pages := (int64(count) + size - 1) / size
					for f.Page = 1; f.Page <= pages+1; f.Page++ {
						page := mustList(t, db, f)
						if page.Total != count {
							t.Errorf("page %d: total = %d, want %d", f.Page, page.Total, count)
						}
						got = append(got, itemIDs(page)...)
					}
					if !slices.Equal(got, want) {
						t.Errorf("pages joined = %v\nwant %v", got, want)
					}
				})
			}
		}
		for _, f := range []resources.Filter{
			{Page: 4, PageSize: 10},
			{Page: math.MaxInt64, PageSize: 1},
			{Page: math.MaxInt64, PageSize: 100},
			{Page: math.MaxInt64 / 100, PageSize: 100},
		} {
			t.Run(fmt.Sprintf("past the end/page=%d/size=%d", f.Page, f.PageSize), func(t *testing.T) {
				f.AccountID = "acme"
				page := mustList(t, db, f)
				if page.Items == nil || len(page.Items) != 0 || page.Total != count {
					t.Errorf("got %d items (nil: %v), total %d; want [] and %d",
						len(page.Items), page.Items == nil, page.Total, count)
				}
			})
		}
	})
}

// mustSeedTies stores n resources of account acme, three per created_at so
// that ties are broken by id, and returns them in ascending list order.
func mustSeedTies(t *testing.T, db *store.DB, n int) []resources.Resource {
	t.Helper()
	var rs []resources.Resource
	for i := range n {
		rs = append(rs, storetest.NewResource("acme", i, storetest.CreatedAt(*at(i / 3))))
	}
	storetest.MustImport(t, db, rs...)
	slices.SortFunc(rs, func(a, b resources.Resource) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})
	return rs
}

func mustList(t *testing.T, db *store.DB, f resources.Filter) resources.Page {
	t.Helper()
	page, err := db.ListResources(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	return page
}

func TestListResourcesItems(t *testing.T) {
	s := func(v string) *string { return &v }
	full := storetest.NewResource("acme", 1, storetest.Tagged("zeta", "Beta", "alpha", "ä"), func(r *resources.Resource) {
		r.OriginalURI = s("https://example.com/a.txt")
		r.ExternalID = s("ext-1")
		r.ExternalStorageType = s("gcs")
		r.CreatedBy = s("user-1")
		// Spaces and an escape in strings, which compacting jsonb's
		// output must keep; keys in jsonb's order.
		r.Metadata = []byte(`{"k":"v w","n":[1,2],"o":{"t":" a\tb "}}`)
		r.SizeBytes = 1 << 40
		r.CreatedAt = time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.UTC)
		// The last microsecond the API allows, and below the first: times
		// travel as Unix microseconds, which must stay exact at both ends.
		r.UpdatedAt = time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)
	})
	bare := storetest.NewResource("acme", 2, storetest.CreatedAt(time.Date(1, 1, 1, 0, 0, 0, 1000, time.UTC)))
	storetest.EachSetup(t, func(t *testing.T, db *store.DB) {
		storetest.MustImport(t, db, full, bare)
		page := mustList(t, db, resources.Filter{AccountID: "acme", Ascending: true, Page: 1, PageSize: 10})
		wantFull := full
		wantFull.Tags = []string{"Beta", "alpha", "zeta", "ä"}      // byte order
		for i, want := range []resources.Resource{bare, wantFull} { // bare is older
			if i >= len(page.Items) {
				t.Fatalf("got %d items, want 2", len(page.Items))
			}
			if got := page.Items[i]; !reflect.DeepEqual(got, want) {
				t.Errorf("item %d:\n got %+v\nwant %+v", i, got, want)
			}
		}
	})
}

func TestListResourcesInvalidFilter(t *testing.T) {
	tests := []struct {
		filter    resources.Filter
		wantField string
	}{
		{resources.Filter{Page: 1, PageSize: 1}, "account_id"},
		{resources.Filter{AccountID: "a", Page: 0, PageSize: 1}, "page"},
		{resources.Filter{AccountID: "a", Page: 1, PageSize: 0}, "page_size"},
		{resources.Filter{AccountID: "a", Page: 1, PageSize: 101}, "page_size"},
	}
	db := storetest.Open(t, store.SQLite)
	for _, tt := range tests {
		_, err := db.ListResources(context.Background(), tt.filter)
		var verr *resources.Error
		if !errors.As(err, &verr) || verr.Field != tt.wantField || !errors.Is(err, resources.ErrInvalid) {
			t.Errorf("ListResources(%+v) = %v, want an ErrInvalid error for %s", tt.filter, err, tt.wantField)
		}
	}
}
