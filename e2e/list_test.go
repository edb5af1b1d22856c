package e2e_test

import (
	"cmp"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/re-factor/resources/client"
)

const (
	account      = "e2e"       // the seeded account the list tests read
	otherAccount = "e2e-other" // a second tenant with three resources
	listPath     = "/v1/resources"
)

// filter is the oracle's copy of the list rules in CONTRACT.md, section 3.
type filter struct {
	tags          []string
	prefix        string
	after, before time.Time
	asc           bool
}

func (f filter) ids(seed []seeded, acct string) []string {
	var rs []seeded
	for _, r := range seed {
		if r.AccountID != acct || !strings.HasPrefix(r.DirectoryPath, f.prefix) ||
			!f.after.IsZero() && !r.CreatedAt.After(f.after) ||
			!f.before.IsZero() && !r.CreatedAt.Before(f.before) {
			continue
		}
		if !containsAll(r.Tags, f.tags) {
			continue
		}
		rs = append(rs, r)
	}
	slices.SortFunc(rs, func(a, b seeded) int {
		c := cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
		if !f.asc {
			c = -c
		}
		return c
	})
	ids := make([]string, len(rs))
	for i, r := range rs {
		ids[i] = r.ID
	}
	return ids
}

func containsAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

func ptr[T any](v T) *T { return &v }

func TestListFilters(t *testing.T) {
	requireDeclared(t, http.MethodGet, listPath, http.StatusOK)
	seed := loadSeed(t)
	plus2 := time.FixedZone("+02:00", 2*60*60)
	jan3 := time.Date(2024, 1, 3, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		params client.ListResourcesParams
		want   filter
	}{
		{"defaults: newest first", client.ListResourcesParams{}, filter{}},
		{"oldest first", client.ListResourcesParams{Sort: ptr(client.ListResourcesParamsSortAsc)}, filter{asc: true}},
		{"all of two tags", client.ListResourcesParams{Tags: ptr("alpha,beta")}, filter{tags: []string{"alpha", "beta"}}},
		{"tags trimmed, empty pieces dropped", client.ListResourcesParams{Tags: ptr(" beta ,, alpha,")}, filter{tags: []string{"alpha", "beta"}}},
		{"tag with a space", client.ListResourcesParams{Tags: ptr("q 1")}, filter{tags: []string{"q 1"}}},
		{"directory prefix", client.ListResourcesParams{DirectoryPrefix: ptr("/docs")}, filter{prefix: "/docs"}},
		{"prefix with % and _ is literal", client.ListResourcesParams{DirectoryPrefix: ptr("/odd/100%_")}, filter{prefix: "/odd/100%_"}},
		{"created_after with a + offset", client.ListResourcesParams{CreatedAfter: ptr(jan3.In(plus2))}, filter{after: jan3}},
		{"created_before, ascending", client.ListResourcesParams{CreatedBefore: ptr(jan3), Sort: ptr(client.ListResourcesParamsSortAsc)},
			filter{before: jan3, asc: true}},
		{"window with no room", client.ListResourcesParams{CreatedAfter: ptr(jan3), CreatedBefore: ptr(jan3)}, filter{after: jan3, before: jan3}},
	}
	c := newClient(t, mustToken(t, account, "resources:read"))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := c.ListResourcesWithResponse(t.Context(), &tc.params)
			if err != nil {
				t.Fatal(err)
			}
			if resp.JSON200 == nil {
				t.Fatalf("status %d: %s", resp.StatusCode(), resp.Body)
			}
			want := tc.want.ids(seed, account)
			got := resp.JSON200
			if got.Total != len(want) || got.Page != 1 || got.PageSize != 20 {
				t.Errorf("total, page, page_size = %d, %d, %d; want %d, 1, 20", got.Total, got.Page, got.PageSize, len(want))
			}
			if ids := itemIDs(got.Items); !slices.Equal(ids, want[:min(20, len(want))]) {
				t.Errorf("ids =\n%v\nwant\n%v", ids, want[:min(20, len(want))])
			}
		})
	}
}

func itemIDs(items []client.Resource) []string {
	ids := make([]string, len(items))
	for i, r := range items {
		ids[i] = r.Id.String()
	}
	return ids
}

// TestListPaging walks every page and gets each resource once, in order,
// ties in created_at included.
func TestListPaging(t *testing.T) {
	requireDeclared(t, http.MethodGet, listPath, http.StatusOK)
	want := filter{}.ids(loadSeed(t), account)
	c := newClient(t, mustToken(t, account, "resources:read"))
	var got []string
	for page := 1; ; page++ {
		resp, err := c.ListResourcesWithResponse(t.Context(), &client.ListResourcesParams{Page: ptr(page), PageSize: ptr(7)})
		if err != nil {
			t.Fatal(err)
		}
		if resp.JSON200 == nil {
			t.Fatalf("page %d: status %d: %s", page, resp.StatusCode(), resp.Body)
		}
		if resp.JSON200.Total != len(want) || resp.JSON200.Page != page {
			t.Fatalf("page %d: total %d, page %d; want %d, %d", page, resp.JSON200.Total, resp.JSON200.Page, len(want), page)
		}
		if len(resp.JSON200.Items) == 0 {
			break
		}
		got = append(got, itemIDs(resp.JSON200.Items)...)
	}
	if !slices.Equal(got, want) {
		t.Errorf("walked\n%v\nwant\n%v", got, want)
	}
}

// TestListCursorWalk follows next_cursor instead of page numbers, with a
// filter and ascending order, and must see the same resources in order.
func TestListCursorWalk(t *testing.T) {
	requireDeclared(t, http.MethodGet, listPath, http.StatusOK)
	requireParam(t, http.MethodGet, listPath, "cursor")
	want := filter{tags: []string{"alpha"}, asc: true}.ids(loadSeed(t), account)
	c := newClient(t, mustToken(t, account, "resources:read"))
	params := client.ListResourcesParams{Tags: ptr("alpha"), Sort: ptr(client.ListResourcesParamsSortAsc), PageSize: ptr(3)}
	var got []string
	for range len(want) + 1 {
		resp, err := c.ListResourcesWithResponse(t.Context(), &params)
		if err != nil {
			t.Fatal(err)
		}
		if resp.JSON200 == nil {
			t.Fatalf("status %d: %s", resp.StatusCode(), resp.Body)
		}
		got = append(got, itemIDs(resp.JSON200.Items)...)
		if resp.JSON200.NextCursor == nil {
			break
		}
		params.Cursor = resp.JSON200.NextCursor
	}
	if !slices.Equal(got, want) {
		t.Errorf("walked\n%v\nwant\n%v", got, want)
	}
}

func TestListTenancy(t *testing.T) {
	requireDeclared(t, http.MethodGet, listPath, http.StatusOK)
	want := filter{}.ids(loadSeed(t), otherAccount)
	resp, err := newClient(t, mustToken(t, otherAccount, "resources:read")).ListResourcesWithResponse(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.JSON200 == nil || !slices.Equal(itemIDs(resp.JSON200.Items), want) {
		t.Errorf("status %d, body %s; want ids %v", resp.StatusCode(), resp.Body, want)
	}
}

// TestListErrors checks the statuses and {"error"} bodies a client sees.
func TestListErrors(t *testing.T) {
	read := mustToken(t, account, "resources:read")
	tests := []struct {
		name     string
		token    string
		params   client.ListResourcesParams
		status   int
		contains string
	}{
		{"page_size above 100", read, client.ListResourcesParams{PageSize: ptr(101)}, http.StatusBadRequest, "page_size"},
		{"page 0", read, client.ListResourcesParams{Page: ptr(0)}, http.StatusBadRequest, "page"},
		{"no token", "", client.ListResourcesParams{}, http.StatusUnauthorized, ""},
		{"bad signature", read[:len(read)-4] + "AAAA", client.ListResourcesParams{}, http.StatusUnauthorized, ""},
		{"no read scope", mustToken(t, account, "resources:write"), client.ListResourcesParams{}, http.StatusForbidden, "resources:read"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			requireDeclared(t, http.MethodGet, listPath, tc.status)
			resp, err := newClient(t, tc.token).ListResourcesWithResponse(t.Context(), &tc.params)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode() != tc.status {
				t.Fatalf("status = %d, want %d: %s", resp.StatusCode(), tc.status, resp.Body)
			}
			msg := errorMessage(t, resp.Body)
			if !strings.Contains(msg, tc.contains) {
				t.Errorf("error %q does not mention %q", msg, tc.contains)
			}
			if tc.status == http.StatusUnauthorized && resp.HTTPResponse.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without a WWW-Authenticate challenge")
			}
		})
	}
}
