// Package server serves the resources API: it implements the strict
// interface generated from openapi.yaml over a store, and adds the
// authentication, request validation and error rendering around it.
package server

import (
	"log/slog"

	"github.com/re-factor/resources/auth"
	"github.com/re-factor/resources/gen"
	"github.com/re-factor/resources/store"
)

// Server implements the generated strict interface; each operation lives in
// the file of the resource it serves.
type Server struct {
	db       *store.DB
	verifier *auth.Verifier
	log      *slog.Logger
}

var _ gen.StrictServerInterface = (*Server)(nil)
