package resilience

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/re-factor/resources/internal/testkit"
	"github.com/re-factor/resources/store/storetest"
)

// TestEventsAcrossReplicas runs two server processes on one PostgreSQL
// database, one of them through PgBouncer in transaction mode (its LISTEN
// on DATABASE_DIRECT_URL): a change written through either reaches a
// stream held open on the other, in order, with no gap, and a stream that
// reconnects with Last-Event-ID misses nothing written meanwhile.
func TestEventsAcrossReplicas(t *testing.T) {
	c := newCluster(t)
	dir := t.TempDir()
	blobs := "BLOB_URL=file://" + filepath.Join(dir, "blobs")
	// PgBouncer runs as postgres, which cannot enter t.TempDir (0700).
	pgbDir, err := os.MkdirTemp("", "resilience-pgbouncer-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(pgbDir) })
	bouncer, err := storetest.StartPgBouncer(pgbDir, c.url())
	if err != nil {
		testkit.Unavailable(t, "PgBouncer: %v", err)
	}
	t.Cleanup(func() { bouncer.Stop() })
	a := startServer(t, "DATABASE_URL="+bouncer.URL("postgres"), "DATABASE_DIRECT_URL="+c.url(), blobs)
	b := startServer(t, "DATABASE_URL="+c.url(), blobs)
	tok := token(t, "acct")

	onA, onB := openSSE(t, a.URL, tok, ""), openSSE(t, b.URL, tok, "")
	const n = 20
	for i := range n {
		p := a
		if i%2 == 1 {
			p = b
		}
		createNamed(t, p.URL, tok, fmt.Sprintf("f%02d.txt", i))
	}
	for name, s := range map[string]*sseStream{"a": onA, "b": onB} {
		for i := range n {
			f := s.next(t)
			if f["id"] != fmt.Sprint(i+1) || f["event"] != "resource.created" {
				t.Fatalf("stream on %s, frame %d = %v, want id %d", name, i, f, i+1)
			}
		}
	}
	// A client that dropped after 5 reconnects to the other replica and
	// gets 6.. without gap or repeat, then what comes next, live.
	resumed := openSSE(t, a.URL, tok, "5")
	createNamed(t, b.URL, tok, "late.txt")
	for want := 6; want <= n+1; want++ {
		if f := resumed.next(t); f["id"] != fmt.Sprint(want) {
			t.Fatalf("resumed frame = %v, want id %d", f, want)
		}
	}
}

func createNamed(t *testing.T, base, tok, name string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"name": name, "directory_path": "/",
		"content": "data:text/plain;base64," + base64.StdEncoding.EncodeToString([]byte(name))})
	if r := do(context.Background(), http.MethodPost, base+"/v1/resources", tok, body); r.status != http.StatusOK {
		t.Fatalf("create %s: %d %s %v", name, r.status, r.body, r.err)
	}
}

// sseStream is a stream of server-sent events, frame by frame.
type sseStream struct {
	frames chan map[string]string
}

// openSSE opens the account's event stream on base, from lastID when set.
func openSSE(t *testing.T, base, tok, lastID string) *sseStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/events/stream", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stream on %s: %d", base, resp.StatusCode)
	}
	s := &sseStream{frames: make(chan map[string]string, 1000)}
	go func() {
		defer close(s.frames)
		sc := bufio.NewScanner(resp.Body)
		frame := map[string]string{}
		for sc.Scan() {
			if sc.Text() == "" {
				if _, comment := frame[""]; !comment {
					s.frames <- frame
				}
				frame = map[string]string{}
				continue
			}
			k, v, _ := strings.Cut(sc.Text(), ":")
			frame[k] += strings.TrimPrefix(v, " ")
		}
	}()
	return s
}

// next is the next event frame; it fails after 20 s without one.
func (s *sseStream) next(t *testing.T) map[string]string {
	t.Helper()
	select {
	case f, ok := <-s.frames:
		if !ok {
			t.Fatal("stream ended")
		}
		return f
	case <-time.After(20 * time.Second):
		t.Fatal("no event within 20 s")
	}
	return nil
}
