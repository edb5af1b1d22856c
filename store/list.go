package store

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"
)

// ListResources returns one page of the account's resources matching f,
// ordered by created_at and then id (both ascending or both descending), and
// the number of matching resources on all pages. A page past the end has no
// items and the true total. When f.Cursor is set, the page is the one after
// the cursor's position, found through the order index at any depth; the
// page carries NextCursor whenever more rows may follow. An invalid filter or
// cursor gives a *ValidationError.
func (db *DB) ListResources(ctx context.Context, f ResourceFilter) (ResourcePage, error) {
	q, err := db.ListQuery(f)
	if err != nil {
		return ResourcePage{}, fmt.Errorf("store: list resources: %w", err)
	}
	page := ResourcePage{Items: []Resource{}, Page: q.page}
	if q.SQL == "" {
		return page, nil
	}
	var key totalsKey
	cached, hit := cachedTotal{}, false
	if q.generationArg >= 0 {
		key = totalKey(f)
		if cached, hit = db.totals.get(key); hit {
			q = q.CachedAt(cached.generation)
		}
	}
	tctx, cancel := db.withTimeout(ctx)
	defer cancel()
	var t counted
	if q.countOnly {
		err = db.read.GetContext(tctx, &t, q.SQL, q.Args...)
	} else if page.Items, t, err = db.listPage(tctx, q, f.PageSize); err == nil &&
		len(page.Items) == 0 && q.offset > 0 {
		// An empty page carries no total, so ask for it, unless this was
		// the first page: then there is nothing.
		err = db.read.GetContext(tctx, &t, q.countSQL, q.Args[:q.countArgs]...)
	}
	if err != nil {
		return ResourcePage{}, fmt.Errorf("store: list resources: %w", translate(ctx, err))
	}
	switch {
	case t.Total.Valid:
		page.Total = t.Total.Int64
		if t.Generation.Valid {
			db.totals.put(key, cachedTotal{generation: t.Generation.Int64, total: page.Total})
		}
	case hit && t.Generation.Valid:
		// The statement left the total out: the account is still at the
		// generation the cached total was counted at.
		page.Total = cached.total
	}
	// After a cursor, rows before it may have been deleted meanwhile, so
	// the total cannot tell whether more follow: a full page says maybe.
	if n := int64(len(page.Items)); n == f.PageSize && (f.Cursor != "" || q.offset+n < page.Total) {
		page.NextCursor = db.cursors.encode(f, page.Page, page.Items[n-1])
	}
	return page, nil
}

// ListQuery is the one statement ListResources runs for a filter.
type ListQuery struct {
	SQL  string // empty when no row can match, and nothing need run
	Args []any  // times among them are driver.Valuers, in the engine's form
	// Prepared tells that ListResources runs SQL as a prepared statement,
	// so PostgreSQL may plan it once for all values. Queries with several
	// tags are planned for their values every time: the rarest tag is best
	// walked in order and the others probed, and a generic plan would have
	// to pick one tag for all values. (One tag has a single best plan: its
	// range of the tag index, migration 0006.) So are
	// prefix queries: PostgreSQL turns starts_with into an index range only
	// when it knows the prefix (a generic plan read the account's whole
	// path index: 71 tps instead of over 1,000 in the benchmark).
	Prepared bool

	page      int64 // the page number the result is
	offset    int64 // rows before the page, counting those before a cursor
	countOnly bool  // SQL returns only the total
	countSQL  string
	countArgs int // how many of Args countSQL takes
	// generationArg is the index in Args of the generation of a cached
	// total, nil until CachedAt sets it (store/totals.go); -1 when the
	// total is a maintained count, which is never cached.
	generationArg int
}

// ListQuery returns the statement ListResources runs for f, for EXPLAIN and
// benchmarks that must run the very same SQL. It fails as ListResources does
// on an invalid filter or cursor.
func (db *DB) ListQuery(f ResourceFilter) (ListQuery, error) {
	if err := f.validate(); err != nil {
		return ListQuery{}, err
	}
	q := ListQuery{page: f.Page, generationArg: -1}
	if !f.satisfiable() {
		return q, nil
	}
	w := db.listWhere(f)
	if !maintainedTotal(f, w) {
		w.generation = w.arg(nil)
		q.generationArg = len(w.args) - 1
	}
	var after *position
	if f.Cursor != "" {
		c, err := db.cursors.decode(f)
		if err != nil {
			return ListQuery{}, err
		}
		after, q.page, q.offset = &c.after, c.page+1, c.page*f.PageSize
	} else if offset, ok := pageOffset(f.Page, f.PageSize); ok {
		q.offset = offset
	} else {
		// Past the end of any table: only the total is needed.
		q.SQL, q.Args, q.countOnly = `SELECT `+db.totalColumns(w, f), w.args, true
		return q, nil
	}
	q.countSQL, q.countArgs = `SELECT `+db.totalColumns(w, f), len(w.args)
	q.SQL, q.Args = db.pageQuery(w, f, after, q.offset)
	q.Prepared = len(w.tagArgs) <= 1 && f.DirectoryPrefix == ""
	return q, nil
}

// CachedAt returns q as ListResources runs it while it holds the filter's
// total counted at generation g of the account (migration 0007): the
// statement counts only when the account's generation is no longer g. A
// query whose total is a maintained count comes back as it is.
func (q ListQuery) CachedAt(g int64) ListQuery {
	if q.generationArg < 0 || q.SQL == "" {
		return q
	}
	q.Args = slices.Clone(q.Args)
	q.Args[q.generationArg] = g
	return q
}

// pageQuery returns the page and the total in one statement: one round trip
// and one snapshot for both. The inner query picks the page's keys through
// an index without reading the skipped rows themselves (a deferred join);
// only the page's own rows are then fetched, with their tags.
func (db *DB) pageQuery(w *where, f ResourceFilter, after *position, offset int64) (string, []any) {
	w = w.clone()
	dir, cmp := "DESC", "<"
	if f.Ascending {
		dir, cmp = "ASC", ">"
	}
	total := db.totalColumns(w, f)
	keys := w.String()
	if after != nil {
		// A row comparison the order index serves as a range start: O(page)
		// at any depth.
		keys += " AND (" + w.created + ", " + w.id + ") " + cmp + " (" +
			w.arg(db.d.timeArg(after.createdAt)) + ", " + w.arg(after.id) + ")"
		offset = 0
	}
	limit, skip := w.arg(f.PageSize), w.arg(offset)
	order := "k.created_at " + dir + ", k.id " + dir
	return `SELECT ` + total + `, ` + db.columns + `
		FROM (
			SELECT ` + w.accountCol + ` AS account_id, ` + w.id + ` AS id, ` + w.created + ` AS created_at
			FROM ` + w.from + `
			WHERE ` + keys + `
			ORDER BY ` + w.created + ` ` + dir + `, ` + w.id + ` ` + dir + `
			LIMIT ` + limit + ` OFFSET ` + skip + `
		) k
		JOIN resources r ON r.account_id = k.account_id AND r.id = k.id
		ORDER BY ` + order, w.args
}

// maintainedTotal reports whether triggers keep f's exact total (migrations
// 0002 and 0003): no filter, or one tag alone.
func maintainedTotal(f ResourceFilter, w *where) bool {
	return f.DirectoryPrefix == "" && f.CreatedAfter == nil && f.CreatedBefore == nil && len(w.tagArgs) <= 1
}

// totalColumns returns the select-list columns total, the exact number of
// resources matching f, and generation, the account's generation when the
// total can be cached (migration 0007). They never read the rows
// themselves: the unfiltered and one-tag counts are kept by triggers, and
// any other filter counts entries of the indexes that serve its page
// (several tags: a merge of index-only ranges of resource_tags in
// created_at order), and only when the cached total's generation is not the
// account's: both engines evaluate an uncorrelated subquery once, when first
// needed (PostgreSQL as an InitPlan), so a CASE that does not reach it never
// counts.
func (db *DB) totalColumns(w *where, f ResourceFilter) string {
	if maintainedTotal(f, w) {
		if len(w.tagArgs) == 0 {
			return `NULL AS generation, coalesce((SELECT c.resources FROM account_counts c
			WHERE c.account_id = ` + w.account + `), 0) AS total`
		}
		return `NULL AS generation, coalesce((SELECT c.resources FROM account_tag_counts c
			WHERE c.account_id = ` + w.account + ` AND c.tag = ` + w.tagArgs[0] + `), 0) AS total`
	}
	count := `SELECT count(*) FROM ` + w.from + ` WHERE ` + w.String()
	if len(w.tagArgs) > 0 {
		if q := db.d.countTags(w); q != "" {
			count = q
		}
	}
	generation := `(SELECT c.generation FROM account_counts c WHERE c.account_id = ` + w.account + `)`
	return generation + ` AS generation, CASE WHEN ` + generation + ` = ` + w.generation + ` THEN NULL
		ELSE (` + count + `) END AS total`
}

// counted is the total a list statement returns: null when the account is
// still at the generation of the cached total it was given.
type counted struct {
	Generation sql.NullInt64 `db:"generation"`
	Total      sql.NullInt64 `db:"total"`
}

// listRow is a row of a page query: a resource and the total.
type listRow struct {
	counted
	resourceRow
}

// listPage runs q and reads the page's resources and the total.
func (db *DB) listPage(ctx context.Context, q ListQuery, size int64) ([]Resource, counted, error) {
	var rows *sqlx.Rows
	var err error
	if q.Prepared {
		var stmt *sqlx.Stmt
		if stmt, err = db.readStmts.get(ctx, q.SQL); err != nil {
			return nil, counted{}, err
		}
		rows, err = stmt.QueryxContext(ctx, q.Args...)
	} else {
		rows, err = db.read.QueryxContext(ctx, q.SQL, q.Args...)
	}
	if err != nil {
		return nil, counted{}, err
	}
	var row listRow
	rs, err := readResources(rows, &row, make([]Resource, 0, size))
	if err != nil {
		return nil, counted{}, err
	}
	return rs, row.counted, nil
}

// where collects the conditions of a list query, their arguments, and the
// rows they range over.
type where struct {
	d       dialect
	conds   []string
	args    []any
	account string // the placeholder of the account, when there is one
	// generation is the placeholder of a cached total's generation, when
	// the total is not a maintained count.
	generation string
	tagArgs    []string // the placeholder of each tag of the filter
	// prefix is the directory_prefix condition on r; after and before are
	// the placeholders of the window's ends. Empty when not filtered.
	prefix, after, before string
	// from is the FROM clause the conditions apply to; accountCol, created
	// and id are its expressions of a resource's key and order.
	from, accountCol, created, id string
}

// clone returns a copy that can take more arguments without changing w.
func (w *where) clone() *where {
	c := *w
	c.conds, c.args = slices.Clone(w.conds), slices.Clone(w.args)
	return &c
}

// arg adds an argument and returns its placeholder, in the dialect's form.
func (w *where) arg(v any) string {
	w.args = append(w.args, v)
	return w.d.placeholder(len(w.args))
}

func (w *where) and(cond string) { w.conds = append(w.conds, cond) }

func (w *where) String() string { return strings.Join(w.conds, " AND ") }

// listWhere builds the filter's conditions and the rows they range over.
// The account is the first condition, so no list can forget it.
//
// Without tags the rows are resources, aliased r, in the order index. With
// tags they are the first tag's rows of resource_tags, aliased g0, which
// carry created_at (migration 0006) so that the tag index serves the order;
// each other tag joins on the whole key, so that the planner may walk the
// rarest tag's range in order and probe the rest, and resources joins only
// when the path must be tested.
func (db *DB) listWhere(f ResourceFilter) *where {
	w := &where{d: db.d, from: "resources r", accountCol: "r.account_id", created: "r.created_at", id: "r.id"}
	w.account = w.arg(f.AccountID)
	if tags := distinct(f.Tags); len(tags) > 0 {
		w.from, w.accountCol, w.created, w.id = "resource_tags g0", "g0.account_id", "g0.created_at", "g0.resource_id"
		for i, t := range tags {
			w.tagArgs = append(w.tagArgs, w.arg(t))
			if i > 0 {
				g := "g" + strconv.Itoa(i)
				w.from += ` ` + db.d.joinTags() + ` resource_tags ` + g + ` ON ` + g + `.account_id = g0.account_id AND ` +
					g + `.created_at = g0.created_at AND ` + g + `.resource_id = g0.resource_id AND ` +
					g + `.tag = ` + w.tagArgs[i]
			}
		}
		if f.DirectoryPrefix != "" {
			w.from += ` ` + db.d.joinTags() + ` resources r ON r.account_id = g0.account_id AND r.id = g0.resource_id`
		}
	}
	w.and(w.accountCol + " = " + w.account)
	if len(w.tagArgs) > 0 {
		w.and("g0.tag = " + w.tagArgs[0])
	}
	if p := f.DirectoryPrefix; p != "" {
		w.prefix = db.d.hasPrefix(w, p)
		w.and(w.prefix)
	}
	// Stored times are whole microseconds, so created_at > t is created_at >
	// t rounded down, and created_at < t is created_at < t rounded up.
	if t := f.CreatedAfter; t != nil {
		w.after = w.arg(db.d.timeArg(*t))
		w.and(w.created + " > " + w.after)
	}
	if t := f.CreatedBefore; t != nil {
		w.before = w.arg(db.d.timeArg(ceilMicro(*t)))
		w.and(w.created + " < " + w.before)
	}
	return w
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

// firstChars returns the first n characters of s.
func firstChars(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
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
