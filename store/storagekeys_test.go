package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/re-factor/resources"
	"github.com/re-factor/resources/store"
	"github.com/re-factor/resources/store/storetest"
)

// TestStorageKeys checks that StorageKeys yields one bucket's keys in Go's
// byte order, which a linguistic collation would not give ("B" before "a",
// "a-b" before "a/b" before "ab", UTF-8 after ASCII), across several cursor
// chunks. On PostgreSQL the column gets a linguistic collation first, as on a
// cluster made with a locale such as en_US.UTF-8.
func TestStorageKeys(t *testing.T) {
	awkward := []string{"a/b", "ab", "a-b", "a%2F", "B", "a", "a~", "a_", "é", "日本", "e\u0301", "Z/z", "z/Z"}
	for _, engine := range storetest.Setups {
		t.Run(engine, func(t *testing.T) {
			// Loading a few thousand rows may outlast a request's statement
			// timeout on a busy machine.
			db := storetest.Open(t, engine, store.WithStatementTimeout(time.Minute))
			if storetest.Engine(engine) == store.Postgres {
				err := db.ExecSQL(context.Background(), `ALTER TABLE resources ALTER COLUMN storage_key TYPE text COLLATE "und-x-icu"`)
				if err != nil {
					t.Logf("keeping the database's collation: %v", err)
				}
			}
			var want []string
			var rs []resources.Resource
			for i := range 2345 {
				key := fmt.Sprintf("accounts/%s/resources/%05d", awkward[i%len(awkward)], i)
				bucket := "ours"
				if i%5 == 0 {
					bucket = "theirs"
				} else {
					want = append(want, key)
				}
				rs = append(rs, storetest.NewResource(fmt.Sprint("acct-", i%3), i, func(r *resources.Resource) {
					r.StorageBucket, r.StorageKey = bucket, key
				}))
			}
			storetest.MustImport(t, db, rs...)
			slices.Sort(want)

			var got []string
			err := db.StorageKeys(context.Background(), "ours", func(key string) error {
				got = append(got, key)
				return nil
			})
			if err != nil || !slices.Equal(got, want) {
				t.Fatalf("StorageKeys = %d keys, %v; want the %d keys of the bucket in byte order; first difference at %d",
					len(got), err, len(want), firstDifference(got, want))
			}

			errStop := errors.New("stop")
			calls := 0
			err = db.StorageKeys(context.Background(), "ours", func(string) error {
				calls++
				return errStop
			})
			if err != errStop || calls != 1 {
				t.Errorf("got %v after %d calls, want fn's error after 1", err, calls)
			}
			if err := db.StorageKeys(context.Background(), "nobody's", func(k string) error {
				return fmt.Errorf("key %q of another bucket", k)
			}); err != nil {
				t.Errorf("StorageKeys of an empty bucket: %v", err)
			}
		})
	}
}

func firstDifference(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
