package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/re-factor/resources/auth"
)

// loadResult is what the load generator measured for one query.
type loadResult struct {
	rps      float64 // successful requests a second
	p50, p99 time.Duration
	requests uint64
	errors   uint64 // transport errors and non-200 responses
}

// token returns a read token for the account, signed as the server expects.
func token(account string) (string, error) {
	return auth.Sign([]byte(benchJWTSecret), auth.Token{Account: account, Scope: "resources:read", TTL: 2 * time.Hour})
}

// writeToken returns a read and write token for the account: every section
// that creates resources signs its own with this.
func writeToken(account string) (string, error) {
	return auth.Sign([]byte(benchJWTSecret), auth.Token{Account: account, Scope: "resources:read resources:write", TTL: 2 * time.Hour})
}

// target is a GET of url with the token.
func target(url, tok string) vegeta.Target {
	return vegeta.Target{Method: http.MethodGet, URL: url, Header: http.Header{"Authorization": {"Bearer " + tok}}}
}

// attack sends the targets in turn with a fixed number of workers, each
// sending its next request when the last one is answered, for d.
func attack(targets []vegeta.Target, workers int, d time.Duration) loadResult {
	a := vegeta.NewAttacker(vegeta.Workers(uint64(workers)), vegeta.MaxWorkers(uint64(workers)),
		vegeta.Connections(workers), vegeta.KeepAlive(true), vegeta.Timeout(30*time.Second))
	var m vegeta.Metrics
	// A rate of zero means "as fast as the workers go": closed-loop load at
	// exactly the given concurrency.
	for res := range a.Attack(vegeta.NewStaticTargeter(targets...), vegeta.Rate{}, d, "bench") {
		m.Add(res)
	}
	m.Close()
	ok := uint64(m.StatusCodes["200"])
	return loadResult{rps: float64(ok) / m.Duration.Seconds(), p50: m.Latencies.P50, p99: m.Latencies.P99,
		requests: m.Requests, errors: m.Requests - ok}
}

// listPage is what the benchmark reads of a list's answer.
type listPage struct {
	NextCursor string `json:"next_cursor"`
	Items      []struct {
		ID string `json:"id"`
	} `json:"items"`
}

// fetchPage GETs the list at path as tok's account.
func fetchPage(ctx context.Context, base, path, tok string) (listPage, error) {
	var page listPage
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err != nil {
		return page, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return page, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return page, fmt.Errorf("GET %s: %s %s", path, resp.Status, b)
	}
	return page, json.NewDecoder(resp.Body).Decode(&page)
}

// fetchCursor returns the next_cursor of the list at path.
func fetchCursor(ctx context.Context, base, path, tok string) (string, error) {
	page, err := fetchPage(ctx, base, path, tok)
	if err == nil && page.NextCursor == "" {
		err = fmt.Errorf("GET %s: no next_cursor", path)
	}
	return page.NextCursor, err
}

// firstID returns the id of the first resource of the list at path.
func firstID(ctx context.Context, base, path, tok string) (string, error) {
	page, err := fetchPage(ctx, base, path, tok)
	if err == nil && len(page.Items) == 0 {
		err = fmt.Errorf("GET %s: no items", path)
	}
	if err != nil {
		return "", err
	}
	return page.Items[0].ID, nil
}

// profile saves a CPU profile of the server taken over d, while load runs.
func profile(ctx context.Context, pprofAddr, path string, d time.Duration) error {
	url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", pprofAddr, int(d.Seconds()))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
