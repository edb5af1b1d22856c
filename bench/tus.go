package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/re-factor/resources/blobstore/blobtest"
)

// The resumable uploads section's shape and targets (issue 18).
const (
	tusHeading    = "## Resumable uploads (tus)"
	tusNextBefore = "## Notes"
	tusChunk      = 8 << 20
	tusParallel   = 8

	tusFileRate    = 150 // MiB/s, one upload on file://
	tusS3Rate      = 50  // MiB/s, one upload on SeaweedFS S3
	tusOneRSS      = 100 << 20
	tusParallelRSS = 150 << 20
)

// tusRow is one measured row: uploads of size bytes, parallel at once.
type tusRow struct {
	store       string
	parallel    int
	size        int64
	took        time.Duration
	peak        int64
	serverCPU   time.Duration
	shaOK       int
	loadAtStart string
}

func (r tusRow) rate() float64 {
	return float64(int64(r.parallel)*r.size) / (1 << 20) / r.took.Seconds()
}

// benchTus measures resumable uploads on file:// and SeaweedFS S3: one
// upload of o.tusMiB in 8 MiB PATCHes, then tusParallel uploads of
// o.tusMiB/4 at once, against a server of its own per store (SQLite).
func benchTus(ctx context.Context, o options) error {
	loadBefore := loadAverage()
	var rows []tusRow
	for store := range strings.SplitSeq(o.tusStores, ",") {
		if store = strings.TrimSpace(store); store != "file" && store != "s3" {
			return fmt.Errorf("-tus-stores: %q is neither file nor s3", store)
		}
		r, err := benchTusStore(ctx, o, store)
		if err != nil {
			return fmt.Errorf("tus on %s: %w", store, err)
		}
		rows = append(rows, r...)
	}
	if err := blobtest.Cleanup(); err != nil {
		logf("tus: stopping SeaweedFS: %v", err)
	}
	return spliceSection(o.out, tusHeading, tusNextBefore, tusMarkdown(rows, loadBefore, loadAverage()))
}

func benchTusStore(ctx context.Context, o options, store string) ([]tusRow, error) {
	env := []string{"MAX_OPEN_UPLOADS=100"}
	if store == "s3" {
		u, err := blobtest.Bucket(ctx)
		if err != nil {
			return nil, err
		}
		env = append(env, "BLOB_URL="+u, "AWS_ACCESS_KEY_ID="+blobtest.AccessKey, "AWS_SECRET_ACCESS_KEY="+blobtest.SecretKey)
	}
	srv, dir, err := sectionServer(ctx, o, "tus-"+store, env...)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	defer os.RemoveAll(filepath.Join(dir, "blobs"))
	tok, err := writeToken("tus")
	if err != nil {
		return nil, err
	}
	c := tusBench{base: srv.url, tok: tok}
	size := int64(o.tusMiB) << 20
	var rows []tusRow
	for _, shape := range []struct {
		parallel int
		size     int64
	}{{1, size}, {tusParallel, size / 4}} {
		if row := map[bool]string{true: "one", false: "parallel"}[shape.parallel == 1]; !strings.Contains(","+o.tusRows+",", ","+row+",") {
			continue
		}
		logf("tus on %s: %d × %d MiB", store, shape.parallel, shape.size>>20)
		row := tusRow{store: store, parallel: shape.parallel, size: shape.size, loadAtStart: loadAverage()}
		srv.resetPeakRSS()
		cpu, start := srv.cpuTime(), time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, shape.parallel)
		var mu sync.Mutex
		for i := range shape.parallel {
			wg.Go(func() {
				ok, err := c.upload(ctx, fmt.Sprintf("%s-%d-%d", store, shape.parallel, i), shape.size, uint64(i+1))
				if err != nil {
					errs <- err
					return
				}
				if ok {
					mu.Lock()
					row.shaOK++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			return nil, err
		}
		row.took, row.serverCPU, row.peak = time.Since(start), srv.cpuTime()-cpu, srv.status("VmHWM")
		rows = append(rows, row)
		logf("tus on %s: %.0f MiB/s, peak RSS %.0f MB", store, row.rate(), float64(row.peak)/(1<<20))
	}
	return rows, nil
}

// tusBench is the benchmark's tus client: Go's HTTP client, one upload
// per goroutine, bodies generated as they are sent.
type tusBench struct{ base, tok string }

func (c tusBench) do(ctx context.Context, method, url string, body io.Reader, n int64, header ...string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return nil, err
	}
	req.ContentLength = n
	req.Header.Set("Authorization", "Bearer "+c.tok)
	req.Header.Set("Tus-Resumable", "1.0.0")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp, nil
}

// upload sends size pseudo-random bytes (seeded by seed) as the resource
// name, in tusChunk PATCHes, and reports whether the resource's sha256 is
// the bytes'.
func (c tusBench) upload(ctx context.Context, name string, size int64, seed uint64) (bool, error) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	resp, err := c.do(ctx, http.MethodPost, c.base+"/v1/uploads", nil, 0, "Upload-Length", strconv.FormatInt(size, 10),
		"Upload-Metadata", "name "+b64(name)+",directory_path "+b64("/bench"))
	if err != nil {
		return false, err
	}
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusCreated || loc == "" {
		return false, fmt.Errorf("create upload: %s", resp.Status)
	}
	src := rand.NewChaCha8([32]byte{byte(seed)})
	h := sha256.New()
	for off := int64(0); off < size; {
		n := min(tusChunk, size-off)
		body := io.TeeReader(io.LimitReader(src, n), h)
		resp, err := c.do(ctx, http.MethodPatch, loc, body, n, "Upload-Offset", strconv.FormatInt(off, 10),
			"Content-Type", "application/offset+octet-stream")
		if err != nil {
			return false, err
		}
		if resp.StatusCode != http.StatusNoContent {
			return false, fmt.Errorf("PATCH at %d: %s", off, resp.Status)
		}
		off += n
	}
	id := loc[strings.LastIndex(loc, "/")+1:]
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/v1/resource/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+c.tok)
	got, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, err
	}
	defer got.Body.Close()
	var r struct {
		SHA256 string `json:"sha256"`
	}
	if err := json.NewDecoder(got.Body).Decode(&r); err != nil {
		return false, err
	}
	return r.SHA256 == hex.EncodeToString(h.Sum(nil)), nil
}

func tusMarkdown(rows []tusRow, loadBefore, loadAfter string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\nWritten by `make bench` (`make bench BENCH_FLAGS=\"-only tus\"` runs this section alone) on %s; "+
		"one-minute load average %s at the start, %s at the end (the machine is shared: read the CPU per GiB, "+
		"steadier than the rates). One `refactor serve` per store (SQLite; `file://`, then a local SeaweedFS "+
		"over S3), a Go client on the same two cores sending pseudo-random bytes in %d MiB PATCHes and checking "+
		"each resource's `sha256` against its own. The server's peak RSS (VmHWM) is reset before each row.\n\n",
		tusHeading, time.Now().UTC().Format("2006-01-02"), loadBefore, loadAfter, tusChunk>>20)
	b.WriteString("| store | uploads | load at start | MiB/s | server peak RSS | server CPU per GiB | sha256 right | targets |\n|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		gib := float64(int64(r.parallel)*r.size) / (1 << 30)
		var target string
		switch {
		case r.parallel == 1 && r.store == "file":
			target = fmt.Sprintf("≥ %d MiB/s: %s; RSS ≤ %d MB: %s", tusFileRate, met(r.rate() >= tusFileRate), tusOneRSS>>20, met(r.peak <= tusOneRSS))
		case r.parallel == 1:
			target = fmt.Sprintf("≥ %d MiB/s: %s; RSS ≤ %d MB: %s", tusS3Rate, met(r.rate() >= tusS3Rate), tusOneRSS>>20, met(r.peak <= tusOneRSS))
		default:
			target = fmt.Sprintf("RSS ≤ %d MB: %s; every sha256 right: %s", tusParallelRSS>>20, met(r.peak <= tusParallelRSS), met(r.shaOK == r.parallel))
		}
		fmt.Fprintf(&b, "| %s | %d × %d MiB | %s | **%.0f** | **%.0f MB** | %.2f s | %d of %d | %s |\n",
			map[string]string{"file": "`file://`", "s3": "SeaweedFS S3"}[r.store], r.parallel, r.size>>20, r.loadAtStart,
			r.rate(), float64(r.peak)/(1<<20), r.serverCPU.Seconds()/gib, r.shaOK, r.parallel, target)
	}
	b.WriteString("\nThe server hashes each PATCH as it arrives (SHA-256 state kept in the upload's row between " +
		"requests), so completion reads nothing back: on `file://` it renames the file into place, on S3 it " +
		"completes the multipart upload of the resource's own key. Memory per PATCH is one 8 MiB part buffer " +
		"on S3, mapped outside Go's heap so that GOGC's headroom is not five times it (`blobstore/partbuf_linux.go`), " +
		"and a 256 KiB copy buffer on `file://`. S3 parts go unsigned with a CRC32 computed in one pass, where " +
		"the SDK read each part twice (CRC32 and the signature's SHA-256).\n\n")
	return b.String()
}
