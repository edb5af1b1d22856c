package blobtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

const (
	// ServerModule is the Go module whose weed command is the S3 server.
	ServerModule = "github.com/seaweedfs/seaweedfs"
	// ServerVersion is the version of ServerModule that BuildServer builds.
	ServerVersion = "v0.0.0-20261109003541-7506e5f91cd6"
)

// ServerPath returns the weed binary to run: $BLOBTEST_WEED when set, else
// the one BuildServer made, else weed on PATH. It returns an error naming the
// places it looked when there is none.
func ServerPath() (string, error) {
	if p := os.Getenv("BLOBTEST_WEED"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("BLOBTEST_WEED=%q: %w", p, err)
		}
		return p, nil
	}
	cached, err := CachedServerPath()
	if err == nil {
		if _, err = os.Stat(cached); err == nil {
			return cached, nil
		}
	}
	if p, perr := exec.LookPath("weed"); perr == nil {
		return p, nil
	}
	return "", fmt.Errorf("no weed binary at %q (%v) nor on PATH; build it with `make tools` (go run ./blobstore/blobtest/cmd/buildweed) or set BLOBTEST_WEED", cached, err)
}

// CachedServerPath returns where BuildServer puts the binary:
// <user cache dir>/refactor-tools/bin/weed-<ServerVersion>. It returns an
// error when the user has no cache directory.
func CachedServerPath() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find the tools cache: %w", err)
	}
	return filepath.Join(dir, "refactor-tools", "bin", "weed-"+ServerVersion), nil
}

// BuildServer downloads ServerModule at ServerVersion through the Go module
// proxy and compiles its weed command to CachedServerPath, unless the binary
// is there already. It tells out what it builds and about how long that
// takes before it starts, then how far each step has come every
// progressEvery, rather than each line of the go command's. It returns the
// binary's path, or an error saying which step failed, with the go
// command's last lines.
func BuildServer(ctx context.Context, out io.Writer) (string, error) {
	bin, err := CachedServerPath()
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	fmt.Fprintf(out, "building the S3 server the storage tests run against (SeaweedFS's weed, %s@%s) into %s.\n"+
		"This happens once: about 10 minutes on 2 cores, most of it compiling; later runs reuse it.\n",
		ServerModule, ServerVersion, bin)
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return "", fmt.Errorf("create the tools cache: %w", err)
	}
	src, err := downloadModule(ctx, filepath.Dir(bin), out)
	if err != nil {
		return "", err
	}
	// Listing weed's packages downloads the modules they come from, and
	// their number is the measure of the build's progress.
	var pkgs strings.Builder
	list := goCommand(ctx, src, "list", "-deps", "./weed")
	list.Stdout = &pkgs
	if err := runStep(list, out, "downloading the modules it needs", isDownload, modulesDownloaded); err != nil {
		return "", fmt.Errorf("download the modules of %s@%s/weed: %w", ServerModule, ServerVersion, err)
	}
	total := strings.Count(pkgs.String(), "\n")
	compiled := func(n int) string {
		return fmt.Sprintf("packages compiled: %d of %d (the others come from Go's build cache)", n, total)
	}
	// The module's go.mod has replace directives, so `go install m@v` refuses
	// it; building in its directory makes it the main module instead.
	tmp := fmt.Sprintf("%s.%d.tmp", bin, os.Getpid())
	build := goCommand(ctx, src, "build", "-v", "-trimpath", "-o", tmp, "./weed")
	if err := runStep(build, out, "building", isPackage, compiled); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("build %s@%s/weed in %s: %w", ServerModule, ServerVersion, src, err)
	}
	if err := os.Rename(tmp, bin); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("install the weed binary: %w", err)
	}
	return bin, nil
}

// downloadModule fetches ServerModule@ServerVersion into the module cache,
// running the go command in dir (outside any module), and returns the
// module's source directory.
func downloadModule(ctx context.Context, dir string, out io.Writer) (string, error) {
	mod := ServerModule + "@" + ServerVersion
	cmd := goCommand(ctx, dir, "mod", "download", "-json", mod)
	var stdout strings.Builder
	cmd.Stdout = &stdout
	runErr := runStep(cmd, out, "downloading SeaweedFS's source", isDownload, modulesDownloaded)
	var info struct{ Dir, Error string }
	if err := json.Unmarshal([]byte(stdout.String()), &info); err != nil && runErr == nil {
		return "", fmt.Errorf("download %s: read go mod download output %q: %w", mod, stdout.String(), err)
	}
	if info.Error != "" {
		return "", fmt.Errorf("download %s: %s", mod, info.Error)
	}
	if runErr != nil {
		return "", fmt.Errorf("download %s: %w", mod, runErr)
	}
	if info.Dir == "" {
		return "", errors.New("download " + mod + ": go mod download named no directory")
	}
	return info.Dir, nil
}

// goCommand returns the go command with args, run in dir, using the local
// toolchain and no workspace.
func goCommand(ctx context.Context, dir string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOTOOLCHAIN=local", "GOFLAGS=-buildvcs=false -mod=readonly")
	return cmd
}

// progressEvery is how often runStep says how far a step has come: a few
// dozen lines over a build of minutes.
var progressEvery = 30 * time.Second

// runStep runs cmd, counting the lines of its standard error that counts
// picks; while it runs, out gets a line every progressEvery with the time
// so far and what describe makes of the count, and a last one when it is
// done. When cmd fails, the error carries its last lines.
func runStep(cmd *exec.Cmd, out io.Writer, step string, counts func(line string) bool, describe func(n int) string) error {
	stderr := &goOutput{counts: counts}
	cmd.Stderr = stderr
	start := time.Now()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(progressEvery)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				fmt.Fprintf(out, "  %s, %v so far: %s\n", step, time.Since(start).Round(time.Second), describe(stderr.count()))
			}
		}
	})
	err := cmd.Run()
	close(stop)
	wg.Wait()
	if err != nil {
		return fmt.Errorf("%w; the go command's last lines:\n%s", err, stderr.lastLines())
	}
	fmt.Fprintf(out, "  %s done in %v: %s\n", step, time.Since(start).Round(time.Second), describe(stderr.count()))
	return nil
}

func modulesDownloaded(n int) string { return fmt.Sprintf("modules downloaded: %d", n) }

// isDownload picks the go command's line for a module it downloads.
func isDownload(line string) bool { return strings.HasPrefix(line, "go: downloading ") }

// isPackage picks the line `go build -v` writes for a package it compiles;
// its other lines start with "go: " or, for a package's errors, "# ".
func isPackage(line string) bool {
	return line != "" && !strings.HasPrefix(line, "go: ") && !strings.HasPrefix(line, "#")
}

// goOutput is a go command's standard error as it is written: it counts
// the lines counts picks and keeps the last tailLines for an error.
type goOutput struct {
	counts  func(string) bool
	mu      sync.Mutex
	n       int
	partial []byte
	tail    []string
}

const tailLines = 20

func (o *goOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.partial = append(o.partial, p...)
	for {
		line, rest, found := bytes.Cut(o.partial, []byte("\n"))
		if !found {
			break
		}
		if o.counts(string(line)) {
			o.n++
		}
		o.tail = append(o.tail[max(0, len(o.tail)-tailLines+1):], string(line))
		o.partial = rest
	}
	return len(p), nil
}

func (o *goOutput) count() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.n
}

// lastLines is the tail, with a line the command left unfinished.
func (o *goOutput) lastLines() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return strings.Join(append(slices.Clone(o.tail), string(o.partial)), "\n")
}
