package store_test

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/re-factor/resources"
	"github.com/re-factor/resources/store"
	"github.com/re-factor/resources/store/storetest"
)

func mustCount(t *testing.T, db *store.DB, account string) int64 {
	t.Helper()
	n, err := db.CountResources(context.Background(), account)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestImportResourcesAtomic(t *testing.T) {
	// Several import batches, so earlier ones are already stored when the
	// bad resource comes.
	const count = 5003
	tests := []struct {
		name      string
		bad       func(rs []resources.Resource) // spoils resource count-2 (1-based: 5002)
		wantErr   error
		wantInMsg []string
	}{
		{"duplicate id", func(rs []resources.Resource) { rs[count-2].ID = rs[2].ID }, resources.ErrConflict,
			[]string{"resource 5002", rs2ID}},
		{"duplicate path", func(rs []resources.Resource) { rs[count-2].Name = rs[2].Name }, resources.ErrConflict,
			[]string{"resource 5002", `"/docs/file-2.txt"`, `"acme"`}},
	}
	storetest.EachSetup(t, func(t *testing.T, db *store.DB) {
		db.SetImportBatchSize(1000)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				rs := make([]resources.Resource, count)
				for i := range rs {
					rs[i] = storetest.NewResource("acme", i, storetest.In("/docs"), storetest.Tagged("t"))
				}
				rs[2].ID = rs2ID
				tt.bad(rs)
				n, err := db.ImportResources(context.Background(), storetest.Seq(rs...))
				if !errors.Is(err, tt.wantErr) || n != 0 {
					t.Fatalf("got %d, %v; want 0, %v", n, err, tt.wantErr)
				}
				for _, s := range tt.wantInMsg {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not name %s", err, s)
					}
				}
				if got := mustCount(t, db, ""); got != 0 {
					t.Errorf("%d resources stored, want none", got)
				}
			})
		}
	})
}

const rs2ID = "00000000-0000-4000-8000-000000000002"

func TestImportResourcesConflictWithStored(t *testing.T) {
	storetest.EachSetup(t, func(t *testing.T, db *store.DB) {
		stored := storetest.NewResource("acme", 1, storetest.In("/a b"))
		storetest.MustImport(t, db, stored)
		tests := []struct {
			name      string
			r         resources.Resource
			wantInMsg string
		}{
			{"same id", storetest.NewResource("acme", 2, storetest.ID(stored.ID)), stored.ID},
			{"same path", storetest.NewResource("acme", 1, storetest.In("/a b")), `path "/a b/file-1.txt"`},
			// Resource 1 of the import is storetest.NewResource("acme", 3).
			{"same path as resource 1", storetest.NewResource("acme", 3), `path "/file-3.txt"`},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := db.ImportResources(context.Background(), storetest.Seq(storetest.NewResource("acme", 3), tt.r))
				if !errors.Is(err, resources.ErrConflict) || !strings.Contains(err.Error(), tt.wantInMsg) ||
					!strings.Contains(err.Error(), "resource 2") {
					t.Errorf("got %v, want ErrConflict naming resource 2 and %s", err, tt.wantInMsg)
				}
				if got := mustCount(t, db, ""); got != 1 {
					t.Errorf("%d resources stored, want 1", got)
				}
			})
		}
		// The same id and path in another account is no conflict.
		other := stored
		other.AccountID = "other"
		storetest.MustImport(t, db, other)
	})
}

func TestImportResourcesSequenceError(t *testing.T) {
	errBroken := errors.New("line 3: broken")
	storetest.EachSetup(t, func(t *testing.T, db *store.DB) {
		rs := func(yield func(resources.Resource, error) bool) {
			for i := range 2 {
				if !yield(storetest.NewResource("acme", i), nil) {
					return
				}
			}
			yield(resources.Resource{}, errBroken)
		}
		n, err := db.ImportResources(context.Background(), rs)
		if err != errBroken || n != 0 {
			t.Errorf("got %d, %v; want 0 and the sequence's own error", n, err)
		}
		if got := mustCount(t, db, ""); got != 0 {
			t.Errorf("%d resources stored, want none", got)
		}
	})
}

// exportLines exports into JSON Lines.
func exportLines(t *testing.T, db *store.DB, account string) []byte {
	t.Helper()
	var buf bytes.Buffer
	err := db.ExportResources(context.Background(), account, func(r resources.Resource) error {
		return resources.EncodeLine(&buf, r)
	})
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func roundTripFixture() []resources.Resource {
	s := func(v string) *string { return &v }
	var rs []resources.Resource
	for i, account := range []string{"zed", "acme", "Acme", "acme-2"} {
		for j := range 5 {
			n := i*10 + j
			rs = append(rs, storetest.NewResource(account, n,
				storetest.In(fmt.Sprintf("/d%d/ü", j)),
				storetest.Tagged(slices.Repeat([]string{"t"}, j%2)...),
				func(r *resources.Resource) {
					// Ties in created_at across and within accounts.
					r.CreatedAt = time.Date(2024, 1, 1, 0, 0, j%2, 999999000, time.UTC)
					if j == 3 {
						r.OriginalURI, r.ExternalStorageType, r.CreatedBy = s("s3://b/k"), s("s3"), s("me")
						r.Metadata = []byte(` { "zz" : [ 1.50, 1e2, "é\u00e9" ], "a" : { "html": "<&>" }, "a" : 2 } `)
						r.Tags = []string{"Z", "a", "é"}
					}
				}))
		}
	}
	return rs
}

func TestExportImportRoundTrip(t *testing.T) {
	for _, engine := range storetest.Setups {
		t.Run(engine, func(t *testing.T) {
			src := storetest.Open(t, engine)
			storetest.MustImport(t, src, roundTripFixture()...)
			first := exportLines(t, src, "")

			dst := storetest.Open(t, engine)
			n, err := dst.ImportResources(context.Background(), resources.ReadLines(bytes.NewReader(first)))
			if err != nil || n != 20 {
				t.Fatalf("import = %d, %v; want 20, nil", n, err)
			}
			if second := exportLines(t, dst, ""); !bytes.Equal(first, second) {
				t.Errorf("export after import differs:\n%s\nwant\n%s", second, first)
			}

			var accounts []string
			for r, err := range resources.ReadLines(bytes.NewReader(first)) {
				if err != nil {
					t.Fatal(err)
				}
				if len(accounts) == 0 || accounts[len(accounts)-1] != r.AccountID {
					accounts = append(accounts, r.AccountID)
				}
			}
			if want := []string{"Acme", "acme", "acme-2", "zed"}; !slices.Equal(accounts, want) {
				t.Errorf("accounts in export order: %q, want %q", accounts, want)
			}
			acme := exportLines(t, src, "acme")
			if got := bytes.Count(acme, []byte("\n")); got != 5 || bytes.Contains(acme, []byte(`"Acme"`)) {
				t.Errorf("export of acme has %d lines:\n%s", got, acme)
			}
		})
	}
}

func TestExportResourcesStreams(t *testing.T) {
	const count = 2345 // several export chunks
	storetest.EachSetup(t, func(t *testing.T, db *store.DB) {
		rs := make([]resources.Resource, count)
		for i := range rs {
			// Ten resources per created_at: chunks end inside ties.
			rs[i] = storetest.NewResource("acme", i, storetest.CreatedAt(*at(i / 10)))
		}
		storetest.MustImport(t, db, rs...)
		var got []resources.Resource
		err := db.ExportResources(context.Background(), "acme", func(r resources.Resource) error {
			got = append(got, r)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		sorted := slices.IsSortedFunc(got, func(a, b resources.Resource) int {
			return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
		})
		if len(got) != count || !sorted {
			t.Errorf("got %d resources (sorted: %v), want %d in order", len(got), sorted, count)
		}

		errStop := errors.New("stop")
		calls := 0
		err = db.ExportResources(context.Background(), "", func(resources.Resource) error {
			calls++
			return errStop
		})
		if err != errStop || calls != 1 {
			t.Errorf("got %v after %d calls, want fn's error after 1", err, calls)
		}
	})
}
