package storetest

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// PgBouncer is a PgBouncer of its own in transaction mode, in front of a
// PostgreSQL server: for tests that the store keeps no state on a
// connection beyond a transaction.
type PgBouncer struct {
	Dir  string // holds the configuration and the log
	Port int
	// target is the server's URL, whose user and password the URLs
	// through PgBouncer carry.
	target *url.URL
	cmd    *exec.Cmd
	done   chan struct{}
	err    error // how the process ended, once done is closed
	stderr strings.Builder
}

// PgBouncerBin returns the PgBouncer program: STORETEST_PGBOUNCER, else
// pgbouncer on PATH, else Debian's /usr/sbin/pgbouncer.
func PgBouncerBin() string {
	if bin := os.Getenv("STORETEST_PGBOUNCER"); bin != "" {
		return bin
	}
	if bin, err := exec.LookPath("pgbouncer"); err == nil {
		return bin
	}
	return "/usr/sbin/pgbouncer"
}

// pgBouncerStartLimit is how long PgBouncer may take to listen.
const pgBouncerStartLimit = 10 * time.Second

// StartPgBouncer starts PgBouncer in dir (created if missing) on a free
// loopback port, in front of the PostgreSQL server of target (a URL: its
// host, port, user and password count). Its settings are PgBouncer's own
// defaults but for pool_mode = transaction, where to listen and log, and
// trust authentication of the target's user, so that no test depends on a
// setting a user would have to know to add. Every database name is passed
// through to the server. Stop it with Stop.
func StartPgBouncer(dir, target string) (*PgBouncer, error) {
	return StartPgBouncerConfig(dir, target, "[pgbouncer]\npool_mode = transaction\n")
}

// ownSettings are the [pgbouncer] settings StartPgBouncerConfig sets itself:
// where to listen and log, and how clients authenticate.
var ownSettings = []string{"listen_addr", "listen_port", "unix_socket_dir", "auth_type", "auth_file",
	"logfile", "pidfile", "user"}

// StartPgBouncerConfig is StartPgBouncer with the settings of config, the
// text of a pgbouncer.ini such as a deployment's: its [databases] entries
// are replaced by one that passes every database name through to target,
// and its settings of where to listen and log and how to authenticate
// (ownSettings) by the test's; every other setting is kept as written, so
// that a test runs the deployment's configuration itself.
func StartPgBouncerConfig(dir, target, config string) (*PgBouncer, error) {
	// The free port found may be taken before PgBouncer binds it, by a
	// test of another package starting at once: then try another.
	for attempt := 1; ; attempt++ {
		b, err := startPgBouncer(dir, target, config)
		if err == nil || attempt == 3 || !errors.Is(err, errExitedAtStart) {
			return b, err
		}
	}
}

var errExitedAtStart = errors.New("pgbouncer exited at start")

func startPgBouncer(dir, target, config string) (*PgBouncer, error) {
	bin := PgBouncerBin()
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("no PgBouncer (apt-get install pgbouncer, or set STORETEST_PGBOUNCER): %w", err)
	}
	t, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("target URL: %w", err)
	}
	port, err := postgresFolder(dir)
	if err != nil {
		return nil, err
	}
	b := &PgBouncer{Dir: dir, Port: port, target: t, done: make(chan struct{})}
	password, _ := t.User.Password()
	// The auth file names the users PgBouncer lets in; with trust it checks
	// no password, and logs in to the server with the one given here.
	if err := os.WriteFile(filepath.Join(dir, "users.txt"), []byte(quote(t.User.Username())+" "+quote(password)+"\n"), 0o644); err != nil {
		return nil, err
	}
	ini := fmt.Sprintf(`[databases]
* = host=%s port=%s

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = trust
auth_file = %s
logfile = %s
`, t.Hostname(), cmp.Or(t.Port(), "5432"), port, filepath.Join(dir, "users.txt"), b.logPath()) + pgBouncerSettings(config)
	path := filepath.Join(dir, "pgbouncer.ini")
	if err := os.WriteFile(path, []byte(ini), 0o644); err != nil {
		return nil, err
	}
	b.cmd = exec.Command(bin, path)
	// Errors in the configuration go to stderr, before the log file opens.
	b.cmd.Stderr = &b.stderr
	if err := runAsPostgres(b.cmd); err != nil {
		return nil, err
	}
	if err := b.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() { b.err = b.cmd.Wait(); close(b.done) }()
	if err := b.waitListening(); err != nil {
		b.Stop()
		return nil, fmt.Errorf("%w\n%s", err, b.Log())
	}
	return b, nil
}

// waitListening waits until PgBouncer accepts connections on its port.
func (b *PgBouncer) waitListening() error {
	deadline := time.Now().Add(pgBouncerStartLimit)
	for {
		c, err := net.DialTimeout("tcp", b.addr(), time.Second)
		if err == nil {
			return c.Close()
		}
		select {
		case <-b.done:
			return fmt.Errorf("%w: %v: %s", errExitedAtStart, b.err, b.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pgbouncer did not listen on %s within %v", b.addr(), pgBouncerStartLimit)
		}
	}
}

func (b *PgBouncer) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(b.Port)) }

func (b *PgBouncer) logPath() string { return filepath.Join(b.Dir, "log") }

// URL returns the URL of database db through PgBouncer, as the store takes
// it: the target's user, password and parameters, and pool_mode=transaction.
func (b *PgBouncer) URL(db string) string {
	u := *b.target
	u.Host, u.Path = b.addr(), "/"+db
	q := u.Query()
	q.Set("pool_mode", "transaction")
	u.RawQuery = q.Encode()
	return u.String()
}

// Pid is PgBouncer's process id, for a benchmark to read its CPU time.
func (b *PgBouncer) Pid() int { return b.cmd.Process.Pid }

// Stop stops PgBouncer (SIGINT: at once, closing every connection) and
// waits for it to exit.
func (b *PgBouncer) Stop() error {
	if err := b.cmd.Process.Signal(os.Interrupt); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	<-b.done
	return nil
}

// Log returns the end of PgBouncer's log, for failure messages.
func (b *PgBouncer) Log() string {
	data, _ := os.ReadFile(b.logPath())
	s := string(data)
	if i := strings.LastIndexByte(s[:max(len(s)-4000, 0)], '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}

// pgBouncerSettings returns the lines of config's [pgbouncer] section but
// those of ownSettings, for StartPgBouncerConfig to add to its own.
func pgBouncerSettings(config string) string {
	var out strings.Builder
	section := ""
	for line := range strings.Lines(config) {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "[") && strings.HasSuffix(trimmed, "]") {
			section = strings.ToLower(strings.Trim(trimmed, "[]"))
			continue
		}
		key, _, _ := strings.Cut(trimmed, "=")
		if section != "pgbouncer" || slices.Contains(ownSettings, strings.TrimSpace(key)) {
			continue
		}
		out.WriteString(strings.TrimRight(line, "\n") + "\n")
	}
	return out.String()
}

// quote is a value of PgBouncer's auth file: in double quotes, with each
// double quote doubled.
func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// runAsPostgres makes cmd run as the postgres user when we are root:
// PgBouncer, like the server, refuses to run as root.
func runAsPostgres(cmd *exec.Cmd) error {
	c, err := postgresUser()
	if c != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c}
	}
	return err
}
