package server_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/re-factor/resources/server"
)

// eventBody is an Event as the API writes it.
type eventBody struct {
	ID        string         `json:"id"`
	Sequence  int64          `json:"sequence"`
	Type      string         `json:"type"`
	Timestamp time.Time      `json:"timestamp"`
	Data      map[string]any `json:"data"`
}

type eventList struct {
	Items     []eventBody `json:"items"`
	NextAfter int64       `json:"next_after"`
}

func (e *env) events(query, token string) eventList {
	e.t.Helper()
	var l eventList
	e.getOK("/v1/events"+query, token, &l)
	return l
}

func types(es []eventBody) string {
	var s []string
	for _, e := range es {
		s = append(s, strconv.FormatInt(e.Sequence, 10)+" "+e.Type)
	}
	return strings.Join(s, ", ")
}

func TestListEvents(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		tok, read := rwToken(t, "acct"), readToken(t, "acct")
		a := e.mustCreate(tok, map[string]any{"name": "a.txt", "directory_path": "/in", "tags": []string{"x"},
			"content": dataURL("text/plain", []byte("a"))})
		e.mustCreate(tok, map[string]any{"name": "b.txt", "directory_path": "/out", "content": dataURL("text/plain", []byte("b"))})
		id := a["id"].(string)
		if r := e.send(http.MethodPut, "/v1/resource/"+id, tok, map[string]any{"metadata": map[string]any{"k": 1}}); r.status != http.StatusOK {
			t.Fatalf("update: %d %s", r.status, r.body)
		}
		if r := e.do(http.MethodDelete, "/v1/resource/"+id, tok, nil); r.status != http.StatusNoContent {
			t.Fatalf("delete: %d %s", r.status, r.body)
		}
		// Another account's changes are not in this feed.
		e.mustCreate(rwToken(t, "other"), map[string]any{"name": "c.txt", "directory_path": "/in",
			"content": dataURL("text/plain", []byte("c"))})

		all := e.events("", read)
		if got, want := types(all.Items), "1 resource.created, 2 resource.created, 3 resource.updated, 4 resource.deleted"; got != want {
			t.Fatalf("events = %s, want %s", got, want)
		}
		if all.NextAfter != 4 {
			t.Errorf("next_after = %d, want 4", all.NextAfter)
		}
		created := all.Items[0].Data["resource"].(map[string]any)
		if created["id"] != id || created["sha256"] != a["sha256"] || created["created_at"] != a["created_at"] {
			t.Errorf("created data = %v, want the resource as created, %v", created, a)
		}
		if ch := all.Items[2].Data["changed"]; fmt.Sprint(ch) != "[metadata]" {
			t.Errorf("updated changed = %v, want [metadata]", ch)
		}
		for _, tt := range []struct{ query, want string }{
			{"?after=1&limit=2", "2 resource.created, 3 resource.updated"},
			{"?types=resource.deleted,%20resource.created", "1 resource.created, 2 resource.created, 4 resource.deleted"},
			{"?directory_prefix=/in&tags=x", "1 resource.created, 3 resource.updated, 4 resource.deleted"},
			{"?after=4", ""},
		} {
			if got := types(e.events(tt.query, read).Items); got != tt.want {
				t.Errorf("%s: %s, want %s", tt.query, got, tt.want)
			}
		}
		for _, q := range []string{"?types=resource.moved", "?limit=0", "?limit=1001", "?after=-1"} {
			if r := e.get("/v1/events"+q, read); r.status != http.StatusBadRequest {
				t.Errorf("%s: %d %s, want 400", q, r.status, r.body)
			}
		}

		// Pruned: 410 with the oldest sequence held; without after, the
		// feed starts at what is held.
		if _, err := e.db.PruneEvents(context.Background(), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		e.mustCreate(tok, map[string]any{"name": "d.txt", "directory_path": "/in", "content": dataURL("text/plain", []byte("d"))})
		r := e.get("/v1/events?after=2", read)
		var gone struct {
			Error  string `json:"error"`
			Oldest int64  `json:"oldest_sequence"`
		}
		if r.json(t, &gone); r.status != http.StatusGone || gone.Oldest != 5 || gone.Error == "" {
			t.Fatalf("after a pruned sequence: %d %s, want 410 with oldest_sequence 5", r.status, r.body)
		}
		if got := types(e.events("", read).Items); got != "5 resource.created" {
			t.Errorf("without after, after pruning: %s", got)
		}
		if r := e.get("/v1/events", mustToken(t, "acct", "resources:write")); r.status != http.StatusForbidden {
			t.Errorf("without resources:read: %d", r.status)
		}
	})
}

// sse reads a stream of server-sent events.
type sse struct {
	t      *testing.T
	resp   *http.Response
	frames chan map[string]string // one per event or comment block
}

// openStream opens GET /v1/events/stream with query and, unless empty,
// Last-Event-ID, and checks it is a stream.
func openStream(t *testing.T, base, token, query, lastID string) *sse {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+"/v1/events/stream"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		resp.Body.Close()
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	s := &sse{t: t, resp: resp, frames: make(chan map[string]string, 100)}
	t.Cleanup(func() { resp.Body.Close() })
	go s.read()
	return s
}

func (s *sse) read() {
	defer close(s.frames)
	sc := bufio.NewScanner(s.resp.Body)
	sc.Buffer(nil, 1<<20)
	frame := map[string]string{}
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			s.frames <- frame
			frame = map[string]string{}
			continue
		}
		k, v, _ := strings.Cut(line, ":")
		frame[k] += strings.TrimPrefix(v, " ")
	}
}

// next returns the next frame that is no comment, failing after a while.
func (s *sse) next() map[string]string {
	s.t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case f, ok := <-s.frames:
			if !ok {
				s.t.Fatal("stream ended")
			}
			if _, comment := f[""]; comment && len(f) == 1 {
				continue
			}
			return f
		case <-timeout:
			s.t.Fatal("no event within 20 s")
		}
	}
}

func TestStreamEvents(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			drain := server.NewDrain()
			e := newEnvWith(t, engine, func(c config) { c.Drain = drain; c.EventsHeartbeat = 50 * time.Millisecond })
			tok, read := rwToken(t, "acct"), readToken(t, "acct")
			e.mustCreate(tok, map[string]any{"name": "before.txt", "directory_path": "/", "content": dataURL("text/plain", []byte("0"))})

			live := openStream(t, e.url, read, "", "")
			filtered := openStream(t, e.url, read, "?directory_prefix=/in", "")
			e.mustCreate(tok, map[string]any{"name": "a.txt", "directory_path": "/", "content": dataURL("text/plain", []byte("a"))})
			e.mustCreate(tok, map[string]any{"name": "b.txt", "directory_path": "/in", "content": dataURL("text/plain", []byte("b"))})
			for _, want := range []string{"2", "3"} {
				f := live.next()
				if f["id"] != want || f["event"] != "resource.created" || !strings.Contains(f["data"], `"sequence":`+want) {
					t.Fatalf("live frame = %v, want id %s", f, want)
				}
			}
			if f := filtered.next(); f["id"] != "3" {
				t.Fatalf("filtered frame = %v, want id 3", f)
			}
			// Resuming replays what came after, with no gap and no repeat.
			resumed := openStream(t, e.url, read, "", "1")
			after := openStream(t, e.url, read, "?after=2", "")
			for _, s := range []*sse{resumed, after} {
				if f := s.next(); f["id"] != "2" && s == resumed || f["id"] != "3" && s == after {
					t.Fatalf("resumed frame = %v", f)
				}
			}
			if f := resumed.next(); f["id"] != "3" {
				t.Fatalf("resumed second frame = %v, want id 3", f)
			}
			// Heartbeats keep an idle stream talking.
			select {
			case f := <-live.frames:
				if f[""] != "heartbeat" {
					t.Fatalf("idle frame = %v, want a heartbeat", f)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("no heartbeat")
			}
			// A pruned sequence is a 410 before any stream.
			if _, err := e.db.PruneEvents(context.Background(), time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			if r := e.get("/v1/events/stream?after=1", read); r.status != http.StatusGone {
				t.Fatalf("stream after a pruned sequence: %d %s", r.status, r.body)
			}
			// Stopping asks clients to come back elsewhere, and ends.
			drain.Stop()
			for {
				f, ok := <-live.frames
				if !ok {
					t.Fatal("stream ended without retry")
				}
				if f["retry"] == "1000" {
					break
				}
			}
			if _, ok := <-live.frames; ok {
				t.Error("stream goes on after retry")
			}
		})
	}
}

// TestStreamOutlivesWriteTimeout holds a stream open past the server's
// write timeout, which is made for requests and would cut it.
func TestStreamOutlivesWriteTimeout(t *testing.T) {
	u := newUnstartedEnv(t, "sqlite", "file", func(c config) { c.EventsHeartbeat = 20 * time.Millisecond })
	u.srv.Config.WriteTimeout = 200 * time.Millisecond
	u.srv.Start()
	s := openStream(t, u.srv.URL, readToken(t, "acct"), "?types=resource.created", "")
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		if _, ok := <-s.frames; !ok {
			t.Fatal("stream cut before a second, by the write timeout")
		}
	}
	u.env.url = u.srv.URL
	u.env.mustCreate(rwToken(t, "acct"), map[string]any{"name": "late.txt", "directory_path": "/", "content": dataURL("text/plain", []byte("x"))})
	if f := s.next(); f["id"] != "1" {
		t.Fatalf("frame after a second = %v", f)
	}
}

// TestUploadEmitsOneCreated: a resumable upload is one created event, when
// its last byte lands, not one per PATCH; an upload that never completes
// is none.
func TestUploadEmitsOneCreated(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		tok := rwToken(t, "acct")
		data := randomBytes(1000)
		path := e.mustCreateUpload(tok, len(data), tusMeta("filename", "u.bin", "directory_path", "/up"))
		e.mustCreateUpload(tok, 10, tusMeta("filename", "never.bin", "directory_path", "/up"))
		for _, part := range [][2]int{{0, 400}, {400, 1000}} {
			if r := e.patch(path, tok, part[0], data[part[0]:part[1]]); r.status != http.StatusNoContent {
				t.Fatalf("PATCH %v: %d %s", part, r.status, r.body)
			}
		}
		l := e.events("", tok)
		if got := types(l.Items); got != "1 resource.created" {
			t.Fatalf("events after an upload in two PATCHes and one left open: %s", got)
		}
		if r := l.Items[0].Data["resource"].(map[string]any); r["id"] != strings.TrimPrefix(path, "/v1/uploads/") {
			t.Errorf("created event's resource %v, want the upload's", r["id"])
		}
	})
}
