package store

import (
	"database/sql/driver"
	"reflect"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/jmoiron/sqlx/reflectx"

	"github.com/re-factor/resources"
)

// TestAppendInsertArgs checks that the import's plain values are those of
// resourceRow's columns, named by resourceInsertColumns, in its order.
func TestAppendInsertArgs(t *testing.T) {
	s := func(v string) *string { return &v }
	at := time.Date(2024, 2, 29, 23, 59, 58, 123456000, time.UTC)
	for _, r := range []resources.Resource{
		{AccountID: "acme", ID: "id", Name: "n", DirectoryPath: "/d", MimeType: "text/plain", SHA256: "00",
			OriginalURI: s("https://x"), ExternalID: s("e"), ExternalStorageType: s("s3"), StorageBucket: "b",
			StorageKey: "k", SizeBytes: 7, Metadata: []byte(`{"a":1}`), CreatedBy: s("u"), CreatedAt: at,
			UpdatedAt: at.Add(time.Hour)},
		{AccountID: "acme", ID: "id2", CreatedAt: at, UpdatedAt: at},
	} {
		row := reflect.ValueOf(newRow(sqliteDialect{}, r))
		var want []any
		m := reflectx.NewMapperFunc("db", sqlx.NameMapper)
		for _, f := range m.TraversalsByName(reflect.TypeFor[resourceRow](), resourceInsertColumns) {
			v, ok := reflectx.FieldByIndexesReadOnly(row, f).Interface().(driver.Valuer)
			if !ok {
				want = append(want, reflectx.FieldByIndexesReadOnly(row, f).Interface())
				continue
			}
			val, verr := v.Value()
			if verr != nil {
				t.Fatal(verr)
			}
			want = append(want, val)
		}
		got := appendInsertArgs(nil, &r, r.CreatedAt.UnixMicro(), r.UpdatedAt.UnixMicro())
		if !reflect.DeepEqual(got, want) {
			t.Errorf("appendInsertArgs:\n got %#v\nwant %#v", got, want)
		}
	}
}

// TestCopyTime checks COPY's timestamps against the time they stand for.
func TestCopyTime(t *testing.T) {
	for _, at := range []time.Time{
		time.Date(2024, 2, 29, 23, 59, 58, 123456789, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.FixedZone("", 7*3600)),
		time.Date(1970, 1, 1, 0, 0, 0, 1000, time.FixedZone("", 5*3600+1800)),
	} {
		s, ok := copyTime(at).(string)
		if !ok {
			t.Fatalf("%v: not formatted", at)
		}
		back, err := time.Parse("2006-01-02 15:04:05.000000Z07:00", s)
		if err != nil || !back.Equal(at.Truncate(time.Microsecond)) {
			t.Errorf("%v: %q reads as %v (%v)", at, s, back, err)
		}
	}
	if _, ok := copyTime(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)).(time.Time); !ok {
		t.Error("year 10000: want the time, for lib/pq")
	}
}
