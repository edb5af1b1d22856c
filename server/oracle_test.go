package server_test

import (
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/re-factor/resources"
)

// The oracle test compares the server's list with a plain implementation of
// the contract over random data chosen to break naive SQL: ties in
// created_at, LIKE wildcards and unicode in paths, tags differing by case.

var (
	oracleAccounts = []string{"acme", "globex", "initech"}
	oracleDirs     = []string{"/", "/a", "/a/b", "/a_b", "/a%b", `/a\b`, "/A", "/a/b/c", "/é", "/é/ü", "/100%", "/x*y", "/a b"}
	oracleTags     = []string{"red", "Red", "RED", "blue", "green", "été", "a_b", "a%b", "x"}
	oracleZones    = []*time.Location{time.UTC, time.FixedZone("", 2*3600), time.FixedZone("", -5*3600-1800)}
)

func oracleDataset(rng *rand.Rand, n int) []resources.Resource {
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	out := make([]resources.Resource, 0, n)
	used := map[string]bool{}
	for len(out) < n {
		account := oracleAccounts[rng.IntN(len(oracleAccounts))]
		dir := oracleDirs[rng.IntN(len(oracleDirs))]
		name := fmt.Sprintf("f%d", rng.IntN(n*4))
		if used[account+dir+"/"+name] {
			continue
		}
		used[account+dir+"/"+name] = true
		// Few distinct instants, so ties in created_at are common.
		created := base.Add(time.Duration(rng.IntN(40)) * time.Hour).Add(time.Duration(rng.IntN(3)) * time.Microsecond)
		var tags []string
		for range rng.IntN(4) {
			tags = append(tags, oracleTags[rng.IntN(len(oracleTags))])
		}
		slices.Sort(tags)
		out = append(out, newResource(account, dir, name, created, slices.Compact(tags)...))
	}
	return out
}

type oracleQuery struct {
	account       string
	tags          []string
	prefix        string
	after, before *time.Time
	asc           bool
	page, size    int
}

func randomQuery(rng *rand.Rand, data []resources.Resource) oracleQuery {
	q := oracleQuery{account: oracleAccounts[rng.IntN(len(oracleAccounts))], page: 1 + rng.IntN(4), size: 1 + rng.IntN(12), asc: rng.IntN(2) == 0}
	for range rng.IntN(3) {
		q.tags = append(q.tags, oracleTags[rng.IntN(len(oracleTags))])
	}
	if rng.IntN(2) == 0 {
		q.prefix = runePrefix(oracleDirs[rng.IntN(len(oracleDirs))], rng)
	}
	pick := func() *time.Time {
		t := data[rng.IntN(len(data))].CreatedAt.Add(time.Duration(rng.IntN(3)-1) * time.Microsecond)
		return &t
	}
	if rng.IntN(3) == 0 {
		q.after = pick()
	}
	if rng.IntN(3) == 0 {
		q.before = pick()
	}
	return q
}

func runePrefix(s string, rng *rand.Rand) string {
	n := utf8.RuneCountInString(s)
	return string([]rune(s)[:1+rng.IntN(n)])
}

// encode writes the query the way different clients would, including an
// unencoded "+" offset.
func (q oracleQuery) encode(rng *rand.Rand) string {
	v := []string{fmt.Sprintf("page=%d", q.page), fmt.Sprintf("page_size=%d", q.size)}
	if q.asc {
		v = append(v, "sort=asc")
	} else if rng.IntN(2) == 0 {
		v = append(v, "sort=desc")
	}
	if q.tags != nil {
		v = append(v, "tags="+url.QueryEscape(" "+strings.Join(q.tags, " , ")+","))
	}
	if q.prefix != "" {
		v = append(v, "directory_prefix="+url.QueryEscape(q.prefix))
	}
	for name, t := range map[string]*time.Time{"created_after": q.after, "created_before": q.before} {
		if t == nil {
			continue
		}
		s := t.In(oracleZones[rng.IntN(len(oracleZones))]).Format(time.RFC3339Nano)
		if rng.IntN(2) == 0 {
			s = strings.ReplaceAll(s, "+", "%2B")
		}
		v = append(v, name+"="+s)
	}
	rng.Shuffle(len(v), func(i, j int) { v[i], v[j] = v[j], v[i] })
	return strings.Join(v, "&")
}

// expect is the reference implementation: filter, sort, count, slice.
func (q oracleQuery) expect(data []resources.Resource) (ids []string, total int) {
	var match []resources.Resource
	for _, r := range data {
		if r.AccountID != q.account || !strings.HasPrefix(r.DirectoryPath, q.prefix) {
			continue
		}
		if q.after != nil && !r.CreatedAt.After(*q.after) || q.before != nil && !r.CreatedAt.Before(*q.before) {
			continue
		}
		if !hasAll(r.Tags, q.tags) {
			continue
		}
		match = append(match, r)
	}
	slices.SortFunc(match, func(a, b resources.Resource) int {
		c := a.CreatedAt.Compare(b.CreatedAt)
		if c == 0 {
			c = strings.Compare(a.ID, b.ID)
		}
		if !q.asc {
			c = -c
		}
		return c
	})
	start := min((q.page-1)*q.size, len(match))
	end := min(start+q.size, len(match))
	for _, r := range match[start:end] {
		ids = append(ids, r.ID)
	}
	return ids, len(match)
}

func hasAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

func TestListOracle(t *testing.T) {
	queries := 300
	if testing.Short() {
		queries = 60
	}
	forEngine(t, func(t *testing.T, e *env) {
		rng := rand.New(rand.NewPCG(7, 11))
		data := oracleDataset(rng, 400)
		seed(t, e.db, data...)
		tokens := map[string]string{}
		for _, a := range oracleAccounts {
			tokens[a] = readToken(t, a)
		}
		for range queries {
			q := randomQuery(rng, data)
			query := q.encode(rng)
			b := e.list(query, tokens[q.account])
			wantIDs, wantTotal := q.expect(data)
			var gotIDs []string
			for _, it := range b.Items {
				gotIDs = append(gotIDs, it["id"].(string))
			}
			if b.Total != wantTotal || !slices.Equal(gotIDs, wantIDs) {
				t.Fatalf("account %s ?%s\n got total %d ids %v\nwant total %d ids %v", q.account, query, b.Total, gotIDs, wantTotal, wantIDs)
			}
		}
	})
}
