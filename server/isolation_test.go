package server_test

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/re-factor/resources"
	"github.com/re-factor/resources/internal/testkit"
	"github.com/re-factor/resources/store"
	"github.com/re-factor/resources/store/storetest"
)

var isolationRounds = flag.Int("isolation.rounds", 60, "random filter combinations per account in TestTenantIsolation (CI's short form; try 2000 by hand)")

// Small alphabets make the accounts' data overlap in every field, so a
// filter that forgot the tenant would find the other accounts' rows.
var (
	isoAccounts = []string{"alpha", "beta", "gamma"}
	isoDirs     = []string{"/", "/a", "/a/b", "/a%", "/a_b", "/b", "/b/a"}
	isoTags     = []string{"red", "green", "blue", "Red", "x"}
)

// isoData seeds every account with the same shapes of random resources and
// returns them by account.
func isoData(t *testing.T, db *store.DB, rng *rand.Rand, perAccount int) map[string][]resources.Resource {
	t.Helper()
	byAccount := map[string][]resources.Resource{}
	for i := range perAccount * len(isoAccounts) {
		account := isoAccounts[i%len(isoAccounts)]
		var tags []string
		for _, tag := range isoTags {
			if rng.IntN(3) == 0 {
				tags = append(tags, tag)
			}
		}
		slices.Sort(tags)
		// Few distinct times, so ties on created_at are common.
		created := storetest.BaseTime.Add(time.Duration(rng.IntN(20)) * time.Hour)
		r := storetest.NewResource(account, i, storetest.In(isoDirs[rng.IntN(len(isoDirs))]),
			storetest.Tagged(slices.Compact(tags)...), storetest.CreatedAt(created))
		byAccount[account] = append(byAccount[account], r)
	}
	for _, rs := range byAccount {
		storetest.MustImport(t, db, rs...)
	}
	return byAccount
}

type isoFilter struct {
	tags          []string
	prefix        string
	after, before *time.Time
	sort          string
	pageSize      int
}

func randomFilter(rng *rand.Rand) isoFilter {
	var f isoFilter
	for _, tag := range isoTags {
		if rng.IntN(4) == 0 {
			f.tags = append(f.tags, tag)
		}
	}
	if rng.IntN(2) == 0 {
		d := isoDirs[rng.IntN(len(isoDirs))]
		f.prefix = d[:1+rng.IntN(len(d))]
	}
	at := func() *time.Time {
		v := storetest.BaseTime.Add(time.Duration(rng.IntN(22)-1) * time.Hour)
		return &v
	}
	if rng.IntN(3) == 0 {
		f.after = at()
	}
	if rng.IntN(3) == 0 {
		f.before = at()
	}
	f.sort = []string{"", "asc", "desc"}[rng.IntN(3)]
	f.pageSize = 1 + rng.IntN(7)
	return f
}

func (f isoFilter) query(page int) string {
	q := testkit.Query(f.filter())
	q.Set("page", fmt.Sprint(page))
	q.Set("page_size", fmt.Sprint(f.pageSize))
	if f.sort != "" {
		q.Set("sort", f.sort)
	}
	return q.Encode()
}

func (f isoFilter) filter() resources.Filter {
	return resources.Filter{Tags: f.tags, DirectoryPrefix: f.prefix, CreatedAfter: f.after, CreatedBefore: f.before}
}

// matches is the contract's filter, written plainly.
func (f isoFilter) matches(r resources.Resource) bool {
	return testkit.Matches(r, f.filter())
}

// TestTenantIsolation is a property over random data shared in shape by
// three accounts: for every filter combination and every page, a list
// holds only the caller's resources and its total counts only theirs; and
// every item route answers a foreign id exactly as it answers a missing one.
func TestTenantIsolation(t *testing.T) {
	seed := testkit.Seed(t)
	forEngine(t, func(t *testing.T, e *env) {
		rng := rand.New(rand.NewPCG(seed, 1))
		data := isoData(t, e.db, rng, 40)
		for _, account := range isoAccounts {
			tok := rwToken(t, account)
			for range *isolationRounds {
				checkListIsolation(t, e, tok, account, data[account], randomFilter(rng))
			}
			for _, other := range isoAccounts {
				if other != account {
					checkItemIsolation(t, e, tok, data[other][rng.IntN(len(data[other]))])
				}
			}
		}
	})
}

func checkListIsolation(t *testing.T, e *env, tok, account string, own []resources.Resource, f isoFilter) {
	t.Helper()
	want := map[string]bool{}
	for _, r := range own {
		if f.matches(r) {
			want[r.ID] = true
		}
	}
	seen := map[string]bool{}
	for page := 1; ; page++ {
		var body struct {
			Items []struct {
				ID        string `json:"id"`
				AccountID string `json:"account_id"`
			} `json:"items"`
			Total int `json:"total"`
		}
		r := e.get("/v1/resources?"+f.query(page), tok)
		if r.status != http.StatusOK {
			t.Fatalf("%s ?%s = %d %s", account, f.query(page), r.status, r.body)
		}
		r.json(t, &body)
		if body.Total != len(want) {
			t.Fatalf("%s ?%s: total %d, want %d (the account's own matches)", account, f.query(page), body.Total, len(want))
		}
		for _, it := range body.Items {
			if it.AccountID != account || !want[it.ID] || seen[it.ID] {
				t.Fatalf("%s ?%s: item %s of %q: foreign, unmatched or repeated", account, f.query(page), it.ID, it.AccountID)
			}
			seen[it.ID] = true
		}
		if len(body.Items) < f.pageSize {
			break
		}
	}
	if len(seen) != len(want) {
		t.Fatalf("%s %+v: pages held %d resources, want %d", account, f, len(seen), len(want))
	}
}

// checkItemIsolation sends every item route for a foreign resource and for
// an id that does not exist, and wants the same answer, the foreign
// resource untouched, and no timing difference to speak of.
func checkItemIsolation(t *testing.T, e *env, tok string, foreign resources.Resource) {
	t.Helper()
	missing := uuid.NewString()
	routes := []struct{ method, path string }{
		{http.MethodGet, "/v1/resource/%s"},
		{http.MethodGet, "/v1/resource/%s/content"},
		{http.MethodPut, "/v1/resource/%s"},
		{http.MethodDelete, "/v1/resource/%s"},
	}
	var foreignTimes, missingTimes []time.Duration
	for _, rt := range routes {
		send := func(id string) (response, time.Duration) {
			start := time.Now()
			if rt.method == http.MethodPut {
				r := e.send(rt.method, fmt.Sprintf(rt.path, id), tok, map[string]any{"name": "stolen.txt"})
				return r, time.Since(start)
			}
			r := e.do(rt.method, fmt.Sprintf(rt.path, id), tok, nil)
			return r, time.Since(start)
		}
		for range 3 {
			f, ft := send(foreign.ID)
			m, mt := send(missing)
			foreignTimes, missingTimes = append(foreignTimes, ft), append(missingTimes, mt)
			if f.status != http.StatusNotFound || m.status != http.StatusNotFound {
				t.Fatalf("%s %s: foreign %d, missing %d, want 404 for both", rt.method, rt.path, f.status, m.status)
			}
			if !bytes.Equal(f.body, m.body) || f.header.Get("Content-Type") != m.header.Get("Content-Type") {
				t.Fatalf("%s %s: foreign answers %q, missing %q: must be identical", rt.method, rt.path, f.body, m.body)
			}
		}
	}
	got, err := e.db.GetResource(t.Context(), foreign.AccountID, foreign.ID)
	if err != nil || got.Name != foreign.Name {
		t.Fatalf("foreign resource after the attempts: %+v, %v; want it untouched", got, err)
	}
	// Both answers come from one indexed lookup that finds nothing for the
	// caller; a foreign id must not take measurably longer.
	// Coarse on purpose: a timing class, not a benchmark, on a machine
	// other tests load (5x was seen from scheduling alone).
	fm, mm := median(foreignTimes), median(missingTimes)
	if fm > 10*mm+100*time.Millisecond {
		t.Errorf("foreign ids take %v (median), missing ones %v: the difference tells them apart", fm, mm)
	}
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
