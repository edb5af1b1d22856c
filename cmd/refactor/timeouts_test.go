package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/re-factor/resources/server"
)

// TestHTTPServerLimits pins the http.Server limits SECURITY.md promises.
// Each must be set (a zero means none at all), the header timeout must cut
// a slow client off well before the whole-request ones, and the largest
// upload or download at MIN_UPLOAD_RATE must fit in the read and write
// timeouts, whatever MAX_CONTENT_BYTES is. resilience/http_test.go checks
// the header limits against the running binary.
func TestHTTPServerLimits(t *testing.T) {
	defaults, err := loadConfig(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name       string
		maxContent int64
		rate       int64
	}{
		{"defaults", defaults.MaxContentBytes, defaults.MinUploadRate},
		{"100 MiB at 1 MiB/s", 100 << 20, 1 << 20},
		{"1 MiB at 64 KiB/s", 1 << 20, 64 << 10},
	} {
		cfg := defaults
		cfg.MaxContentBytes, cfg.MinUploadRate = tt.maxContent, tt.rate
		s := newHTTPServer(http.NotFoundHandler(), cfg)
		transfer := time.Duration(server.MaxBodyBytes(tt.maxContent)/tt.rate) * time.Second
		checks := []struct {
			name string
			ok   bool
		}{
			{"ReadHeaderTimeout set, at most 10 s", s.ReadHeaderTimeout > 0 && s.ReadHeaderTimeout <= 10*time.Second},
			{"ReadTimeout allows the largest body at the rate", s.ReadTimeout >= transfer},
			{"ReadTimeout no longer than that and the header", s.ReadTimeout <= transfer+s.ReadHeaderTimeout+time.Second},
			{"WriteTimeout allows reading the body, then the work and a download", s.WriteTimeout >= s.ReadTimeout+time.Minute},
			{"ReadHeaderTimeout below ReadTimeout", s.ReadHeaderTimeout < s.ReadTimeout},
			{"IdleTimeout set", s.IdleTimeout > 0},
			{"MaxHeaderBytes at most 64 KiB", s.MaxHeaderBytes > 0 && s.MaxHeaderBytes <= 64<<10},
		}
		for _, c := range checks {
			if !c.ok {
				t.Errorf("%s: %s: server has ReadHeader %v, Read %v, Write %v, Idle %v, MaxHeaderBytes %d", tt.name, c.name,
					s.ReadHeaderTimeout, s.ReadTimeout, s.WriteTimeout, s.IdleTimeout, s.MaxHeaderBytes)
			}
		}
	}
	// The default floor keeps a full upload possible on a modest 4 Mbit/s.
	if defaults.MinUploadRate > 512<<10 {
		t.Errorf("MIN_UPLOAD_RATE defaults to %d bytes/s, want at most 512 KiB/s", defaults.MinUploadRate)
	}
}
