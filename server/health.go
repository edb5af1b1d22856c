package server

import (
	"context"
	"time"

	"github.com/re-factor/resources/gen"
)

// readyTimeout bounds the readiness probe's database ping so an orchestrator
// hears "not ready" rather than waiting on a hung connection.
const readyTimeout = 2 * time.Second

// retryAfterSeconds is the Retry-After of a 503: a short wait, since
// outages this server sees are usually brief failovers and restarts.
var retryAfterSeconds = 1

// Healthz serves GET /healthz: the process is alive and serving.
func (s *Server) Healthz(ctx context.Context, _ gen.HealthzRequestObject) (gen.HealthzResponseObject, error) {
	return gen.Healthz200JSONResponse{HealthOKJSONResponse: gen.HealthOKJSONResponse{Status: "ok"}}, nil
}

// Readyz serves GET /readyz: 200 when the database answers, 503 otherwise.
func (s *Server) Readyz(ctx context.Context, _ gen.ReadyzRequestObject) (gen.ReadyzResponseObject, error) {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	if err := s.db.Ping(ctx); err != nil {
		s.log.WarnContext(ctx, "readiness check failed", "error", err.Error())
		return gen.Readyz503JSONResponse{ServiceUnavailableErrorJSONResponse: gen.ServiceUnavailableErrorJSONResponse{
			Body:    gen.Error{Error: "database unavailable"},
			Headers: gen.ServiceUnavailableErrorResponseHeaders{RetryAfter: &retryAfterSeconds},
		}}, nil
	}
	return gen.Readyz200JSONResponse{HealthOKJSONResponse: gen.HealthOKJSONResponse{Status: "ok"}}, nil
}
