// Package tusupload serves resumable uploads by the tus 1.0 protocol
// through tusd's handler (github.com/tus/tusd/v2), over a data store and a
// locker of its own that hand every step to the catalog: an upload's state,
// bytes and lease live where every replica sees them (the database and the
// bucket), never in a process, and its completion is a create like any
// other. The server mounts a Handler at /v1/uploads behind its
// authentication, rate limits and request checks.
package tusupload

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tus/tusd/v2/pkg/handler"
	expslog "golang.org/x/exp/slog"

	"github.com/re-factor/resources"
	"github.com/re-factor/resources/catalog"
)

// BasePath is where the upload routes live; an upload's URL is BasePath
// and its id.
const BasePath = "/v1/uploads/"

// Caller is who makes a request.
type Caller struct {
	Account, Subject string
	// Link is the upload link the request came through, nil for none.
	Link *resources.UploadLink
}

// Config holds what a Handler depends on.
type Config struct {
	Catalog *catalog.Service
	// Caller tells who makes the request whose context ctx is; the server
	// authenticated it before the request reached the Handler.
	Caller func(ctx context.Context) (Caller, error)
	// Fail is how the server answers err: its status and message. It
	// logs what it must.
	Fail   func(ctx context.Context, err error) (status int, message string)
	Logger *slog.Logger
	// LeaseTTL is how long an upload's lease lasts unless renewed (every
	// third of it while a request holds it): how long a crashed replica's
	// upload stays locked. Default 10 s.
	LeaseTTL time.Duration
	// LockWait is how long a request waits for another to let go of an
	// upload (423 after). Default 20 s.
	LockWait time.Duration
}

// Handler serves the tus routes.
type Handler struct {
	tus     *handler.UnroutedHandler
	cfg     Config
	process string // this process's part of every lease holder's name
	holders atomic.Int64
}

// New returns a Handler, or an error when cfg lacks what it needs.
func New(cfg Config) (*Handler, error) {
	if cfg.Catalog == nil || cfg.Caller == nil || cfg.Fail == nil {
		return nil, errors.New("tusupload: Config needs Catalog, Caller and Fail")
	}
	cfg.Logger = cmp.Or(cfg.Logger, slog.Default())
	cfg.LeaseTTL = cmp.Or(cfg.LeaseTTL, 10*time.Second)
	cfg.LockWait = cmp.Or(cfg.LockWait, 20*time.Second)
	h := &Handler{cfg: cfg, process: rand.Text()[:12]}
	composer := handler.NewStoreComposer()
	s := &store{h: h}
	composer.UseCore(s)
	composer.UseTerminater(s)
	composer.UseLengthDeferrer(s)
	composer.UseLocker(locker{h})
	tus, err := handler.NewUnroutedHandler(handler.Config{
		StoreComposer: composer,
		BasePath:      BasePath,
		MaxSize:       cfg.Catalog.MaxUploadBytes(),
		// The server's own CORS answers preflights and exposes the tus
		// headers; downloads are /v1/resource/{id}/content's.
		Cors:               &handler.CorsConfig{Disable: true},
		DisableDownload:    true,
		AcquireLockTimeout: cfg.LockWait,
		// tusd logs every request at Info; the server's access log has them.
		Logger: expslog.New(expslog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		return nil, err
	}
	h.tus = tus
	return h, nil
}

// Create serves POST BasePath.
func (h *Handler) Create(w http.ResponseWriter, r *http.Request) {
	h.serve(w, r, "", h.tus.PostFile)
}

// Options serves OPTIONS BasePath: the protocol's discovery.
func (h *Handler) Options(w http.ResponseWriter, r *http.Request) {
	h.serve(w, r, "", func(http.ResponseWriter, *http.Request) {})
}

// Head serves HEAD BasePath+id: the offset.
func (h *Handler) Head(w http.ResponseWriter, r *http.Request, id string) {
	h.serve(w, r, id, h.tus.HeadFile)
}

// Patch serves PATCH BasePath+id: bytes.
func (h *Handler) Patch(w http.ResponseWriter, r *http.Request, id string) {
	h.serve(w, r, id, h.tus.PatchFile)
}

// Delete serves DELETE BasePath+id: termination.
func (h *Handler) Delete(w http.ResponseWriter, r *http.Request, id string) {
	h.serve(w, r, id, h.tus.DelFile)
}

// serve runs f, one of tusd's handlers, for the upload id ("" for the
// creation route), with the request's state where the store and the
// locker find it, and the answer's errors in the server's JSON.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request, id string, f http.HandlerFunc) {
	st := &requestState{readOnly: r.Method == http.MethodHead}
	r = r.WithContext(context.WithValue(r.Context(), stateKey{}, st))
	// tusd reads the upload's id from the whole path.
	u := *r.URL
	u.Path, u.RawPath = id, ""
	r.URL = &u
	h.tus.Middleware(f).ServeHTTP(&answer{ResponseWriter: w, st: st, head: r.Method == http.MethodHead}, r)
}

// Status is what GET BasePath+id answers: where the upload stands.
type Status struct {
	ID        string    `json:"id"`
	Offset    int64     `json:"offset"`
	Length    *int64    `json:"length,omitempty"`
	ExpiresAt time.Time `json:"expires_at"`
	Done      bool      `json:"done"`
}

// Status returns where the caller's upload id stands. It returns an error
// matching resources.ErrNotFound when the caller's account has no such
// upload.
func (h *Handler) Status(ctx context.Context, id string) (Status, error) {
	c, err := h.cfg.Caller(ctx)
	if err != nil {
		return Status{}, err
	}
	u, err := h.cfg.Catalog.GetUpload(ctx, c.Account, id)
	if err != nil {
		return Status{}, err
	}
	s := Status{ID: u.ID, Offset: u.Offset, ExpiresAt: u.ExpiresAt, Done: u.Done()}
	if u.Length >= 0 {
		s.Length = &u.Length
	}
	return s, nil
}

// requestState is what the store learns during a request and the answer
// needs, or the locker takes and the store uses.
type requestState struct {
	// readOnly marks a HEAD, which takes no lease: it reads an offset and
	// state that only a committed write changes, and must answer at once
	// after a crash, while the dead holder's lease has yet to lapse.
	readOnly bool
	holder   string    // the lease this request holds
	expires  time.Time // when its upload expires, zero when done
}

type stateKey struct{}

func stateOf(ctx context.Context) *requestState {
	if st, ok := ctx.Value(stateKey{}).(*requestState); ok {
		return st
	}
	return &requestState{}
}

// answer adds Upload-Expires to successful answers (the expiry as the
// request leaves it: each stored step moves it), and turns tusd's own
// plain-text errors into the server's {"error": ...}, with its length, so
// the answer is whole on the wire even when the request's body is left
// unread.
type answer struct {
	http.ResponseWriter
	st      *requestState
	head    bool
	pending int // the status of an error held until its body comes
}

func (a *answer) Unwrap() http.ResponseWriter { return a.ResponseWriter }

func (a *answer) WriteHeader(status int) {
	hdr := a.Header()
	if ext := hdr.Get("Tus-Extension"); ext != "" {
		// tusd serves no expiration of its own; the catalog does (an
		// expired upload is 410 Gone), so OPTIONS says so.
		hdr.Set("Tus-Extension", ext+",expiration")
	}
	if status < 300 && !a.st.expires.IsZero() {
		hdr.Set("Upload-Expires", a.st.expires.UTC().Format(http.TimeFormat))
	}
	if status >= 400 && strings.HasPrefix(hdr.Get("Content-Type"), "text/plain") {
		hdr.Set("Content-Type", "application/json")
		hdr.Del("Content-Length")
		if !a.head {
			// tusd writes an error's body at once, next.
			a.pending = status
			return
		}
	}
	a.ResponseWriter.WriteHeader(status)
}

func (a *answer) Write(b []byte) (int, error) {
	if a.pending == 0 {
		return a.ResponseWriter.Write(b)
	}
	// "ERR_CODE: message\n"
	msg := strings.TrimSpace(string(b))
	if _, rest, ok := strings.Cut(msg, ": "); ok && strings.HasPrefix(msg, "ERR_") {
		msg = rest
	}
	body, _ := json.Marshal(map[string]string{"error": tusMessage(msg)})
	a.Header().Set("Content-Length", strconv.Itoa(len(body)))
	a.ResponseWriter.WriteHeader(a.pending)
	a.pending = 0
	if _, err := a.ResponseWriter.Write(body); err != nil {
		return 0, err
	}
	return len(b), nil
}

// tusMessage words tusd's terse messages so a person can act on them.
func tusMessage(msg string) string {
	switch msg {
	case "mismatched offset":
		return "Upload-Offset is not the upload's offset: HEAD the upload and resume from its Upload-Offset"
	case "missing, invalid or unsupported Tus-Resumable header":
		return "send Tus-Resumable: 1.0.0"
	case "missing or invalid Content-Type header":
		return "send the bytes with Content-Type: application/offset+octet-stream"
	}
	return msg
}

// fail turns err into the error tusd answers with: the server's status
// and JSON message. tusd's own errors stay as they are.
func (h *Handler) fail(ctx context.Context, err error) error {
	var te handler.Error
	if err == nil || errors.As(err, &te) {
		return err
	}
	status, msg := h.cfg.Fail(ctx, err)
	body, _ := json.Marshal(map[string]string{"error": msg})
	return handler.Error{ErrorCode: "ERR_" + strings.ToUpper(strings.ReplaceAll(http.StatusText(status), " ", "_")),
		Message: msg, HTTPResponse: handler.HTTPResponse{StatusCode: status, Body: string(body) + "\n",
			Header: handler.HTTPHeader{"Content-Type": "application/json"}}}
}
