package store

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"hash"
	"strings"
	"sync"
	"time"

	"github.com/re-factor/resources"
)

// A cursor is the position after the last row of a page, for the keyset
// form of the list: opaque to clients, and signed so that a forged or edited
// one is refused rather than trusted. It is bound to the filter and page
// size it was made for, so it cannot be replayed against another query.
//
// Layout, before base64url: version (1), page (uvarint), created_at in Unix
// microseconds (varint), id length (uvarint), id, filter digest (8 bytes),
// then the first 16 bytes of HMAC-SHA256 over all of that.
const (
	cursorVersion = 1
	digestLen     = 8
	macLen        = 16
)

// position is a row's place in the list order.
type position struct {
	createdAt time.Time
	id        string
}

type cursor struct {
	after position
	page  int64 // the page that ended at after
}

// cursorCodec signs and checks cursors with one key.
type cursorCodec struct {
	key  []byte
	macs *sync.Pool // of hmac.New(sha256.New, key)
}

func newCursorCodec(key []byte) cursorCodec { return cursorCodec{key: key, macs: new(sync.Pool)} }

// newCursorKey returns a random key: cursors then hold only within one
// process, which is enough for tests and a single server.
func newCursorKey() []byte {
	k := make([]byte, 32)
	rand.Read(k)
	return k
}

func (c cursorCodec) encode(f resources.Filter, page int64, last resources.Resource) string {
	b := []byte{cursorVersion}
	b = binary.AppendUvarint(b, uint64(page))
	b = binary.AppendVarint(b, last.CreatedAt.UnixMicro())
	b = binary.AppendUvarint(b, uint64(len(last.ID)))
	b = append(b, last.ID...)
	b = append(b, filterDigest(f)...)
	return base64.RawURLEncoding.EncodeToString(append(b, c.mac(b)...))
}

// decode checks s against f and returns the position it holds. Anything
// wrong with it gives a resources.ErrInvalid for "cursor".
func (c cursorCodec) decode(f resources.Filter) (cursor, error) {
	bad := resources.Invalid("cursor", "is not a cursor this list returned for these filters and page_size")
	b, err := base64.RawURLEncoding.DecodeString(f.Cursor)
	if err != nil || len(b) < 1+digestLen+macLen {
		return cursor{}, bad
	}
	body, mac := b[:len(b)-macLen], b[len(b)-macLen:]
	if !hmac.Equal(mac, c.mac(body)) {
		return cursor{}, bad
	}
	r := bytes.NewReader(body[:len(body)-digestLen])
	version, _ := r.ReadByte()
	page, err1 := binary.ReadUvarint(r)
	micros, err2 := binary.ReadVarint(r)
	n, err3 := binary.ReadUvarint(r)
	if version != cursorVersion || err1 != nil || err2 != nil || err3 != nil || n != uint64(r.Len()) ||
		!bytes.Equal(body[len(body)-digestLen:], filterDigest(f)) || page < 1 {
		return cursor{}, bad
	}
	id := string(body[len(body)-digestLen-int(n) : len(body)-digestLen])
	return cursor{after: position{time.UnixMicro(micros).UTC(), id}, page: int64(page)}, nil
}

func (c cursorCodec) mac(b []byte) []byte {
	// A MAC from the pool starts from its key's saved inner and outer
	// states: hmac.New hashes the padded key twice and allocates both.
	h, _ := c.macs.Get().(hash.Hash)
	if h == nil {
		h = hmac.New(sha256.New, c.key)
	} else {
		h.Reset()
	}
	h.Write(b)
	sum := h.Sum(make([]byte, 0, sha256.Size))[:macLen]
	c.macs.Put(h)
	return sum
}

// filterDigest identifies everything about f that a cursor must agree with.
func filterDigest(f resources.Filter) []byte {
	// One buffer hashed once: a hash.Hash written field by field cost an
	// allocation a field on every page that returns a cursor.
	b := make([]byte, 0, 128)
	field := func(s string) []byte { return append(binary.AppendUvarint(b, uint64(len(s))), s...) }
	b = field(f.AccountID)
	b = field(strings.Join(distinct(f.Tags), "\x00"))
	b = field(f.DirectoryPrefix)
	for _, t := range []*time.Time{f.CreatedAfter, f.CreatedBefore} {
		if t == nil {
			b = field("")
		} else {
			b = field(t.UTC().Format(time.RFC3339Nano))
		}
	}
	b = append(b, boolByte(f.Ascending))
	b = binary.AppendUvarint(b, uint64(f.PageSize))
	sum := sha256.Sum256(b)
	return sum[:digestLen]
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}
