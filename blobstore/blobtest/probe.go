package blobtest

import (
	"context"
	"fmt"
	"net/http/httptrace"
	"net/url"
	"path/filepath"
	"sync"
	"testing"

	"gocloud.dev/blob"
	"gocloud.dev/blob/driver"
	_ "gocloud.dev/blob/fileblob" // file://
	"gocloud.dev/blob/s3blob"
	"gocloud.dev/gcerrors"

	"github.com/re-factor/resources/blobstore"
)

// Probe sits between a store and its storage, as a gocloud driver wrapping
// the real one: it records the range reads the store opens and can make the
// storage fail or stall. It is safe for concurrent use.
type Probe struct {
	mu          sync.Mutex
	reads       []Read
	failOpens   error
	stallReads  bool
	stallWrites bool
}

// Read is one range read that a store opened.
type Read struct {
	Key            string
	Offset, Length int64
	// Reused reports that the read went out on a connection the HTTP
	// client had pooled (S3 only): the connection of an earlier read was
	// given back, not dropped.
	Reused bool
}

// OpenProbed is Open with a Probe in front of the storage. The store gets
// opts; a "file" store lists through fileblob (see [blobstore.New]).
func OpenProbed(tb testing.TB, kind string, opts ...blobstore.Option) (*blobstore.Store, *Probe) {
	tb.Helper()
	opts = append([]blobstore.Option{blobstore.WithTimeout(Timeout)}, opts...)
	ctx := context.Background()
	var b *blob.Bucket
	var name string
	var err error
	switch kind {
	case "file":
		dir := filepath.Join(tb.TempDir(), "blobs")
		name = filepath.Base(dir)
		u := url.URL{Scheme: "file", Path: filepath.ToSlash(dir), RawQuery: "create_dir=true&no_tmp_dir=true"}
		b, err = blob.OpenBucket(ctx, u.String())
	case "s3":
		srv := needServer(tb)
		name = newBucket(tb, srv)
		b, err = s3blob.OpenBucket(ctx, srv.client(), name, nil)
	default:
		tb.Fatalf("blobtest: unknown kind %q (want one of %q)", kind, Kinds)
	}
	if err != nil {
		tb.Fatalf("blobtest: open %s bucket: %v", kind, err)
	}
	p := &Probe{}
	st := blobstore.New(blob.NewBucket(&probed{inner: b, p: p}), name, opts...)
	tb.Cleanup(func() {
		if err := st.Close(); err != nil {
			tb.Errorf("blobtest: %v", err)
		}
	})
	return st, p
}

// Reads returns the range reads opened so far, in order.
func (p *Probe) Reads() []Read {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Read(nil), p.reads...)
}

// FailOpens makes opening a range read fail with err, or succeed again when
// err is nil. Failed opens are recorded too.
func (p *Probe) FailOpens(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failOpens = err
}

// StallReads makes every Read of content (not the open) wait until its
// context ends, as a storage that stops sending would.
func (p *Probe) StallReads(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stallReads = on
}

// StallWrites makes every write of content, and the close that finishes
// it, wait until its context ends.
func (p *Probe) StallWrites(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stallWrites = on
}

func (p *Probe) stalls(writes bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if writes {
		return p.stallWrites
	}
	return p.stallReads
}

// probed is the driver: it passes every call to inner through the portable
// API.
type probed struct {
	inner *blob.Bucket
	p     *Probe
}

var (
	_ driver.Bucket = (*probed)(nil)
	_ driver.Reader = (*probedReader)(nil)
	_ driver.Writer = (*probedWriter)(nil)
)

func (d *probed) NewRangeReader(ctx context.Context, key string, offset, length int64, opts *driver.ReaderOptions) (driver.Reader, error) {
	read := Read{Key: key, Offset: offset, Length: length}
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) { read.Reused = info.Reused },
	})
	d.p.mu.Lock()
	fail := d.p.failOpens
	d.p.mu.Unlock()
	var r *blob.Reader
	err := fail
	if fail == nil {
		r, err = d.inner.NewRangeReader(ctx, key, offset, length, &blob.ReaderOptions{BeforeRead: opts.BeforeRead})
	}
	d.p.mu.Lock()
	d.p.reads = append(d.p.reads, read)
	d.p.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return &probedReader{ctx: ctx, r: r, p: d.p}, nil
}

func (d *probed) NewTypedWriter(ctx context.Context, key, contentType string, opts *driver.WriterOptions) (driver.Writer, error) {
	w, err := d.inner.NewWriter(ctx, key, &blob.WriterOptions{
		BufferSize: opts.BufferSize, MaxConcurrency: opts.MaxConcurrency, CacheControl: opts.CacheControl,
		ContentDisposition: opts.ContentDisposition, ContentEncoding: opts.ContentEncoding,
		ContentLanguage: opts.ContentLanguage, ContentType: contentType, Metadata: opts.Metadata,
		BeforeWrite: opts.BeforeWrite, IfNotExist: opts.IfNotExist,
	})
	if err != nil {
		return nil, err
	}
	return &probedWriter{ctx: ctx, w: w, p: d.p}, nil
}

func (d *probed) ListPaged(ctx context.Context, opts *driver.ListOptions) (*driver.ListPage, error) {
	page, next, err := d.inner.ListPage(ctx, opts.PageToken, opts.PageSize,
		&blob.ListOptions{Prefix: opts.Prefix, Delimiter: opts.Delimiter, BeforeList: opts.BeforeList})
	if err != nil {
		return nil, err
	}
	out := &driver.ListPage{NextPageToken: next}
	for _, o := range page {
		out.Objects = append(out.Objects, &driver.ListObject{Key: o.Key, ModTime: o.ModTime, Size: o.Size,
			MD5: o.MD5, IsDir: o.IsDir, AsFunc: o.As})
	}
	return out, nil
}

func (d *probed) Attributes(ctx context.Context, key string) (*driver.Attributes, error) {
	a, err := d.inner.Attributes(ctx, key)
	if err != nil {
		return nil, err
	}
	return &driver.Attributes{CacheControl: a.CacheControl, ContentDisposition: a.ContentDisposition,
		ContentEncoding: a.ContentEncoding, ContentLanguage: a.ContentLanguage, ContentType: a.ContentType,
		Metadata: a.Metadata, CreateTime: a.CreateTime, ModTime: a.ModTime, Size: a.Size, MD5: a.MD5,
		ETag: a.ETag, AsFunc: a.As}, nil
}

func (d *probed) Copy(ctx context.Context, dstKey, srcKey string, opts *driver.CopyOptions) error {
	return d.inner.Copy(ctx, dstKey, srcKey, &blob.CopyOptions{BeforeCopy: opts.BeforeCopy})
}

func (d *probed) Delete(ctx context.Context, key string, opts *driver.DeleteOptions) error {
	return d.inner.DeleteWithOptions(ctx, key, &blob.DeleteOptions{BeforeDelete: opts.BeforeDelete})
}

func (d *probed) SignedURL(ctx context.Context, key string, opts *driver.SignedURLOptions) (string, error) {
	return d.inner.SignedURL(ctx, key, &blob.SignedURLOptions{Expiry: opts.Expiry, Method: opts.Method,
		ContentType: opts.ContentType, EnforceAbsentContentType: opts.EnforceAbsentContentType, BeforeSign: opts.BeforeSign})
}

func (d *probed) ErrorCode(err error) gcerrors.ErrorCode { return gcerrors.Code(err) }
func (d *probed) As(i any) bool                          { return d.inner.As(i) }
func (d *probed) ErrorAs(err error, i any) bool          { return d.inner.ErrorAs(err, i) }
func (d *probed) Close() error                           { return d.inner.Close() }

type probedReader struct {
	ctx context.Context
	r   *blob.Reader
	p   *Probe
}

func (r *probedReader) Read(p []byte) (int, error) {
	if r.p.stalls(false) {
		<-r.ctx.Done()
		return 0, fmt.Errorf("blobtest: stalled read: %w", r.ctx.Err())
	}
	return r.r.Read(p)
}

func (r *probedReader) Close() error  { return r.r.Close() }
func (r *probedReader) As(i any) bool { return r.r.As(i) }

func (r *probedReader) Attributes() *driver.ReaderAttributes {
	return &driver.ReaderAttributes{ContentType: r.r.ContentType(), ModTime: r.r.ModTime(), Size: r.r.Size()}
}

type probedWriter struct {
	ctx context.Context
	w   *blob.Writer
	p   *Probe
}

func (w *probedWriter) Write(p []byte) (int, error) {
	if err := w.stall(); err != nil {
		return 0, err
	}
	return w.w.Write(p)
}

func (w *probedWriter) Close() error {
	if err := w.stall(); err != nil {
		_ = w.w.Close()
		return err
	}
	return w.w.Close()
}

func (w *probedWriter) stall() error {
	if !w.p.stalls(true) {
		return nil
	}
	<-w.ctx.Done()
	return fmt.Errorf("blobtest: stalled write: %w", w.ctx.Err())
}
