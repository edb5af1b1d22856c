package urlfetch

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// maxAnswer is how much of a POST's answer is read (and dropped), so that
// the connection can be reused.
const maxAnswer = 64 << 10

// AllowsPrivate reports whether private destinations are allowed
// (URI_FETCH_ALLOW_PRIVATE).
func (f *Fetcher) AllowsPrivate() bool { return f.allowPrivate }

// CheckURL returns an error wrapping ErrBadURL when rawURL may not be
// fetched or posted to for its form; where it points is checked on dial.
func CheckURL(rawURL string) (*url.URL, error) { return parseURL(rawURL) }

// Post sends body to rawURL with header, through the same guard as Fetch
// (no private address unless allowed, checked on the dialled socket), and
// returns the answer's status. Redirects are not followed: a webhook
// receiver answers where it was registered. A failure to get an answer
// wraps ErrBadURL, ErrRefused or ErrFetch; any status is an answer.
func (f *Fetcher) Post(ctx context.Context, rawURL string, header http.Header, body []byte) (int, error) {
	u, err := parseURL(rawURL)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return 0, newError(ErrBadURL, "malformed URL", err)
	}
	req.Header = header.Clone()
	req.Header.Set("User-Agent", userAgent)
	resp, err := f.post.Do(req)
	if err != nil {
		return 0, classify(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswer))
	return resp.StatusCode, nil
}

// CheckDestination refuses, with an error wrapping ErrBadURL or
// ErrRefused, a URL that may never be posted to: not https (http too when
// private destinations are allowed), or a literal address that is not
// public. A name is checked when dialled, on every delivery.
func (f *Fetcher) CheckDestination(rawURL string) error {
	u, err := parseURL(rawURL)
	if err != nil {
		return err
	}
	if f.allowPrivate {
		return nil
	}
	if u.Scheme != "https" {
		return newError(ErrBadURL, "scheme must be https", nil)
	}
	if ip, err := netip.ParseAddr(strings.Trim(u.Hostname(), "[]")); err == nil {
		if reason := blockedReason(ip.WithZone("")); reason != "" && !f.isExempt(ip) {
			return newError(ErrRefused, "destination is a "+reason+" address", nil)
		}
	}
	return nil
}
