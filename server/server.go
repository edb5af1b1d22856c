// Package server serves the resources API: it implements the strict
// interface generated from openapi.yaml over the resources domain, and adds the
// authentication, request validation and error rendering around it.
package server

import (
	"log/slog"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/re-factor/resources/auth"
	"github.com/re-factor/resources/gen"
	"github.com/re-factor/resources/resources"
	"github.com/re-factor/resources/store"
)

// Server implements the generated strict interface; each operation lives in
// the file of the resource it serves.
type Server struct {
	db        *store.DB
	resources *resources.Service
	verifier  *auth.Verifier
	log       *slog.Logger
	// validation holds kin-openapi's options for every check against the
	// spec; createRoute is the operation whose body createResource checks,
	// and contentRule the spec's words for its content's rule, which
	// createResource applies as the content streams.
	validation  openapi3filter.Options
	createRoute *routers.Route
	contentRule string
}

var _ gen.StrictServerInterface = (*Server)(nil)
