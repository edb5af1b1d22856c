package blobstore_test

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/re-factor/resources/blobstore"
)

// awkward are ids that must neither collide nor escape the key prefix.
var awkward = []string{
	"acct-1", "ACCT-1", "a/b", "a", "b", "a%2Fb", "a%2fb", "..", ".", "", "~", "%", "/", "//",
	"../../etc/passwd", "a/resources/b", "a/../b", "a\\b", "a\x00b", "a\nb", "é", "e\u0301", "日本",
	"\xff\xfe", " ", "a b", "a+b", "_-_", strings.Repeat("x", 200), strings.Repeat("x", 201),
	strings.Repeat("é", 40), strings.Repeat("é", 41), strings.Repeat("/", 300),
}

func TestKey(t *testing.T) {
	seen := make(map[string][2]string)
	for _, acct := range awkward {
		for _, id := range awkward {
			key := blobstore.Key(acct, id)
			if prev, dup := seen[key]; dup {
				t.Errorf("Key(%q, %q) = Key(%q, %q) = %q", acct, id, prev[0], prev[1], key)
			}
			seen[key] = [2]string{acct, id}
			checkKey(t, key)
		}
	}
	if got, want := blobstore.Key("acct-1", "0b6f0c1e-7d6f-4f7e-9a4c-2b8d9e1f3a5b"),
		"accounts/acct-1/resources/0b6f0c1e-7d6f-4f7e-9a4c-2b8d9e1f3a5b"; got != want {
		t.Errorf("Key of plain ids = %q, want %q", got, want)
	}
}

// checkKey fails the test unless key has the four segments
// accounts/<account>/resources/<id>, each non-empty, at most 200 bytes and
// made of safe characters only.
func checkKey(t *testing.T, key string) {
	t.Helper()
	segs := strings.Split(key, "/")
	if len(segs) != 4 || segs[0] != "accounts" || segs[2] != "resources" {
		t.Errorf("key %q is not accounts/<account>/resources/<id>", key)
		return
	}
	for _, s := range segs {
		if s == "" || len(s) > 200 || strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_%~") != "" {
			t.Errorf("key %q has the segment %q", key, s)
		}
	}
}

// TestKeyStore stores content under awkward ids and checks that each reads
// back as itself and that they are all listed under the prefix, as stored.
func TestKeyStore(t *testing.T) {
	forEachKind(t, func(t *testing.T, kind string, st *blobstore.Store) {
		var keys []string
		for i, acct := range awkward {
			key := blobstore.Key(acct, awkward[len(awkward)-1-i])
			put(t, st, key, []byte(key))
			keys = append(keys, key)
		}
		for _, key := range keys {
			if got := get(t, st, key); !bytes.Equal(got, []byte(key)) {
				t.Errorf("%q holds %q", key, got)
			}
		}
		// Listed in key order, as Orphans needs.
		listed, err := orphans(st, pastSecond(), referenced(), false)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(keys)
		if !slices.Equal(listed, keys) {
			t.Errorf("listed keys %q, want %q", listed, keys)
		}
	})
}
