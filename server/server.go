// Package server serves the resources API: it implements the strict
// interface generated from openapi.yaml over a store, and adds the
// authentication, request validation and error rendering around it.
package server

import (
	"log/slog"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/re-factor/resources/auth"
	"github.com/re-factor/resources/blobstore"
	"github.com/re-factor/resources/gen"
	"github.com/re-factor/resources/store"
	"github.com/re-factor/resources/urlfetch"
)

// Server implements the generated strict interface; each operation lives in
// the file of the resource it serves.
type Server struct {
	db         *store.DB
	blobs      *blobstore.Store
	fetcher    *urlfetch.Fetcher
	verifier   *auth.Verifier
	log        *slog.Logger
	maxContent int64
	now        func() time.Time
	// validation holds kin-openapi's options for every check against the
	// spec; createRoute is the operation whose body createResource checks,
	// and contentRule the spec's words for its content's rule, which
	// createResource applies as the content streams.
	validation  openapi3filter.Options
	createRoute *routers.Route
	contentRule string
}

var _ gen.StrictServerInterface = (*Server)(nil)
