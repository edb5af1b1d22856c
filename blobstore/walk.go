package blobstore

import (
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// attrsSuffix ends the names of the files in which fileblob keeps an
// object's attributes; they are not objects.
const attrsSuffix = ".attrs"

// walkFiles yields the files of the file:// bucket in directory root whose
// keys start with prefix (which ends in "/"), in byte order of their keys.
//
// fileblob's own listing follows a directory walk, which is not key order
// ("accounts/a-b/x" sorts before "accounts/a/x" but is walked after it), and
// walks the whole tree again for every page. Here each directory is read
// once and its entries sorted as their keys sort: a directory's keys all
// start with its name and "/". A key is its file's path: fileblob escapes
// nothing in the keys that Key makes.
func walkFiles(root, prefix string) iter.Seq2[Orphan, error] {
	return func(yield func(Orphan, error) bool) {
		dir := filepath.Join(root, filepath.FromSlash(prefix))
		if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
			return // nothing stored yet
		}
		walkDir(dir, prefix, yield)
	}
}

// walkDir yields the files under dir, whose keys start with prefix, and
// reports whether to go on.
func walkDir(dir, prefix string, yield func(Orphan, error) bool) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return yield(Orphan{}, fmt.Errorf("blobstore: list %q: %w: %w", prefix, ErrUnavailable, err))
	}
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(sortName(a), sortName(b)) })
	for _, e := range entries {
		key := prefix + e.Name()
		if e.IsDir() {
			if !walkDir(filepath.Join(dir, e.Name()), key+"/", yield) {
				return false
			}
			continue
		}
		if strings.HasSuffix(key, attrsSuffix) {
			continue
		}
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed since the directory was read
		}
		if err != nil {
			return yield(Orphan{}, fmt.Errorf("blobstore: list %q: %w: %w", key, ErrUnavailable, err))
		}
		if !yield(Orphan{Key: key, Size: info.Size(), ModTime: info.ModTime()}, nil) {
			return false
		}
	}
	return true
}

// sortName is what an entry's keys start with.
func sortName(e fs.DirEntry) string {
	if e.IsDir() {
		return e.Name() + "/"
	}
	return e.Name()
}
