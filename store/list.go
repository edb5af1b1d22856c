package store

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lib/pq"
)

// ListResources returns one page of the account's resources matching f,
// ordered by created_at and then id (both ascending or both descending), and
// the number of matching resources on all pages. A page past the end has no
// items and the true total. An invalid filter gives a *ValidationError.
func (db *DB) ListResources(ctx context.Context, f ResourceFilter) (ResourcePage, error) {
	if err := f.validate(); err != nil {
		return ResourcePage{}, fmt.Errorf("store: list resources: %w", err)
	}
	page := ResourcePage{Items: []Resource{}}
	if !f.satisfiable() {
		return page, nil
	}
	tctx, cancel := db.withTimeout(ctx)
	defer cancel()
	w := db.listWhere(f)
	var err error
	if offset, ok := pageOffset(f.Page, f.PageSize); !ok {
		page.Total, err = db.count(tctx, w)
	} else {
		page, err = db.listPage(tctx, w, f, offset)
		// An empty page carries no total, so ask for it, unless this was
		// the first page: then there is nothing.
		if err == nil && len(page.Items) == 0 && offset > 0 {
			page.Total, err = db.count(tctx, w)
		}
	}
	if err != nil {
		return ResourcePage{}, fmt.Errorf("store: list resources: %w", translate(ctx, err))
	}
	return page, nil
}

// listPage runs the page query, which also counts all matches: one round
// trip and one snapshot for both.
func (db *DB) listPage(ctx context.Context, w *where, f ResourceFilter, offset int64) (ResourcePage, error) {
	dir := "DESC"
	if f.Ascending {
		dir = "ASC"
	}
	args := slices.Clone(w.args)
	limit := "$" + strconv.Itoa(len(args)+1)
	skip := "$" + strconv.Itoa(len(args)+2)
	args = append(args, f.PageSize, offset)
	// The inner query picks the page's rows through the order index; the
	// outer one adds their tags, so tags are read for those rows only.
	q := `SELECT (SELECT count(*) FROM resources r WHERE ` + w.String() + `), r.*, ` + db.tagsColumn() + `
		FROM (
			SELECT ` + resourceColumns + ` FROM resources r
			WHERE ` + w.String() + `
			ORDER BY r.created_at ` + dir + `, r.id ` + dir + `
			LIMIT ` + limit + ` OFFSET ` + skip + `
		) r
		ORDER BY r.created_at ` + dir + `, r.id ` + dir
	rows, err := db.read.QueryContext(ctx, q, args...)
	if err != nil {
		return ResourcePage{}, err
	}
	defer rows.Close()
	page := ResourcePage{Items: make([]Resource, 0, f.PageSize)}
	for rows.Next() {
		r, err := scanResource(rows, &page.Total)
		if err != nil {
			return ResourcePage{}, err
		}
		page.Items = append(page.Items, r)
	}
	return page, rows.Err()
}

func (db *DB) count(ctx context.Context, w *where) (int64, error) {
	var n int64
	err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM resources r WHERE `+w.String(), w.args...).Scan(&n)
	return n, err
}

// where collects the conditions of a list query and their arguments.
type where struct {
	conds []string
	args  []any
}

// arg adds an argument and returns its placeholder. modernc.org/sqlite
// reads $N as the Nth argument too, so both engines share the syntax.
func (w *where) arg(v any) string {
	w.args = append(w.args, v)
	return "$" + strconv.Itoa(len(w.args))
}

func (w *where) and(cond string) { w.conds = append(w.conds, cond) }

func (w *where) String() string { return strings.Join(w.conds, " AND ") }

// listWhere builds the filter's conditions on resources aliased r. The
// account is the first condition, so no list can forget it.
func (db *DB) listWhere(f ResourceFilter) *where {
	w := &where{}
	account := w.arg(f.AccountID)
	w.and("r.account_id = " + account)
	if p := f.DirectoryPrefix; p != "" {
		if db.engine == Postgres {
			// Under COLLATE "C" the planner turns starts_with into a range
			// scan of resources_path_key, and no character is special.
			w.and("starts_with(r.directory_path, " + w.arg(p) + ")")
		} else {
			// SQLite has no such operator (its LIKE ignores ASCII case, GLOB
			// has wildcards), so give the byte range of strings starting
			// with p, which the path index serves.
			w.and("r.directory_path >= " + w.arg(p) + " AND r.directory_path < " + w.arg(prefixEnd(p)))
		}
	}
	// Stored times are whole microseconds, so created_at > t is created_at >
	// t rounded down, and created_at < t is created_at < t rounded up.
	if t := f.CreatedAfter; t != nil {
		w.and("r.created_at > " + w.arg(db.timeArg(*t)))
	}
	if t := f.CreatedBefore; t != nil {
		w.and("r.created_at < " + w.arg(db.timeArg(ceilMicro(*t))))
	}
	if tags := distinct(f.Tags); len(tags) > 0 {
		w.and("r.id IN (" + db.taggedWithAll(w, account, tags) + ")")
	}
	return w
}

// taggedWithAll returns a query for the ids of the account's resources that
// carry every one of tags. Each engine gets the form it plans best.
func (db *DB) taggedWithAll(w *where, account string, tags []string) string {
	if db.engine == Postgres {
		// One scan of resource_tags_tag_idx for all the tags, then a count
		// per resource: faster here than an INTERSECT.
		return `SELECT g.resource_id FROM resource_tags g
			WHERE g.account_id = ` + account + ` AND g.tag = ANY(` + w.arg(pq.Array(tags)) + `)
			GROUP BY g.resource_id HAVING count(*) = ` + w.arg(len(tags))
	}
	// SQLite would serve that GROUP BY from the primary key, reading every
	// tag of the account; an INTERSECT merges one index range per tag.
	parts := make([]string, len(tags))
	for i, t := range tags {
		parts[i] = `SELECT g.resource_id FROM resource_tags g
			WHERE g.account_id = ` + account + ` AND g.tag = ` + w.arg(t)
	}
	return strings.Join(parts, " INTERSECT ")
}

func (f *ResourceFilter) validate() error {
	switch {
	case f.AccountID == "":
		return invalid("account_id", "is required")
	case f.Page < 1:
		return invalid("page", "must be at least 1")
	case f.PageSize < 1 || f.PageSize > MaxPageSize:
		return invalid("page_size", "must be between 1 and %d", MaxPageSize)
	}
	return nil
}

// satisfiable reports whether any stored resource could match f. Text a
// resource cannot hold (invalid UTF-8, NUL) would make PostgreSQL fail the
// query, and more distinct tags than a resource may carry cannot match.
func (f *ResourceFilter) satisfiable() bool {
	if !storable(f.AccountID) || !storable(f.DirectoryPrefix) || len(distinct(f.Tags)) > MaxTags {
		return false
	}
	return !slices.ContainsFunc(f.Tags, func(t string) bool { return !storable(t) })
}

func storable(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

func distinct(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

// pageOffset returns how many rows precede the page. It reports false when
// that count, plus the page size, would overflow an int64: such a page is
// past the end of any table.
func pageOffset(page, size int64) (int64, bool) {
	if page-1 > (math.MaxInt64-size)/size {
		return 0, false
	}
	return (page - 1) * size, true
}

// prefixEnd returns the least string above every string that starts with p
// in byte order: p with its last byte incremented. p is valid UTF-8, which
// never contains the byte 0xff, so the increment cannot carry.
func prefixEnd(p string) string {
	b := []byte(p)
	b[len(b)-1]++
	return string(b)
}

func ceilMicro(t time.Time) time.Time {
	c := t.Truncate(time.Microsecond)
	if c.Before(t) {
		c = c.Add(time.Microsecond)
	}
	return c
}
