package resources

import (
	"errors"
	"fmt"
)

// The kinds of failure a client can act on. Every error the domain's
// packages return for one of them is an *Error whose Kind it is; any other
// error (or a caller's context error) is an internal failure.
var (
	// ErrInvalid reports input the rules refuse.
	ErrInvalid = errors.New("invalid")
	// ErrNotFound reports that the account has no such resource.
	ErrNotFound = errors.New("not found")
	// ErrConflict reports that the account has a resource with the same id,
	// or at the same path and name.
	ErrConflict = errors.New("conflict")
	// ErrForbidden reports a request the caller's credential does not
	// permit, though the rules would allow it from the account itself: an
	// upload link's folder or media types.
	ErrForbidden = errors.New("forbidden")
	// ErrTooLarge reports content beyond the size a deployment allows.
	ErrTooLarge = errors.New("content too large")
	// ErrTooMany reports that the account holds as many of something
	// unfinished (resumable uploads) as a deployment allows; finishing or
	// abandoning one makes room.
	ErrTooMany = errors.New("too many")
	// ErrGone reports that what was asked for is no longer kept: events
	// pruned after EVENTS_RETENTION (the cause is an *EventsGone).
	ErrGone = errors.New("gone")
	// ErrUnavailable reports that the database or the storage failed or
	// did not answer in time. Retrying later may succeed.
	ErrUnavailable = errors.New("unavailable")
)

// Error is a failure told for the client: Field and Reason say what was
// wrong in the request; Err keeps the cause, with its internals, for the
// log.
type Error struct {
	Kind   error  // ErrInvalid, ErrNotFound, ErrConflict, ErrForbidden, ErrTooLarge, ErrTooMany, ErrGone or ErrUnavailable
	Field  string // the field at fault, such as "name"; "" when none is
	Reason string // what is wrong (with Field, when set), e.g. "must not be empty"
	Err    error  // the cause; nil when the rules themselves refused
}

// Invalid returns an ErrInvalid *Error for field, its reason formatted
// from format and args.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Kind: ErrInvalid, Field: field, Reason: fmt.Sprintf(format, args...)}
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
