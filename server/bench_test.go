package server_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/re-factor/resources/blobstore/blobtest"
	"github.com/re-factor/resources/store"
	"github.com/re-factor/resources/store/storetest"
)

// BenchmarkRequests serves typical requests in-process on SQLite, request
// validation included, to see what the spec's rules cost per request
// (compare allocations; times are noisy on a shared machine).
func BenchmarkRequests(b *testing.B) {
	db := storetest.Open(b, store.SQLite)
	r := storetest.NewResource("acct", 1, storetest.Tagged("a", "b"), storetest.In("/docs"))
	storetest.MustImport(b, db, r)
	h := newHandler(b, db, blobtest.Open(b, "file"), nil)
	tok := mustToken(b, "acct", rwScope)
	for _, bc := range []struct {
		name, method, target, body string
		status                     int
	}{
		{"list", http.MethodGet, "/v1/resources", "", 200},
		{"list filtered", http.MethodGet, "/v1/resources?tags=a&directory_prefix=/docs&created_after=2024-01-01T00:00:00Z&created_before=2030-01-01T00:00:00%2B01:00&page_size=50", "", 200},
		{"get", http.MethodGet, "/v1/resource/" + r.ID, "", 200},
		{"update", http.MethodPut, "/v1/resource/" + r.ID, `{"name":"n.txt","directory_path":"/docs/sub","metadata":{"k":"v"}}`, 200},
		{"create", http.MethodPost, "/v1/resources", `{"name":"%d.txt","directory_path":"/new","content":"data:text/plain;charset=utf-8;base64,aGVsbG8=","tags":["a"," b "],"metadata":{"k":1}}`, 200},
	} {
		created := 0 // b.Run calls the function again with a larger b.N
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				body := bc.body
				if strings.Contains(body, "%d") {
					created++
					body = fmt.Sprintf(body, created)
				}
				req := httptest.NewRequest(bc.method, bc.target, strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+tok)
				if body != "" {
					req.Header.Set("Content-Type", "application/json")
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != bc.status {
					b.Fatalf("%s %s = %d %s", bc.method, bc.target, rec.Code, rec.Body)
				}
			}
		})
	}
}
