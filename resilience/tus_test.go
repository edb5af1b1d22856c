package resilience

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/re-factor/resources/blobstore/blobtest"
)

var tusSize = flag.Int64("tus.size", 64<<20, "bytes of the upload TestTusResumesAfterKill kills the server in the middle of")

// tusClient speaks just enough tus to drive the binary from outside.
type tusClient struct {
	t   *testing.T
	tok string
}

func (c tusClient) request(method, url string, body io.Reader, header ...string) (*http.Response, error) {
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.tok)
	req.Header.Set("Tus-Resumable", "1.0.0")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/offset+octet-stream")
	}
	return (&http.Client{Timeout: 5 * time.Minute}).Do(req)
}

// create starts an upload of size bytes named name and returns its path.
func (c tusClient) create(base string, size int64, name string) string {
	c.t.Helper()
	meta := "name " + base64.StdEncoding.EncodeToString([]byte(name)) + ",directory_path " + base64.StdEncoding.EncodeToString([]byte("/tus"))
	resp, err := c.request(http.MethodPost, base+"/v1/uploads", nil, "Upload-Length", strconv.FormatInt(size, 10), "Upload-Metadata", meta)
	if err != nil {
		c.t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusCreated || !strings.Contains(loc, "/v1/uploads/") {
		c.t.Fatalf("create upload: %d, Location %q", resp.StatusCode, loc)
	}
	return loc[strings.Index(loc, "/v1/uploads/"):]
}

// offset asks HEAD where the upload stands.
func (c tusClient) offset(base, path string) int64 {
	c.t.Helper()
	resp, err := c.request(http.MethodHead, base+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	resp.Body.Close()
	n, err := strconv.ParseInt(resp.Header.Get("Upload-Offset"), 10, 64)
	if resp.StatusCode != http.StatusOK || err != nil {
		c.t.Fatalf("HEAD %s: %d, Upload-Offset %q", path, resp.StatusCode, resp.Header.Get("Upload-Offset"))
	}
	return n
}

// patch sends data from offset and returns the status and new offset.
func (c tusClient) patch(base, path string, offset int64, data []byte) (int, int64) {
	resp, err := c.request(http.MethodPatch, base+path, bytes.NewReader(data), "Upload-Offset", strconv.FormatInt(offset, 10))
	if err != nil {
		return 0, -1
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 400 && resp.StatusCode != http.StatusConflict && resp.StatusCode != http.StatusLocked {
		c.t.Logf("PATCH %s from %d: %d %s", path, offset, resp.StatusCode, b)
	}
	n, _ := strconv.ParseInt(resp.Header.Get("Upload-Offset"), 10, 64)
	return resp.StatusCode, n
}

// checkResource checks that the upload became one resource holding data.
func (c tusClient) checkResource(base, path string, data []byte) {
	c.t.Helper()
	id := strings.TrimPrefix(path, "/v1/uploads/")
	r := do(context.Background(), http.MethodGet, base+"/v1/resource/"+id, c.tok, nil)
	var res struct {
		SHA256    string `json:"sha256"`
		SizeBytes int64  `json:"size_bytes"`
	}
	sum := sha256.Sum256(data)
	if r.status != http.StatusOK || json.Unmarshal(r.body, &res) != nil || res.SHA256 != hex.EncodeToString(sum[:]) || res.SizeBytes != int64(len(data)) {
		c.t.Fatalf("resource %s: %d %s; want sha256 %x, %d bytes", id, r.status, r.body, sum, len(data))
	}
	list := do(context.Background(), http.MethodGet, base+"/v1/resources?directory_prefix=/tus", c.tok, nil)
	if !strings.Contains(string(list.body), `"total":1`) {
		c.t.Errorf("resources under /tus: %s, want exactly one", list.body)
	}
}

// countingReader counts what was read of it and closes reached when half
// of it was.
type countingReader struct {
	r       io.Reader
	n, half int64
	reached chan struct{}
	once    sync.Once
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if atomic.AddInt64(&c.n, int64(n)) >= c.half {
		c.once.Do(func() { close(c.reached) })
	}
	return n, err
}

// TestTusResumesAfterKill sends an upload in one PATCH, SIGKILLs the server
// when about half of it is sent, restarts it on the same database and
// storage, and resumes with HEAD and PATCH: exactly one resource, with the
// file's sha256, and on file:// nothing left under uploads/.
func TestTusResumesAfterKill(t *testing.T) {
	var blobDir string // the file:// store's folder
	stores := map[string]func(t *testing.T) []string{
		"file": func(t *testing.T) []string {
			blobDir = t.TempDir()
			return []string{"BLOB_URL=file://" + blobDir}
		},
		"s3": func(t *testing.T) []string {
			return []string{"BLOB_URL=" + blobtest.S3URL(t), "AWS_ACCESS_KEY_ID=" + blobtest.AccessKey, "AWS_SECRET_ACCESS_KEY=" + blobtest.SecretKey}
		},
	}
	for engine, dbURL := range databases {
		for kind, blob := range stores {
			t.Run(engine+"/"+kind, func(t *testing.T) {
				env := append([]string{"DATABASE_URL=" + dbURL(t)}, blob(t)...)
				data := make([]byte, *tusSize)
				_, _ = rand.Read(data)
				c := tusClient{t: t, tok: token(t, "acct")}
				srv := startServer(t, env...)
				path := c.create(srv.URL, int64(len(data)), "big.bin")
				body := &countingReader{r: bytes.NewReader(data), half: int64(len(data)) / 2, reached: make(chan struct{})}
				done := make(chan struct{})
				go func() {
					defer close(done)
					resp, err := c.request(http.MethodPatch, srv.URL+path, body, "Upload-Offset", "0")
					if err == nil {
						resp.Body.Close()
					}
				}()
				start := time.Now()
				<-body.reached
				srv.Kill()
				<-done
				t.Logf("killed after %d of %d bytes were sent, %v after the PATCH began", atomic.LoadInt64(&body.n), len(data), time.Since(start).Round(time.Millisecond))

				srv = startServer(t, env...)
				off := c.offset(srv.URL, path)
				if off <= 0 || off > atomic.LoadInt64(&body.n) {
					t.Fatalf("offset after the kill: %d, %d bytes were sent", off, body.n)
				}
				t.Logf("%d of %d bytes kept across the kill", off, len(data))
				// The dead server's lease lapses within its TTL; until then
				// the PATCH answers 423, which clients retry.
				deadline := time.Now().Add(time.Minute)
				for {
					status, n := c.patch(srv.URL, path, off, data[off:])
					if status == http.StatusNoContent && n == int64(len(data)) {
						break
					}
					if status != http.StatusLocked || time.Now().After(deadline) {
						t.Fatalf("resuming PATCH: %d, offset %d", status, n)
					}
					time.Sleep(500 * time.Millisecond)
				}
				c.checkResource(srv.URL, path, data)
				t.Logf("resumed and finished in %v", time.Since(start).Round(time.Millisecond))
				if kind == "file" {
					if left, _ := os.ReadDir(filepath.Join(blobDir, "uploads")); len(left) != 0 {
						t.Errorf("%d partial objects left under uploads/ after the upload finished", len(left))
					}
				}
			})
		}
	}
}

// TestTusTwoReplicas: two servers on one PostgreSQL and one bucket share an
// upload. Its chunks alternate between them, and each chunk is also sent to
// both at once: one of the two stores it, the other is refused (409 or
// 423) and nothing is stored twice.
func TestTusTwoReplicas(t *testing.T) {
	c := newCluster(t)
	env := []string{"DATABASE_URL=" + c.url(), "BLOB_URL=" + blobtest.S3URL(t),
		"AWS_ACCESS_KEY_ID=" + blobtest.AccessKey, "AWS_SECRET_ACCESS_KEY=" + blobtest.SecretKey}
	a, b := startServer(t, env...), startServer(t, env...)
	data := make([]byte, 21<<20+5)
	_, _ = rand.Read(data)
	cl := tusClient{t: t, tok: token(t, "acct")}
	path := cl.create(a.URL, int64(len(data)), "shared.bin")
	const chunk = 3 << 20
	var off int64
	for i := 0; off < int64(len(data)); i++ {
		end := min(off+chunk, int64(len(data)))
		replicas := []string{a.URL, b.URL}
		if i%2 == 1 {
			replicas[0], replicas[1] = replicas[1], replicas[0]
		}
		if i%3 == 2 {
			// Both at once, from the same offset.
			statuses := make([]int, 2)
			var wg sync.WaitGroup
			for j, base := range replicas {
				wg.Go(func() { statuses[j], _ = cl.patch(base, path, off, data[off:end]) })
			}
			wg.Wait()
			won := 0
			for _, s := range statuses {
				switch s {
				case http.StatusNoContent:
					won++
				case http.StatusConflict, http.StatusLocked:
				default:
					t.Fatalf("concurrent PATCH answered %d", s)
				}
			}
			if won != 1 {
				t.Fatalf("concurrent PATCHes from offset %d: %v, want exactly one 204", off, statuses)
			}
		} else if status, n := cl.patch(replicas[0], path, off, data[off:end]); status != http.StatusNoContent || n != end {
			t.Fatalf("PATCH %d on %s: %d, offset %d", i, replicas[0], status, n)
		}
		off = end
		if got := cl.offset(replicas[1], path); got != off {
			t.Fatalf("the other replica's HEAD: %d, want %d", got, off)
		}
	}
	cl.checkResource(b.URL, path, data)
}
