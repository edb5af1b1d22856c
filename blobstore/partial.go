package blobstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// A partial object is written in pieces, by any number of requests to any
// number of processes, then finished into the object at its key, or
// aborted. Between pieces its state (PartialState, which the caller keeps
// where every process sees it) says how many bytes are stored and where
// their SHA-256 stands, so finishing never reads the bytes back.
//
// On file:// the bytes go to a file under uploads/ in the bucket's folder,
// truncated to the state's size before each piece (a crashed piece may
// have left more), and renamed to the key's path when finished. On s3://
// they go to a multipart upload of the key itself, in parts of partialPart
// bytes; the bytes of a piece short of a whole part wait in a small
// object under uploads/ until the next piece or the finish takes them.
// Other buckets (gs://, azblob://, mem://) keep each piece as an object
// under uploads/ and join them into the key when finished, reading them
// back once: their libraries have no appendable or multipart writes that
// outlive a process.

// partialPart is the size of each part of an S3 multipart upload but the
// last: memory held per piece being written.
const partialPart = 8 << 20

// Step returns how many bytes the next piece after st should hold at most
// so that, on S3, it ends on a part's boundary and leaves no pending
// bytes: a caller that keeps the state after each such piece loses at
// most one part's worth to a crash, and writes no pending object.
func (st PartialState) Step() int64 { return partialPart - st.Pending }

// partialPrefix starts the keys and paths of partial objects' bytes, apart
// from the objects Orphans looks at.
const partialPrefix = "uploads/"

// PartialState is where a partial object stands; its Marshal is what the
// caller keeps between pieces.
type PartialState struct {
	Upload  string  `json:"upload,omitempty"`  // the S3 multipart upload's id
	Parts   int32   `json:"parts,omitempty"`   // S3 parts stored
	Pending int64   `json:"pending,omitempty"` // bytes waiting in the pending object (S3)
	Size    int64   `json:"size"`              // bytes stored
	Hash    []byte  `json:"hash"`              // the SHA-256 state of those bytes
	Head    []byte  `json:"head,omitempty"`    // their first HeadSize bytes
	Pieces  []int64 `json:"pieces,omitempty"`  // the sizes of the pieces stored as objects (other buckets)
}

// ParsePartialState reads what PartialState.Marshal wrote.
func ParsePartialState(b []byte) (PartialState, error) {
	var st PartialState
	if err := json.Unmarshal(b, &st); err != nil {
		return PartialState{}, fmt.Errorf("blobstore: partial state: %w", err)
	}
	return st, nil
}

// Marshal returns st as bytes for ParsePartialState.
func (st PartialState) Marshal() []byte {
	b, _ := json.Marshal(st) // nothing in it can fail
	return b
}

// isS3 reports whether the bucket is S3's.
func (s *Store) isS3() bool {
	var client *s3.Client
	return s.bucket.As(&client)
}

// StartPartial begins a partial object that Finish will store at key; id
// names its bytes until then. contentType is stored with the object, ""
// for none.
func (s *Store) StartPartial(ctx context.Context, key, id, contentType string) (PartialState, error) {
	h, _ := sha256.New().(encoding.BinaryMarshaler).MarshalBinary()
	st := PartialState{Hash: h}
	if s.dir != "" {
		path := s.partialPath(id)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return PartialState{}, fmt.Errorf("%s: %w: %w", s.what("start partial", key), ErrUnavailable, err)
		}
		if err := os.WriteFile(path, nil, 0o644); err != nil {
			return PartialState{}, fmt.Errorf("%s: %w: %w", s.what("start partial", key), ErrUnavailable, err)
		}
		return st, nil
	}
	if !s.isS3() {
		return st, nil
	}
	client, err := s.s3Client()
	if err != nil {
		return PartialState{}, err
	}
	in := &s3.CreateMultipartUploadInput{Bucket: aws.String(s.name), Key: aws.String(key)}
	if contentType != "" {
		in.ContentType = aws.String(contentType)
	}
	out, err := s3Call(ctx, s, "start partial", key, client.CreateMultipartUpload, in)
	if err != nil {
		return PartialState{}, err
	}
	st.Upload = aws.ToString(out.UploadId)
	return st, nil
}

// AppendPartial stores what r holds, up to max bytes, after the bytes st
// says are stored, and returns the new state with the number of bytes it
// added. It stops at r's first error and returns it, with the state of
// what it stored before, which the caller keeps as it would after a
// success: a piece cut short by a dropped connection keeps its bytes.
// Once the caller has kept the new state, Settle removes what the old one
// needed and the new one does not.
func (s *Store) AppendPartial(ctx context.Context, key, id string, st PartialState, r io.Reader, max int64) (PartialState, int64, error) {
	a, err := s.newAppender(key, id, st)
	if err != nil {
		return st, 0, err
	}
	r = io.LimitReader(r, max)
	if s.dir != "" {
		return a.toFile(ctx, s.partialPath(id), r)
	}
	if !s.isS3() {
		return a.toPiece(ctx, r)
	}
	return a.toS3(ctx, r)
}

// toPiece stores what r holds (at most a step's worth, as the caller
// asks) as one more piece object.
func (a *appender) toPiece(ctx context.Context, r io.Reader) (PartialState, int64, error) {
	buf := getPart()
	defer putPart(buf)
	n, rerr := fill(r, buf)
	if n == 0 {
		return a.st, 0, rerr
	}
	if _, err := a.s.Put(ctx, pieceKey(a.id, a.st.Size), bytes.NewReader(buf[:n]), -1, "application/octet-stream"); err != nil {
		return a.st, 0, err
	}
	a.stored(buf[:n])
	a.st.Pieces = append(a.st.Pieces, int64(n))
	return a.state(), int64(n), rerr
}

// fill reads r into buf until buf is full or r ends (nil) or fails (its
// error); unlike io.ReadFull, a reader's own io.ErrUnexpectedEOF stays
// an error.
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// pieceKey is where the piece of partial object id that starts at offset
// is kept, on buckets that keep pieces as objects.
func pieceKey(id string, offset int64) string {
	return partialPrefix + segment(id) + "/piece-" + strconv.FormatInt(offset, 10)
}

// pieces yields the keys of st's pieces.
func (st PartialState) pieceKeys(id string) []string {
	keys := make([]string, 0, len(st.Pieces))
	var off int64
	for _, n := range st.Pieces {
		keys = append(keys, pieceKey(id, off))
		off += n
	}
	return keys
}

// finishPieces joins st's pieces into the object at key, then removes them.
func (s *Store) finishPieces(ctx context.Context, key, id string, st PartialState) error {
	readers := make([]io.Reader, 0, len(st.Pieces))
	for _, k := range st.pieceKeys(id) {
		rc, err := s.NewRangeReader(ctx, k, 0, -1)
		if err != nil {
			return err
		}
		defer rc.Close()
		readers = append(readers, rc)
	}
	if _, err := s.Put(ctx, key, io.MultiReader(readers...), -1, ""); err != nil {
		return err
	}
	s.removePieces(ctx, id, st)
	return nil
}

// removePieces deletes st's pieces; failures leave them (under uploads/,
// apart from the objects gc looks at).
func (s *Store) removePieces(ctx context.Context, id string, st PartialState) {
	for _, k := range st.pieceKeys(id) {
		_ = s.Delete(ctx, k)
	}
}

// appender adds one piece to a partial object.
type appender struct {
	s       *Store
	key, id string
	st      PartialState
	h       hash.Hash
}

func (s *Store) newAppender(key, id string, st PartialState) (*appender, error) {
	h := sha256.New()
	if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(st.Hash); err != nil {
		return nil, fmt.Errorf("%s: hash state: %w", s.what("append to", key), err)
	}
	return &appender{s: s, key: key, id: id, st: st, h: h}, nil
}

// stored counts b, now stored, into the state.
func (a *appender) stored(b []byte) {
	a.h.Write(b)
	if len(a.st.Head) < HeadSize {
		a.st.Head = append(a.st.Head, b[:min(len(b), HeadSize-len(a.st.Head))]...)
	}
	a.st.Size += int64(len(b))
}

// state returns the state after what was stored, and its hash's.
func (a *appender) state() PartialState {
	a.st.Hash, _ = a.h.(encoding.BinaryMarshaler).MarshalBinary()
	return a.st
}

func (a *appender) toFile(ctx context.Context, path string, r io.Reader) (PartialState, int64, error) {
	start := a.st.Size
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err == nil {
		// A piece that crashed may have written past what its state kept.
		err = f.Truncate(start)
	}
	if err != nil {
		return a.st, 0, fmt.Errorf("%s: %w: %w", a.s.what("append to", a.key), ErrUnavailable, err)
	}
	defer f.Close()
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		return a.st, 0, fmt.Errorf("%s: %w: %w", a.s.what("append to", a.key), ErrUnavailable, err)
	}
	bufp := chunkPool.Get().(*[]byte)
	defer chunkPool.Put(bufp)
	var rerr error
	for rerr == nil && ctx.Err() == nil {
		var n int
		n, rerr = r.Read(*bufp)
		if n > 0 {
			if _, err := f.Write((*bufp)[:n]); err != nil {
				return a.st, 0, fmt.Errorf("%s: %w: %w", a.s.what("append to", a.key), ErrUnavailable, err)
			}
			a.stored((*bufp)[:n])
		}
	}
	if err := f.Sync(); err != nil {
		return a.st, 0, fmt.Errorf("%s: %w: %w", a.s.what("append to", a.key), ErrUnavailable, err)
	}
	return a.state(), a.st.Size - start, readError(ctx, rerr)
}

// readError is the error that ended a piece's reading, nil for its end.
func readError(ctx context.Context, rerr error) error {
	if errors.Is(rerr, io.EOF) {
		rerr = nil
	}
	if rerr == nil && ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return rerr
}

var chunkPool = sync.Pool{New: func() any { b := make([]byte, chunkSize); return &b }}

func (a *appender) toS3(ctx context.Context, r io.Reader) (PartialState, int64, error) {
	start := a.st.Size
	client, err := a.s.s3Client()
	if err != nil {
		return a.st, 0, err
	}
	buf := getPart()
	defer putPart(buf)
	// buf[:fill] is the part being gathered; its first a.st.Pending bytes
	// are stored (in the pending object) and hashed.
	fill, err := a.readPending(ctx, buf)
	if err != nil {
		return a.st, 0, err
	}
	var rerr error
	for rerr == nil && ctx.Err() == nil {
		var n int
		n, rerr = r.Read(buf[fill:])
		if fill += n; fill < len(buf) {
			continue
		}
		if err := a.uploadPart(ctx, client, buf); err != nil {
			return a.state(), a.st.Size - start, err
		}
		fill = 0
	}
	if fill > int(a.st.Pending) {
		if err := a.putPending(ctx, buf[:fill]); err != nil {
			return a.state(), a.st.Size - start, err
		}
	}
	return a.state(), a.st.Size - start, readError(ctx, rerr)
}

// readPending reads the pending bytes into buf and returns how many.
func (a *appender) readPending(ctx context.Context, buf []byte) (int, error) {
	if a.st.Pending == 0 {
		return 0, nil
	}
	key := a.st.pendingKey(a.id)
	rc, err := a.s.NewRangeReader(ctx, key, 0, a.st.Pending)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	n, err := io.ReadFull(rc, buf[:a.st.Pending])
	if err != nil {
		return 0, fmt.Errorf("%s: %w: %w", a.s.what("read", key), ErrUnavailable, err)
	}
	return n, nil
}

// uploadPart stores part as the next part, and counts it.
func (a *appender) uploadPart(ctx context.Context, client *s3.Client, part []byte) error {
	pctx, cancel := context.WithTimeout(ctx, 10*a.s.timeout)
	defer cancel()
	in := &s3.UploadPartInput{Bucket: aws.String(a.s.name), Key: aws.String(a.key),
		UploadId: aws.String(a.st.Upload), PartNumber: aws.Int32(a.st.Parts + 1), Body: bytes.NewReader(part),
		ContentLength: aws.Int64(int64(len(part)))}
	_, err := client.UploadPart(pctx, in, partOptions(client, in, part))
	if err != nil {
		return a.s.unavailable(pctx, "upload part "+strconv.Itoa(int(a.st.Parts+1))+" of", a.key, err)
	}
	a.stored(part[a.st.Pending:])
	a.st.Parts++
	a.st.Pending = 0
	return nil
}

// partOptions sets how a part goes out. Over plain HTTP (a store on
// loopback or in a private network) the SDK reads each part twice before
// sending it, for the CRC32 it sends with it and for the SHA-256 its
// signature covers; the part's bytes reach the store unchanged or the CRC32
// fails, so the signature need not cover them again (UNSIGNED-PAYLOAD, as
// the SDK does over HTTPS), and the CRC32 is computed here, in one short
// pass, unless the bucket's URL asks for checksums only when required.
// Parts go without "Expect: 100-continue", which costs a round trip per
// part to spare sending one that the store would refuse.
func partOptions(client *s3.Client, in *s3.UploadPartInput, part []byte) func(*s3.Options) {
	if client.Options().RequestChecksumCalculation != aws.RequestChecksumCalculationWhenRequired {
		var sum [4]byte
		binary.BigEndian.PutUint32(sum[:], crc32.ChecksumIEEE(part))
		in.ChecksumCRC32 = aws.String(base64.StdEncoding.EncodeToString(sum[:]))
	}
	return func(o *s3.Options) {
		o.APIOptions = append(o.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
		o.ContinueHeaderThresholdBytes = -1
	}
}

// putPending stores b, the start of the next part, as the pending object,
// and counts its bytes not counted yet.
func (a *appender) putPending(ctx context.Context, b []byte) error {
	next := PartialState{Size: a.st.Size - a.st.Pending + int64(len(b)), Pending: int64(len(b))}
	if _, err := a.s.Put(ctx, next.pendingKey(a.id), bytes.NewReader(b), -1, "application/octet-stream"); err != nil {
		return err
	}
	a.stored(b[a.st.Pending:])
	a.st.Pending = int64(len(b))
	return nil
}

// pendingKey is where the pending bytes of partial object id in state st
// wait: named by where they start and end, so that a piece never
// overwrites the pending object of a state the caller still keeps.
func (st PartialState) pendingKey(id string) string {
	return partialPrefix + segment(id) + "/" + strconv.FormatInt(st.Size-st.Pending, 10) + "-" + strconv.FormatInt(st.Size, 10)
}

// Settle removes what old, a state of partial object id before a piece,
// needed and st, the state after it that the caller now keeps, does not: a
// pending object left behind. Failures leave it to AbortPartial or
// FinishPartial.
func (s *Store) Settle(ctx context.Context, id string, old, st PartialState) {
	if old.Pending == 0 || s.dir != "" {
		return
	}
	if oldKey := old.pendingKey(id); st.Pending == 0 || oldKey != st.pendingKey(id) {
		_ = s.Delete(ctx, oldKey)
	}
}

// FinishPartial stores the partial object id, in state st, as the object
// at key and describes it.
func (s *Store) FinishPartial(ctx context.Context, key, id string, st PartialState) (Written, error) {
	a, err := s.newAppender(key, id, st)
	if err != nil {
		return Written{}, err
	}
	w := Written{SHA256: hex.EncodeToString(a.h.Sum(nil)), Size: st.Size, Head: st.Head}
	if s.dir != "" {
		return w, s.finishFile(key, id)
	}
	if !s.isS3() {
		return w, s.finishPieces(ctx, key, id, st)
	}
	return w, s.finishS3(ctx, a)
}

func (s *Store) finishFile(key, id string) error {
	path := filepath.Join(s.dir, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("%s: %w: %w", s.what("finish", key), ErrUnavailable, err)
	}
	if err := os.Rename(s.partialPath(id), path); err != nil {
		return fmt.Errorf("%s: %w: %w", s.what("finish", key), ErrUnavailable, err)
	}
	return nil
}

func (s *Store) finishS3(ctx context.Context, a *appender) error {
	client, err := s.s3Client()
	if err != nil {
		return err
	}
	if a.st.Pending > 0 || a.st.Parts == 0 {
		// The last part may be short, or empty for an empty object.
		buf := getPart()
		defer putPart(buf)
		n, err := a.readPending(ctx, buf)
		if err != nil {
			return err
		}
		pending := a.st
		if err := a.uploadPart(ctx, client, buf[:n]); err != nil {
			return err
		}
		s.Settle(ctx, a.id, pending, a.st)
	}
	parts, err := s.listParts(ctx, client, a.key, a.st)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, 10*s.timeout)
	defer cancel()
	_, err = client.CompleteMultipartUpload(cctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(s.name),
		Key: aws.String(a.key), UploadId: aws.String(a.st.Upload), MultipartUpload: &s3types.CompletedMultipartUpload{Parts: parts}})
	if err != nil {
		return s.unavailable(cctx, "finish", a.key, err)
	}
	return nil
}

// listParts returns parts 1 to st.Parts of st's multipart upload, as S3
// stored them last: a piece that crashed may have stored a later one.
func (s *Store) listParts(ctx context.Context, client *s3.Client, key string, st PartialState) ([]s3types.CompletedPart, error) {
	// A part stored again after a crash replaces the first, but SeaweedFS
	// lists both: keep the one stored last.
	latest := make(map[int32]s3types.Part, st.Parts)
	in := &s3.ListPartsInput{Bucket: aws.String(s.name), Key: aws.String(key), UploadId: aws.String(st.Upload)}
	for {
		out, err := s3Call(ctx, s, "list parts of", key, client.ListParts, in)
		if err != nil {
			return nil, err
		}
		for _, p := range out.Parts {
			n := aws.ToInt32(p.PartNumber)
			if prev, seen := latest[n]; n >= 1 && n <= st.Parts && (!seen || !aws.ToTime(p.LastModified).Before(aws.ToTime(prev.LastModified))) {
				latest[n] = p
			}
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		in.PartNumberMarker = out.NextPartNumberMarker
	}
	parts := make([]s3types.CompletedPart, 0, len(latest))
	for n := int32(1); n <= st.Parts; n++ {
		if p, ok := latest[n]; ok {
			parts = append(parts, s3types.CompletedPart{PartNumber: p.PartNumber, ETag: p.ETag})
		}
	}
	if len(parts) != int(st.Parts) {
		return nil, fmt.Errorf("%s: S3 lists %d of its %d parts: %w", s.what("finish", key), len(parts), st.Parts, ErrUnavailable)
	}
	return parts, nil
}

// AbortPartial removes partial object id, in state st, meant for key:
// its bytes, and its multipart upload on S3.
func (s *Store) AbortPartial(ctx context.Context, key, id string, st PartialState) error {
	if s.dir != "" {
		if err := os.Remove(s.partialPath(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s: %w: %w", s.what("abort", key), ErrUnavailable, err)
		}
		return nil
	}
	if !s.isS3() {
		s.removePieces(ctx, id, st)
		return nil
	}
	client, err := s.s3Client()
	if err != nil {
		return err
	}
	if st.Pending > 0 {
		if err := s.Delete(ctx, st.pendingKey(id)); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	err = s.abortUpload(ctx, client, Orphan{Key: key, Upload: st.Upload})
	var missing *s3types.NoSuchUpload
	if errors.As(err, &missing) {
		return nil
	}
	return err
}

// partialPath is the file of partial object id in a file:// bucket.
func (s *Store) partialPath(id string) string {
	return filepath.Join(s.dir, filepath.FromSlash(partialPrefix), segment(id))
}

func (s *Store) s3Client() (*s3.Client, error) {
	var client *s3.Client
	if !s.bucket.As(&client) {
		return nil, fmt.Errorf("blobstore: bucket %q is not S3's", s.name)
	}
	return client, nil
}

// s3Call makes one S3 request of s, a method of its client such as
// client.ListParts, within the timeout: a request, or a page of a listing,
// should be quick whatever the size of the content. A failure is reported
// as unavailable reports op on key.
func s3Call[In, Out any](ctx context.Context, s *Store, op, key string,
	call func(context.Context, In, ...func(*s3.Options)) (Out, error), in In) (Out, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	out, err := call(ctx, in)
	if err != nil {
		return out, s.unavailable(ctx, op, key, err)
	}
	return out, nil
}
