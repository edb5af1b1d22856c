package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/re-factor/resources/internal/testkit"
	"github.com/re-factor/resources/store/storetest"
)

// TestServeThroughPgBouncer runs the real binary on PostgreSQL through
// PgBouncer in transaction mode, PgBouncer's settings otherwise stock, as
// the README says to: 16 clients at once create, get and list with every
// filter, and every answer is a success. Then a statement waiting on a lock
// past DB_STATEMENT_TIMEOUT is answered 503 and is no longer waiting on the
// server.
//
// The timeout leaves room for 16 creates into one account, which queue on
// the account's event counter (store/events.go), on a loaded CI machine.
func TestServeThroughPgBouncer(t *testing.T) {
	const stmtTimeout = 3 * time.Second
	const secret = "pgbouncer-test-secret-0123456789abcdef"
	dir := t.TempDir()
	dbURL := storetest.URL(t, storetest.ViaPgBouncer)
	bin, err := testkit.BuildRefactor(dir)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := testkit.StartServer(bin, "DATABASE_URL="+dbURL, "BLOB_URL=file://"+filepath.Join(dir, "blobs"),
		"JWT_SECRET="+secret, "DB_POOL_SIZE=16", "DB_STATEMENT_TIMEOUT="+stmtTimeout.String())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Kill()
	token := testkit.Token(t, []byte(secret), "acme", "resources:read resources:write")

	const clients, duration = 16, 2 * time.Second
	type answer struct {
		what   string
		status int
	}
	var mu sync.Mutex
	answers := map[answer]int{}
	var wg sync.WaitGroup
	end := time.Now().Add(duration)
	for c := range clients {
		wg.Go(func() {
			for i := 0; time.Now().Before(end); i++ {
				for what, status := range mixedRound(t, srv.URL, token, c, i) {
					mu.Lock()
					answers[answer{what, status}]++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	for a, n := range answers {
		if a.status != http.StatusOK {
			t.Errorf("%d answers to %s: %d", n, a.what, a.status)
		}
	}
	t.Logf("answers: %v", answers)

	t.Run("lock wait past the statement timeout", func(t *testing.T) {
		id := create(t, srv.URL, token, "locked.txt")
		lock := holdRowLock(t, dbURL, id)
		defer lock.Rollback()
		start := time.Now()
		status, body := send(t, http.MethodPut, srv.URL+"/v1/resource/"+id, token, `{"name": "renamed.txt"}`)
		if status != http.StatusServiceUnavailable {
			t.Errorf("PUT waiting on a lock: %d %s, want 503", status, body)
		}
		if d := time.Since(start); d > stmtTimeout+4*time.Second {
			t.Errorf("PUT took %v, want about DB_STATEMENT_TIMEOUT (%v)", d, stmtTimeout)
		}
		var waiting int
		if err := lock.QueryRow(`SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			t.Errorf("%d statements still wait for the lock on the server", waiting)
		}
	})
}

// mixedRound creates a resource, gets it and lists with one filter of
// several (by round i), and returns each request's status by what it was.
func mixedRound(t *testing.T, base, token string, client, i int) map[string]int {
	lists := []string{"", "?tags=a", "?tags=a,b", "?directory_prefix=/d1", "?tags=b&directory_prefix=/d0&sort=asc",
		"?created_after=2020-01-01T00:00:00Z&page_size=5", "?page=2&page_size=3"}
	body := fmt.Sprintf(`{"name": "f-%d-%d.txt", "directory_path": "/d%d", "tags": ["a"%s], "content": "data:text/plain;base64,%s"}`,
		client, i, i%2, map[bool]string{true: `, "b"`}[i%3 == 0], base64.StdEncoding.EncodeToString([]byte("hello")))
	got := map[string]int{}
	status, answer := send(t, http.MethodPost, base+"/v1/resources", token, body)
	got["create"] = status
	var r struct{ ID string }
	if json.Unmarshal(answer, &r) == nil && r.ID != "" {
		got["get"], _ = send(t, http.MethodGet, base+"/v1/resource/"+r.ID, token, "")
	}
	got["list"+lists[i%len(lists)]], _ = send(t, http.MethodGet, base+"/v1/resources"+lists[i%len(lists)], token, "")
	return got
}

// create stores a small resource named name and returns its id.
func create(t *testing.T, base, token, name string) string {
	t.Helper()
	status, body := send(t, http.MethodPost, base+"/v1/resources", token,
		`{"name": "`+name+`", "directory_path": "/", "content": "data:text/plain;base64,aGk="}`)
	var r struct{ ID string }
	if err := json.Unmarshal(body, &r); status != http.StatusOK || err != nil {
		t.Fatalf("create: %d %s", status, body)
	}
	return r.ID
}

func send(t *testing.T, method, url, token, body string) (int, []byte) {
	var rd io.Reader
	if body != "" {
		rd = bytes.NewReader([]byte(body))
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Error(err)
		return 0, nil
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("%s %s: %v", method, url, err)
		return 0, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// holdRowLock locks the resource's row in a transaction of its own through
// the same PgBouncer, which holds one server connection for it.
func holdRowLock(t *testing.T, dbURL, id string) *sql.Tx {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Del("pool_mode") // the store's parameter, not lib/pq's
	u.RawQuery = q.Encode()
	tx, err := storetest.SQL(t, u.String()).BeginTx(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`SELECT 1 FROM resources WHERE id = $1 FOR UPDATE`, id); err != nil {
		t.Fatal(err)
	}
	return tx
}
