package catalog

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"
)

// A link's token is its prefix, which says its kind, then 32 random bytes
// in unpadded base64url (256 bits: no guessing). Only its SHA-256 is
// stored; a copy of the database holds no token. The prefix lets the
// server tell a link's token from a JWT on the headers alone, without
// trying one verification and then the other.
const (
	// DownloadTokenPrefix starts the token of a download link, the last
	// segment of its URL.
	DownloadTokenPrefix = "rfd_"
	// UploadTokenPrefix starts the token of an upload link, which its
	// holder sends as a bearer token.
	UploadTokenPrefix = "rfu_"
)

const tokenBytes = 32

var tokenChars = base64.RawURLEncoding.EncodedLen(tokenBytes)

// issue stores link l by create under the hash of a fresh token of the kind
// prefix names, and returns it with the token.
func issue[L any](ctx context.Context, l L, prefix string, create func(context.Context, L, []byte) error) (L, string, error) {
	token, hash := newToken(prefix)
	if err := create(ctx, l, hash); err != nil {
		var zero L
		return zero, "", err
	}
	return l, token, nil
}

// newToken returns a fresh token of the kind prefix names, and its hash.
func newToken(prefix string) (token string, hash []byte) {
	b := make([]byte, tokenBytes)
	rand.Read(b) // never fails (crypto/rand)
	token = prefix + base64.RawURLEncoding.EncodeToString(b)
	return token, hashToken(token)
}

func hashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// tokenHash returns the hash of token when it has the form of a token of
// the kind prefix names, else nil: a token no link can have costs no
// query.
func tokenHash(prefix, token string) []byte {
	rest, ok := strings.CutPrefix(token, prefix)
	if !ok || len(rest) != tokenChars || strings.ContainsFunc(rest, notBase64URL) {
		return nil
	}
	return hashToken(token)
}

func notBase64URL(r rune) bool {
	return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '_')
}
