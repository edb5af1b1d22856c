package resources

import (
	"errors"
	"fmt"

	"github.com/re-factor/resources/blobstore"
	"github.com/re-factor/resources/store"
	"github.com/re-factor/resources/urlfetch"
)

// The kinds of failure a client can act on. Every error a Service returns
// for one of them is an *Error whose Kind it is; any other error (or a
// caller's context error) is an internal failure.
var (
	// ErrInvalid reports input the rules refuse.
	ErrInvalid = errors.New("invalid")
	// ErrNotFound reports that the account has no such resource.
	ErrNotFound = errors.New("not found")
	// ErrConflict reports that the account has a resource at the same path.
	ErrConflict = errors.New("conflict")
	// ErrTooLarge reports content beyond MaxContentBytes.
	ErrTooLarge = errors.New("content too large")
	// ErrUnavailable reports that the database or the storage failed or
	// did not answer in time. Retrying later may succeed.
	ErrUnavailable = errors.New("unavailable")
)

// Error is a failure of a resource operation, told for the client: Field
// and Reason say what was wrong in the request; Err keeps the cause, with
// its internals, for the log.
type Error struct {
	Kind   error  // ErrInvalid, ErrNotFound, ErrConflict, ErrTooLarge or ErrUnavailable
	Field  string // the field at fault, such as "name"; "" when none is
	Reason string // what is wrong (with Field, when set), e.g. "must not be empty"
	Err    error  // the cause; nil when the rules themselves refused
}

// Message is what the client is told: "name: must not be empty".
func (e *Error) Message() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

func (e *Error) Error() string {
	if e.Err == nil {
		return e.Message()
	}
	return e.Message() + ": " + e.Err.Error()
}

func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// describe turns a failure of the store, the storage or the fetcher into an
// *Error in the client's words. conflict says what a conflict is about.
// Errors that are none of theirs (a reader's, a context's, an internal one)
// come back as they are.
func (s *Service) describe(err error, conflict string) error {
	var ve *store.ValidationError
	var ours *Error
	switch {
	case err == nil, errors.As(err, &ours):
		return err
	case errors.As(err, &ve):
		return &Error{Kind: ErrInvalid, Field: ve.Field, Reason: ve.Reason}
	case errors.Is(err, store.ErrInvalid):
		return &Error{Kind: ErrInvalid, Reason: "a value could not be stored", Err: err}
	case errors.Is(err, store.ErrNotFound):
		return &Error{Kind: ErrNotFound, Reason: "resource not found", Err: err}
	case errors.Is(err, store.ErrConflict):
		return &Error{Kind: ErrConflict, Reason: conflict, Err: err}
	case errors.Is(err, blobstore.ErrTooLarge):
		return &Error{Kind: ErrTooLarge, Reason: fmt.Sprintf("content is larger than %d bytes", s.maxContent), Err: err}
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, blobstore.ErrUnavailable):
		return &Error{Kind: ErrUnavailable, Reason: "the service is temporarily unavailable; retry shortly", Err: err}
	case errors.Is(err, urlfetch.ErrFetch):
		// Fetch's own errors are told by fetch; this one broke off later.
		return &Error{Kind: ErrInvalid, Field: "uri", Reason: "the content could not be read to its end", Err: err}
	}
	return err
}
