package blobstore

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// keyPrefix starts every key that Key returns; Orphans looks at nothing else.
const keyPrefix = "accounts/"

// maxSegment bounds an escaped key segment, below the 255-byte file name limit
// of common file systems.
const maxSegment = 200

// Key returns the key under which the content of resource resourceID of
// account accountID is stored: "accounts/<account>/resources/<resource>".
//
// Each id is escaped so that keys are distinct for distinct pairs and stay
// under the prefix whatever the ids hold ("/", "..", control characters,
// non-ASCII): ASCII letters, digits, '-' and '_' stand for themselves, every
// other byte becomes %XX (upper-case hex), the empty id becomes "~", and an
// escaped id longer than 200 bytes becomes "~" followed by the hex SHA-256 of
// the id.
func Key(accountID, resourceID string) string {
	return keyPrefix + segment(accountID) + "/resources/" + segment(resourceID)
}

// segment escapes id as Key documents.
func segment(id string) string {
	if id == "" {
		return "~"
	}
	var b strings.Builder
	for i := 0; i < len(id); i++ {
		c := id[i]
		if plain(c) {
			b.WriteByte(c)
			continue
		}
		const hexDigits = "0123456789ABCDEF"
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	if b.Len() > maxSegment {
		sum := sha256.Sum256([]byte(id))
		return "~" + hex.EncodeToString(sum[:])
	}
	return b.String()
}

// plain reports whether c stands for itself in an escaped key segment.
func plain(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}
