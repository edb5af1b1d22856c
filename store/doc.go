// Package store keeps resources in PostgreSQL (production) or SQLite (the
// embedded default). It knows nothing of HTTP or of the bytes: callers pass
// the domain's types (package resources) and get its errors back, the
// driver's errors translated at this package's edge (errors.go). It checks
// only what storage itself needs; the rules of a resource are the domain's,
// applied before a resource gets here.
package store
