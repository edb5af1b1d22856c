package server_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/re-factor/resources/internal/testkit"
	"github.com/re-factor/resources/store"
)

// TestCreateBodies sends create bodies that JSON allows in many shapes:
// each gets the answer a client can act on, never a 500, and no failure
// leaves bytes behind.
func TestCreateBodies(t *testing.T) {
	e := newEnvWith(t, store.SQLite, func(c config) { c.Catalog.MaxContentBytes = 1024 })
	tok := rwToken(t, "acct")
	const x = `"content":"data:text/plain;base64,eA=="`
	tests := []struct {
		name, body string
		status     int
		says       string
	}{
		{"content first", `{` + x + `,"name":"first.txt","directory_path":"/"}`, 200, ""},
		{"escapes in the data URL", `{"name":"esc.txt","directory_path":"\/","content":"data:text\/plain;base64,\u0065A=="}`, 200, ""},
		{"empty body", ``, 400, "request body: value is required"},
		{"an array", `[]`, 400, "request body: must be of type object"},
		{"null", `null`, 400, "request body: must be of type object"},
		{"truncated", `{"name":"a","directory_path":"/",` + x, 400, "not valid JSON"},
		{"data after the object", `{"name":"a","directory_path":"/",` + x + `} {}`, 400, "not valid JSON"},
		{"repeated member", `{"name":"a","name":"b","directory_path":"/",` + x + `}`, 400, `"name" is given twice`},
		{"repeated content", `{"name":"a","directory_path":"/",` + x + `,` + x + `}`, 400, "twice"},
		{"null name", `{"name":null,"directory_path":"/",` + x + `}`, 400, "name: must be of type string"},
		{"null content", `{"name":"a","directory_path":"/","content":null}`, 400, "content: must be of type string"},
		{"unknown member", `{"name":"a","directory_path":"/",` + x + `,"owner":"me"}`, 400, "owner"},
		{"content first, bad name", `{` + x + `,"name":"a/b","directory_path":"/"}`, 400, "name"},
		{"content first, missing path", `{` + x + `,"name":"a"}`, 400, "directory_path"},
		{"content and uri", `{` + x + `,"name":"a","directory_path":"/","uri":"https://example.org/"}`, 400, "exactly one"},
		{"content first, conflict", `{` + x + `,"name":"first.txt","directory_path":"/"}`, 409, ""},
		{"content past the cap", `{"name":"a","directory_path":"/","content":"data:a/b;base64,` + strings.Repeat("QUFB", 400) + `"}`,
			413, "content is larger than 1024 bytes"},
		{"other members past their bound", `{"name":"a","directory_path":"/",` + x + `,"metadata":{"k":"` + strings.Repeat("x", 1<<20) + `"}}`,
			413, "larger than"},
		{"control character in the data", `{"name":"a","directory_path":"/","content":"data:a/b;base64,eA` + "\x01" + `=="}`,
			400, "control character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.doBody(http.MethodPost, "/v1/resources", tok, http.Header{"Content-Type": {"application/json"}}, []byte(tt.body))
			if r.status != tt.status {
				t.Fatalf("status %d %s, want %d", r.status, r.body, tt.status)
			}
			if tt.status != http.StatusOK && !strings.Contains(r.errorMessage(t), tt.says) {
				t.Errorf("error %s does not say %q", r.body, tt.says)
			}
		})
	}
	assertNoOrphans(t, e)
}

// heapRise runs f and returns how far the bytes in live heap objects rose
// above where they were before it, read from runtime/metrics every
// millisecond. Garbage collection runs often meanwhile, so that garbage is
// not counted as growth: what stays is what f holds.
func heapRise(t *testing.T, f func()) uint64 {
	t.Helper()
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 {
		metrics.Read(sample)
		return sample[0].Value.Uint64()
	}
	runtime.GC()
	base := read()
	var peak uint64
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Go(func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			peak = max(peak, read())
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	f()
	close(done)
	wg.Wait()
	return peak - min(base, peak)
}

// maxHeapRise is what a 24 MiB create may add to the heap: buffers.
const maxHeapRise = 8 << 20

// pattern is n bytes of a repeating pattern, generated as they are read.
type pattern struct{ n, off int64 }

func (p *pattern) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	b = b[:min(int64(len(b)), p.n-p.off)]
	for i := range b {
		b[i] = byte((p.off + int64(i)) % 251)
	}
	p.off += int64(len(b))
	return len(b), nil
}

func patternSHA(n int64) string {
	h := sha256.New()
	io.Copy(h, &pattern{n: n})
	return hex.EncodeToString(h.Sum(nil))
}

// TestCreateMemory creates a 24 MiB resource from a data URL and from a
// uri, generating both bodies as they are sent, and fails when the heap
// grows with the content rather than by buffers.
func TestCreateMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 2 × 24 MiB")
	}
	const size = 24 << 20
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		io.Copy(w, &pattern{n: size})
	}))
	defer upstream.Close()
	e := newEnv(t, store.SQLite)
	tok := rwToken(t, "acct")
	want := patternSHA(size)
	dataURL := func() io.Reader {
		pr, pw := io.Pipe()
		go func() {
			io.WriteString(pw, `{"name":"big.bin","directory_path":"/","content":"data:application/octet-stream;base64,`)
			enc := base64.NewEncoder(base64.StdEncoding, pw)
			io.Copy(enc, &pattern{n: size})
			enc.Close()
			io.WriteString(pw, `"}`)
			pw.Close()
		}()
		return pr
	}
	uri := func() io.Reader {
		return strings.NewReader(`{"name":"fetched.bin","directory_path":"/","uri":"` + upstream.URL + `/big"}`)
	}
	for name, body := range map[string]func() io.Reader{"data URL": dataURL, "uri": uri} {
		t.Run(name, func(t *testing.T) {
			var got response
			rise := heapRise(t, func() {
				got = e.stream(http.MethodPost, "/v1/resources", tok, body())
			})
			if got.status != http.StatusOK || !strings.Contains(string(got.body), `"sha256":"`+want+`"`) {
				t.Fatalf("create = %d %.300s, want 200 with sha256 %s", got.status, got.body, want)
			}
			t.Logf("heap rose %.1f MiB for %d MiB of content", float64(rise)/(1<<20), size>>20)
			if rise > maxHeapRise {
				t.Errorf("heap rose %.1f MiB, want at most %d MiB", float64(rise)/(1<<20), maxHeapRise>>20)
			}
		})
	}
}

// stream sends body as JSON of unknown length and reads the answer.
func (e *env) stream(method, path, token string, body io.Reader) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, &onlyReader{body})
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	var r response
	r.status, r.header, r.body = testkit.Send(e.t, req)
	return r
}
