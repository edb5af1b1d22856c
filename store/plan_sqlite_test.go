package store_test

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/re-factor/resources"
	"github.com/re-factor/resources/store"
	"github.com/re-factor/resources/store/storetest"
)

// TestSQLiteListPlans checks the plans of the SQLite list queries whose
// shape the SQL fixes, since SQLite's planner chose worse ones once ANALYZE
// had sampled the tables (stat4): a two-tag page that sorted the rarer
// tag's whole range, counts that probed a key per row of a common tag, and
// a prefix count that fetched every row of its window. Each plan is checked
// before and after ANALYZE, on a skewed dataset: one account of 6,000
// resources, "t000" on half of them, "t001" on a quarter, "t199" on 30.
func TestSQLiteListPlans(t *testing.T) {
	ctx := context.Background()
	url := storetest.URL(t, store.SQLite)
	// Loading 6,000 rows may outlast the default statement timeout under
	// -race on a busy machine; the plans are what is tested.
	db := storetest.OpenURL(t, url, store.WithStatementTimeout(time.Minute))
	var rs []resources.Resource
	for n := range 6000 {
		tags := []string{fmt.Sprintf("t%03d", 2+n%150)}
		if n%2 == 0 {
			tags = append(tags, "t000")
		}
		if n%4 == 1 {
			tags = append(tags, "t001")
		}
		if n%200 == 3 {
			tags = append(tags, "t199")
		}
		rs = append(rs, storetest.NewResource("big", n*3000, storetest.Tagged(tags...),
			storetest.In(fmt.Sprintf("/d%d/e%d", n%7, n%11))))
	}
	storetest.MustImport(t, db, rs...)
	raw, err := sql.Open("sqlite", strings.TrimPrefix(url, "sqlite:"))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()

	after := storetest.BaseTime.Add(4000 * time.Hour)
	before := after.Add(2000 * time.Hour)
	const (
		sorted   = "USE TEMP B-TREE FOR ORDER BY"
		merge    = "MERGE (INTERSECT)"
		path     = "SEARCH r USING COVERING INDEX resources_path_created_idx"
		order    = "resources_created_idx"
		tagsIdx  = "SEARCH g0 USING COVERING INDEX resource_tags_tag_idx"
		tagPath  = "SEARCH g0 USING COVERING INDEX resource_tags_path_idx (account_id=? AND tag=? AND path_key>? AND path_key<?)"
		tagProbe = "SEARCH g USING COVERING INDEX resource_tags_tag_idx (account_id=? AND tag=? AND created_at=? AND resource_id=?)"
	)
	shapes := []struct {
		name      string
		f         resources.Filter
		want, not []string // lines the plan must have, text it must not
		walk      bool     // the plan is of the Walk, which then stands alone
	}{
		{"two common tags", resources.Filter{Tags: []string{"t000", "t001"}},
			[]string{tagsIdx, merge}, []string{sorted}, false},
		{"common and rare tag", resources.Filter{Tags: []string{"t000", "t199"}},
			[]string{tagsIdx, merge}, []string{sorted}, false},
		{"two tags in a window", resources.Filter{Tags: []string{"t000", "t001"}, CreatedAfter: &after, CreatedBefore: &before},
			[]string{tagsIdx, merge}, []string{sorted}, false},
		{"tag, prefix and window", resources.Filter{Tags: []string{"t000"}, DirectoryPrefix: "/d1",
			CreatedAfter: &after, CreatedBefore: &before}, []string{tagsIdx, tagPath}, []string{sorted, order, path}, false},
		// The total counts the rarest tag's range under the prefix.
		{"two tags and a prefix", resources.Filter{Tags: []string{"t000", "t001"}, DirectoryPrefix: "/d1"},
			[]string{tagsIdx, tagPath}, []string{sorted, order, path}, false},
		// A prefix of an account's seventh walks the order index, whose
		// entries carry the path, rather than sort its 857 entries; one
		// of 78 is read through the path index and sorted (orderFirst).
		{"a wide prefix", resources.Filter{DirectoryPrefix: "/d1"},
			[]string{"SEARCH r USING COVERING INDEX " + order}, []string{sorted}, false},
		{"a short prefix", resources.Filter{DirectoryPrefix: "/d1/e1"},
			[]string{path}, []string{order}, false},
		// A prefix of 78 resources: the rarest tag's range under it is read
		// whole and each entry probed for the other tag by key
		// (prefixFirst), where the walk of t001 would read all its 1,500
		// entries for a page of 20.
		{"two tags and a short prefix", resources.Filter{Tags: []string{"t000", "t001"}, DirectoryPrefix: "/d1/e1"},
			[]string{tagPath, tagProbe}, []string{tagsIdx, path, order}, true},
		{"a tag, a short prefix and a window", resources.Filter{Tags: []string{"t000"}, DirectoryPrefix: "/d1/e1",
			CreatedAfter: &after, CreatedBefore: &before}, []string{tagPath}, []string{tagsIdx, path, order, tagProbe}, true},
	}
	// SQLite walks the first tag of the join and probes the rest, so that
	// must be the rarest whatever the byte order: t001 (a quarter) before
	// t000 (a half), t199 (30) before both, a tag nobody has before all.
	for _, c := range []struct {
		tags []string
		want string
	}{
		{[]string{"t000", "t001"}, "t001"},
		{[]string{"t001", "t000"}, "t001"},
		{[]string{"t000", "t199"}, "t199"},
		{[]string{"t000", "t001", "t199"}, "t199"},
		{[]string{"t199", "t000", "zz-none"}, "zz-none"},
	} {
		for _, prefix := range []string{"", "/d1", "/d1/e1"} {
			f := resources.Filter{AccountID: "big", Page: 1, PageSize: 20, Tags: c.tags, DirectoryPrefix: prefix}
			q, err := db.ListQuery(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			if got := walkedTag(t, q); got != c.want {
				t.Errorf("tags %q, prefix %q: walks %v, want the rarest, %s", c.tags, prefix, got, c.want)
			}
			// The order is the walk's alone: the page is the same as the
			// tags' byte order gave.
			page := mustList(t, db, f)
			if got, want := ids(page.Items), firstPage(rs, f); !slices.Equal(got, want) {
				t.Errorf("tags %q, prefix %q: page %v, want %v", c.tags, prefix, got, want)
			}
		}
	}

	// At 1M rows SQLite's planner sorted a wide prefix's range where the
	// walk of the order index reads a page's worth, and walked a window
	// of the order index for a short prefix (orderFirst): the index that
	// reads less is named, with a window or without.
	for _, c := range []struct {
		prefix string
		window bool
		index  string
	}{{"/d1", false, order}, {"/d1", true, order}, {"/d1/e1", false, "resources_path_created_idx"},
		{"/d1/e1", true, "resources_path_created_idx"}} {
		f := resources.Filter{AccountID: "big", Page: 1, PageSize: 20, DirectoryPrefix: c.prefix}
		if c.window {
			f.CreatedAfter, f.CreatedBefore = &after, &before
		}
		q, err := db.ListQuery(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(q.SQL, "INDEXED BY "+c.index) {
			t.Errorf("prefix %q, window %t: not read through %s:\n%s", c.prefix, c.window, c.index, q.SQL)
		}
		if got, want := ids(mustList(t, db, f).Items), firstPage(rs, f); !slices.Equal(got, want) {
			t.Errorf("prefix %q, window %t: page %v, want %v", c.prefix, c.window, got, want)
		}
	}

	for _, analysed := range []bool{false, true} {
		if analysed {
			if _, err := raw.ExecContext(ctx, "ANALYZE"); err != nil {
				t.Fatal(err)
			}
		}
		for _, sh := range shapes {
			t.Run(fmt.Sprintf("%s/analysed=%v", sh.name, analysed), func(t *testing.T) {
				f := sh.f
				f.AccountID, f.Page, f.PageSize = "big", 1, 20
				q, err := db.ListQuery(ctx, f)
				if err != nil {
					t.Fatal(err)
				}
				query, args := q.SQL, q.Args
				if sh.walk {
					if q.Walk == "" || !q.WalkStands {
						t.Fatalf("no Walk that stands alone (%t):\n%s", q.WalkStands, q.Walk)
					}
					query, args = q.Walk, q.WalkArgs
				}
				plan := explainSQLite(t, raw, query, args)
				if sh.walk {
					// The statement that stands: its page must be right too.
					if got, want := ids(mustList(t, db, f).Items), firstPage(rs, f); !slices.Equal(got, want) {
						t.Errorf("page %v, want %v", got, want)
					}
				}
				for _, w := range sh.want {
					if !strings.Contains(plan, w) {
						t.Errorf("plan lacks %q:\n%s", w, plan)
					}
				}
				for _, n := range sh.not {
					if strings.Contains(plan, n) {
						t.Errorf("plan has %q:\n%s", n, plan)
					}
				}
			})
		}
	}
}

// firstPage returns the ids of the first page of rs that f lists, newest
// first, as ListResources orders them.
func firstPage(rs []resources.Resource, f resources.Filter) []string {
	var match []resources.Resource
	for _, r := range rs {
		if r.AccountID == f.AccountID && strings.HasPrefix(r.DirectoryPath, f.DirectoryPrefix) &&
			(f.CreatedAfter == nil || r.CreatedAt.After(*f.CreatedAfter)) &&
			(f.CreatedBefore == nil || r.CreatedAt.Before(*f.CreatedBefore)) &&
			!slices.ContainsFunc(f.Tags, func(t string) bool { return !slices.Contains(r.Tags, t) }) {
			match = append(match, r)
		}
	}
	slices.SortFunc(match, func(a, b resources.Resource) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), strings.Compare(b.ID, a.ID))
	})
	return ids(match[:min(len(match), int(f.PageSize))])
}

func ids(rs []resources.Resource) []string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = r.ID
	}
	return s
}

// walkedTag returns the tag whose range q walks: the value of g0.tag, the
// outer table of SQLite's fixed join order.
func walkedTag(t *testing.T, q store.ListQuery) any {
	t.Helper()
	m := regexp.MustCompile(`g0\.tag = \?(\d+)`).FindStringSubmatch(q.SQL)
	if m == nil {
		t.Fatalf("no g0.tag in\n%s", q.SQL)
	}
	n, _ := strconv.Atoi(m[1])
	return q.Args[n-1]
}

// explainSQLite returns the lines of EXPLAIN QUERY PLAN of query, one a node.
func explainSQLite(t *testing.T, raw *sql.DB, query string, args []any) string {
	t.Helper()
	rows, err := raw.Query("EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%d %d %s\n", id, parent, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
