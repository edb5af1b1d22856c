package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"path"
	"syscall"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/re-factor/resources"
)

// The store returns its failures as *resources.Error, in the client's
// words, with the driver's error kept as the cause: ErrNotFound for a
// resource the account does not have, ErrConflict for a taken id or path,
// ErrInvalid for a value the database refuses, ErrUnavailable for a
// database that could not be reached or did not answer within the statement
// timeout. Every other error it returns (but a caller's context error) is
// an internal failure.

// notFound is the error for a resource the account does not have: one of
// another account is indistinguishable from a missing one.
func notFound(err error) error {
	return &resources.Error{Kind: resources.ErrNotFound, Reason: "resource not found", Err: err}
}

// unavailable is what a client is told of an outage.
const unavailable = "the service is temporarily unavailable; retry shortly"

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
		return &resources.Error{Kind: resources.ErrUnavailable, Reason: unavailable, Err: err}
	case isUniqueViolation(err):
		return &resources.Error{Kind: resources.ErrConflict, Reason: "a resource with the same id or path already exists", Err: err}
	case isRejectedValue(err):
		// The client hears no more than this: a data exception's message
		// names the value's problem, but constraint failures on SQLite
		// would quote SQL. The cause keeps the database's words.
		return &resources.Error{Kind: resources.ErrInvalid, Reason: "a value could not be stored", Err: err}
	}
	return err
}

// conflict describes a unique violation by r, or returns nil when err is
// not one. onPath is what the client is told when r's path is taken.
func conflict(err error, r resources.Resource, onPath string) error {
	byID := false
	if e := pq.As(err, pqerror.UniqueViolation); e != nil {
		byID = e.Constraint == "resources_pkey"
	} else if code := sqliteCode(err); code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY {
		byID = true
	} else if code != sqlite3.SQLITE_CONSTRAINT_UNIQUE {
		return nil
	}
	return conflictError(err, r, byID, onPath)
}

// conflictError says that r's id (byID) or path is taken, in onPath's
// words for the path; err is the database's.
func conflictError(err error, r resources.Resource, byID bool, onPath string) error {
	if byID {
		return &resources.Error{Kind: resources.ErrConflict, Err: err,
			Reason: fmt.Sprintf("resource id %s already exists in account %q", r.ID, r.AccountID)}
	}
	return &resources.Error{Kind: resources.ErrConflict, Reason: onPath, Err: err}
}

// importedPathTaken is what an import says of a resource whose path is
// taken: an operator reads it, of any account.
func importedPathTaken(r resources.Resource) string {
	return fmt.Sprintf("path %q already exists in account %q", path.Join(r.DirectoryPath, r.Name), r.AccountID)
}

// isRecoveryConflict tells a query that a streaming replica canceled
// because replaying the primary's changes needed what the query held
// (SQLSTATE 40001, or 40P01 for a lock replay waited on): the primary does
// not meet that conflict.
func isRecoveryConflict(err error) bool {
	e := pq.As(err)
	return e != nil && (e.Code == pqerror.TRSerializationFailure || e.Code == pqerror.TRDeadlockDetected)
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

// isForeignKeyViolation reports a row referring to one that is not there.
func isForeignKeyViolation(err error) bool {
	return pq.As(err, pqerror.ForeignKeyViolation) != nil || sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
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
