package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/re-factor/resources"
	"github.com/re-factor/resources/catalog"
	"github.com/re-factor/resources/gen"
)

// DefaultHeartbeat is how often an idle event stream sends a comment, so
// that proxies that close silent connections (often after 30 or 60 s) keep
// it open.
const DefaultHeartbeat = 15 * time.Second

// streamBatch is how many events a stream reads at once.
const streamBatch = 500

// ListEvents serves GET /v1/events: a page of the account's change feed.
func (s *Server) ListEvents(ctx context.Context, req gen.ListEventsRequestObject) (gen.ListEventsResponseObject, error) {
	p := req.Params
	f, err := eventFilter(ctx, p.After, p.Types, p.Tags, p.DirectoryPrefix)
	if err != nil {
		return nil, err
	}
	f.FromOldest = p.After == nil
	if p.Limit != nil {
		f.Limit = *p.Limit
	}
	events, next, err := s.catalog.Events(ctx, f)
	if err != nil {
		return eventsGone(err)
	}
	return eventPage{events: events, next: next}, nil
}

// eventFilter reads the query's filters, for the request's account.
func eventFilter(ctx context.Context, after *int64, types, tags, prefix *string) (resources.EventFilter, error) {
	account, err := accountOf(ctx)
	if err != nil {
		return resources.EventFilter{}, err
	}
	f := resources.EventFilter{AccountID: account}
	if after != nil {
		f.After = *after
	}
	if types != nil {
		if f.Types, err = resources.ParseEventTypes(*types); err != nil {
			return f, badRequest(fmt.Sprintf("query parameter %q: %s", "types", err.(*resources.Error).Reason))
		}
	}
	if tags != nil {
		f.Tags = resources.ParseTagFilter(*tags)
	}
	if prefix != nil {
		f.DirectoryPrefix = *prefix
	}
	return f, nil
}

// eventsGone answers err, from reading the feed, with the 410 that tells
// the oldest sequence held, or returns it to the error handler.
func eventsGone(err error) (eventsGoneAnswer, error) {
	var gone *resources.EventsGone
	var re *resources.Error
	if errors.As(err, &gone) && errors.As(err, &re) {
		return eventsGoneAnswer{message: re.Message(), oldest: gone.Oldest}, nil
	}
	return eventsGoneAnswer{}, err
}

// eventsGoneAnswer is the 410 of listEvents and streamEvents.
type eventsGoneAnswer struct {
	message string
	oldest  int64
}

func (a eventsGoneAnswer) VisitListEventsResponse(w http.ResponseWriter) error {
	return gen.ListEvents410JSONResponse{EventsGoneErrorJSONResponse: a.body()}.VisitListEventsResponse(w)
}

func (a eventsGoneAnswer) VisitStreamEventsResponse(w http.ResponseWriter) error {
	return gen.StreamEvents410JSONResponse{EventsGoneErrorJSONResponse: a.body()}.VisitStreamEventsResponse(w)
}

func (a eventsGoneAnswer) body() gen.EventsGoneErrorJSONResponse {
	return gen.EventsGoneErrorJSONResponse{Error: a.message, OldestSequence: a.oldest}
}

// eventPage is listEvents' 200 answer.
type eventPage struct {
	events []resources.Event
	next   int64
}

func (p eventPage) VisitListEventsResponse(w http.ResponseWriter) error {
	return writeJSON(w, func(b []byte) ([]byte, error) {
		b = append(b, `{"items":[`...)
		for i := range p.events {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendEvent(b, &p.events[i])
		}
		b = append(b, `],"next_after":`...)
		b = strconv.AppendInt(b, p.next, 10)
		return append(b, '}'), nil
	})
}

// appendEvent writes e as the spec's Event; its data is stored in its JSON
// form.
func appendEvent(b []byte, e *resources.Event) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, e.ID)
	b = append(b, `,"sequence":`...)
	b = strconv.AppendInt(b, e.Sequence, 10)
	b = append(b, `,"type":`...)
	b = appendString(b, e.Type)
	b = append(b, `,"timestamp":`...)
	b = appendTime(b, e.Timestamp)
	b = append(b, `,"data":`...)
	b = append(b, e.Data...)
	return append(b, '}')
}

// StreamEvents serves GET /v1/events/stream: the change feed as
// server-sent events, from a sequence or from now on.
func (s *Server) StreamEvents(ctx context.Context, req gen.StreamEventsRequestObject) (gen.StreamEventsResponseObject, error) {
	p := req.Params
	f, err := eventFilter(ctx, p.After, p.Types, p.Tags, p.DirectoryPrefix)
	if err != nil {
		return nil, err
	}
	if p.LastEventID != nil {
		// The validator held it to digits.
		if f.After, err = strconv.ParseInt(*p.LastEventID, 10, 64); err != nil {
			return nil, badRequest(fmt.Sprintf("header %q: must be an event's sequence", "Last-Event-ID"))
		}
	}
	// Watching before the first read: a change committed in between wakes
	// the stream instead of falling between the read and the watch.
	watch, err := s.catalog.Watch(ctx, f.AccountID)
	if err != nil {
		return nil, err
	}
	if p.LastEventID == nil && p.After == nil {
		f.After = watch.Last
	}
	f.Limit = streamBatch
	// The first read answers here, so that a pruned sequence is a 410
	// rather than a stream that ends at once.
	first, next, err := s.catalog.Events(ctx, f)
	if err != nil {
		watch.Stop()
		return eventsGone(err)
	}
	return &eventStream{ctx: ctx, catalog: s.catalog, watch: watch, filter: f, pending: first, next: next,
		heartbeat: s.heartbeat, stopped: s.drain.stoppedChan(), head: isHead(ctx)}, nil
}

// eventStream is streamEvents' 200 answer: it writes until its client
// leaves or the server stops.
type eventStream struct {
	ctx       context.Context
	catalog   *catalog.Service
	watch     *catalog.Watch
	filter    resources.EventFilter
	pending   []resources.Event
	next      int64 // the after of the next read
	heartbeat time.Duration
	stopped   <-chan struct{}
	head      bool
}

func (st *eventStream) VisitStreamEventsResponse(w http.ResponseWriter) error {
	defer st.watch.Stop()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	// Proxies that buffer responses (nginx) would hold events back.
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if st.head {
		return nil
	}
	rc := http.NewResponseController(w)
	out := &sseWriter{w: w, rc: rc, deadline: 2 * st.heartbeat}
	out.comment("stream of account " + st.filter.AccountID)
	heartbeat := time.NewTicker(st.heartbeat)
	defer heartbeat.Stop()
	for {
		for _, e := range st.pending {
			out.event(&e)
		}
		full := len(st.pending) == streamBatch
		st.pending = nil
		if err := out.flush(); err != nil {
			return nil // the client left
		}
		if !full {
			select {
			case <-st.ctx.Done():
				return nil
			case <-st.stopped:
				// Reconnect at once, through the load balancer, to a
				// replica that is not stopping.
				out.retry(time.Second)
				_ = out.flush()
				return nil
			case <-heartbeat.C:
				out.comment("heartbeat")
				continue
			case <-st.watch.Changed():
			}
		}
		f := st.filter
		f.After = st.next
		var err error
		if st.pending, st.next, err = st.catalog.Events(st.ctx, f); err != nil {
			// Ending the stream makes the client reconnect from its
			// last id, which is what a retry here would do.
			return nil
		}
	}
}

// sseWriter writes server-sent events into one buffer, flushed together.
type sseWriter struct {
	w        http.ResponseWriter
	rc       *http.ResponseController
	deadline time.Duration
	buf      []byte
}

func (s *sseWriter) event(e *resources.Event) {
	s.buf = append(s.buf, "event: "...)
	s.buf = append(s.buf, e.Type...)
	s.buf = append(s.buf, "\nid: "...)
	s.buf = strconv.AppendInt(s.buf, e.Sequence, 10)
	s.buf = append(s.buf, "\ndata: "...)
	// Compact JSON holds no line break: one data line.
	s.buf = appendEvent(s.buf, e)
	s.buf = append(s.buf, "\n\n"...)
}

func (s *sseWriter) comment(text string) {
	s.buf = append(s.buf, ": "...)
	s.buf = append(s.buf, text...)
	s.buf = append(s.buf, "\n\n"...)
}

func (s *sseWriter) retry(d time.Duration) {
	s.buf = append(s.buf, "retry: "...)
	s.buf = strconv.AppendInt(s.buf, d.Milliseconds(), 10)
	s.buf = append(s.buf, "\n\n"...)
}

// flush writes what is buffered. The server's write timeout, made for
// requests, would cut a stream: each write gets its own deadline instead.
func (s *sseWriter) flush() error {
	if len(s.buf) == 0 {
		return nil
	}
	_ = s.rc.SetWriteDeadline(time.Now().Add(s.deadline))
	_, err := s.w.Write(s.buf)
	s.buf = s.buf[:0]
	if err != nil {
		return err
	}
	return s.rc.Flush()
}
