package main

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionCommand(t *testing.T) {
	out := newCLI(t, "sqlite").mustRun("", "version")
	if !strings.HasPrefix(out, "refactor ") || !strings.Contains(out, "(commit ") {
		t.Errorf("version printed %q", out)
	}
}

func TestBuildInfoPrefersLinkerFlags(t *testing.T) {
	version, commit = "v9.9.9", "feedbeef"
	t.Cleanup(func() { version, commit = "", "" })
	if b := buildInfo(); b.Version != "v9.9.9" || b.Commit != "feedbeef" {
		t.Errorf("buildInfo() = %+v", b)
	}
}

func TestVCSRevision(t *testing.T) {
	tests := []struct {
		settings []debug.BuildSetting
		want     string
	}{
		{nil, ""},
		{[]debug.BuildSetting{{Key: "vcs.revision", Value: "abc"}, {Key: "vcs.modified", Value: "false"}}, "abc"},
		{[]debug.BuildSetting{{Key: "vcs.revision", Value: "abc"}, {Key: "vcs.modified", Value: "true"}}, "abc-dirty"},
	}
	for _, tc := range tests {
		if got := vcsRevision(tc.settings); got != tc.want {
			t.Errorf("vcsRevision(%v) = %q, want %q", tc.settings, got, tc.want)
		}
	}
}
