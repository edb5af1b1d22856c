package blobtest

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestRunStep runs a stand-in for the go command: runStep counts the lines
// it is asked to, says how far the step has come while it runs and when it
// is done, and hands back the last lines of a command that fails.
func TestRunStep(t *testing.T) {
	defer func(d time.Duration) { progressEvery = d }(progressEvery)
	progressEvery = time.Millisecond
	ctx := context.Background()

	var out strings.Builder
	script := `for m in a b c; do echo "go: downloading example.com/$m v1.0.0" >&2; done; echo "go: finding" >&2; sleep 0.2`
	if err := runStep(exec.CommandContext(ctx, "sh", "-c", script), &out, "downloading", isDownload, modulesDownloaded); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "  downloading done in ") || !strings.HasSuffix(last, ": modules downloaded: 3") {
		t.Errorf("last line %q, want the step done with its three downloads", last)
	}
	if len(lines) < 2 || !strings.Contains(lines[0], "downloading, ") || !strings.Contains(lines[0], " so far: ") {
		t.Errorf("no progress while the step ran:\n%s", out.String())
	}
	if strings.Contains(out.String(), "example.com") {
		t.Errorf("the go command's own lines came through:\n%s", out.String())
	}

	out.Reset()
	script = `for i in $(seq 1 30); do echo "line $i" >&2; done; printf "unfinished" >&2; exit 3`
	err := runStep(exec.CommandContext(ctx, "sh", "-c", script), &out, "compiling", isPackage, modulesDownloaded)
	if err == nil || !strings.Contains(err.Error(), "exit status 3") || !strings.Contains(err.Error(), "line 30\nunfinished") ||
		!strings.Contains(err.Error(), "line 11\n") || strings.Contains(err.Error(), "line 10\n") {
		t.Errorf("error %v, want the exit status, the last %d lines and the unfinished one", err, tailLines)
	}
}

func TestGoLines(t *testing.T) {
	for _, tc := range []struct {
		line               string
		download, compiled bool
	}{
		{"go: downloading github.com/a/b v1.2.3", true, false},
		{"github.com/seaweedfs/seaweedfs/weed/s3api", false, true},
		{"internal/cpu", false, true},
		{"# github.com/a/b", false, false},
		{"go: finding module for package x", false, false},
		{"", false, false},
	} {
		if got := isDownload(tc.line); got != tc.download {
			t.Errorf("isDownload(%q) = %v", tc.line, got)
		}
		if got := isPackage(tc.line); got != tc.compiled {
			t.Errorf("isPackage(%q) = %v", tc.line, got)
		}
	}
}
