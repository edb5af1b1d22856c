package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Secrets of the benchmark's own server: never used anywhere else.
const (
	benchJWTSecret    = "refactor-bench-jwt-secret-0123456789"
	benchCursorSecret = "refactor-bench-cursor-secret-0123456789"
)

// serverProc is a running `refactor serve`.
type serverProc struct {
	cmd       *exec.Cmd
	url       string
	pprofAddr string
}

// sectionServer starts a server of a section's own in o.work's fresh folder
// name: its SQLite database and its log are server.db and server.log there,
// and its bytes go to file:// storage unless env says otherwise. It returns
// the server and the folder.
func sectionServer(ctx context.Context, o options, name string, env ...string) (*serverProc, string, error) {
	dir, err := freshDir(o, name)
	if err != nil {
		return nil, "", err
	}
	srv, err := startServer(ctx, o.bin, "sqlite:"+filepath.Join(dir, "server.db"), filepath.Join(dir, "server.log"), o.poolSize, env...)
	return srv, dir, err
}

// startServer runs bin serve on databaseURL, with env added to the
// benchmark's settings, and waits until /readyz answers.
func startServer(ctx context.Context, bin, databaseURL, logPath string, poolSize int, env ...string) (*serverProc, error) {
	return startCommand(ctx, bin, []string{"serve"}, databaseURL, logPath, poolSize, env...)
}

// startCommand is startServer with the command's arguments given.
func startCommand(ctx context.Context, bin string, args []string, databaseURL, logPath string, poolSize int, env ...string) (*serverProc, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	// Each address was free a moment ago, but the second may be the first
	// again (its listener is closed): ask until they differ.
	pprofAddr := addr
	for pprofAddr == addr {
		if pprofAddr, err = freeAddr(); err != nil {
			return nil, err
		}
	}
	log, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "DATABASE_URL="+databaseURL, "LISTEN_ADDR="+addr,
		"PPROF_ADDR="+pprofAddr, "JWT_SECRET="+benchJWTSecret, "CURSOR_SECRET="+benchCursorSecret,
		"DB_POOL_SIZE="+strconv.Itoa(poolSize), "DATABASE_READ_URL=", "RATE_LIMIT_RPS=0",
		"BLOB_URL=file://"+filepath.Join(filepath.Dir(logPath), "blobs"))
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &serverProc{cmd: cmd, url: "http://" + addr, pprofAddr: pprofAddr}
	if err := s.waitReady(ctx, 60*time.Second); err != nil {
		s.stop()
		return nil, fmt.Errorf("server did not become ready (log: %s): %w", logPath, err)
	}
	return s, nil
}

func (s *serverProc) waitReady(ctx context.Context, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		resp, err := http.Get(s.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("readyz: %s", resp.Status)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// peakRSS returns the server's peak resident set size in bytes (VmHWM).
func (s *serverProc) peakRSS() int64 { return s.procField("status", "VmHWM:") << 10 }

// procField returns the number after key in /proc/PID/file of the server
// (a unit such as " kB" dropped), or 0 when it cannot be read.
func (s *serverProc) procField(file, key string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", s.cmd.Process.Pid, file))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, key); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// stop asks the server to shut down and waits for it.
func (s *serverProc) stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		s.cmd.Process.Kill()
		<-done
	}
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
