package resilience

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"testing"
	"time"
)

var kills = flag.Int("kills", 3, "SIGKILLs per engine in TestKillDuringCreates")

// TestKillDuringCreates kills the server with SIGKILL at random moments
// while creates pour in, restarts it on the same database and storage, and
// checks that nothing acknowledged was lost and nothing half-made shows:
// every create answered 200 is there with its bytes and sha256, and every
// resource listed can be downloaded and matches its sha256.
func TestKillDuringCreates(t *testing.T) {
	for name, dbURL := range databases {
		t.Run(name, func(t *testing.T) {
			env := []string{"DATABASE_URL=" + dbURL(t), "BLOB_URL=file://" + t.TempDir(),
				"DB_STATEMENT_TIMEOUT=" + stmtTimeout.String()}
			l := newLoader(t, "", []string{"a", "b"}, 100, 1<<40)
			rng := mrand.New(mrand.NewPCG(20261206, 2))
			for i := range *kills {
				srv := startServer(t, env...)
				l.base = srv.URL
				stopLoad := l.start(6)
				time.Sleep(time.Duration(300+rng.IntN(1200)) * time.Millisecond)
				srv.Kill()
				stopLoad()
				t.Logf("kill %d: %d creates acknowledged so far", i+1, len(l.acked))
			}
			srv := startServer(t, env...)
			verifyNothingLost(t, srv.URL, l)
		})
	}
}

func verifyNothingLost(t *testing.T, base string, l *loader) {
	t.Helper()
	ctx := context.Background()
	for id, a := range l.acked {
		r := do(ctx, http.MethodGet, base+"/v1/resource/"+id+"/content", l.tokens[a.account], nil)
		if r.status != http.StatusOK || !bytes.Equal(r.body, a.content) {
			t.Errorf("acknowledged %s: download %d, %d bytes; want 200 and its %d bytes", id, r.status, len(r.body), len(a.content))
		}
	}
	listed := 0
	for _, account := range l.accounts {
		for page := 1; ; page++ {
			r := do(ctx, http.MethodGet, fmt.Sprintf("%s/v1/resources?page_size=100&page=%d", base, page), l.tokens[account], nil)
			var body struct {
				Items []struct{ ID, SHA256 string } `json:"items"`
			}
			if r.status != http.StatusOK || json.Unmarshal(r.body, &body) != nil {
				t.Fatalf("list %s page %d = %d %s", account, page, r.status, r.body)
			}
			for _, it := range body.Items {
				listed++
				c := do(ctx, http.MethodGet, base+"/v1/resource/"+it.ID+"/content", l.tokens[account], nil)
				sum := sha256.Sum256(c.body)
				if c.status != http.StatusOK || hex.EncodeToString(sum[:]) != it.SHA256 {
					t.Errorf("listed %s is half-made: download %d, sha256 %x, want %s", it.ID, c.status, sum, it.SHA256)
				}
			}
			if len(body.Items) < 100 {
				break
			}
		}
	}
	if listed < len(l.acked) {
		t.Errorf("%d resources listed, fewer than the %d acknowledged", listed, len(l.acked))
	}
	t.Logf("%d acknowledged creates all present; %d listed, all complete", len(l.acked), listed)
}
