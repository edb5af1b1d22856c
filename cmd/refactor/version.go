package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/re-factor/resources/server"
)

// version and commit name the build. Release builds set them at link time
// (make build, the Dockerfile):
//
//	go build -ldflags "-X main.version=v1.4.0 -X main.commit=0123abc" ./cmd/refactor
//
// Otherwise buildInfo falls back to what the Go toolchain recorded.
var version, commit string

// buildInfo returns the version and commit of the running binary: the
// linker flags when set, else the module version and VCS revision that go
// build stamps into the binary, else "unknown".
func buildInfo() server.BuildInfo {
	b := server.BuildInfo{Version: version, Commit: commit}
	if info, ok := debug.ReadBuildInfo(); ok {
		if b.Version == "" {
			b.Version = info.Main.Version // "(devel)" in a work tree
		}
		if b.Commit == "" {
			b.Commit = vcsRevision(info.Settings)
		}
	}
	if b.Version == "" {
		b.Version = "unknown"
	}
	if b.Commit == "" {
		b.Commit = "unknown"
	}
	return b
}

// vcsRevision returns the recorded commit, marked when the tree had
// uncommitted changes.
func vcsRevision(settings []debug.BuildSetting) string {
	var rev, dirty string
	for _, s := range settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if rev == "" {
		return ""
	}
	return rev + dirty
}

func versionCmd(stdout io.Writer) error {
	b := buildInfo()
	_, err := fmt.Fprintf(stdout, "refactor %s (commit %s, %s)\n", b.Version, b.Commit, runtime.Version())
	return err
}
