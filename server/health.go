package server

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/re-factor/resources"
	"github.com/re-factor/resources/gen"
)

// readyTimeout bounds the readiness probe's checks so an orchestrator hears
// "not ready" rather than waiting on a hung connection.
const readyTimeout = 2 * time.Second

// readyInterval is how long a readiness check's answer stands. Probes need
// no token, so however often they come, the database and the storage see
// at most one check each per interval.
const readyInterval = time.Second

// retryAfterSeconds is the Retry-After of a 503: a short wait, since
// outages this server sees are usually brief failovers and restarts.
var retryAfterSeconds = 1

// readiness is the last readiness check's answer.
type readiness struct {
	mu     sync.Mutex
	at     time.Time
	reason string // why the server is not ready; "" when it is
}

// Healthz serves GET /healthz: the process is alive and serving.
func (s *Server) Healthz(ctx context.Context, _ gen.HealthzRequestObject) (gen.HealthzResponseObject, error) {
	return gen.Healthz200JSONResponse{HealthOKJSONResponse: gen.HealthOKJSONResponse{Status: "ok"}}, nil
}

// Readyz serves GET /readyz: 200 when the database and the storage answer
// and the server is not shutting down, else 503 saying which.
func (s *Server) Readyz(ctx context.Context, _ gen.ReadyzRequestObject) (gen.ReadyzResponseObject, error) {
	if reason := s.notReady(ctx); reason != "" {
		return gen.Readyz503JSONResponse{ServiceUnavailableErrorJSONResponse: gen.ServiceUnavailableErrorJSONResponse{
			Body:    gen.Error{Error: reason},
			Headers: gen.ServiceUnavailableErrorResponseHeaders{RetryAfter: &retryAfterSeconds},
		}}, nil
	}
	return gen.Readyz200JSONResponse{HealthOKJSONResponse: gen.HealthOKJSONResponse{Status: "ok"}}, nil
}

// notReady returns why the server should get no new requests, or "".
// Draining answers at once; the dependencies' answer is at most
// readyInterval old.
func (s *Server) notReady(ctx context.Context) string {
	if s.drain.draining() {
		return "shutting down"
	}
	s.ready.mu.Lock()
	defer s.ready.mu.Unlock()
	if time.Since(s.ready.at) < readyInterval {
		return s.ready.reason
	}
	// A probe that hangs up must not leave "unavailable" standing.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), readyTimeout)
	defer cancel()
	s.ready.reason = ""
	if err := s.catalog.Ready(ctx); err != nil {
		s.log.WarnContext(ctx, "readiness check failed", "error", err.Error())
		s.ready.reason = "unavailable"
		var e *resources.Error
		if errors.As(err, &e) {
			s.ready.reason = e.Reason
		}
	}
	s.ready.at = time.Now()
	return s.ready.reason
}
