package testkit

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// BuildRefactor builds cmd/refactor into dir and returns the binary's path.
func BuildRefactor(dir string) (string, error) {
	bin := filepath.Join(dir, "refactor")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/re-factor/resources/cmd/refactor").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build cmd/refactor: %v\n%s", err, out)
	}
	return bin, nil
}

// Server is a running `refactor serve`.
type Server struct {
	URL  string // http://host:port, from its "serving" log line
	cmd  *exec.Cmd
	logs SyncBuffer
	done chan struct{}
	exit error // how the process ended, once done is closed
}

// startLimit is how long a server may take to listen and be ready.
const startLimit = 30 * time.Second

// StartServer runs `bin serve` on a free loopback port, without a shutdown
// grace (SHUTDOWN_GRACE=0s), with env added to this process's environment
// (env wins), and returns once /readyz answers 200. It fails, stopping the process, when the server exits first or is not
// ready within 30 s; the error carries the server's log.
func StartServer(bin string, env ...string) (*Server, error) {
	s := &Server{cmd: exec.Command(bin, "serve"), done: make(chan struct{})}
	// No shutdown grace unless a test asks for one: Stop need not wait for
	// a load balancer that is not there.
	s.cmd.Env = append(append(os.Environ(), "LISTEN_ADDR=127.0.0.1:0", "SHUTDOWN_GRACE=0s"), env...)
	s.cmd.Stdout, s.cmd.Stderr = &s.logs, &s.logs
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s serve: %w", bin, err)
	}
	go func() { s.exit = s.cmd.Wait(); close(s.done) }()
	deadline := time.Now().Add(startLimit)
	for s.URL == "" {
		select {
		case <-s.done:
			return nil, fmt.Errorf("server exited at start:\n%s", s.Logs())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Kill()
			return nil, fmt.Errorf("server did not listen within %v:\n%s", startLimit, s.Logs())
		}
		s.URL = listenURL(s.Logs())
	}
	if err := WaitReady(s.URL+"/readyz", time.Until(deadline)); err != nil {
		s.Kill()
		return nil, fmt.Errorf("%w; server log:\n%s", err, s.Logs())
	}
	return s, nil
}

// listenURL finds the address in the server's "serving" log line.
func listenURL(logs string) string {
	for line := range strings.SplitSeq(logs, "\n") {
		var l struct{ Msg, Addr string }
		if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "serving" && l.Addr != "" {
			return "http://" + l.Addr
		}
	}
	return ""
}

// Logs is what the server has written to stdout and stderr so far.
func (s *Server) Logs() string { return s.logs.String() }

// Pid is the server's process id.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Stop shuts the server down as an operator would (SIGINT) and waits.
func (s *Server) Stop() { s.signal(os.Interrupt) }

// Kill stops the server with SIGKILL, as a crash would: no shutdown, no
// flush. It waits until the process is gone.
func (s *Server) Kill() { s.signal(syscall.SIGKILL) }

func (s *Server) signal(sig os.Signal) {
	s.cmd.Process.Signal(sig)
	<-s.done
}

// Terminate sends SIGTERM, as an orchestrator stopping a replica does, and
// returns at once: Wait tells how the server ended.
func (s *Server) Terminate() error { return s.cmd.Process.Signal(syscall.SIGTERM) }

// Wait waits up to limit for the server to exit and returns how it ended:
// nil for status 0, else the *exec.ExitError. A server still running at
// limit is killed, and Wait says so.
func (s *Server) Wait(limit time.Duration) error {
	select {
	case <-s.done:
		return s.exit
	case <-time.After(limit):
		s.Kill()
		return fmt.Errorf("server still running %v later: killed", limit)
	}
}
