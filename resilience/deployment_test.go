package resilience

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/re-factor/resources/blobstore/blobtest"
	"github.com/re-factor/resources/internal/testkit"
	"github.com/re-factor/resources/store/storetest"
)

var deployment = flag.Bool("deployment", false, "run TestDeployment, the reference deployment of deploy/ under load and restarts (make cluster-test)")

const (
	// replicas is how many `refactor serve` processes run behind HAProxy,
	// as in deploy/docker-compose.cluster.yml.
	replicas = 3
	// deploymentWorkers is how many clients send the mixed load at once;
	// each has one request in flight at a time.
	deploymentWorkers = 6
	// shutdownGrace is the servers' SHUTDOWN_GRACE: their default, which
	// outlasts HAProxy's two failed checks a second apart (deploy/haproxy.cfg).
	shutdownGrace = 5 * time.Second
	// sharedCursorSecret signs list cursors on every replica, so that a
	// cursor from one is good on another (CURSOR_SECRET).
	sharedCursorSecret = "resilience-deployment-cursor-secret-0123456789"
)

// TestDeployment runs the topology of deploy/ on this machine, with the
// HAProxy and PgBouncer configuration files of deploy/ themselves: a
// PostgreSQL primary and its streaming replica, PgBouncer in transaction
// mode in front of the primary, three `refactor serve` replicas (writes
// through PgBouncer, reads on the replica, bytes in SeaweedFS's S3), and
// HAProxy in front of them. Under a mixed load of every kind of request it
// restarts each replica in turn with SIGTERM, then kills one with SIGKILL,
// while SSE subscribers follow the change feed through HAProxy and a
// webhook endpoint receives it, and checks what clients saw (clientView),
// that nothing acknowledged was lost (verifyAcknowledged), and that every
// subscriber read every event once and in order across its reconnections
// and the endpoint was sent each one (feedWatch.check).
func TestDeployment(t *testing.T) {
	if !*deployment {
		t.Skip("the deployment test runs with make cluster-test (-deployment): about 2 minutes")
	}
	d := startDeployment(t)
	l := newClusterLoad(t, d.url)
	feed := startFeedWatch(t, d.url, l.token)
	feedCtx, stopFeed := context.WithCancel(context.Background())
	defer stopFeed()
	feed.run(feedCtx)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { l.run(ctx, deploymentWorkers) })
	stopLoad := sync.OnceFunc(func() { cancel(); wg.Wait() })
	defer stopLoad()

	if !l.filled(time.Minute) {
		t.Logf("the warm-up did not fill the account in a minute: the data grows through the test")
	}
	d.analyse(t)
	d.waitReplicaCaughtUp(t)
	l.begin(phaseBefore)
	time.Sleep(8 * time.Second)
	l.begin(phaseRestarts)
	for i := range d.apps {
		d.restart(t, i)
	}
	l.begin(phaseSteady)
	time.Sleep(2 * time.Second)
	d.logRetries(t, "before the SIGKILL")
	killed := len(d.apps) / 2
	upload := startUpload(t, d.apps[killed].URL, l.token)
	l.begin(phaseKill)
	d.apps[killed].Kill()
	upload.cut()
	d.waitState(t, killed, "DOWN")
	// Requests sent to the dead replica before HAProxy marked it down are
	// refused connections, retried on another: this second shows that
	// they were.
	time.Sleep(time.Second)
	l.begin(phaseRecovered)
	upload.resume(t, d.url)
	d.apps[killed] = d.startApp(t, killed)
	d.waitState(t, killed, "UP")
	time.Sleep(2 * time.Second)
	d.logSizing(t)
	stopLoad()
	d.logRetries(t, "at the end")

	l.clientView(t)
	if t.Failed() {
		d.logServerErrors(t)
	}
	d.waitReplicaCaughtUp(t)
	l.verifyAcknowledged(t, d)
	upload.check(d.url)
	feed.check(t, stopFeed)
}

// deploymentUploadSize is the size of the resumable upload that the
// SIGKILL interrupts: several of the S3 store's 8 MiB parts.
const deploymentUploadSize = 24 << 20

// killedUpload is a resumable (tus) upload sent in one PATCH to the
// replica that is about to be killed.
type killedUpload struct {
	tus  tusClient
	path string
	data []byte
	body *countingReader
	done chan struct{}
}

// startUpload creates an upload on the replica at base and sends all of it
// in one PATCH, returning once half of it has left the client.
func startUpload(t *testing.T, base, tok string) *killedUpload {
	t.Helper()
	u := &killedUpload{tus: tusClient{t: t, tok: tok}, data: make([]byte, deploymentUploadSize), done: make(chan struct{})}
	rand.Read(u.data)
	u.path = u.tus.create(base, int64(len(u.data)), "resumed.bin")
	u.body = &countingReader{r: bytes.NewReader(u.data), half: int64(len(u.data)) / 2, reached: make(chan struct{})}
	go func() {
		defer close(u.done)
		if resp, err := u.tus.request(http.MethodPatch, base+u.path, u.body, "Upload-Offset", "0"); err == nil {
			resp.Body.Close()
		}
	}()
	<-u.body.reached
	return u
}

// cut waits for the PATCH to end, as its replica's death ends it.
func (u *killedUpload) cut() { <-u.done }

// resume asks through the load balancer (so another replica) where the
// upload stands and sends the rest, as a tus client does, retrying while
// the dead replica's lease on it lasts (423).
func (u *killedUpload) resume(t *testing.T, base string) {
	t.Helper()
	off := u.tus.offset(base, u.path)
	// What was stored is kept: whole parts of the S3 multipart upload, so
	// none when the kill came before the first part was written.
	if off < 0 || off > atomic.LoadInt64(&u.body.n) {
		t.Fatalf("upload offset after the SIGKILL: %d, and %d bytes were sent", off, u.body.n)
	}
	kept, start := off, time.Now()
	for {
		status, n := u.tus.patch(base, u.path, off, u.data[off:])
		if status == http.StatusNoContent && n == int64(len(u.data)) {
			break
		}
		if status != http.StatusLocked && status != http.StatusConflict || time.Since(start) > time.Minute {
			t.Fatalf("resuming the upload on another replica: %d, offset %d", status, n)
		}
		time.Sleep(500 * time.Millisecond)
		off = u.tus.offset(base, u.path)
	}
	t.Logf("resumable upload: %d of %d bytes kept across the SIGKILL, the rest sent to another replica %v later",
		kept, len(u.data), time.Since(start).Round(time.Millisecond))
}

// check checks, once the database replica has caught up, that the upload
// became one resource holding its bytes.
func (u *killedUpload) check(base string) {
	u.tus.t.Helper()
	u.tus.checkResource(base, u.path, u.data)
}

// deploymentFile returns the text of a file of deploy/.
func deploymentFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "deploy", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// clusterDeployment is the running topology.
type clusterDeployment struct {
	primary, replica *cluster
	bouncer          *storetest.PgBouncer
	env              []string // every replica's environment but LISTEN_ADDR
	ports            []int    // each replica's, fixed for HAProxy
	apps             []*proc
	started          []*proc // every replica process, restarted ones too
	url              string  // HAProxy's, where clients go
	stats            string  // HAProxy's statistics, as CSV
}

func startDeployment(t *testing.T) *clusterDeployment {
	t.Helper()
	haproxy, err := haproxyBin()
	if err != nil {
		testkit.Unavailable(t, "no haproxy (apt-get install haproxy): %v", err)
	}
	d := &clusterDeployment{primary: newCluster(t)}
	d.replica = newReplica(t, d.primary)
	// A folder of its own, not under t.TempDir(): PgBouncer runs as the
	// postgres user, who cannot enter the test's.
	dir, err := os.MkdirTemp("", "resilience-pgbouncer-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if d.bouncer, err = storetest.StartPgBouncerConfig(dir, d.primary.url(), deploymentFile(t, "pgbouncer.ini")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("pgbouncer log:\n%s", d.bouncer.Log())
		}
		d.bouncer.Stop()
	})
	blobURL := blobtest.S3URL(t)
	d.env = []string{
		"DATABASE_URL=" + d.bouncer.URL("postgres"),
		"DATABASE_DIRECT_URL=" + d.primary.url(),
		"DATABASE_READ_URL=" + d.replica.url(),
		"BLOB_URL=" + blobURL, "AWS_ACCESS_KEY_ID=" + blobtest.AccessKey, "AWS_SECRET_ACCESS_KEY=" + blobtest.SecretKey,
		"CURSOR_SECRET=" + sharedCursorSecret, "SHUTDOWN_GRACE=" + shutdownGrace.String(),
		// The webhook receiver is on loopback; a failed delivery is
		// retried within the test's time.
		"URI_FETCH_ALLOW_PRIVATE=true", "WEBHOOK_RETRY_BASE=500ms",
	}
	if d.ports, err = testkit.FreePorts(replicas); err != nil {
		t.Fatal(err)
	}
	for i := range replicas {
		d.apps = append(d.apps, d.startApp(t, i))
	}
	d.startHAProxy(t, haproxy)
	for i := range replicas {
		d.waitState(t, i, "UP")
	}
	return d
}

// haproxyBin is haproxy on PATH, else Debian's /usr/sbin/haproxy (not on
// every user's PATH).
func haproxyBin() (string, error) {
	if bin, err := exec.LookPath("haproxy"); err == nil {
		return bin, nil
	}
	const debian = "/usr/sbin/haproxy"
	_, err := os.Stat(debian)
	return debian, err
}

// startApp starts replica i on its port.
func (d *clusterDeployment) startApp(t *testing.T, i int) *proc {
	t.Helper()
	p := startServer(t, append(slices.Clone(d.env), "LISTEN_ADDR="+d.addr(i))...)
	d.started = append(d.started, p)
	return p
}

// logServerErrors logs every 5xx answer the replicas logged: what a failed
// request was, from the server's side.
func (d *clusterDeployment) logServerErrors(t *testing.T) {
	t.Helper()
	for _, p := range d.started {
		for line := range strings.SplitSeq(p.Logs(), "\n") {
			if strings.Contains(line, `"status":5`) && !strings.Contains(line, `"/readyz"`) {
				t.Logf("%s: %s", p.URL, tail(line, 1000))
			}
		}
	}
}

func (d *clusterDeployment) addr(i int) string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(d.ports[i]))
}

// startHAProxy runs haproxy in the foreground on deploy/haproxy.cfg, the
// addresses given through the variables the file names.
func (d *clusterDeployment) startHAProxy(t *testing.T, bin string) {
	t.Helper()
	listen, err := testkit.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	stats, err := testkit.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte(deploymentFile(t, "haproxy.cfg")), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-db", "-f", cfg)
	cmd.Env = append(os.Environ(), "HAPROXY_LISTEN="+listen, "HAPROXY_STATS="+stats)
	for i := range replicas {
		cmd.Env = append(cmd.Env, fmt.Sprintf("APP%d=%s", i+1, d.addr(i)))
	}
	var logs testkit.SyncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start haproxy: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("haproxy log (requests that ended abnormally):\n%s", tail(logs.String(), 32<<10))
		}
	})
	d.url, d.stats = "http://"+listen, "http://"+stats+"/stats;csv"
}

// restart stops replica i with SIGTERM, as a rolling release does, checks
// that it exits cleanly within its SHUTDOWN_TIMEOUT, starts it again on
// the same port and waits until HAProxy sends it requests again.
func (d *clusterDeployment) restart(t *testing.T, i int) {
	t.Helper()
	start := time.Now()
	if err := d.apps[i].Terminate(); err != nil {
		t.Fatal(err)
	}
	if err := d.apps[i].Wait(30 * time.Second); err != nil {
		t.Errorf("replica %d after SIGTERM: %v\n%s", i+1, err, tail(d.apps[i].Logs(), 2048))
	}
	d.apps[i] = d.startApp(t, i)
	d.waitState(t, i, "UP")
	t.Logf("replica %d restarted with SIGTERM, back in HAProxy's rotation %v later", i+1, time.Since(start).Round(time.Millisecond))
}

// waitState waits until HAProxy's health checks put replica i in state
// (UP or DOWN) in the backend that checks it.
func (d *clusterDeployment) waitState(t *testing.T, i int, state string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, err := d.state(i)
		if err == nil && got == state {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica %d not %s in HAProxy after 30 s: %q, %v", i+1, state, got, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// state is replica i's status column in HAProxy's statistics, such as UP,
// DOWN or "UP 1/2" while it is rising.
func (d *clusterDeployment) state(i int) (string, error) {
	return d.stat("replicas_safe", fmt.Sprintf("app%d", i+1), "status")
}

// stat is one column of one row (proxy and server or BACKEND) of
// HAProxy's statistics.
func (d *clusterDeployment) stat(proxy, server, column string) (string, error) {
	r := do(context.Background(), http.MethodGet, d.stats, "", nil)
	if r.err != nil || r.status != http.StatusOK {
		return "", fmt.Errorf("haproxy statistics: %d %v", r.status, r.err)
	}
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(string(r.body), "# "))).ReadAll()
	if err != nil || len(rows) == 0 {
		return "", fmt.Errorf("haproxy statistics: %v", err)
	}
	col := slices.Index(rows[0], column)
	for _, row := range rows[1:] {
		if col >= 0 && len(row) > col && row[0] == proxy && row[1] == server {
			return row[col], nil
		}
	}
	return "", fmt.Errorf("no %s of %s/%s in haproxy statistics", column, proxy, server)
}

// logRetries logs how many requests HAProxy has sent again (retries) and
// to another replica (redispatches) until when: what clients were spared.
func (d *clusterDeployment) logRetries(t *testing.T, when string) {
	t.Helper()
	for _, backend := range []string{"replicas_safe", "replicas"} {
		retries, err1 := d.stat(backend, "BACKEND", "wretr")
		redispatches, err2 := d.stat(backend, "BACKEND", "wredis")
		t.Logf("haproxy %s %s: %s retries, %s redispatches (%v)", backend, when, retries, redispatches, errors.Join(err1, err2))
	}
}

// logSizing logs, for docs/scaling.md, what each replica holds in memory
// and how many server connections PostgreSQL has under the load: through
// PgBouncer on the primary, direct on the replica.
func (d *clusterDeployment) logSizing(t *testing.T) {
	t.Helper()
	for i, app := range d.apps {
		peak, _ := app.status("VmHWM")
		rss, _ := app.status("VmRSS")
		goroutines, _ := app.goroutines()
		t.Logf("replica %d: RSS %d MB (peak %d MB), %d goroutines", i+1, rss>>10, peak>>10, goroutines)
	}
	const connections = `SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()`
	var primary, replica int
	if err := storetest.SQL(t, d.primary.url()).QueryRow(connections).Scan(&primary); err != nil {
		t.Fatal(err)
	}
	if err := storetest.SQL(t, d.replica.url()).QueryRow(connections).Scan(&replica); err != nil {
		t.Fatal(err)
	}
	t.Logf("server connections under load: primary %d (through PgBouncer, and the test's own), replica %d (%d replicas, DB_POOL_SIZE default)",
		primary, replica, len(d.apps))
}

// analyse runs ANALYZE on the primary once the warm-up has filled the
// account, as autovacuum would within its minute's nap (the caller then
// waits for the replica, where the lists read, to replay the statistics).
// Planned on the statistics of the empty tables, a list's exact total
// joined the tags' and the prefix's ranges in nested loops, each inner
// range read whole for each outer row (0.3 to 2 s a list at 1,000
// resources), and the test measured that in every phase instead of what
// the restarts cost.
func (d *clusterDeployment) analyse(t *testing.T) {
	t.Helper()
	if _, err := storetest.SQL(t, d.primary.url()).Exec(`ANALYZE`); err != nil {
		t.Fatal(err)
	}
}

// waitReplicaCaughtUp waits until the PostgreSQL replica has replayed
// every change the primary has written, so that reads through it see all.
func (d *clusterDeployment) waitReplicaCaughtUp(t *testing.T) {
	t.Helper()
	primary, replica := storetest.SQL(t, d.primary.url()), storetest.SQL(t, d.replica.url())
	var lsn string
	if err := primary.QueryRow(`SELECT pg_current_wal_lsn()::text`).Scan(&lsn); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var caught bool
		err := replica.QueryRow(`SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn`, lsn).Scan(&caught)
		if err == nil && caught {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replica has not replayed the primary's WAL up to %s after 30 s (%v)", lsn, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
