package urlfetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// publicFetcher returns a Fetcher that treats 127.0.0.1 alone as public, so
// httptest servers stand in for internet hosts while every other loopback
// address, such as a server on 127.0.0.2, stays refused.
func publicFetcher(cfg Config) *Fetcher {
	f := New(cfg)
	f.exempt = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	return f
}

// serveAt starts a test server listening on addr, skipping the test if the
// address is unavailable.
func serveAt(t *testing.T, addr string, h http.Handler) *httptest.Server {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
	}
	s := httptest.NewUnstartedServer(h)
	s.Listener.Close()
	s.Listener = l
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// countingServer serves "ok" on addr and counts the requests it receives.
func countingServer(t *testing.T, addr string) (*httptest.Server, *atomic.Int32) {
	var hits atomic.Int32
	s := serveAt(t, addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.WriteString(w, "ok")
	}))
	return s, &hits
}

func redirectTo(target string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target, http.StatusFound)
	})
}

// fetchAll fetches rawURL and reads the whole body.
func fetchAll(f *Fetcher, rawURL string) (string, string, error) {
	body, contentType, err := f.Fetch(context.Background(), rawURL)
	if err != nil {
		return "", "", err
	}
	defer body.Close()
	b, err := io.ReadAll(body)
	return string(b), contentType, err
}

func checkErr(t *testing.T, err, kind error, msg string) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("err = %v, want %v", err, kind)
	}
	if msg != "" && err.Error() != msg {
		t.Errorf("message = %q, want %q", err.Error(), msg)
	}
}

func TestFetchRefused(t *testing.T) {
	loopback, loopbackHits := countingServer(t, "127.0.0.1:0")
	other, otherHits := countingServer(t, "127.0.0.2:0")
	port := loopback.Listener.Addr().(*net.TCPAddr).Port
	tests := []struct {
		name string
		f    *Fetcher
		url  string
		msg  string
	}{
		{"127.0.0.1", New(Config{}), loopback.URL, "uri: host resolves to a non-public address (loopback)"},
		{"localhost", New(Config{}), fmt.Sprintf("http://localhost:%d/", port), "uri: host resolves to a non-public address (loopback)"},
		{"::1", New(Config{}), fmt.Sprintf("http://[::1]:%d/", port), "uri: host resolves to a non-public address (loopback)"},
		{"mapped loopback", New(Config{}), fmt.Sprintf("http://[::ffff:127.0.0.1]:%d/", port), "uri: host resolves to a non-public address (loopback)"},
		{"0.0.0.0", New(Config{}), fmt.Sprintf("http://0.0.0.0:%d/", port), "uri: host resolves to a non-public address (unspecified)"},
		{"127.0.0.2 beside exempt", publicFetcher(Config{}), other.URL, "uri: host resolves to a non-public address (loopback)"},
		{"metadata", publicFetcher(Config{}), "http://169.254.169.254/latest/meta-data/", "uri: host resolves to a non-public address (cloud metadata)"},
		{"metadata https", publicFetcher(Config{}), "https://169.254.169.254/", "uri: host resolves to a non-public address (cloud metadata)"},
		{"private", publicFetcher(Config{}), "http://10.0.0.1/", "uri: host resolves to a non-public address (private)"},
		{"private v6", publicFetcher(Config{}), "http://[fd12::1]/", "uri: host resolves to a non-public address (private)"},
		{"link-local v6", publicFetcher(Config{}), "http://[fe80::1]/", "uri: host resolves to a non-public address (link-local)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			_, _, err := fetchAll(tt.f, tt.url)
			checkErr(t, err, ErrRefused, tt.msg)
			if time.Since(start) > time.Second {
				t.Errorf("took %v; the dial should be refused before connecting", time.Since(start))
			}
		})
	}
	if n := loopbackHits.Load() + otherHits.Load(); n != 0 {
		t.Errorf("refused servers received %d requests", n)
	}
}

func TestRedirectRechecked(t *testing.T) {
	private, privateHits := countingServer(t, "127.0.0.2:0")
	tests := []struct {
		name   string
		target string
		kind   error
		msg    string
	}{
		{"to loopback", private.URL + "/secret", ErrRefused, "uri: host resolves to a non-public address (loopback)"},
		{"to metadata", "http://169.254.169.254/latest/meta-data/", ErrRefused, "uri: host resolves to a non-public address (cloud metadata)"},
		{"to ftp", "ftp://example.com/file", ErrBadURL, "uri: redirect scheme must be http or https"},
		{"to file", "file:///etc/passwd", ErrBadURL, "uri: redirect scheme must be http or https"},
		{"to credentials", "http://user:pass@example.com/", ErrBadURL, "uri: redirect must not contain credentials"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			public := httptest.NewServer(redirectTo(tt.target))
			defer public.Close()
			_, _, err := fetchAll(publicFetcher(Config{}), public.URL)
			checkErr(t, err, tt.kind, tt.msg)
		})
	}
	if n := privateHits.Load(); n != 0 {
		t.Errorf("private server received %d requests", n)
	}
}

func TestAllowPrivate(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:0", "127.0.0.2:0", "[::1]:0"} {
		t.Run(addr, func(t *testing.T) {
			s, hits := countingServer(t, addr)
			got, _, err := fetchAll(New(Config{AllowPrivate: true}), s.URL)
			if err != nil {
				t.Fatal(err)
			}
			if got != "ok" || hits.Load() != 1 {
				t.Errorf("body %q after %d requests, want \"ok\" after 1", got, hits.Load())
			}
		})
	}
}

// chain serves /n by redirecting to /n-1, and /0 with "done".
func chain() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
		switch {
		case err != nil:
			http.NotFound(w, r)
		case n == 0:
			io.WriteString(w, "done")
		default:
			http.Redirect(w, r, "/"+strconv.Itoa(n-1), http.StatusMovedPermanently)
		}
	})
}

func TestRedirectLimit(t *testing.T) {
	s := httptest.NewServer(chain())
	defer s.Close()
	tests := []struct {
		max       int
		redirects int
		msg       string
	}{
		{0, 0, ""},
		{0, 3, ""},
		{0, 4, "uri: too many redirects (max 3)"},
		{1, 1, ""},
		{1, 2, "uri: too many redirects (max 1)"},
		{-1, 0, ""},
		{-1, 1, "uri: too many redirects (max 0)"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("max %d, %d redirects", tt.max, tt.redirects), func(t *testing.T) {
			f := publicFetcher(Config{MaxRedirects: tt.max})
			got, _, err := fetchAll(f, s.URL+"/"+strconv.Itoa(tt.redirects))
			if tt.msg != "" {
				checkErr(t, err, ErrFetch, tt.msg)
				return
			}
			if err != nil || got != "done" {
				t.Errorf("got %q, %v; want \"done\"", got, err)
			}
		})
	}
}

func TestStatus(t *testing.T) {
	tests := []struct {
		code int
		msg  string
	}{
		{http.StatusNotFound, "uri: answered 404 Not Found"},
		{http.StatusForbidden, "uri: answered 403 Forbidden"},
		{http.StatusInternalServerError, "uri: answered 500 Internal Server Error"},
		{http.StatusNotModified, "uri: answered 304 Not Modified"},
		{599, "uri: answered 599"},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.code), func(t *testing.T) {
			s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.code)
			}))
			defer s.Close()
			_, _, err := fetchAll(publicFetcher(Config{}), s.URL)
			checkErr(t, err, ErrFetch, tt.msg)
		})
	}
}

func TestTimeout(t *testing.T) {
	// Handlers return when the client hangs up, or after a bound so that a
	// failing test cannot hang.
	wait := func(r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}
	tests := []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"slow headers", func(w http.ResponseWriter, r *http.Request) {
			wait(r)
		}},
		{"slow body", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "partial")
			w.(http.Flusher).Flush()
			wait(r)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := httptest.NewServer(tt.handler)
			defer s.Close()
			start := time.Now()
			_, _, err := fetchAll(publicFetcher(Config{Timeout: 200 * time.Millisecond}), s.URL)
			checkErr(t, err, ErrFetch, "uri: timed out")
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v, want about 200ms", d)
			}
		})
	}
}

// TestSlowButMoving: a body that takes longer than the Timeout whole but
// never waits that long for its next bytes is fetched: a fetch may be as
// large as an upload, and only a stall ends it.
func TestSlowButMoving(t *testing.T) {
	const chunks, gap = 5, 400 * time.Millisecond
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for i := range chunks {
			if i > 0 {
				time.Sleep(gap)
			}
			fmt.Fprintf(w, "chunk %d;", i)
			w.(http.Flusher).Flush()
		}
	}))
	defer s.Close()
	start := time.Now()
	got, _, err := fetchAll(publicFetcher(Config{Timeout: 1500 * time.Millisecond, MinRate: 1}), s.URL)
	if err != nil || got != "chunk 0;chunk 1;chunk 2;chunk 3;chunk 4;" {
		t.Fatalf("fetch: %q, %v", got, err)
	}
	if d := time.Since(start); d < 1500*time.Millisecond {
		t.Errorf("took %v: the test proves nothing unless longer than the Timeout", d)
	}
}

// TestTrickle: an origin that never stalls for a Timeout but sends slower
// than the MinRate is cut off once a Timeout has passed, not held for as
// long as it keeps trickling.
func TestTrickle(t *testing.T) {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for r.Context().Err() == nil {
			fmt.Fprint(w, "x")
			w.(http.Flusher).Flush()
			time.Sleep(50 * time.Millisecond)
		}
	}))
	defer s.Close()
	start := time.Now()
	_, _, err := fetchAll(publicFetcher(Config{Timeout: 300 * time.Millisecond, MinRate: 1000}), s.URL)
	checkErr(t, err, ErrFetch, "uri: sent slower than 1000 bytes a second")
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v, want about 300ms", d)
	}
}

func TestCanceled(t *testing.T) {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := publicFetcher(Config{}).Fetch(ctx, s.URL)
	checkErr(t, err, ErrFetch, "uri: canceled")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want it to wrap context.Canceled", err)
	}
}

func TestUntrustedCertificate(t *testing.T) {
	s := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer s.Close()
	_, _, err := fetchAll(publicFetcher(Config{}), s.URL)
	checkErr(t, err, ErrFetch, "uri: TLS certificate not trusted")
}

func TestBadURL(t *testing.T) {
	tests := []struct {
		url string
		msg string
	}{
		{"ftp://example.com/file", "uri: scheme must be http or https"},
		{"file:///etc/passwd", "uri: scheme must be http or https"},
		{"javascript:alert(1)", "uri: scheme must be http or https"},
		{"gopher://example.com/", "uri: scheme must be http or https"},
		{"//example.com/file", "uri: scheme must be http or https"},
		{"", "uri: scheme must be http or https"},
		{"http://user:pass@example.com/", "uri: must not contain credentials"},
		{"https://user@example.com/", "uri: must not contain credentials"},
		{"http://", "uri: host is missing"},
		{"http:///path", "uri: host is missing"},
		{"http:example.com", "uri: host is missing"},
		{"http://example.com/%zz", "uri: malformed URL"},
		{"http://exa mple.com/", "uri: malformed URL"},
		{"http://example.com/" + strings.Repeat("a", maxURLLength), "uri: longer than 2048 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			_, _, err := fetchAll(New(Config{}), tt.url)
			checkErr(t, err, ErrBadURL, tt.msg)
		})
	}
}

func TestContentType(t *testing.T) {
	tests := []struct {
		header []string // nil suppresses the server's sniffed default
		want   string
	}{
		{[]string{"text/plain; charset=utf-8"}, "text/plain"},
		{[]string{"Image/PNG"}, "image/png"},
		{[]string{"application/octet-stream"}, "application/octet-stream"},
		{[]string{"not a type"}, ""},
		{nil, ""},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.header), func(t *testing.T) {
			s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header()["Content-Type"] = tt.header
				io.WriteString(w, "hello")
			}))
			defer s.Close()
			body, got, err := fetchAll(publicFetcher(Config{}), s.URL)
			if err != nil || body != "hello" {
				t.Fatalf("got %q, %v; want \"hello\"", body, err)
			}
			if got != tt.want {
				t.Errorf("content type = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestContentLength(t *testing.T) {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/chunked" {
			w.(http.Flusher).Flush()
		}
		io.WriteString(w, "hello")
	}))
	defer s.Close()
	tests := []struct {
		path string
		want int64
	}{
		{"/", 5},
		{"/chunked", -1},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			body, _, err := publicFetcher(Config{}).Fetch(context.Background(), s.URL+tt.path)
			if err != nil {
				t.Fatal(err)
			}
			defer body.Close()
			if got := ContentLength(body); got != tt.want {
				t.Errorf("ContentLength = %d, want %d", got, tt.want)
			}
		})
	}
	if got := ContentLength(strings.NewReader("x")); got != -1 {
		t.Errorf("ContentLength of a foreign reader = %d, want -1", got)
	}
}

func TestNoEnvironmentProxy(t *testing.T) {
	tr := New(Config{}).client.Transport.(*http.Transport)
	if tr.Proxy != nil {
		t.Error("transport uses a proxy, which would hide the dialled address from checkDial")
	}
}

func TestBlockedReason(t *testing.T) {
	tests := []struct {
		ip   string
		want string
	}{
		{"8.8.8.8", ""},
		{"93.184.216.34", ""},
		{"2606:4700:4700::1111", ""},
		{"::ffff:8.8.8.8", ""},
		{"64:ff9b::808:808", ""},
		{"2002:808:808::1", ""},
		{"127.0.0.1", "loopback"},
		{"127.255.255.254", "loopback"},
		{"::1", "loopback"},
		{"::ffff:127.0.0.1", "loopback"},
		{"10.1.2.3", "private"},
		{"172.16.0.1", "private"},
		{"172.31.255.255", "private"},
		{"192.168.1.1", "private"},
		{"fc00::1", "private"},
		{"fd12:3456::1", "private"},
		{"::ffff:10.0.0.1", "private"},
		{"64:ff9b::a00:1", "private"},
		{"64:ff9b:1::1", "private"},
		{"2002:a00:1::1", "private"},
		{"169.254.1.1", "link-local"},
		{"fe80::1", "link-local"},
		{"::ffff:169.254.1.1", "link-local"},
		{"169.254.169.254", "cloud metadata"},
		{"::ffff:169.254.169.254", "cloud metadata"},
		{"fd00:ec2::254", "cloud metadata"},
		{"100.100.100.200", "cloud metadata"},
		{"192.0.0.192", "cloud metadata"},
		{"168.63.129.16", "cloud metadata"},
		{"224.0.0.1", "multicast"},
		{"239.255.255.250", "multicast"},
		{"ff02::1", "multicast"},
		{"ff0e::1", "multicast"},
		{"0.0.0.0", "unspecified"},
		{"0.1.2.3", "unspecified"},
		{"::", "unspecified"},
		{"100.64.0.1", "shared (CGNAT)"},
		{"100.127.255.255", "shared (CGNAT)"},
		{"100.128.0.1", ""},
		{"255.255.255.255", "reserved"},
		{"240.0.0.1", "reserved"},
		{"198.18.0.1", "reserved"},
		{"fec0::1", "site-local"},
	}
	for _, tt := range tests {
		if got := blockedReason(netip.MustParseAddr(tt.ip)); got != tt.want {
			t.Errorf("blockedReason(%s) = %q, want %q", tt.ip, got, tt.want)
		}
	}
}

func TestRefusedMessageHidesAddress(t *testing.T) {
	_, _, err := fetchAll(New(Config{}), "http://10.11.12.13/")
	checkErr(t, err, ErrRefused, "")
	if strings.Contains(err.Error(), "10.11.12.13") {
		t.Errorf("message %q names the address", err.Error())
	}
	var refused *refusedError
	if !errors.As(err, &refused) || !strings.Contains(refused.Error(), "10.11.12.13") {
		t.Errorf("err = %v, want a *refusedError naming the address for logs", err)
	}
}
