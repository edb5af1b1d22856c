package main

import (
	"strings"
	"testing"
	"time"
)

func TestShutdownConfig(t *testing.T) {
	for _, tt := range []struct {
		grace, timeout       string
		wantGrace, wantLimit time.Duration
		wantErr              string
	}{
		{"", "", 5 * time.Second, 25 * time.Second, ""},
		{"0s", "1s", 0, time.Second, ""},
		{"10s", "1m", 10 * time.Second, time.Minute, ""},
		{"-1s", "", 0, 0, "SHUTDOWN_GRACE"},
		{"", "0s", 0, 0, "SHUTDOWN_TIMEOUT"},
		{"30s", "30s", 0, 0, "must be shorter than SHUTDOWN_TIMEOUT"},
		{"soon", "", 0, 0, "SHUTDOWN_GRACE"},
	} {
		env := map[string]string{"SHUTDOWN_GRACE": tt.grace, "SHUTDOWN_TIMEOUT": tt.timeout}
		cfg, err := loadConfig(func(k string) string { return env[k] })
		switch {
		case tt.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("grace %q, timeout %q: error %v, want one saying %q", tt.grace, tt.timeout, err, tt.wantErr)
			}
		case err != nil:
			t.Errorf("grace %q, timeout %q: %v", tt.grace, tt.timeout, err)
		case cfg.ShutdownGrace != tt.wantGrace || cfg.ShutdownTimeout != tt.wantLimit:
			t.Errorf("grace %q, timeout %q: got %v, %v; want %v, %v", tt.grace, tt.timeout,
				cfg.ShutdownGrace, cfg.ShutdownTimeout, tt.wantGrace, tt.wantLimit)
		}
	}
}
