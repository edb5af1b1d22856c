package blobstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/re-factor/resources/blobstore"
	"github.com/re-factor/resources/blobstore/blobtest"
)

// cutReader yields r's bytes, then err instead of EOF: a connection
// dropped mid-piece.
type cutReader struct {
	r   io.Reader
	err error
}

func (f cutReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if errors.Is(err, io.EOF) {
		err = f.err
	}
	return n, err
}

// TestPartialObject writes an object in pieces of awkward sizes, across
// part boundaries, one of them cut short by its reader, and each piece
// with a state that went through Marshal (as between processes), then
// finishes it: the object holds every byte, and the hash the state carried
// is the bytes'.
func TestPartialObject(t *testing.T) {
	ctx := context.Background()
	data := make([]byte, 19<<20+12345)
	_, _ = rand.Read(data)
	pieces := []int{100, 3 << 20, 6 << 20, 1, 9<<20 + 7} // and the rest
	for _, kind := range append(blobtest.Kinds, "mem") {
		t.Run(kind, func(t *testing.T) {
			s, key, id, st := startPartial(t, kind, "application/pdf")
			off := 0
			for i := 0; off < len(data); i++ {
				n := len(data) - off
				if i < len(pieces) {
					n = pieces[i]
				}
				var r io.Reader = bytes.NewReader(data[off : off+n])
				if i == 2 {
					// Cut short: only half arrives, and what arrived is kept.
					r = cutReader{bytes.NewReader(data[off : off+n/2]), io.ErrUnexpectedEOF}
				}
				old := st
				next, added, err := s.AppendPartial(ctx, key, id, st, r, int64(n))
				if i == 2 && !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("piece cut short: got %v, want its reader's error", err)
				} else if i != 2 && err != nil {
					t.Fatalf("piece %d: %v", i, err)
				}
				if next.Size != int64(off)+added {
					t.Fatalf("piece %d: size %d after %d+%d", i, next.Size, off, added)
				}
				if st, err = blobstore.ParsePartialState(next.Marshal()); err != nil {
					t.Fatal(err)
				}
				s.Settle(ctx, id, old, st)
				off += int(added)
			}
			w, err := s.FinishPartial(ctx, key, id, st)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(data)
			if w.SHA256 != hex.EncodeToString(sum[:]) || w.Size != int64(len(data)) || !bytes.Equal(w.Head, data[:blobstore.HeadSize]) {
				t.Errorf("finished: sha256 %s size %d, want %x %d", w.SHA256, w.Size, sum, len(data))
			}
			rc, err := s.NewRangeReader(ctx, key, 0, -1)
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			got, err := io.ReadAll(rc)
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("stored object: %d bytes, equal %v, %v", len(got), bytes.Equal(got, data), err)
			}
		})
	}
}

// TestPartialAbort leaves neither bytes nor a multipart upload behind.
func TestPartialAbort(t *testing.T) {
	ctx := context.Background()
	for _, kind := range blobtest.Kinds {
		t.Run(kind, func(t *testing.T) {
			s, key, id, st := startPartial(t, kind, "")
			st, _, err := s.AppendPartial(ctx, key, id, st, bytes.NewReader(make([]byte, 9<<20)), 9<<20)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.AbortPartial(ctx, key, id, st); err != nil {
				t.Fatal(err)
			}
			var found []blobstore.Orphan
			err = s.Orphans(ctx, time.Now().Add(time.Hour), func(context.Context, func(string) error) error { return nil }, nil, false,
				func(o blobstore.Orphan) error { found = append(found, o); return nil })
			if err != nil || len(found) != 0 {
				t.Errorf("after abort: %v left, %v", found, err)
			}
		})
	}
}

// TestPartialEmpty finishes an object of no bytes.
func TestPartialEmpty(t *testing.T) {
	ctx := context.Background()
	for _, kind := range blobtest.Kinds {
		t.Run(kind, func(t *testing.T) {
			s, key, id, st := startPartial(t, kind, "")
			w, err := s.FinishPartial(ctx, key, id, st)
			if err != nil || w.Size != 0 || w.SHA256 != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
				t.Errorf("empty: %+v, %v", w, err)
			}
		})
	}
}

// startPartial opens a store of the kind (openKind) and starts a partial
// object of a new id in it.
func startPartial(t *testing.T, kind, contentType string) (s *blobstore.Store, key, id string, st blobstore.PartialState) {
	t.Helper()
	s = openKind(t, kind)
	id = uuid.NewString()
	key = blobstore.Key("acct", id)
	st, err := s.StartPartial(context.Background(), key, id, contentType)
	if err != nil {
		t.Fatal(err)
	}
	return s, key, id, st
}

// openKind opens a blobtest store, or a mem:// bucket, whose library (like
// GCS's and Azure's) keeps pieces as objects.
func openKind(t *testing.T, kind string) *blobstore.Store {
	t.Helper()
	if kind != "mem" {
		return blobtest.Open(t, kind)
	}
	s, err := blobstore.Open(context.Background(), "mem://")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
