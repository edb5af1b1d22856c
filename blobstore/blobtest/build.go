package blobtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
// is there already. The go command's output goes to out. It returns the
// binary's path, or an error saying which step failed.
func BuildServer(ctx context.Context, out io.Writer) (string, error) {
	bin, err := CachedServerPath()
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return "", fmt.Errorf("create the tools cache: %w", err)
	}
	src, err := downloadModule(ctx, filepath.Dir(bin), out)
	if err != nil {
		return "", err
	}
	// The module's go.mod has replace directives, so `go install m@v` refuses
	// it; building in its directory makes it the main module instead.
	tmp := fmt.Sprintf("%s.%d.tmp", bin, os.Getpid())
	build := goCommand(ctx, src, out, "build", "-trimpath", "-o", tmp, "./weed")
	if err := build.Run(); err != nil {
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
	cmd := goCommand(ctx, dir, out, "mod", "download", "-json", mod)
	var stdout strings.Builder
	cmd.Stdout = &stdout
	runErr := cmd.Run()
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

// goCommand returns the go command with args, run in dir with its output to
// out, using the local toolchain and no workspace.
func goCommand(ctx context.Context, dir string, out io.Writer, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOTOOLCHAIN=local", "GOFLAGS=-buildvcs=false -mod=readonly")
	return cmd
}
