// Package urlfetch fetches client-supplied http and https URIs on the
// server's behalf, refusing destinations inside private networks.
//
// Destination addresses are checked on the socket actually being dialled,
// after DNS resolution, so a name that resolves differently on a second
// lookup (DNS rebinding) cannot slip past the check.
package urlfetch

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"time"
)

// Errors returned by Fetch and by reading a fetched body wrap exactly one of
// these, so errors.Is tells them apart. All three are the client's fault
// (HTTP 400 for the API). Their messages are safe to show to the client:
// they never name resolved addresses.
var (
	// ErrBadURL reports a URI refused for its form: malformed, a scheme
	// other than http or https, a missing host or embedded credentials.
	ErrBadURL = errors.New("uri: invalid")
	// ErrRefused reports a destination address that may not be fetched.
	ErrRefused = errors.New("uri: refused")
	// ErrFetch reports a fetch that failed: a timeout, an unreachable host,
	// a non-2xx status or too many redirects.
	ErrFetch = errors.New("uri: fetch failed")
)

const (
	defaultConnectTimeout = 5 * time.Second
	defaultTimeout        = 60 * time.Second
	defaultMinRate        = 16 << 10
	defaultMaxRedirects   = 3
	maxURLLength          = 2048
	userAgent             = "re-factor-resources-urlfetch/1"
)

// Config configures a Fetcher. The zero value is a safe default.
type Config struct {
	// AllowPrivate permits loopback, private, link-local and other
	// non-public destinations (URI_FETCH_ALLOW_PRIVATE), for tests and
	// on-premises deployments.
	AllowPrivate bool
	// ConnectTimeout bounds each TCP connect and TLS handshake; zero means 5s.
	ConnectTimeout time.Duration
	// Timeout bounds a Post whole; and a Fetch until its response's
	// headers (redirects included), then each wait for more of its body:
	// a fetched body may be as large as an upload (MAX_UPLOAD_BYTES), so
	// it is not bounded whole, but it may not stall. Zero means 60s.
	Timeout time.Duration
	// MaxRedirects is how many redirects are followed; zero means 3 and a
	// negative value means none.
	MaxRedirects int
	// MinRate is the slowest a Fetch's body may come on average, in bytes
	// a second, once a Timeout has passed since the fetch began: an origin
	// that sends a byte now and then, never stalling for a Timeout, would
	// otherwise hold the request and its connection for as long as it
	// likes. Zero means 16 KiB/s (a 10 GiB body may then take 7 days).
	MinRate int64
}

// Fetcher fetches URIs. It is safe for concurrent use.
type Fetcher struct {
	client       *http.Client
	post         *http.Client // Post's: the same transport, no redirects
	allowPrivate bool
	maxRedirects int
	timeout      time.Duration
	minRate      int64
	// exempt lists addresses treated as public. Only this package's tests
	// set it, so that a loopback test server can stand in for a public host.
	exempt []netip.Prefix
}

// New returns a Fetcher configured by cfg.
func New(cfg Config) *Fetcher {
	cfg = cfg.withDefaults()
	f := &Fetcher{allowPrivate: cfg.AllowPrivate, maxRedirects: cfg.MaxRedirects, timeout: cfg.Timeout, minRate: cfg.MinRate}
	dialer := &net.Dialer{Timeout: cfg.ConnectTimeout, ControlContext: f.checkDial}
	transport := &http.Transport{
		// Proxy stays nil: a proxy would dial on our behalf, out of reach
		// of checkDial, and so would hide the real destination.
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		TLSHandshakeTimeout:    cfg.ConnectTimeout,
		MaxResponseHeaderBytes: 64 << 10,
		MaxIdleConns:           64,
		// Webhook deliveries go to few hosts, many at a time.
		MaxIdleConnsPerHost: 32,
		IdleConnTimeout:     30 * time.Second,
	}
	// No Timeout: Fetch's stall timer bounds it (see Config.Timeout).
	f.client = &http.Client{
		Transport:     transport,
		CheckRedirect: f.checkRedirect,
	}
	f.post = &http.Client{
		Transport:     transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       cfg.Timeout,
	}
	return f
}

func (c Config) withDefaults() Config {
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = defaultConnectTimeout
	}
	if c.Timeout <= 0 {
		c.Timeout = defaultTimeout
	}
	if c.MinRate <= 0 {
		c.MinRate = defaultMinRate
	}
	switch {
	case c.MaxRedirects == 0:
		c.MaxRedirects = defaultMaxRedirects
	case c.MaxRedirects < 0:
		c.MaxRedirects = 0
	}
	return c
}

// Fetch GETs rawURL and returns the response body, which the caller must
// close, and the media type of its Content-Type ("" if absent or invalid).
// On failure it returns a nil body and an error wrapping ErrBadURL,
// ErrRefused or ErrFetch. Errors from reading the body wrap ErrFetch, except io.EOF.
// The fetch fails when it waits longer than the Timeout for its headers or
// for more of its body, or when, a Timeout after it began, its body has
// come slower than the MinRate.
func (f *Fetcher) Fetch(ctx context.Context, rawURL string) (io.ReadCloser, string, error) {
	u, err := parseURL(rawURL)
	if err != nil {
		return nil, "", err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	stall := time.AfterFunc(f.timeout, func() { cancel(errStalled) })
	end := func() {
		stall.Stop()
		cancel(nil)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		end()
		return nil, "", newError(ErrBadURL, "malformed URL", err)
	}
	req.Header.Set("User-Agent", userAgent)
	resp, err := f.client.Do(req)
	if err != nil {
		err = stalled(ctx, err)
		end()
		return nil, "", classify(err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		resp.Body.Close()
		end()
		return nil, "", newError(ErrFetch, "answered "+statusText(resp.StatusCode), nil)
	}
	b := &body{ReadCloser: resp.Body, length: resp.ContentLength, ctx: ctx, end: end, stall: stall, timeout: f.timeout,
		start: time.Now(), minRate: f.minRate}
	return b, mediaType(resp.Header.Get("Content-Type")), nil
}

// errStalled is the cause of a fetch's end when it waited longer than the
// Timeout.
var errStalled = fmt.Errorf("stalled: %w", context.DeadlineExceeded)

// stalled returns errStalled, which classify calls a timeout, when err
// came of the stall timer ending ctx, and err otherwise.
func stalled(ctx context.Context, err error) error {
	if errors.Is(context.Cause(ctx), errStalled) {
		return errStalled
	}
	return err
}

// ContentLength returns the length the server declared for a body returned
// by Fetch, so that an oversized body can be refused before it is read. It
// returns -1 if the length is unknown or r did not come from Fetch.
func ContentLength(r io.Reader) int64 {
	if b, ok := r.(*body); ok {
		return b.length
	}
	return -1
}

// body maps read errors, such as the stall timer ending the fetch
// mid-body, to the package's error kinds, and restarts the timer whenever
// bytes come.
type body struct {
	io.ReadCloser
	length  int64
	ctx     context.Context
	end     func() // stops the timer and ends ctx
	stall   *time.Timer
	timeout time.Duration
	start   time.Time
	minRate int64
	read    int64 // bytes of the body so far
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.stall.Reset(b.timeout)
		b.read += int64(n)
		if late := time.Since(b.start) - b.timeout; late > 0 && float64(b.read) < late.Seconds()*float64(b.minRate) {
			b.end()
			return n, newError(ErrFetch, fmt.Sprintf("sent slower than %d bytes a second", b.minRate), nil)
		}
	}
	if err != nil && err != io.EOF {
		err = classify(stalled(b.ctx, err))
	}
	return n, err
}

func (b *body) Close() error {
	err := b.ReadCloser.Close()
	b.end()
	return err
}

func parseURL(raw string) (*url.URL, error) {
	if len(raw) > maxURLLength {
		return nil, newError(ErrBadURL, fmt.Sprintf("longer than %d bytes", maxURLLength), nil)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, newError(ErrBadURL, "malformed URL", err)
	}
	if err := checkURL(u, ""); err != nil {
		return nil, err
	}
	return u, nil
}

// checkURL returns an ErrBadURL error if u may not be fetched; prefix names
// the URL in the message ("" or "redirect ").
func checkURL(u *url.URL, prefix string) error {
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return newError(ErrBadURL, prefix+"scheme must be http or https", nil)
	case u.User != nil:
		return newError(ErrBadURL, prefix+"must not contain credentials", nil)
	case u.Hostname() == "":
		return newError(ErrBadURL, prefix+"host is missing", nil)
	}
	return nil
}

func (f *Fetcher) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > f.maxRedirects {
		return newError(ErrFetch, fmt.Sprintf("too many redirects (max %d)", f.maxRedirects), nil)
	}
	return checkURL(req.URL, "redirect ")
}

// classify maps an error from the HTTP client to the package's error kinds.
func classify(err error) error {
	var (
		ue      *uriError
		refused *refusedError
		dnsErr  *net.DNSError
		certErr *tls.CertificateVerificationError
	)
	switch {
	case errors.As(err, &ue):
		return ue
	case errors.As(err, &refused):
		return newError(ErrRefused, "host resolves to a non-public address ("+refused.reason+")", err)
	case errors.Is(err, context.Canceled):
		return newError(ErrFetch, "canceled", err)
	case isTimeout(err):
		return newError(ErrFetch, "timed out", err)
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return newError(ErrFetch, "host not found", err)
	case errors.As(err, &dnsErr):
		return newError(ErrFetch, "host lookup failed", err)
	case errors.As(err, &certErr):
		return newError(ErrFetch, "TLS certificate not trusted", err)
	}
	return newError(ErrFetch, "could not be fetched", err)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

func statusText(code int) string {
	if text := http.StatusText(code); text != "" {
		return strconv.Itoa(code) + " " + text
	}
	return strconv.Itoa(code)
}

func mediaType(contentType string) string {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return ""
	}
	return mt
}

// uriError is the concrete error type behind the exported kinds. Its
// message is safe to show to clients; the cause, which may name internal
// addresses, is kept for errors.Is and errors.As only.
type uriError struct {
	kind  error
	msg   string
	cause error
}

func newError(kind error, msg string, cause error) *uriError {
	return &uriError{kind: kind, msg: msg, cause: cause}
}

func (e *uriError) Error() string { return "uri: " + e.msg }

func (e *uriError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.cause}
}
