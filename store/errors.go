package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// The store's errors. Every error a method returns that is not one of these
// (or a caller's context error) is an internal failure.
var (
	// ErrNotFound reports that the requested resource does not exist in the
	// caller's account.
	ErrNotFound = errors.New("not found")
	// ErrConflict reports that a resource with the same id or the same
	// account, directory path and name already exists.
	ErrConflict = errors.New("conflict")
	// ErrInvalid reports input the store refuses. Validation failures are
	// *ValidationError values, which match ErrInvalid with errors.Is.
	ErrInvalid = errors.New("invalid input")
	// ErrUnavailable reports that the database could not be reached or did
	// not answer within the statement timeout. Retrying later may succeed.
	ErrUnavailable = errors.New("database unavailable")
)

// ValidationError names the field that failed validation and why.
type ValidationError struct {
	Field  string // the field's JSON name, e.g. "directory_path"
	Reason string // e.g. `must start with "/"`
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Reason }

// Is makes every ValidationError match ErrInvalid.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

func invalid(field, reason string, args ...any) error {
	return &ValidationError{Field: field, Reason: fmt.Sprintf(reason, args...)}
}

// translate maps a driver error to the store's sentinels. ctx is the
// caller's context, not the one carrying the statement timeout: a caller who
// cancels gets context.Canceled back, never ErrUnavailable, so a client
// hanging up does not look like an outage.
func translate(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if cerr := ctx.Err(); errors.Is(cerr, context.Canceled) {
		if errors.Is(err, context.Canceled) {
			return err
		}
		return fmt.Errorf("%w: %w", cerr, err)
	}
	switch {
	case isUnavailable(err):
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	case isUniqueViolation(err):
		return fmt.Errorf("%w: a resource with the same id or path already exists", ErrConflict)
	case isRejectedValue(err):
		// The message of a data exception names the value's problem, not
		// the statement; constraint failures on SQLite would quote SQL.
		if e := pq.As(err); e != nil && e.Code.Class() == pqerror.ClassDataException {
			return fmt.Errorf("%w: %s", ErrInvalid, e.Message)
		}
		return fmt.Errorf("%w: the database rejected a value", ErrInvalid)
	}
	return err
}

func isUnavailable(err error) bool {
	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, driver.ErrBadConn),
		errors.Is(err, sql.ErrConnDone),
		errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE),
		errors.As(err, &netErr):
		return true
	}
	if e := pq.As(err); e != nil {
		switch e.Code.Class() {
		case pqerror.ClassConnectionException, pqerror.ClassInsufficientResources:
			return true
		}
		switch e.Code {
		case pqerror.QueryCanceled, // statement_timeout, or a cancel sent for a deadline
			pqerror.AdminShutdown, pqerror.CrashShutdown, pqerror.CannotConnectNow:
			return true
		}
	}
	switch sqliteCode(err) & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_INTERRUPT,
		sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_NOMEM:
		return true
	}
	return false
}

func isUniqueViolation(err error) bool {
	if pq.As(err, pqerror.UniqueViolation) != nil {
		return true
	}
	switch sqliteCode(err) {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return true
	}
	return false
}

func isRejectedValue(err error) bool {
	if e := pq.As(err); e != nil {
		return e.Code.Class() == pqerror.ClassDataException ||
			e.Code == pqerror.CheckViolation || e.Code == pqerror.NotNullViolation
	}
	switch sqliteCode(err) {
	case sqlite3.SQLITE_CONSTRAINT_CHECK, sqlite3.SQLITE_CONSTRAINT_NOTNULL,
		sqlite3.SQLITE_CONSTRAINT_DATATYPE, sqlite3.SQLITE_MISMATCH, sqlite3.SQLITE_TOOBIG:
		return true
	}
	return false
}

// sqliteCode returns the extended result code of a SQLite error, or 0.
func sqliteCode(err error) int {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return 0
}
