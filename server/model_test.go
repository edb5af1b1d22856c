package server_test

import (
	"bytes"
	"cmp"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/re-factor/resources/blobstore"
	"github.com/re-factor/resources/internal/testkit"
)

// The model test drives the API with random sequences of creates, updates
// and deletes across accounts, keeps a plain in-memory model of what the
// contract says the server should then hold, and after every step compares
// the two: the step's status, random lists, item reads and downloads.

var (
	// The accounts are among those assertNoOrphans lists.
	modelAccounts = []string{"a", "b", "c"}
	// Few paths, so creates and moves often collide.
	modelDirs  = []string{"/", "/a", "/a/b", "/a_b", "/A", "/b%"}
	modelNames = []string{"x.txt", "X.txt", "y.bin", "z"}
	// Tags differing only by case or by the spaces trimmed around them.
	modelTags  = []string{"red", "Red", " red", "RED ", "blue", "green", "a_b", "été"}
	modelTypes = []string{"application/octet-stream", "text/plain", "image/png", "application/json"}
)

// modelResource is what the model knows of one resource. createdAt and
// updatedAt come from the server's responses.
type modelResource struct {
	id, account         string
	name, dir, mimeType string
	tags                []string
	metadata            map[string]any // nil when the resource has none
	content             []byte
	createdAt           time.Time
	created, updated    string // created_at and updated_at as served
}

// model is the expected state: account → id → resource, and the ids that
// were deleted.
type model struct {
	live map[string]map[string]*modelResource
	gone []*modelResource
}

func newModel() *model {
	m := &model{live: map[string]map[string]*modelResource{}}
	for _, a := range modelAccounts {
		m.live[a] = map[string]*modelResource{}
	}
	return m
}

// sorted returns the account's resources in a fixed order, so random picks
// are reproducible from the seed.
func (m *model) sorted(account string) []*modelResource {
	rs := slices.Collect(maps.Values(m.live[account]))
	slices.SortFunc(rs, func(a, b *modelResource) int { return strings.Compare(a.id, b.id) })
	return rs
}

// occupant returns the account's resource at dir and name, if any.
func (m *model) occupant(account, dir, name string) *modelResource {
	for _, r := range m.live[account] {
		if r.dir == dir && r.name == name {
			return r
		}
	}
	return nil
}

// apiResource is the API form of a resource, as the test compares it.
type apiResource struct {
	ID            string         `json:"id"`
	AccountID     string         `json:"account_id"`
	Name          string         `json:"name"`
	DirectoryPath string         `json:"directory_path"`
	MimeType      string         `json:"mime_type"`
	SHA256        string         `json:"sha256"`
	SizeBytes     int64          `json:"size_bytes"`
	StorageBucket string         `json:"storage_bucket"`
	StorageKey    string         `json:"storage_key"`
	Tags          []string       `json:"tags"`
	Metadata      map[string]any `json:"metadata"`
	CreatedBy     string         `json:"created_by"`
	CreatedAt     string         `json:"created_at"`
	UpdatedAt     string         `json:"updated_at"`
}

// modelRun is one sequence of steps against one server.
type modelRun struct {
	t      *testing.T
	e      *env
	rng    *rand.Rand
	m      *model
	tokens map[string]string
	step   int
	what   string         // the current step, for failure messages
	seen   map[string]int // operation and status → steps, for -v
}

func TestModel(t *testing.T) {
	seed := testkit.Seed(t)
	steps := 150
	if testing.Short() {
		steps = 40
	}
	// Every engine with every storage kind: after the S3 server's warm-up,
	// which the process pays once for all tests, S3 adds about a second.
	forBackends(t, func(t *testing.T, e *env) {
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("reproduce with: go test -run 'TestModel/%s' ./server/ -seed=%d", strings.TrimPrefix(t.Name(), "TestModel/"), seed)
			}
		})
		r := &modelRun{
			t: t, e: e, rng: rand.New(rand.NewPCG(seed, 0x5eed)),
			m: newModel(), tokens: map[string]string{}, seen: map[string]int{},
		}
		for _, a := range modelAccounts {
			r.tokens[a] = rwToken(t, a)
		}
		for r.step = 1; r.step <= steps; r.step++ {
			r.randomStep()
			r.check()
		}
		r.what = "final check"
		r.checkAll()
		assertNoOrphans(t, r.e)
		t.Logf("seed %d: %d steps %v", seed, steps, r.seen)
	})
}

// fatalf fails the run, naming the seed's step.
func (r *modelRun) fatalf(format string, args ...any) {
	r.t.Helper()
	r.t.Fatalf("step %d (%s): %s", r.step, r.what, fmt.Sprintf(format, args...))
}

func (r *modelRun) account() string { return modelAccounts[r.rng.IntN(len(modelAccounts))] }

func (r *modelRun) randomStep() {
	switch n := r.rng.IntN(100); {
	case n < 45:
		r.create()
	case n < 75:
		r.update()
	default:
		r.delete()
	}
}

func (r *modelRun) create() {
	account := r.account()
	size := r.rng.IntN(600)
	if r.rng.IntN(10) == 0 {
		size = 0
	}
	content := make([]byte, size)
	for i := range content {
		content[i] = byte(r.rng.UintN(256))
	}
	want := &modelResource{
		account: account,
		dir:     modelDirs[r.rng.IntN(len(modelDirs))],
		name:    modelNames[r.rng.IntN(len(modelNames))],
		// A list of types the server gives back as they were sent.
		mimeType: modelTypes[r.rng.IntN(len(modelTypes))],
		content:  content,
	}
	body := map[string]any{"name": want.name, "directory_path": want.dir, "content": dataURL(want.mimeType, content)}
	if n := r.rng.IntN(4); n > 0 {
		var sent []string
		for range n {
			sent = append(sent, modelTags[r.rng.IntN(len(modelTags))])
		}
		body["tags"] = sent
		want.tags = normalizedTags(sent)
	}
	if r.rng.IntN(3) == 0 {
		want.metadata = r.metadata()
		body["metadata"] = want.metadata
	}
	taken := r.m.occupant(account, want.dir, want.name) != nil
	r.what = fmt.Sprintf("create %s %s/%s taken=%v", account, want.dir, want.name, taken)

	got, ok := r.write("create", http.MethodPost, "/v1/resources", account, body, taken)
	if !ok {
		return
	}
	created, err := time.Parse(time.RFC3339Nano, got.CreatedAt)
	if err != nil {
		r.fatalf("created_at %q: %v", got.CreatedAt, err)
	}
	want.id, want.createdAt, want.created, want.updated = got.ID, created, got.CreatedAt, got.UpdatedAt
	if got.UpdatedAt != got.CreatedAt {
		r.fatalf("updated_at %s, want created_at %s on a new resource", got.UpdatedAt, got.CreatedAt)
	}
	r.compare("create response", got, want)
	r.m.live[account][want.id] = want
}

// metadata returns a small random object, as JSON decodes it.
func (r *modelRun) metadata() map[string]any {
	m := map[string]any{}
	for i := range r.rng.IntN(3) {
		switch r.rng.IntN(3) {
		case 0:
			m[fmt.Sprintf("n%d", i)] = float64(r.rng.IntN(1000))
		case 1:
			m[fmt.Sprintf("s%d", i)] = fmt.Sprintf("v%d", r.rng.IntN(1000))
		default:
			m[fmt.Sprintf("b%d", i)] = r.rng.IntN(2) == 0
		}
	}
	return m
}

func normalizedTags(tags []string) []string {
	out := make([]string, 0, len(tags))
	for _, t := range tags {
		out = append(out, strings.TrimSpace(t))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// target picks the resource of account that op acts on; or, when the
// account has none and once in absentOneIn steps, sends op (by send) to an
// id the account cannot see, checks the 404 and returns nil.
func (r *modelRun) target(op, account string, absentOneIn int, send func(path string) response) (*modelResource, []*modelResource) {
	rs := r.m.sorted(account)
	if len(rs) == 0 || r.rng.IntN(absentOneIn) == 0 {
		id, kind := r.absentID(account)
		r.what = fmt.Sprintf("%s %s %s id %s", op, account, kind, id)
		r.seen[op+" 404 "+kind]++
		if resp := send("/v1/resource/" + id); resp.status != http.StatusNotFound {
			r.fatalf("status = %d %s, want 404", resp.status, resp.body)
		}
		return nil, rs
	}
	return rs[r.rng.IntN(len(rs))], rs
}

func (r *modelRun) update() {
	account := r.account()
	res, rs := r.target("update", account, 10, func(path string) response {
		return r.e.send(http.MethodPut, path, r.tokens[account], map[string]any{"name": "n"})
	})
	if res == nil {
		return
	}
	body := map[string]any{}
	name, dir, metadata := res.name, res.dir, res.metadata
	if others := slices.DeleteFunc(slices.Clone(rs), func(o *modelResource) bool { return o == res }); len(others) > 0 && r.rng.IntN(4) == 0 {
		// Onto another resource's path.
		o := others[r.rng.IntN(len(others))]
		name, dir = o.name, o.dir
		body["name"], body["directory_path"] = name, dir
	} else {
		if r.rng.IntN(2) == 0 {
			name = modelNames[r.rng.IntN(len(modelNames))]
			body["name"] = name
		}
		if r.rng.IntN(2) == 0 {
			dir = modelDirs[r.rng.IntN(len(modelDirs))]
			body["directory_path"] = dir
		}
	}
	if r.rng.IntN(3) == 0 {
		metadata = r.metadata()
		body["metadata"] = metadata
	}
	occupant := r.m.occupant(account, dir, name)
	conflict := occupant != nil && occupant != res
	r.what = fmt.Sprintf("update %s %s %v conflict=%v", account, res.id, body, conflict)

	got, ok := r.write("update", http.MethodPut, "/v1/resource/"+res.id, account, body, conflict)
	if !ok {
		return
	}
	if got.UpdatedAt < res.updated {
		r.fatalf("updated_at went from %s back to %s", res.updated, got.UpdatedAt)
	}
	res.name, res.dir, res.metadata, res.updated = name, dir, metadata, got.UpdatedAt
	r.compare("update response", got, res)
}

// absentID returns an id the account cannot see: one it deleted, another
// account's, or one nobody has; and which kind it is.
func (r *modelRun) absentID(account string) (id, kind string) {
	switch r.rng.IntN(3) {
	case 0:
		if len(r.m.gone) > 0 {
			return r.m.gone[r.rng.IntN(len(r.m.gone))].id, "deleted"
		}
	case 1:
		other := modelAccounts[(slices.Index(modelAccounts, account)+1+r.rng.IntN(len(modelAccounts)-1))%len(modelAccounts)]
		if rs := r.m.sorted(other); len(rs) > 0 {
			return rs[r.rng.IntN(len(rs))].id, "foreign"
		}
	}
	return uuid.NewString(), "unknown"
}

func (r *modelRun) delete() {
	account := r.account()
	res, _ := r.target("delete", account, 3, func(path string) response {
		return r.e.do(http.MethodDelete, path, r.tokens[account], nil)
	})
	if res == nil {
		return
	}
	r.what = fmt.Sprintf("delete %s %s", account, res.id)
	r.seen["delete 204"]++
	if resp := r.e.do(http.MethodDelete, "/v1/resource/"+res.id, r.tokens[account], nil); resp.status != http.StatusNoContent {
		r.fatalf("status = %d %s, want 204", resp.status, resp.body)
	}
	delete(r.m.live[account], res.id)
	r.m.gone = append(r.m.gone, res)
}

// write sends a create or update as account and checks its status: 409 when
// the model expects a conflict, else 200. It returns the resource answered,
// and whether there was one.
func (r *modelRun) write(op, method, path, account string, body any, conflict bool) (apiResource, bool) {
	resp := r.e.send(method, path, r.tokens[account], body)
	r.seen[fmt.Sprint(op, " ", resp.status)]++
	wantStatus := http.StatusOK
	if conflict {
		wantStatus = http.StatusConflict
	}
	if resp.status != wantStatus {
		r.fatalf("status = %d %s, want %d", resp.status, resp.body, wantStatus)
	}
	var got apiResource
	if resp.status != http.StatusOK {
		return got, false
	}
	resp.json(r.t, &got)
	return got, true
}

// compare fails unless got is the API form of want.
func (r *modelRun) compare(what string, got apiResource, want *modelResource) {
	r.t.Helper()
	tags := want.tags
	if tags == nil {
		tags = []string{}
	}
	wantAPI := apiResource{
		ID: want.id, AccountID: want.account, Name: want.name, DirectoryPath: want.dir,
		MimeType: want.mimeType, SHA256: sha(want.content), SizeBytes: int64(len(want.content)),
		StorageBucket: r.e.blobs.Bucket(), StorageKey: blobstore.Key(want.account, want.id),
		Tags: tags, Metadata: want.metadata, CreatedBy: "tester",
		CreatedAt: want.created, UpdatedAt: want.updated,
	}
	if !reflect.DeepEqual(got, wantAPI) {
		r.fatalf("%s:\n got %+v\nwant %+v", what, got, wantAPI)
	}
}

// check compares the server with the model after a step, on a random
// sample: a list or two, an item, a download and a deleted id.
func (r *modelRun) check() {
	r.t.Helper()
	for range 1 + r.rng.IntN(2) {
		r.checkList(r.account())
	}
	account := r.account()
	if rs := r.m.sorted(account); len(rs) > 0 {
		res := rs[r.rng.IntN(len(rs))]
		r.checkItem(res)
		if r.rng.IntN(3) == 0 {
			r.checkContent(res)
		}
	}
	if len(r.m.gone) > 0 && r.rng.IntN(4) == 0 {
		res := r.m.gone[r.rng.IntN(len(r.m.gone))]
		for _, p := range []string{"", "/content"} {
			if resp := r.e.get("/v1/resource/"+res.id+p, r.tokens[res.account]); resp.status != http.StatusNotFound {
				r.fatalf("GET deleted %s%s = %d %s, want 404", res.id, p, resp.status, resp.body)
			}
		}
	}
}

// checkAll reads every live resource and its bytes, and lists each account
// whole.
func (r *modelRun) checkAll() {
	r.t.Helper()
	for _, a := range modelAccounts {
		for _, res := range r.m.sorted(a) {
			r.checkItem(res)
			r.checkContent(res)
		}
		r.compareList(a, modelQuery{sort: "asc", asc: true, page: 1, size: 100})
	}
}

func (r *modelRun) checkItem(res *modelResource) {
	r.t.Helper()
	resp := r.e.get("/v1/resource/"+res.id, r.tokens[res.account])
	if resp.status != http.StatusOK {
		r.fatalf("GET %s = %d %s, want 200", res.id, resp.status, resp.body)
	}
	var got apiResource
	resp.json(r.t, &got)
	r.compare("GET "+res.id, got, res)
}

func (r *modelRun) checkContent(res *modelResource) {
	r.t.Helper()
	resp := r.e.get("/v1/resource/"+res.id+"/content", r.tokens[res.account])
	if resp.status != http.StatusOK {
		r.fatalf("GET %s/content = %d %s, want 200", res.id, resp.status, resp.body)
	}
	if !bytes.Equal(resp.body, res.content) || sha(resp.body) != sha(res.content) {
		r.fatalf("content of %s: got %d bytes sha256 %s, want %d bytes sha256 %s",
			res.id, len(resp.body), sha(resp.body), len(res.content), sha(res.content))
	}
	if got := resp.header.Get("Content-Type"); got != res.mimeType {
		r.fatalf("content of %s: Content-Type %q, want %q", res.id, got, res.mimeType)
	}
}

// modelQuery is a list request the model can answer.
type modelQuery struct {
	tags       []string // as sent, before trimming
	prefix     string
	sort       string // "", "asc" or "desc"
	asc        bool
	page, size int
}

func (q modelQuery) encode() string {
	v := url.Values{}
	if q.tags != nil {
		v.Set("tags", strings.Join(q.tags, ","))
	}
	if q.prefix != "" {
		v.Set("directory_prefix", q.prefix)
	}
	if q.sort != "" {
		v.Set("sort", q.sort)
	}
	if q.page != 0 {
		v.Set("page", fmt.Sprint(q.page))
	}
	if q.size != 0 {
		v.Set("page_size", fmt.Sprint(q.size))
	}
	return v.Encode()
}

func (r *modelRun) checkList(account string) {
	r.t.Helper()
	var q modelQuery
	for range r.rng.IntN(3) {
		q.tags = append(q.tags, modelTags[r.rng.IntN(len(modelTags))])
	}
	if r.rng.IntN(2) == 0 {
		q.prefix = runePrefix(modelDirs[r.rng.IntN(len(modelDirs))], r.rng)
	}
	switch r.rng.IntN(3) {
	case 0:
		q.sort, q.asc = "asc", true
	case 1:
		q.sort = "desc"
	}
	if r.rng.IntN(4) > 0 {
		q.page = 1 + r.rng.IntN(3)
	}
	if r.rng.IntN(4) > 0 {
		q.size = 1 + r.rng.IntN(8)
	}
	r.compareList(account, q)
}

func (r *modelRun) compareList(account string, q modelQuery) {
	r.t.Helper()
	query := q.encode()
	b := r.e.list(query, r.tokens[account])
	page, size := cmp.Or(q.page, 1), cmp.Or(q.size, 20)
	wantIDs, wantTotal := r.m.expect(account, q, page, size)
	gotIDs := make([]string, len(b.Items))
	for i, it := range b.Items {
		gotIDs[i], _ = it["id"].(string)
	}
	if b.Total != wantTotal || !slices.Equal(gotIDs, wantIDs) || b.Page != page || b.PageSize != size {
		r.fatalf("account %s ?%s\n got total %d page %d/%d ids %v\nwant total %d page %d/%d ids %v",
			account, query, b.Total, b.Page, b.PageSize, gotIDs, wantTotal, page, size, wantIDs)
	}
}

// expect answers q the contract's way: all the tags, a literal prefix,
// created_at then id, paged.
func (m *model) expect(account string, q modelQuery, page, size int) (ids []string, total int) {
	tags := normalizedTags(q.tags)
	var match []*modelResource
	for _, res := range m.live[account] {
		if strings.HasPrefix(res.dir, q.prefix) && hasAll(res.tags, tags) {
			match = append(match, res)
		}
	}
	slices.SortFunc(match, func(a, b *modelResource) int {
		c := cmp.Or(a.createdAt.Compare(b.createdAt), strings.Compare(a.id, b.id))
		if !q.asc {
			c = -c
		}
		return c
	})
	ids = []string{}
	start := min((page-1)*size, len(match))
	for _, res := range match[start:min(start+size, len(match))] {
		ids = append(ids, res.id)
	}
	return ids, len(match)
}
