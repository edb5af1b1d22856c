package store

import (
	"cmp"
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

	"github.com/re-factor/resources"
)

// ListResources returns one page of the account's resources matching f,
// ordered by created_at and then id (both ascending or both descending), and
// the number of matching resources on all pages. A page past the end has no
// items and the true total. When f.Cursor is set, the page is the one after
// the cursor's position, found through the order index at any depth; the
// page carries NextCursor whenever more rows may follow. An invalid filter or
// cursor gives an error matching resources.ErrInvalid that names the field.
func (db *DB) ListResources(ctx context.Context, f resources.Filter) (resources.Page, error) {
	q, err := db.ListQuery(ctx, f)
	if err != nil {
		return resources.Page{}, fmt.Errorf("store: list resources: %w", translate(ctx, err))
	}
	page := resources.Page{Items: []resources.Resource{}, Page: q.page}
	if q.SQL == "" {
		return page, nil
	}
	var key totalsKey
	cached, hit := cachedTotal{}, false
	if q.generationArg >= 0 {
		key = totalKey(f)
		if cached, hit = db.totals.get(key); hit {
			q = q.CachedAt(cached.generation)
			q.cachedTotal = &cached.total
		}
	}
	tctx, cancel := db.withTimeout(ctx)
	defer cancel()
	var t counted
	page.Items, t, err = db.readPage(tctx, reader{db.read, db.readStmts}, q, f.PageSize)
	if isRecoveryConflict(err) && db.currentStmts != db.readStmts {
		// The replica canceled the read to replay the primary's changes:
		// the primary answers it instead of the client seeing an error.
		page.Items, t, err = db.readPage(tctx, reader{db.current, db.currentStmts}, q, f.PageSize)
	}
	if err != nil {
		return resources.Page{}, fmt.Errorf("store: list resources: %w", translate(ctx, err))
	}
	if q.countedAt != nil && t.Generation.Valid && t.Generation.Int64 != *q.countedAt {
		// The account changed since the walk was chosen: weigh again.
		db.listCounts.drop(totalKey(f))
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
	// Walk, when set, runs before SQL: a page of tags with a prefix that
	// walks the rarest tag's range of the tag index in list order, reading
	// at most walkCap entries and testing each one's path in
	// resources_key_path_idx and its tags by key (PostgreSQL). Its page
	// stands when it is full, when the walk saw every match (the tag has no
	// more than walkCap resources), or when it ends at the total it
	// counted; otherwise SQL runs, planned for the values. The planner
	// would rarely choose the walk itself: it costs each probe as a page
	// read from disk, where reading the prefix's and the tag's whole ranges
	// and sorting their matches costs by the entry (issue 21: 13,336 and
	// 5,709 entries for a page of 20, 9 ms warm, where the walk reads a few
	// hundred). The cap bounds what the walk costs a rare prefix. When the
	// rarest tag has few resources under the prefix, Walk reads them whole
	// instead (WalkStands), on SQLite too, whose SQL walks the rarest tag
	// without a cap (joinTags): two common tags under /d1/d2/d3 at 1M rows,
	// a few dozen entries read where the walk read all of t001's 37,845.
	Walk     string
	WalkArgs []any
	// WalkStands tells that Walk reads every match, so its page stands
	// whatever it finds and SQL never runs: the rarest tag's range under
	// the prefix read whole (prefixQuery), or a walk of a tag's window that
	// holds well under walkCap entries (prefixFirst).
	WalkStands bool

	page      int64 // the page number the result is
	offset    int64 // rows before the page, counting those before a cursor
	countOnly bool  // SQL returns only the total
	// walkStandsAt, when not 0, is the account's generation at which
	// WalkStands holds: the walk's page stands only when the walk reads
	// the account at it.
	walkStandsAt int64
	// countedAt is the generation of the account the counts that chose
	// Walk were read at (prefixFirst), nil when none were read.
	countedAt *int64
	// cachedTotal is the total the statement leaves out while the
	// account is at the generation CachedAt gave it, nil when none.
	cachedTotal *int64
	countSQL    string
	countArgs   int // how many of Args countSQL takes
	// generationArg is the index in Args of the generation of a cached
	// total, nil until CachedAt sets it (store/totals.go); -1 when the
	// total is a maintained count, which is never cached.
	generationArg int
}

// ListQuery returns the statement ListResources runs for f, for EXPLAIN and
// benchmarks that must run the very same SQL. It fails as ListResources does
// on an invalid filter or cursor. On SQLite a filter of several tags reads
// their counts first (see rarestFirst), and a filter of tags with a prefix
// reads theirs and the prefix's (see prefixFirst), so ctx bounds that read.
func (db *DB) ListQuery(ctx context.Context, f resources.Filter) (ListQuery, error) {
	if err := f.Validate(); err != nil {
		return ListQuery{}, err
	}
	q := ListQuery{page: f.Page, generationArg: -1}
	var after *position
	if f.Cursor != "" {
		// Before anything else: a cursor this list never gave is a 400,
		// whatever the filters.
		c, err := db.cursors.decode(f)
		if err != nil {
			return ListQuery{}, err
		}
		after, q.page, q.offset = &c.after, c.page+1, c.page*f.PageSize
	}
	if !satisfiable(f) {
		return q, nil
	}
	tags := distinct(f.Tags)
	if len(tags) > 1 && !db.d.plansJoins() {
		var err error
		if tags, err = db.rarestFirst(ctx, f.AccountID, tags); err != nil {
			return ListQuery{}, err
		}
	}
	w := db.listWhere(f, tags)
	if !maintainedTotal(f, w) {
		w.generation = w.arg(nil)
		q.generationArg = len(w.args) - 1
	}
	switch offset, ok := pageOffset(f.Page, f.PageSize); {
	case after != nil: // the cursor set the offset
	case ok:
		q.offset = offset
	default:
		// Past the end of any table: only the total is needed.
		q.SQL, q.Args, q.countOnly = `SELECT `+db.totalColumns(w, f), w.args, true
		return q, nil
	}
	q.countSQL, q.countArgs = `SELECT `+db.totalColumns(w, f), len(w.args)
	if w.prefix != "" && len(w.tagArgs) == 0 && !db.d.plansJoins() {
		walk, counted, err := db.orderFirst(ctx, f, after == nil, q.offset)
		if err != nil {
			return ListQuery{}, err
		}
		w.index = "resources_path_created_idx"
		if walk {
			w.index = "resources_created_idx"
		}
		q.countedAt = &counted
	}
	q.SQL, q.Args = db.pageQuery(w, f, after, q.offset)
	q.Prepared = len(w.tagArgs) <= 1 && f.DirectoryPrefix == ""
	if w.prefix != "" && len(w.tagArgs) > 0 {
		plan, err := db.prefixFirst(ctx, f, tags, q.offset)
		if err != nil {
			return ListQuery{}, err
		}
		switch {
		case plan.probes != nil:
			q.Walk, q.WalkArgs = db.prefixQuery(w, f, after, q.offset, plan.probes)
			q.WalkStands = true
		case !db.d.plansJoins():
			// SQLite's statement walks the rarest tag already (joinTags).
		case q.offset+f.PageSize <= walkCap/walkShare:
			q.Walk, q.WalkArgs = db.walkQuery(w, f, after, q.offset)
			q.WalkStands, q.walkStandsAt = plan.walkAll, plan.walkAllAt
		}
		if plan.counted != 0 {
			q.countedAt = &plan.counted
		}
	}
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
	if q.Walk != "" {
		q.WalkArgs = slices.Clone(q.WalkArgs)
		q.WalkArgs[q.generationArg] = g
	}
	return q
}

// pageQuery returns the page and the total in one statement: one round trip
// and one snapshot for both. The inner query picks the page's keys through
// an index without reading the skipped rows themselves (a deferred join);
// only the page's own rows are then fetched, with their tags.
func (db *DB) pageQuery(w *where, f resources.Filter, after *position, offset int64) (string, []any) {
	w = w.clone()
	dir, cmp := direction(f)
	total := db.totalColumns(w, f)
	keys := w.String()
	if after != nil {
		keys += " AND " + db.beyond(w, w.created, w.id, cmp, after)
		offset = 0
	}
	limit, skip := w.arg(f.PageSize), w.arg(offset)
	order := "k.created_at " + dir + ", k.id " + dir
	from := w.from
	if w.index != "" {
		from += " INDEXED BY " + w.index
	}
	return `SELECT ` + total + `, ` + db.columns + `
		FROM (
			SELECT ` + w.accountCol + ` AS account_id, ` + w.id + ` AS id, ` + w.created + ` AS created_at
			FROM ` + from + `
			WHERE ` + keys + `
			ORDER BY ` + w.created + ` ` + dir + `, ` + w.id + ` ` + dir + `
			LIMIT ` + limit + ` OFFSET ` + skip + `
		) k
		JOIN resources r ON r.account_id = k.account_id AND r.id = k.id
		ORDER BY ` + order, w.args
}

// direction returns the SQL direction of f's list order, and the comparison
// that moves forward in it: what a keyset cursor continues with.
func direction(f resources.Filter) (dir, cmp string) {
	if f.Ascending {
		return "ASC", ">"
	}
	return "DESC", "<"
}

// beyond returns the row comparison of the keys (created, id) with the
// cursor after, in the direction cmp: a range start that an index in that
// order serves, so a page costs O(page) at any depth. It adds the cursor's
// two arguments to w.
func (db *DB) beyond(w *where, created, id, cmp string, after *position) string {
	return "(" + created + ", " + id + ") " + cmp + " (" +
		w.arg(db.d.timeArg(after.createdAt)) + ", " + w.arg(after.id) + ")"
}

// walkCap is the most tag entries a Walk reads, and walkShare the least
// share of them it expects to match: a page deeper than walkCap/walkShare
// rows is left to the planner.
const (
	walkCap   = 2000
	walkShare = 8
)

// walkQuery returns ListQuery.Walk for w, a filter of tags and a prefix:
// the range of the filter's rarest tag in the account (by
// account_tag_counts, chosen as the statement runs) in list order, capped
// at walkCap entries, whose entries then pass a scalar subquery of their
// path and their other tags, evaluated entry by entry as the walk goes (the
// planner cannot turn it into a join that reads whole ranges), until the
// page is full. Its complete column tells whether the walk saw every match:
// the rarest tag has no more than walkCap resources in the account, or one
// of the tags has none.
func (db *DB) walkQuery(w *where, f resources.Filter, after *position, offset int64) (string, []any) {
	w = w.clone()
	dir, cmp := direction(f)
	total := db.totalColumns(w, f)
	counts := `FROM account_tag_counts c WHERE c.account_id = ` + w.account + ` AND c.tag IN (` +
		strings.Join(w.tagArgs, ", ") + `)`
	keys := `g0.account_id = ` + w.account + ` AND g0.tag = (SELECT c.tag ` + counts + ` ORDER BY c.resources, c.tag LIMIT 1)`
	keys += w.window("g0.created_at")
	if after != nil {
		keys += " AND " + db.beyond(w, "g0.created_at", "g0.resource_id", cmp, after)
		offset = 0
	}
	test := w.prefix
	if len(w.tagArgs) > 1 {
		for _, t := range w.tagArgs {
			test += ` AND EXISTS (SELECT 1 FROM resource_tags g WHERE g.account_id = k.account_id AND g.tag = ` + t +
				` AND g.created_at = k.created_at AND g.resource_id = k.id)`
		}
	}
	capped, limit, skip := w.arg(walkCap), w.arg(f.PageSize), w.arg(offset)
	order := "k.created_at " + dir + ", k.id " + dir
	return `SELECT ` + total + `, (SELECT count(*) < ` + strconv.Itoa(len(w.tagArgs)) + ` OR min(c.resources) <= ` + capped + ` ` +
		counts + `) AS complete, ` + db.columns + `
		FROM (
			SELECT k.account_id, k.id, k.created_at
			FROM (
				SELECT g0.account_id, g0.resource_id AS id, g0.created_at
				FROM resource_tags g0
				WHERE ` + keys + `
				ORDER BY g0.created_at ` + dir + `, g0.resource_id ` + dir + `
				LIMIT ` + capped + `
			) k
			WHERE (SELECT ` + test + ` FROM resources r WHERE r.account_id = k.account_id AND r.id = k.id)
			ORDER BY ` + order + `
			LIMIT ` + limit + ` OFFSET ` + skip + `
		) k
		JOIN resources r ON r.account_id = k.account_id AND r.id = k.id
		ORDER BY ` + order, w.args
}

// prefixCap is the most entries of a range that a page of tags under a
// prefix reads whole (prefixQuery): the rarest tag's resources under the
// prefix, in resource_tags_path_idx (migration 0013). With their probes,
// about what a walk of walkCap entries costs. Every page of tags under a
// wider prefix counts this many entries first (prefixFirst); a prefix
// without tags counts its own range as far (orderFirst).
const prefixCap = 2500

// orderCap is the most entries of a prefix's range that orderFirst counts,
// a wider prefix standing for one of orderCap+1. The decision turns at
// prefixed² = size·resources for a first page, so a cap as low as
// prefixCap chose the range for every wide prefix of a large account: at
// 10M rows, /d1/d2's 16,000 entries sorted for a page of 20 in an account
// of 1.3M (472 req/s, where at 1M the walk served 1,468). It is counted
// once for each filter and generation of the account, as the exact total
// is.
const orderCap = 100_000

// prefixPlan is how a page of tags under a prefix is read (prefixFirst):
// the rarest tag's range under the prefix whole, its entries probed for the
// other tags in probes' order, when probes is set; otherwise the rarest
// tag's walk, which reads its whole window when walkAll is set.
type prefixPlan struct {
	probes  []int // indexes into the filter's tags, rarest first
	walkAll bool
	// walkAllAt, when not 0, is the account's generation walkAll holds at.
	walkAllAt int64
	// counted is the account's generation the counts behind the plan were
	// read at (-1 for an account without resources).
	counted int64
}

// prefixFirst decides how f, a page of tags under a prefix, is read: the
// rarest tag's range under the prefix whole (prefixQuery) or its range in
// list order (walkQuery; on SQLite, the statement itself). It reads, in one
// statement, the account's count, each tag's (account_tag_counts), the
// rarest tag's entries under the prefix up to one past prefixCap, and, with
// a window, its entries in the window up to one past walkCap, all from
// indexes alone. The walk is expected to read the page's rows over the
// share of the walked tag's entries that match, taking the other tags as
// independent, or its whole window when shorter, and probes each entry's
// path; the range reads its entries and probes those in the window for
// the other tags. A walk that runs out of its cap falls back to the
// planner's statement, which reads the filter's whole ranges (issue 21:
// two common tags under /d1/d2 read 70,000 entries of the tag index at 1M
// rows, 21 req/s), so the range is read whenever the walk risks that. A
// walk whose window holds well under its cap sees every match, so its page
// stands even when short or empty.
func (db *DB) prefixFirst(ctx context.Context, f resources.Filter, tags []string, offset int64) (prefixPlan, error) {
	counts, fresh, err := db.prefixCounts(ctx, f, tags)
	if err != nil {
		return prefixPlan{}, err
	}
	generation, resourcesN, ranged, windowed, tagged := counts[0], max(counts[1], 1), counts[2], counts[3], counts[4:]
	order := make([]int, len(tags))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(tagged[a], tagged[b]) })
	rarest := tagged[order[0]]
	if windowed < 0 {
		// No window, or not counted: the tag's entries bound the window's.
		windowed = rarest
	}
	// Well under the cap: a row or two inserted between the count and the
	// walk cannot take it over. Counted earlier, the count holds only
	// while the account is at the generation it was counted at.
	plan := prefixPlan{walkAll: windowed <= walkCap/2, counted: generation}
	if plan.walkAll && !fresh {
		plan.walkAllAt = generation
	}
	if ranged > prefixCap || rarest == 0 || !keyed(f.DirectoryPrefix) {
		// Too long a range to read whole; a tag without resources, where
		// the walk ends at once; or a prefix longer than the keys the
		// range is of.
		return plan, nil
	}
	share := min(float64(ranged)/float64(rarest), 1)
	for _, i := range order[1:] {
		share *= float64(tagged[i]) / float64(resourcesN)
	}
	walked := float64(windowed)
	if share > 0 {
		walked = min(walked, float64(offset+f.PageSize)/share)
	}
	// The range's entries outside the window are not probed: the window's
	// share of the rarest tag's entries estimates their share (all of them
	// when the window's count stopped at its bound).
	inWindow := 1.0
	if windowed <= walkCap {
		inWindow = float64(windowed) / float64(rarest)
	}
	// Without a walk (a page too deep) or when the walk may run out its
	// cap, reading the range is the cheaper by far.
	risky := offset+f.PageSize > walkCap/walkShare || windowed > walkCap && walked > walkCap/2
	if !risky && float64(ranged)*(1+inWindow*float64(len(tags)-1)) > 2*walked {
		return plan, nil
	}
	return prefixPlan{probes: order, counted: generation}, nil
}

// prefixCounts returns countPrefix's counts for f and tags from the cache
// of the filter's counts, or, when fresh, read anew and cached.
func (db *DB) prefixCounts(ctx context.Context, f resources.Filter, tags []string) (counts []int64, fresh bool, err error) {
	key := totalKey(f)
	if counts, cached := db.listCounts.get(key); cached {
		return counts, false, nil
	}
	if counts, err = db.countPrefix(ctx, f, tags); err != nil {
		return nil, false, err
	}
	db.listCounts.put(key, counts)
	return counts, true, nil
}

// countPrefix returns what prefixFirst and orderFirst weigh: the
// account's generation and count; the entries of the range a page reads
// whole, with tags the rarest tag's under the prefix up to one past
// prefixCap, without the prefix's up to one past orderCap; the rarest
// tag's entries in the window up to one past walkCap (-1 when there is no
// tag or no window, or they were not counted); and each tag's count.
func (db *DB) countPrefix(ctx context.Context, f resources.Filter, tags []string) ([]int64, error) {
	w := &where{d: db.d}
	account := w.arg(f.AccountID)
	marks := make([]string, len(tags))
	for i, t := range tags {
		marks[i] = w.arg(t)
	}
	var rarest, ranged string
	limit := orderCap
	if len(tags) > 0 {
		// The tag walkQuery walks and prefixQuery ranges over: the
		// rarest, ties in byte order. A prefix longer than the key counts
		// the key's range: an estimate from above.
		rarest = `(SELECT c.tag FROM account_tag_counts c WHERE c.account_id = ` + account + ` AND c.tag IN (` +
			strings.Join(marks, ", ") + `) ORDER BY c.resources, c.tag LIMIT 1)`
		ranged = `SELECT 1 FROM resource_tags g WHERE g.account_id = ` + account + ` AND g.tag = ` + rarest + ` AND ` +
			db.d.keyPrefix("g.path_key", db.d.prefixArgs(w, pathKey(f.DirectoryPrefix)))
		limit = prefixCap
	} else {
		prefix, _ := db.d.hasPrefix(w, f.DirectoryPrefix)
		ranged = `SELECT 1 FROM resources r WHERE r.account_id = ` + account + ` AND ` + prefix
	}
	from := ` FROM (SELECT count(*) AS n FROM (` + ranged + ` LIMIT ` + w.arg(limit+1) + `) p) p`
	query := `SELECT coalesce((SELECT c.generation FROM account_counts c WHERE c.account_id = ` + account + `), -1),
		coalesce((SELECT c.resources FROM account_counts c WHERE c.account_id = ` + account + `), 0), p.n`
	if len(tags) > 0 && (f.CreatedAfter != nil || f.CreatedBefore != nil) {
		window := `g.account_id = ` + account + ` AND g.tag = ` + rarest
		if t := f.CreatedAfter; t != nil {
			window += ` AND g.created_at > ` + w.arg(db.d.timeArg(*t))
		}
		if t := f.CreatedBefore; t != nil {
			window += ` AND g.created_at < ` + w.arg(db.d.timeArg(ceilMicro(*t)))
		}
		// Counted only when the range may be read (a CASE does not reach
		// the subquery otherwise): a wide prefix's walk then stands on the
		// tag's count alone, where up to walkCap entries more would cost
		// about what its walk of a few hundred does.
		query += `, CASE WHEN p.n <= ` + strconv.Itoa(prefixCap) + ` THEN (SELECT count(*) FROM (SELECT 1 FROM resource_tags g WHERE ` +
			window + ` LIMIT ` + w.arg(walkCap+1) + `) p) ELSE -1 END`
	} else {
		query += `, -1`
	}
	for _, m := range marks {
		query += `, coalesce((SELECT c.resources FROM account_tag_counts c WHERE c.account_id = ` + account +
			` AND c.tag = ` + m + `), 0)`
	}
	query += from
	counts := make([]int64, 4+len(tags))
	dest := make([]any, len(counts))
	for i := range counts {
		dest[i] = &counts[i]
	}
	err := db.read.QueryRowContext(ctx, query, w.args...).Scan(dest...)
	if isRecoveryConflict(err) && db.currentStmts != db.readStmts {
		// As for the page itself (ListResources): the primary answers
		// what the replica canceled to replay its changes.
		err = db.current.QueryRowContext(ctx, query, w.args...).Scan(dest...)
	}
	if err != nil {
		return nil, fmt.Errorf("counting prefix %q and tags %q: %w", f.DirectoryPrefix, tags, err)
	}
	return counts, nil
}

// orderFirst decides how SQLite reads a page of f, a prefix without
// tags: by walking the order index in list order, testing each entry's
// path, which the index carries (migration 0008), or by reading the
// prefix's range of the path index and sorting it. SQLite's planner, given
// ANALYZE's samples, sorts the range even where it holds an eighth of the
// account (/d1 at 1M rows: 16,691 entries, 8 ms a page, where the walk
// reads some 160 entries in 0.15 ms), and walks a year's window of the
// order index for a prefix of 154 entries (4.8 ms, where its range took
// 0.15). The walk reads about (offset+size)·resources/prefixed entries,
// the range prefixed, so the walk is chosen when prefixed² is the larger.
// A cursor's page starts at its position, so its walk reads a page's
// worth. It also returns the account's generation the counts were read at.
func (db *DB) orderFirst(ctx context.Context, f resources.Filter, fromStart bool, offset int64) (bool, int64, error) {
	counts, _, err := db.prefixCounts(ctx, f, nil)
	if err != nil {
		return false, 0, err
	}
	if !fromStart {
		offset = 0
	}
	resourcesN, prefixed := counts[1], counts[2]
	return prefixed*prefixed > (offset+f.PageSize)*resourcesN, counts[0], nil
}

// prefixQuery returns ListQuery.Walk for w, a filter of tags under a prefix
// no longer than a path key, under which the rarest tag (probes[0]) has
// few resources (prefixFirst): that tag's range of resource_tags_path_idx
// under the prefix whole (migration 0013), index-only, each entry tested
// for the window on the created_at the index carries, then probed for each
// other tag by key in probes' order (a scalar subquery, which the planner
// cannot turn into a join that reads the tags' whole ranges), and the
// matches sorted. Having read every match, it counts them too: the exact
// total costs nothing more.
func (db *DB) prefixQuery(w *where, f resources.Filter, after *position, offset int64, probes []int) (string, []any) {
	w = w.clone()
	dir, cmp := direction(f)
	tags := "resource_tags g0"
	if !db.d.plansJoins() {
		tags += " INDEXED BY resource_tags_path_idx"
	}
	keys := w.tagUnderPrefix(w.tagArgs[probes[0]])
	for _, i := range probes[1:] {
		keys += ` AND ` + db.d.hasTag(w.tagArgs[i])
	}
	var cursor string
	if after != nil {
		// After the total is counted: it counts the matches before the
		// cursor too.
		cursor = "WHERE " + db.beyond(w, "m.created_at", "m.id", cmp, after)
		offset = 0
	}
	limit, skip := w.arg(f.PageSize), w.arg(offset)
	generation := `(SELECT c.generation FROM account_counts c WHERE c.account_id = ` + w.account + `)`
	return `SELECT ` + generation + ` AS generation, CASE WHEN ` + generation + ` = ` + w.generation + ` THEN NULL
		ELSE k.total END AS total, ` + db.columns + `
		FROM (
			SELECT m.account_id, m.id, m.created_at, m.total
			FROM (
				SELECT g0.account_id, g0.resource_id AS id, g0.created_at, count(*) OVER () AS total
				FROM ` + tags + `
				WHERE ` + keys + `
			) m ` + cursor + `
			ORDER BY m.created_at ` + dir + `, m.id ` + dir + `
			LIMIT ` + limit + ` OFFSET ` + skip + `
		) k
		JOIN resources r ON r.account_id = k.account_id AND r.id = k.id
		ORDER BY k.created_at ` + dir + `, k.id ` + dir, w.args
}

// maintainedTotal reports whether triggers keep f's exact total (migrations
// 0002 and 0003): no filter, or one tag alone.
func maintainedTotal(f resources.Filter, w *where) bool {
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
func (db *DB) totalColumns(w *where, f resources.Filter) string {
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

// walkRow is a row of a ListQuery.Walk.
type walkRow struct {
	listRow
	Complete sql.NullBool `db:"complete"`
}

func (row *listRow) field(col string) any {
	switch col {
	case "generation":
		return &row.Generation
	case "total":
		return &row.Total
	}
	return row.resourceRow.field(col)
}

func (row *walkRow) field(col string) any {
	if col == "complete" {
		return &row.Complete
	}
	return row.listRow.field(col)
}

// reader is where a list reads: a pool and the statements prepared on it.
type reader struct {
	pool  pool
	stmts *stmtCache
}

// readPage reads q's page and total through r, or only the total when q
// counts only.
func (db *DB) readPage(ctx context.Context, r reader, q ListQuery, size int64) ([]resources.Resource, counted, error) {
	var t counted
	if q.countOnly {
		err := r.pool.GetContext(ctx, &t, q.SQL, q.Args...)
		return []resources.Resource{}, t, err
	}
	items, t, err := db.listPage(ctx, r, q, size)
	if err == nil && len(items) == 0 && q.offset > 0 {
		// An empty page carries no total, so ask for it, unless this was
		// the first page: then there is nothing.
		err = r.pool.GetContext(ctx, &t, q.countSQL, q.Args[:q.countArgs]...)
	}
	return items, t, err
}

// listPage runs q (its Walk first, when it has one) through r and reads
// the page's resources and the total.
func (db *DB) listPage(ctx context.Context, r reader, q ListQuery, size int64) ([]resources.Resource, counted, error) {
	var rows *sqlx.Rows
	var err error
	if q.Walk != "" {
		// Not prepared: its exact total, when counted, needs a plan made
		// for the prefix (see Prepared).
		if rows, err = r.pool.QueryxContext(ctx, q.Walk, q.WalkArgs...); err != nil {
			return nil, counted{}, err
		}
		var row walkRow
		rs, err := readResources(rows, &row, make([]resources.Resource, 0, size))
		n := int64(len(rs))
		total, known := row.Total.Int64, row.Total.Valid
		if !known && row.Generation.Valid && q.cachedTotal != nil {
			// Left out: the cached total still holds.
			total, known = *q.cachedTotal, true
		}
		stands := q.WalkStands && (q.walkStandsAt == 0 || row.Generation.Valid && row.Generation.Int64 == q.walkStandsAt)
		if err != nil || stands || n == size || row.Complete.Bool || n > 0 && known && q.offset+n == total {
			// A full page, or all there is.
			return rs, row.counted, err
		}
	}
	if q.Prepared {
		rows, err = r.stmts.queryx(ctx, q.SQL, q.Args...)
	} else {
		rows, err = r.pool.QueryxContext(ctx, q.SQL, q.Args...)
	}
	if err != nil {
		return nil, counted{}, err
	}
	var row listRow
	rs, err := readResources(rows, &row, make([]resources.Resource, 0, size))
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
	// keyMarks are the placeholders of the prefix for keyPrefix, nil when
	// there is no prefix or it is longer than a path key.
	keyMarks []string
	// from is the FROM clause the conditions apply to; accountCol, created
	// and id are its expressions of a resource's key and order.
	from, accountCol, created, id string
	// index, when set, is the index a page reads its keys through, where
	// the engine's planner must be told (orderFirst).
	index string
}

// clone returns a copy that can take more arguments without changing w.
func (w *where) clone() *where {
	c := *w
	// Room for the few arguments a page adds (a cursor's position, limit,
	// offset, the walk's cap), so that they do not grow the slice each time.
	c.conds = append(make([]string, 0, len(w.conds)+4), w.conds...)
	c.args = append(make([]any, 0, len(w.args)+6), w.args...)
	return &c
}

// arg adds an argument and returns its placeholder, in the dialect's form.
func (w *where) arg(v any) string {
	w.args = append(w.args, v)
	return w.d.placeholder(len(w.args))
}

func (w *where) and(cond string) { w.conds = append(w.conds, cond) }

// windowConds returns the conditions of the filter's created_at window on
// col: none, one or two.
func (w *where) windowConds(col string) []string {
	var conds []string
	if w.after != "" {
		conds = append(conds, col+" > "+w.after)
	}
	if w.before != "" {
		conds = append(conds, col+" < "+w.before)
	}
	return conds
}

// tagUnderPrefix is the condition on g0, an entry of resource_tags_path_idx
// (migration 0013), that keeps tag's range under w's prefix, which fits a
// path key (keyMarks), and in w's window.
func (w *where) tagUnderPrefix(tag string) string {
	return `g0.account_id = ` + w.account + ` AND g0.tag = ` + tag + ` AND ` +
		w.d.keyPrefix("g0.path_key", w.keyMarks) + w.window("g0.created_at")
}

// window returns windowConds(col), each after " AND ", for a condition
// built as text.
func (w *where) window(col string) string {
	var s string
	for _, c := range w.windowConds(col) {
		s += " AND " + c
	}
	return s
}

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
func (db *DB) listWhere(f resources.Filter, tags []string) *where {
	w := &where{d: db.d, from: "resources r", accountCol: "r.account_id", created: "r.created_at", id: "r.id",
		conds: make([]string, 0, 8), args: make([]any, 0, 8)}
	w.account = w.arg(f.AccountID)
	if len(tags) > 0 {
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
			// Probed through resources_key_path_idx (migration 0008), which
			// answers the path without reading the row. (Joining on
			// created_at too would let the order index serve, but the
			// planner multiplies the two equalities' selectivities and
			// then expects a single match, and sorts them all.)
			w.from += ` ` + db.d.joinTags() + ` resources r ON r.account_id = g0.account_id AND r.id = g0.resource_id`
		}
	}
	w.and(w.accountCol + " = " + w.account)
	if len(w.tagArgs) > 0 {
		w.and("g0.tag = " + w.tagArgs[0])
	}
	if p := f.DirectoryPrefix; p != "" {
		w.prefix, w.keyMarks = db.d.hasPrefix(w, p)
		w.and(w.prefix)
	}
	// Stored times are whole microseconds, so created_at > t is created_at >
	// t rounded down, and created_at < t is created_at < t rounded up.
	if t := f.CreatedAfter; t != nil {
		w.after = w.arg(db.d.timeArg(*t))
	}
	if t := f.CreatedBefore; t != nil {
		w.before = w.arg(db.d.timeArg(ceilMicro(*t)))
	}
	// Where the planner orders the joins, the window bounds every tag's
	// range, not only the first's: it carries equalities across a join but
	// not ranges, so a rare tag whose window holds a few rows would
	// otherwise be read whole (or merged with a common tag's window)
	// instead of walked in its window and probed.
	created := []string{w.created}
	for i := 1; i < len(w.tagArgs) && db.d.plansJoins(); i++ {
		created = append(created, "g"+strconv.Itoa(i)+".created_at")
	}
	for _, c := range created {
		w.conds = append(w.conds, w.windowConds(c)...)
	}
	return w
}

// rarestFirst returns tags, distinct and in byte order, reordered by how
// many of the account's resources carry each (account_tag_counts,
// migration 0003), fewest first, ties in byte order. SQLite walks the first
// tag of a list (joinTags fixes the order) and probes the others, so the
// walk reads the fewest entries for a page when it walks the rarest: on a
// page of a common and a rare tag the first in byte order may be the
// common one, whose whole range is read to find the rare one's few rows.
// A tag without a count has no resources, so it comes first and the walk
// ends at once. PostgreSQL chooses within the statement (see walkQuery)
// and its planner weighs each tag's statistics.
func (db *DB) rarestFirst(ctx context.Context, account string, tags []string) ([]string, error) {
	args := make([]any, 0, len(tags)+1)
	args = append(args, account)
	marks := make([]string, len(tags))
	for i, t := range tags {
		args = append(args, t)
		marks[i] = db.d.placeholder(i + 2)
	}
	rows, err := db.read.QueryContext(ctx, `SELECT tag, resources FROM account_tag_counts
		WHERE account_id = `+db.d.placeholder(1)+` AND tag IN (`+strings.Join(marks, ", ")+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("counting tags %q: %w", tags, err)
	}
	defer rows.Close()
	counts := make(map[string]int64, len(tags))
	for rows.Next() {
		var tag string
		var n int64
		if err := rows.Scan(&tag, &n); err != nil {
			return nil, fmt.Errorf("counting tags %q: %w", tags, err)
		}
		counts[tag] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("counting tags %q: %w", tags, err)
	}
	// Stable: tags is in byte order, which breaks ties.
	slices.SortStableFunc(tags, func(a, b string) int { return cmp.Compare(counts[a], counts[b]) })
	return tags, nil
}

// satisfiable reports whether any stored resource could match f. Text a
// resource cannot hold (invalid UTF-8, NUL) would make PostgreSQL fail the
// query, and more distinct tags than a resource may carry cannot match.
func satisfiable(f resources.Filter) bool {
	if !storable(f.AccountID) || !storable(f.DirectoryPrefix) || len(distinct(f.Tags)) > resources.MaxTags {
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

// pathKeyChars is how many leading characters of a directory path its key
// holds: resources.path_key on PostgreSQL (migration 0005), and
// resource_tags.path_key on both engines (migration 0013).
const pathKeyChars = 256

// pathKey returns the key of directory path p.
func pathKey(p string) string { return firstChars(p, pathKeyChars) }

// keyed reports whether prefix p is no longer than a path key, so that a
// range of keys is exactly the paths that start with p.
func keyed(p string) bool { return utf8.RuneCountInString(p) <= pathKeyChars }

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
