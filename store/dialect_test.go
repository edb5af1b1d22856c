package store

import (
	"slices"
	"testing"
)

// TestMigrationVersions checks that every engine's migration folder holds
// the same versions, so that a schema change is never made for one engine
// only.
func TestMigrationVersions(t *testing.T) {
	versions := map[string][]int{}
	for _, d := range dialects { // some engines have several schemes
		ms, err := migrations(d.name())
		if err != nil {
			t.Fatalf("%s: %v", d.name(), err)
		}
		var vs []int
		for _, m := range ms {
			vs = append(vs, m.version)
		}
		versions[d.name()] = vs
	}
	want := versions[Postgres]
	if len(want) == 0 {
		t.Fatal("no PostgreSQL migrations")
	}
	for engine, got := range versions {
		if !slices.Equal(got, want) {
			t.Errorf("%s migrations have versions %v, PostgreSQL's %v", engine, got, want)
		}
	}
}
