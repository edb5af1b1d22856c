package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// The links section's shape and targets (issue 19).
const (
	linkConcurrency  = 16
	linkFileSize     = 1 << 20
	linkRounds       = 2 // each way, alternating, so that drift in the machine's load falls on both
	randomTokens     = 10_000
	maxLinkCPURatio  = 1.5
	maxRandomRise    = 10 << 20
	linksHeading     = "## Links"
	linksNextBefore  = uploadsNextBefore
	linkMissDisabled = "LINK_MISS_RPS=0" // the flood of random tokens measures the lookup, not the limit
)

// linksResult is what the links section measured.
type linksResult struct {
	loadBefore, loadAfter string
	perWorker             int // downloads each worker makes in a round

	content, link         map[int]int   // status → count, over every round
	contentCPU, linkCPU   time.Duration // the server's, over every round
	contentTime, linkTime time.Duration

	random                      map[int]int
	randomTime                  time.Duration
	rowsBefore, rowsAfter       string // count and downloads of the link rows
	versionBefore, versionAfter int64  // SQLite's data_version: any commit by another connection moves it
	rssBefore, randomRise       int64
}

// benchLinks runs the links section against a server of its own (SQLite and
// file:// storage): 16 concurrent downloads of 1 MiB resources through
// /content with a bearer token and through download links, alternating, and
// a flood of random link tokens. It writes the section into o.out.
func benchLinks(ctx context.Context, o options) error {
	srv, dir, err := sectionServer(ctx, o, "links", linkMissDisabled)
	if err != nil {
		return err
	}
	dbPath := filepath.Join(dir, "server.db")
	defer srv.stop()
	tok, err := writeToken("links")
	if err != nil {
		return err
	}
	logf("links: %d resources of %d MiB, each shared", linkConcurrency, linkFileSize>>20)
	contentURLs, linkURLs, err := sharedResources(ctx, srv.url, tok)
	if err != nil {
		return err
	}
	res := linksResult{loadBefore: loadAverage(), perWorker: o.linkDownloads, content: map[int]int{}, link: map[int]int{}}
	for round := range linkRounds {
		logf("links: round %d: %d downloads through /content, then through links", round+1, linkConcurrency*o.linkDownloads)
		cpu, start := srv.cpuTime(), time.Now()
		downloadEach(ctx, contentURLs, tok, o.linkDownloads, res.content)
		res.contentCPU, res.contentTime = res.contentCPU+srv.cpuTime()-cpu, res.contentTime+time.Since(start)
		cpu, start = srv.cpuTime(), time.Now()
		downloadEach(ctx, linkURLs, "", o.linkDownloads, res.link)
		res.linkCPU, res.linkTime = res.linkCPU+srv.cpuTime()-cpu, res.linkTime+time.Since(start)
	}

	db, err := sql.Open("sqlite", dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1) // data_version is per connection
	if res.rowsBefore, res.versionBefore, err = linkRows(ctx, db); err != nil {
		return err
	}
	logf("links: %d requests with random tokens", randomTokens)
	srv.resetPeakRSS()
	res.rssBefore = srv.status("VmRSS")
	start := time.Now()
	res.random = randomTokenRequests(ctx, srv.url)
	res.randomTime = time.Since(start)
	res.randomRise = max(srv.status("VmHWM")-res.rssBefore, 0)
	if res.rowsAfter, res.versionAfter, err = linkRows(ctx, db); err != nil {
		return err
	}
	res.loadAfter = loadAverage()
	logf("links: random tokens answered %v in %v", res.random, res.randomTime.Round(time.Millisecond))
	return spliceSection(o.out, linksHeading, linksNextBefore, res.markdown())
}

// sharedResources creates linkConcurrency resources of linkFileSize bytes
// and a download link to each, and returns their /content URLs and the
// links' URLs.
func sharedResources(ctx context.Context, base, tok string) (content, links []string, err error) {
	client := &http.Client{Timeout: time.Minute}
	for i := range linkConcurrency {
		var created struct{ ID string }
		if err := call(ctx, client, http.MethodPost, base+"/v1/resources", tok, createBody(i, linkFileSize), &created); err != nil {
			return nil, nil, fmt.Errorf("create: %w", err)
		}
		var shared struct{ URL string }
		path := "/v1/resource/" + created.ID
		if err := call(ctx, client, http.MethodPost, base+path+"/links", tok, strings.NewReader(`{}`), &shared); err != nil {
			return nil, nil, fmt.Errorf("share: %w", err)
		}
		content, links = append(content, base+path+"/content"), append(links, shared.URL)
	}
	return content, links, nil
}

// call sends body as JSON with the bearer tok and decodes a 2xx answer into
// out.
func call(ctx context.Context, client *http.Client, method, url, tok string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("%s %s: %s %s", method, url, resp.Status, b)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// downloadEach has one worker per URL download it n times to the end,
// with the bearer tok when not empty, and adds the answers' statuses to
// statuses (0 for a transport error).
func downloadEach(ctx context.Context, urls []string, tok string, n int, statuses map[int]int) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, u := range urls {
		wg.Go(func() {
			client := &http.Client{Transport: &http.Transport{}, Timeout: time.Minute}
			defer client.CloseIdleConnections()
			for range n {
				status := get(ctx, client, u, tok)
				mu.Lock()
				statuses[status]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

func get(ctx context.Context, client *http.Client, url, tok string) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// randomTokenRequests sends randomTokens GETs of links with well-formed
// random tokens, linkConcurrency at a time, and counts their statuses.
func randomTokenRequests(ctx context.Context, base string) map[int]int {
	statuses := map[int]int{}
	var mu sync.Mutex
	next := make(chan string)
	var wg sync.WaitGroup
	for range linkConcurrency {
		wg.Go(func() {
			client := &http.Client{Transport: &http.Transport{}, Timeout: time.Minute}
			defer client.CloseIdleConnections()
			for u := range next {
				status := get(ctx, client, u, "")
				mu.Lock()
				statuses[status]++
				mu.Unlock()
			}
		})
	}
	b := make([]byte, 32)
	for range randomTokens {
		rand.Read(b)
		next <- base + "/v1/links/rfd_" + base64.RawURLEncoding.EncodeToString(b)
	}
	close(next)
	wg.Wait()
	return statuses
}

// linkRows describes the link rows ("16 rows, 64 downloads") and returns
// SQLite's data_version on db's one connection.
func linkRows(ctx context.Context, db *sql.DB) (string, int64, error) {
	var n, downloads, version int64
	if err := db.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(downloads), 0) FROM download_links`).Scan(&n, &downloads); err != nil {
		return "", 0, fmt.Errorf("count link rows: %w", err)
	}
	if err := db.QueryRowContext(ctx, `PRAGMA data_version`).Scan(&version); err != nil {
		return "", 0, fmt.Errorf("data_version: %w", err)
	}
	return fmt.Sprintf("%d rows, %d downloads", n, downloads), version, nil
}

// count is the number of answers in statuses.
func count(statuses map[int]int) int {
	n := 0
	for _, c := range statuses {
		n += c
	}
	return n
}

func (r linksResult) markdown() string {
	var b strings.Builder
	perContent := r.contentCPU.Seconds() * 1000 / float64(max(count(r.content), 1))
	perLink := r.linkCPU.Seconds() * 1000 / float64(max(count(r.link), 1))
	ratio := perLink / perContent
	mibps := func(n int, d time.Duration) float64 { return float64(n) * linkFileSize / (1 << 20) / d.Seconds() }
	fmt.Fprintf(&b, "%s\n\nWritten by `make bench` (`make bench BENCH_FLAGS=\"-only links\"` runs this section alone) on %s; "+
		"one-minute load average %s at the start, %s at the end. The server is `refactor serve` on SQLite and `file://` "+
		"storage with `%s`. %d workers, one connection each, each download %d times a resource of its own of %d MiB per "+
		"round, first through `/v1/resource/{id}/content` with a bearer token, then through a download link with no "+
		"token; %d rounds. CPU is the server process's (utime + stime).\n\n",
		linksHeading, time.Now().UTC().Format("2006-01-02"), r.loadBefore, r.loadAfter, linkMissDisabled,
		linkConcurrency, r.perWorker, linkFileSize>>20, linkRounds)
	b.WriteString("| what was sent | answers | measured | targets |\n|---|---|---|---|\n")
	fmt.Fprintf(&b, "| %d concurrent 1 MiB downloads through `/content` with a bearer token | %s | **%.2f ms CPU** a download; %.0f MiB/s | |\n",
		linkConcurrency, answers(r.content), perContent, mibps(count(r.content), r.contentTime))
	fmt.Fprintf(&b, "| %d concurrent 1 MiB downloads through download links, no token | %s | **%.2f ms CPU** a download (**%.2f×** `/content`); %.0f MiB/s | ≤ %.1f×: %s |\n",
		linkConcurrency, answers(r.link), perLink, ratio, mibps(count(r.link), r.linkTime), maxLinkCPURatio, met(ratio <= maxLinkCPURatio))
	fmt.Fprintf(&b, "| %d GETs of links with random well-formed tokens, %d at a time | %s in %.1f s | link rows %s before, %s after; "+
		"SQLite data_version %d → %d; server peak RSS rise **%.1f MB** over %.0f MB | all 404: %s; no row written: %s; rise ≤ %d MB: %s |\n\n",
		randomTokens, linkConcurrency, answers(r.random), r.randomTime.Seconds(), r.rowsBefore, r.rowsAfter,
		r.versionBefore, r.versionAfter, float64(r.randomRise)/(1<<20), float64(r.rssBefore)/(1<<20),
		met(r.random[http.StatusNotFound] == randomTokens), met(r.rowsBefore == r.rowsAfter && r.versionBefore == r.versionAfter),
		maxRandomRise>>20, met(r.randomRise <= maxRandomRise))
	b.WriteString("A download through a link costs one more statement than one through `/content`: the link and its " +
		"resource are read in one indexed read by the token's hash, then one use is taken by a conditional `UPDATE` " +
		"just before the bytes go out. A random token costs the one read and writes nothing; SQLite's data_version, " +
		"read on a connection of the benchmark's own, would move with any commit the server made.\n\n")
	return b.String()
}
