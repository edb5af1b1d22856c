package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// compressionRow is Q8 (a 100-item page) asked for with one Accept-Encoding:
// the body's bytes on the wire and the server's CPU per request under load.
type compressionRow struct {
	accept, encoding string // sent, and the Content-Encoding received
	wireBytes        int
	load             loadResult
	cpu              cpuShare
}

// compressionEncodings are the Accept-Encoding values compared: none, what
// Go's client and older browsers send, and what current browsers send.
var compressionEncodings = []string{"identity", "gzip", "gzip, deflate, br, zstd"}

// benchCompression measures Q8 with and without compression. The header is
// set on every request, so the load generator's client neither adds gzip
// nor decodes the body.
func benchCompression(ctx context.Context, o options, srv *serverProc, rows int) ([]compressionRow, error) {
	var q8 query
	for _, q := range mix(rows) {
		if q.name == "Q8" {
			q8 = q
		}
	}
	tok, err := token(q8.account)
	if err != nil {
		return nil, err
	}
	var out []compressionRow
	for _, accept := range compressionEncodings {
		row := compressionRow{accept: accept}
		if row.encoding, row.wireBytes, err = wireSize(ctx, srv.url+q8.path(), tok, accept); err != nil {
			return nil, err
		}
		t := target(srv.url+q8.path(), tok)
		t.Header.Set("Accept-Encoding", accept)
		if o.warmup > 0 {
			attack([]vegeta.Target{t}, o.concurrency, o.warmup)
		}
		before := sampleCPU(srv.cmd.Process.Pid, 0)
		row.load = attack([]vegeta.Target{t}, o.concurrency, o.duration)
		row.cpu = per(before, sampleCPU(srv.cmd.Process.Pid, 0), float64(row.load.requests))
		logf("Q8 with Accept-Encoding %q: %d bytes (%s), %.0f req/s, server CPU %d µs/request", accept,
			row.wireBytes, row.encoding, row.load.rps, row.cpu.server.Microseconds())
		out = append(out, row)
	}
	return out, nil
}

// wireSize sends one request and returns its Content-Encoding and the
// length of the body as sent.
func wireSize(ctx context.Context, url, tok, accept string) (string, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", 0, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept-Encoding", accept)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return resp.Header.Get("Content-Encoding"), int(n), err
}

// writeCompression adds the comparison to the report.
func writeCompression(b *strings.Builder, s setup, rows []compressionRow, concurrency int, d time.Duration) {
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(b, "\n## Compression (Q8, page_size=100, %s)\n\nOne request for the size of the body on the wire, "+
		"then closed-loop load at concurrency %d for %v with the same Accept-Encoding.\n\n", s.title, concurrency, d)
	b.WriteString("| Accept-Encoding | Content-Encoding | body bytes on the wire | server req/s | p99 | server CPU µs/request |\n")
	b.WriteString("|---|---|--:|--:|--:|--:|\n")
	for _, r := range rows {
		fmt.Fprintf(b, "| `%s` | %s | %d | %.0f | %s | %d |\n", r.accept, cmp.Or(r.encoding, "(none)"),
			r.wireBytes, r.load.rps, ms(r.load.p99), r.cpu.server.Microseconds())
	}
}
