package server_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/re-factor/resources/urlfetch"
	"github.com/re-factor/resources/webhooks"
)

// withWebhooks is a configure function that gives the server a running
// webhooks service with quick retries.
func withWebhooks(t *testing.T, allowPrivate bool) func(config) {
	return func(c config) {
		db := c.Catalog.DB
		if err := webhooks.Migrate(context.Background(), db); err != nil {
			t.Fatal(err)
		}
		w, err := webhooks.New(webhooks.Config{DB: db, Logger: c.Logger, Fetcher: urlfetch.New(urlfetch.Config{AllowPrivate: allowPrivate}),
			RetryBase: 20 * time.Millisecond, RetryMax: 50 * time.Millisecond, MaxAttempts: 3, PollInterval: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			w.Stop(ctx)
		})
		c.Webhooks = w
	}
}

type webhookBody struct {
	ID             string   `json:"id"`
	URL            string   `json:"url"`
	Secret         string   `json:"secret"`
	Enabled        bool     `json:"enabled"`
	DisabledReason string   `json:"disabled_reason"`
	Types          []string `json:"types"`
}

type deliveriesBody struct {
	Items []struct {
		ID       string `json:"id"`
		Sequence int64  `json:"sequence"`
		State    string `json:"state"`
		Attempts []struct {
			Status int    `json:"status"`
			Error  string `json:"error"`
		} `json:"attempts"`
	} `json:"items"`
}

func TestWebhookRoutes(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			var mu sync.Mutex
			up := false
			got := 0
			rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				mu.Lock()
				defer mu.Unlock()
				if !up {
					w.WriteHeader(http.StatusServiceUnavailable)
					return
				}
				got++
			}))
			defer rcv.Close()
			e := newEnvWith(t, engine, withWebhooks(t, true))
			tok, read := rwToken(t, "acct"), readToken(t, "acct")

			r := e.send(http.MethodPost, "/v1/webhooks", tok, map[string]any{"url": rcv.URL, "types": []string{"resource.created"}})
			var ep webhookBody
			if r.json(t, &ep); r.status != http.StatusCreated || !strings.HasPrefix(ep.Secret, "whsec_") || !ep.Enabled {
				t.Fatalf("create: %d %s", r.status, r.body)
			}
			if r := e.get("/v1/webhooks/"+ep.ID, read); r.status != http.StatusOK || strings.Contains(string(r.body), "whsec_") {
				t.Fatalf("get: %d %s (the secret is shown once)", r.status, r.body)
			}
			if r := e.get("/v1/webhooks/"+ep.ID, readToken(t, "other")); r.status != http.StatusNotFound {
				t.Errorf("another account's get: %d", r.status)
			}
			if r := e.send(http.MethodPost, "/v1/webhooks", read, map[string]any{"url": rcv.URL}); r.status != http.StatusForbidden {
				t.Errorf("create with resources:read only: %d", r.status)
			}
			for _, bad := range []map[string]any{{"url": "not a url"}, {"url": rcv.URL, "types": []string{"resource.moved"}}, {"url": rcv.URL, "extra": 1}} {
				if r := e.send(http.MethodPost, "/v1/webhooks", tok, bad); r.status != http.StatusBadRequest {
					t.Errorf("create %v: %d %s, want 400", bad, r.status, r.body)
				}
			}

			// The receiver is down: the test message says so, and the
			// delivery of a create fails its attempts.
			var test struct {
				Status int    `json:"status"`
				Error  string `json:"error"`
			}
			r = e.doBody(http.MethodPost, "/v1/webhooks/"+ep.ID+"/test", tok, nil, nil)
			if r.json(t, &test); r.status != http.StatusOK || test.Status != 503 {
				t.Fatalf("test: %d %s", r.status, r.body)
			}
			e.mustCreate(tok, map[string]any{"name": "a.txt", "directory_path": "/", "content": dataURL("text/plain", []byte("a"))})
			var ds deliveriesBody
			waitUntil(t, func() bool {
				e.get("/v1/webhooks/"+ep.ID+"/deliveries", read).json(t, &ds)
				return len(ds.Items) == 1 && ds.Items[0].State == "failed"
			})
			if n := len(ds.Items[0].Attempts); n != 3 || ds.Items[0].Attempts[0].Status != 503 {
				t.Errorf("attempts = %+v, want 3 answered 503", ds.Items[0].Attempts)
			}
			// Its last failure disabled the endpoint, with the reason.
			e.get("/v1/webhooks/"+ep.ID, read).json(t, &ep)
			if ep.Enabled || !strings.Contains(ep.DisabledReason, "answered 503") {
				t.Errorf("after the last attempt: enabled %v, reason %q", ep.Enabled, ep.DisabledReason)
			}
			// Up again: re-enable, retry by hand, delivered.
			mu.Lock()
			up = true
			mu.Unlock()
			if r := e.send(http.MethodPatch, "/v1/webhooks/"+ep.ID, tok, map[string]any{"enabled": true}); r.status != http.StatusOK {
				t.Fatalf("re-enable: %d %s", r.status, r.body)
			}
			if r := e.doBody(http.MethodPost, "/v1/webhooks/"+ep.ID+"/deliveries/"+ds.Items[0].ID+"/retry", tok, nil, nil); r.status != http.StatusAccepted {
				t.Fatalf("retry: %d %s", r.status, r.body)
			}
			waitUntil(t, func() bool {
				e.get("/v1/webhooks/"+ep.ID+"/deliveries", read).json(t, &ds)
				return ds.Items[0].State == "delivered"
			})
			// Rotation returns a new key once.
			var rotated webhookBody
			r = e.send(http.MethodPatch, "/v1/webhooks/"+ep.ID, tok, map[string]any{"rotate_secret": true})
			if r.json(t, &rotated); r.status != http.StatusOK || !strings.HasPrefix(rotated.Secret, "whsec_") {
				t.Fatalf("rotate: %d %s", r.status, r.body)
			}
			if r := e.do(http.MethodDelete, "/v1/webhooks/"+ep.ID, tok, nil); r.status != http.StatusNoContent {
				t.Fatalf("delete: %d %s", r.status, r.body)
			}
			if r := e.get("/v1/webhooks/"+ep.ID+"/deliveries", read); r.status != http.StatusNotFound {
				t.Errorf("deliveries of a deleted webhook: %d", r.status)
			}
		})
	}
}

func TestWebhookPrivateURLRefused(t *testing.T) {
	e := newEnvWith(t, "sqlite", withWebhooks(t, false))
	tok := rwToken(t, "acct")
	for _, u := range []string{"https://127.0.0.1/hook", "https://192.168.1.10/hook", "http://example.com/hook"} {
		if r := e.send(http.MethodPost, "/v1/webhooks", tok, map[string]any{"url": u}); r.status != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400", u, r.status, r.body)
		}
	}
}

func TestWebhooksNotConfigured(t *testing.T) {
	e := newEnv(t, "sqlite")
	if r := e.get("/v1/webhooks", readToken(t, "acct")); r.status != http.StatusServiceUnavailable {
		t.Errorf("without a webhooks service: %d %s", r.status, r.body)
	}
}

func waitUntil(t *testing.T, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(30 * time.Millisecond) {
		if ok() {
			return
		}
	}
	t.Fatal("not within 30 s")
}
