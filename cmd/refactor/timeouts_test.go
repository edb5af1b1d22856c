package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/re-factor/resources/server"
)

// TestHTTPServerLimits pins the http.Server limits SECURITY.md promises.
// Each must be set (a zero means none at all), the header timeout must cut
// a slow client off well before the whole-request ones, and a full-size
// upload or download at a modest 8 Mbit/s must fit in the read and write
// timeouts. resilience/http_test.go checks the header limits against the
// running binary.
func TestHTTPServerLimits(t *testing.T) {
	s := newHTTPServer(http.NotFoundHandler())
	const slowLink = 1 << 20 // bytes a second
	// The largest body is the default content cap in base64.
	maxBody := time.Duration(server.DefaultMaxContentBytes*4/3/slowLink+1) * time.Second
	checks := []struct {
		name string
		ok   bool
	}{
		{"ReadHeaderTimeout set, at most 10 s", s.ReadHeaderTimeout > 0 && s.ReadHeaderTimeout <= 10*time.Second},
		{"ReadTimeout allows a full upload", s.ReadTimeout >= maxBody},
		{"WriteTimeout allows a full download", s.WriteTimeout >= maxBody},
		{"ReadHeaderTimeout below ReadTimeout", s.ReadHeaderTimeout < s.ReadTimeout},
		{"IdleTimeout set", s.IdleTimeout > 0},
		{"MaxHeaderBytes at most 64 KiB", s.MaxHeaderBytes > 0 && s.MaxHeaderBytes <= 64<<10},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: server has ReadHeader %v, Read %v, Write %v, Idle %v, MaxHeaderBytes %d", c.name,
				s.ReadHeaderTimeout, s.ReadTimeout, s.WriteTimeout, s.IdleTimeout, s.MaxHeaderBytes)
		}
	}
}
