package server_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestListCursor walks all pages through next_cursor and checks the page
// numbers, the order, and that an altered cursor is a 400 naming it.
func TestListCursor(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		for i := range 7 {
			seed(t, e.db, newResource("acct", "/", fmt.Sprintf("f%d", i), t0.Add(time.Duration(i)*time.Second)))
		}
		token := readToken(t, "acct")
		var got []string
		var last string
		query := "page_size=3&sort=asc"
		for want := 1; ; want++ {
			var b struct {
				listBody
				NextCursor string `json:"next_cursor"`
			}
			r := e.get("/v1/resources?"+query, token)
			if r.status != http.StatusOK {
				t.Fatalf("GET ?%s = %d %s", query, r.status, r.body)
			}
			r.json(t, &b)
			if b.Page != want || b.Total != 7 {
				t.Errorf("page, total = %d, %d; want %d, 7", b.Page, b.Total, want)
			}
			got = append(got, names(b.listBody)...)
			if b.NextCursor == "" {
				break
			}
			last = b.NextCursor
			query = "page_size=3&sort=asc&cursor=" + url.QueryEscape(b.NextCursor)
		}
		if want := []string{"f0", "f1", "f2", "f3", "f4", "f5", "f6"}; !slices.Equal(got, want) {
			t.Errorf("walk = %v, want %v", got, want)
		}
		for name, query := range map[string]string{
			"altered":        "page_size=3&sort=asc&cursor=" + url.QueryEscape(last[:len(last)-2]+"AA"),
			"other sort":     "page_size=3&cursor=" + url.QueryEscape(last),
			"other account":  "page_size=3&sort=asc&cursor=" + url.QueryEscape(last),
			"other pagesize": "page_size=4&sort=asc&cursor=" + url.QueryEscape(last),
		} {
			token := token
			if name == "other account" {
				token = readToken(t, "other")
			}
			r := e.get("/v1/resources?"+query, token)
			if r.status != http.StatusBadRequest {
				t.Errorf("%s: status = %d %s, want 400", name, r.status, r.body)
			} else if msg := r.errorMessage(t); !strings.Contains(msg, "cursor") {
				t.Errorf("%s: error %q does not name cursor", name, msg)
			}
		}
	})
}
