package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The uploads section's shape and targets (issue 9).
const (
	uploadConcurrency    = 16
	uploadTotal          = 32
	anonymousConcurrency = 64
	// anonymousPatchMiB is the body each anonymous tus PATCH announces
	// (issue 18: "anonymous PATCH of 100 MiB: 401, no body read, no memory
	// growth").
	anonymousPatchMiB = 100

	maxUploadRSS      = 200 << 20
	minUploadRate     = 45 // MiB of content a second
	maxAnonymousRead  = 1 << 20
	maxAnonymousRise  = 20 << 20
	uploadsHeading    = "## Uploads"
	uploadsNextBefore = "## Notes"
)

// uploadsResult is what the uploads section measured.
type uploadsResult struct {
	size                  int64 // content of each upload, in bytes
	loadBefore, loadAfter string

	creates      map[int]int // status → count
	createTime   time.Duration
	createPeak   int64         // server VmHWM over the creates
	createCPU    time.Duration // the server's, over all creates
	loadgenCPU   time.Duration // this process's, over all creates
	anonymous    map[int]int
	anonRead     int64 // bytes the server process read, over all anonymous requests
	anonBodyRead int64 // the most body bytes read before a 401, from the server's log
	anonRise     int64 // VmHWM over the anonymous requests above VmRSS before them
	anonSlowest  time.Duration
	// The same of the anonymous tus PATCHes.
	patches                             map[int]int
	patchRead, patchBodyRead, patchRise int64
	patchSlowest                        time.Duration
	serverBefore                        int64 // VmRSS of the idle server
}

// benchUploads runs the uploads section against a server of its own (SQLite
// and file:// storage, the defaults) and writes it into o.out: first the
// anonymous POSTs, then the creates, the server's peak RSS reset before each.
func benchUploads(ctx context.Context, o options) error {
	srv, dir, err := sectionServer(ctx, o, "uploads")
	if err != nil {
		return err
	}
	logPath := filepath.Join(dir, "server.log")
	defer srv.stop()
	tok, err := writeToken("uploads")
	if err != nil {
		return err
	}
	size := int64(o.uploadMiB) << 20
	res := uploadsResult{size: size, loadBefore: loadAverage(), serverBefore: srv.status("VmRSS")}

	logf("uploads: %d concurrent anonymous POSTs of %d MiB", anonymousConcurrency, o.uploadMiB)
	srv.resetPeakRSS()
	rss, read := srv.status("VmRSS"), srv.bytesRead()
	start := time.Now()
	res.anonymous, res.anonSlowest = sendCreates(ctx, srv.url, "", size, anonymousConcurrency, anonymousConcurrency)
	res.anonRead = srv.bytesRead() - read
	res.anonRise = srv.status("VmHWM") - rss
	if res.anonBodyRead, err = mostBodyRead(logPath, "/v1/resources", http.MethodPost, http.StatusUnauthorized); err != nil {
		return err
	}
	logf("uploads: anonymous answers %v in %v", res.anonymous, time.Since(start).Round(time.Millisecond))

	logf("uploads: %d concurrent anonymous tus PATCHes of %d MiB", anonymousConcurrency, anonymousPatchMiB)
	srv.resetPeakRSS()
	rss, read = srv.status("VmRSS"), srv.bytesRead()
	start = time.Now()
	res.patches, res.patchSlowest = sendPatches(ctx, srv.url, anonymousPatchMiB<<20, anonymousConcurrency)
	res.patchRead = srv.bytesRead() - read
	res.patchRise = srv.status("VmHWM") - rss
	if res.patchBodyRead, err = mostBodyRead(logPath, "/v1/uploads/:id", http.MethodPatch, http.StatusUnauthorized); err != nil {
		return err
	}
	logf("uploads: anonymous PATCHes answered %v in %v", res.patches, time.Since(start).Round(time.Millisecond))

	logf("uploads: %d creates of %d MiB, %d at a time", uploadTotal, o.uploadMiB, uploadConcurrency)
	srv.resetPeakRSS()
	cpu, ownCPU := srv.cpuTime(), selfCPU()
	start = time.Now()
	res.creates, _ = sendCreates(ctx, srv.url, tok, size, uploadTotal, uploadConcurrency)
	res.createTime = time.Since(start)
	res.createCPU, res.loadgenCPU = srv.cpuTime()-cpu, selfCPU()-ownCPU
	res.createPeak = srv.status("VmHWM")
	logf("uploads: creates answered %v in %v", res.creates, res.createTime.Round(time.Millisecond))

	res.loadAfter = loadAverage()
	return spliceSection(o.out, uploadsHeading, uploadsNextBefore, res.markdown())
}

// sendCreates sends n creates of size bytes of content, concurrency at a
// time, each body generated as it is sent; token "" sends them
// anonymously. It returns the count of each status (0 for a transport
// error) and the slowest answer.
func sendCreates(ctx context.Context, base, token string, size int64, n, concurrency int) (map[int]int, time.Duration) {
	var mu sync.Mutex
	statuses := map[int]int{}
	var slowest time.Duration
	next := make(chan int)
	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() {
			// One connection per worker, as separate clients would have.
			client := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Minute}
			defer client.CloseIdleConnections()
			for i := range next {
				start := time.Now()
				status := sendCreate(ctx, client, base, token, size, i)
				took := time.Since(start)
				mu.Lock()
				statuses[status]++
				slowest = max(slowest, took)
				mu.Unlock()
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return statuses, slowest
}

// sendPatches sends n anonymous tus PATCHes at once, each announcing size
// bytes of an upload that does not exist, its body generated as it is
// sent. It returns the count of each status (0 for a transport error) and
// the slowest answer.
func sendPatches(ctx context.Context, base string, size int64, n int) (map[int]int, time.Duration) {
	var mu sync.Mutex
	statuses := map[int]int{}
	var slowest time.Duration
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			client := &http.Client{Transport: &http.Transport{}, Timeout: time.Minute}
			defer client.CloseIdleConnections()
			start := time.Now()
			status := 0
			url := fmt.Sprintf("%s/v1/uploads/%08x-0000-4000-8000-%012x", base, i, i)
			req, err := http.NewRequestWithContext(ctx, http.MethodPatch, url, io.LimitReader(contentBytes{}, size))
			if err == nil {
				req.ContentLength = size
				req.Header.Set("Tus-Resumable", "1.0.0")
				req.Header.Set("Upload-Offset", "0")
				req.Header.Set("Content-Type", "application/offset+octet-stream")
				var resp *http.Response
				if resp, err = client.Do(req); err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					status = resp.StatusCode
				}
			}
			if err != nil {
				logf("uploads: PATCH %d: %v", i, err)
			}
			mu.Lock()
			statuses[status]++
			slowest = max(slowest, time.Since(start))
			mu.Unlock()
		})
	}
	wg.Wait()
	return statuses, slowest
}

func sendCreate(ctx context.Context, client *http.Client, base, token string, size int64, i int) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/resources", createBody(i, size))
	if err != nil {
		return 0
	}
	req.ContentLength = createBodyLength(i, size)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		logf("uploads: request %d: %v", i, err)
		return 0
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// createBody is create i's JSON, its content size generated bytes as a
// data URL, produced as it is read.
func createBody(i int, size int64) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		_, err := io.WriteString(pw, createPrefix(i))
		if err == nil {
			enc := base64.NewEncoder(base64.StdEncoding, pw)
			if _, err = io.CopyN(enc, contentBytes{}, size); err == nil {
				err = enc.Close()
			}
		}
		if err == nil {
			_, err = io.WriteString(pw, `"}`)
		}
		pw.CloseWithError(err)
	}()
	return pr
}

func createPrefix(i int) string {
	return fmt.Sprintf(`{"name":"upload-%d.bin","directory_path":"/bench","content":"data:application/octet-stream;base64,`, i)
}

func createBodyLength(i int, size int64) int64 {
	return int64(len(createPrefix(i))) + int64(base64.StdEncoding.EncodedLen(int(size))) + 2
}

// contentBytes is an endless stream of bytes that compress poorly.
type contentBytes struct{}

func (contentBytes) Read(p []byte) (int, error) {
	x := uint32(len(p))*2654435761 + 1
	for i := range p {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		p[i] = byte(x)
	}
	return len(p), nil
}

// selfCPU returns the CPU time this process (the load generator) has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// status returns a field of the server's /proc status in bytes (VmRSS,
// VmHWM), 0 when it cannot be read.
func (s *serverProc) status(field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// resetPeakRSS sets the server's VmHWM back to its current RSS.
func (s *serverProc) resetPeakRSS() {
	path := fmt.Sprintf("/proc/%d/clear_refs", s.cmd.Process.Pid)
	if err := os.WriteFile(path, []byte("5"), 0); err != nil {
		logf("uploads: cannot reset the peak RSS (%v); figures include earlier peaks", err)
	}
}

// bytesRead returns what the server process has read through read(2) and
// its kin, sockets included (rchar of /proc/PID/io).
func (s *serverProc) bytesRead() int64 { return s.procField("io", "rchar:") }

// cpuTime returns the CPU time the server has used.
func (s *serverProc) cpuTime() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses: utime and
	// stime are the 12th and 13th of them, in clock ticks (100 a second).
	_, rest, ok := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+st) * 10 * time.Millisecond
}

func (r uploadsResult) markdown() string {
	var b strings.Builder
	mib := func(n int64) float64 { return float64(n) / (1 << 20) }
	content := float64(uploadTotal*r.size) / (1 << 20)
	rate := content / r.createTime.Seconds()
	// What two cores of their own would allow the server and the load
	// generator, from the CPU they spent: the figure to read when the load
	// average says other work shared the machine.
	bound := 2 * content / (r.createCPU + r.loadgenCPU).Seconds()
	fmt.Fprintf(&b, "%s\n\nWritten by `make bench` (`make bench BENCH_FLAGS=\"-only uploads\"` runs this section alone) "+
		"on %s; one-minute load average %s at the start, %s at the end. The server is `refactor serve` with the "+
		"defaults (SQLite, `file://` storage, `MAX_CONTENT_BYTES` 25 MiB), %.0f MB resident when idle. The clients "+
		"are Go's HTTP client without `Expect: 100-continue`, one connection each, generating their bodies as they "+
		"send them (a %d MiB data URL is a %.0f MiB body). The server's peak RSS (VmHWM) is reset before each row.\n\n",
		uploadsHeading, time.Now().UTC().Format("2006-01-02"), r.loadBefore, r.loadAfter, mib(r.serverBefore),
		r.size>>20, mib(int64(base64.StdEncoding.EncodedLen(int(r.size)))))
	b.WriteString("| what was sent | answers | measured | targets |\n|---|---|---|---|\n")
	fmt.Fprintf(&b, "| %d concurrent authenticated creates of %d MiB (data URL content), %d in all | %s in %.1f s "+
		"| server peak RSS **%.0f MB**; **%.0f MiB/s** of content; CPU per create: server %.0f ms, load "+
		"generator %.0f ms, so at most %.0f MiB/s on two cores of their own "+
		"| peak RSS ≤ %d MB: %s; ≥ %d MiB/s: %s |\n",
		uploadConcurrency, r.size>>20, uploadTotal, answers(r.creates), r.createTime.Seconds(),
		mib(r.createPeak), rate, float64(r.createCPU.Milliseconds())/uploadTotal,
		float64(r.loadgenCPU.Milliseconds())/uploadTotal, bound,
		maxUploadRSS>>20, met(r.createPeak <= maxUploadRSS), minUploadRate, met(rate >= minUploadRate))
	fmt.Fprintf(&b, "| %d concurrent anonymous POSTs of %d MiB bodies | %s, the slowest after %v "+
		"| body bytes read before the answer: **%d** at most; all reads, lingering included: %.2f MiB a request; "+
		"peak RSS rise **%.1f MB** | all 401: %s; < 1 MiB read: %s; rise ≤ %d MB: %s |\n",
		anonymousConcurrency, r.size>>20, answers(r.anonymous), r.anonSlowest.Round(time.Millisecond),
		r.anonBodyRead, mib(r.anonRead/anonymousConcurrency), mib(r.anonRise),
		met(r.anonymous[http.StatusUnauthorized] == anonymousConcurrency), met(r.anonBodyRead < maxAnonymousRead),
		maxAnonymousRise>>20, met(r.anonRise <= maxAnonymousRise))
	fmt.Fprintf(&b, "| %d concurrent anonymous tus PATCHes of %d MiB bodies (`/v1/uploads/{id}`) | %s, the slowest after %v "+
		"| body bytes read before the answer: **%d** at most; all reads, lingering included: %.2f MiB a request; "+
		"peak RSS rise **%.1f MB** | all 401: %s; < 1 MiB read: %s; rise ≤ %d MB: %s |\n\n",
		anonymousConcurrency, anonymousPatchMiB, answers(r.patches), r.patchSlowest.Round(time.Millisecond),
		r.patchBodyRead, mib(r.patchRead/anonymousConcurrency), mib(r.patchRise),
		met(r.patches[http.StatusUnauthorized] == anonymousConcurrency), met(r.patchBodyRead < maxAnonymousRead),
		maxAnonymousRise>>20, met(r.patchRise <= maxAnonymousRise))
	if rate < minUploadRate {
		fmt.Fprintf(&b, "The content rate depends on the CPU the server and the load generator get: with a load "+
			"average of %s–%s, other work had most of the two cores. The CPU time they spent is the steadier "+
			"figure: %.0f MiB/s would be theirs with the cores to themselves (%s the %d MiB/s target). The "+
			"server's part is mostly hashing (SHA-256 for the resource, MD5 that gocloud's fileblob computes "+
			"for every object), base64 and JSON string decoding, and socket and file system calls.\n\n",
			r.loadBefore, r.loadAfter, bound, map[bool]string{true: "above", false: "below"}[bound >= minUploadRate], minUploadRate)
	}
	b.WriteString("Body bytes read before the answer are the server's own count (`body_read` in its log line of " +
		"each request). All reads are everything the process read through `read(2)` while the anonymous requests " +
		"ran (`rchar` in `/proc/PID/io`), divided by their number: the request heads, and, after the 401, what the " +
		"client had already handed to its socket before it saw the answer and hung up (bounded by the two " +
		"sockets' buffers, not by the body). The server reads and discards that after a 200 ms pause, for at most " +
		"3 s, so that clients that write their whole body before reading (Python's urllib) still get the answer " +
		"rather than a connection reset.\n\n")
	return b.String()
}

// mostBodyRead returns the most body bytes the server read before
// answering a request to POST /v1/resources with status, from the JSON lines
// of its log at path.
func mostBodyRead(path, route, method string, status int) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var most int64 = -1
	dec := json.NewDecoder(f)
	for {
		var line struct {
			Route    string `json:"route"`
			Method   string `json:"method"`
			Status   int    `json:"status"`
			BodyRead *int64 `json:"body_read"`
		}
		if err := dec.Decode(&line); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return 0, fmt.Errorf("read the server's log %s: %w", path, err)
		}
		if line.Route == route && line.Method == method && line.Status == status && line.BodyRead != nil {
			most = max(most, *line.BodyRead)
		}
	}
	if most < 0 {
		return 0, fmt.Errorf("the server's log %s has no body_read for %s %s answered %d", path, method, route, status)
	}
	return most, nil
}

// answers renders status counts as "32 × 200".
func answers(statuses map[int]int) string {
	var parts []string
	for _, s := range []int{200, 206, 302, 304, 400, 401, 404, 409, 413, 429, 500, 503, 0} {
		if n := statuses[s]; n > 0 {
			name := strconv.Itoa(s)
			if s == 0 {
				name = "transport errors"
			}
			parts = append(parts, fmt.Sprintf("%d × %s", n, name))
		}
	}
	return strings.Join(parts, ", ")
}

// spliceSection puts section into the report at path in place of the
// section under heading, or before the one under nextBefore when it has
// none, leaving the rest as it is.
func spliceSection(path, heading, nextBefore, section string) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		b, err = []byte("# Benchmarks\n\n"), nil
	}
	if err != nil {
		return err
	}
	doc := string(b)
	if start := strings.Index(doc, heading+"\n"); start >= 0 {
		end := len(doc)
		if i := strings.Index(doc[start+len(heading):], "\n## "); i >= 0 {
			end = start + len(heading) + i + 1
		}
		doc = doc[:start] + section + doc[end:]
	} else if i := strings.Index(doc, nextBefore+"\n"); i >= 0 {
		doc = doc[:i] + section + doc[i:]
	} else {
		doc += "\n" + section
	}
	return os.WriteFile(path, []byte(doc), 0o644)
}
