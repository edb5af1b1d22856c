// Package server serves the resources API: it implements the strict
// interface generated from openapi.yaml over the resources domain, and adds the
// authentication, request validation and error rendering around it.
package server

import (
	"log/slog"
	"time"

	"github.com/re-factor/resources/webhooks"

	"github.com/re-factor/resources/auth"
	"github.com/re-factor/resources/catalog"
	"github.com/re-factor/resources/gen"
	"github.com/re-factor/resources/server/validation"
)

// Server implements the generated strict interface; each operation lives in
// the file of the resource it serves.
type Server struct {
	catalog   *catalog.Service
	verifier  *auth.Verifier
	log       *slog.Logger
	validator *validation.Validator
	drain     *Drain
	ready     readiness
	// contentRule is the spec's words for the rule of a create's content,
	// which createResource applies as the content streams.
	contentRule string
	// publicURL starts the URLs of download links ("" for the request's
	// origin); linkRedirect sends their downloads to signed storage URLs.
	publicURL    string
	linkRedirect bool
	heartbeat    time.Duration     // of event streams (events.go)
	webhooks     *webhooks.Service // nil: the webhook routes answer 503
}

var _ gen.StrictServerInterface = (*Server)(nil)
