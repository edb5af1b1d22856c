package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

var (
	specCases = flag.Int("spec.cases", 300, "requests per engine in TestSpecValidIffAccepted (CI's short form; try 10000 by hand)")
	specSeed  = flag.Uint64("spec.seed", 0, "seed of TestSpecValidIffAccepted (0: random, logged)")
)

// TestSpecValidIffAccepted is the property that openapi.yaml says
// everything the server enforces: random create and update bodies, item
// ids and list queries, many at or past a limit, are validated by
// kin-openapi against the file as a client would (no format or code of the
// server's), then sent to the real server. A request the spec accepts must
// not be refused with 400; one it refuses must be a 400 naming a parameter
// or field it blames. The rules no schema can state are applied from the
// spec's own prose (proseRules), and a uri the spec accepts may still fail
// to fetch, which must then be said.
func TestSpecValidIffAccepted(t *testing.T) {
	seed := *specSeed
	if seed == 0 {
		seed = rand.Uint64()
	}
	t.Logf("seed %d (-spec.seed to repeat), %d cases per engine", seed, *specCases)
	client := newClientValidator(t)
	fetched := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "fetched\n")
	}))
	t.Cleanup(fetched.Close)
	host := strings.TrimPrefix(fetched.URL, "http://")
	forEngine(t, func(t *testing.T, e *env) {
		g := &caseGen{rng: rand.New(rand.NewPCG(seed, 13)), fetchOK: host}
		tok := rwToken(t, "acct")
		id := e.mustCreate(tok, map[string]any{"name": "base.txt", "directory_path": "/property",
			"content": dataURL("text/plain", []byte("base"))})["id"].(string)
		var tally tally
		for range *specCases {
			c := g.request(id)
			tally.check(t, c, client.blame(t, c), proseRules(c), e.sendCase(c, tok), host)
		}
		t.Logf("%s", &tally)
	})
}

// specCase is one request.
type specCase struct {
	method, path, query string
	body                []byte
}

func (c specCase) String() string {
	s := c.method + " " + c.path
	if c.query != "" {
		s += "?" + c.query
	}
	if c.body != nil {
		s += " " + string(c.body)
	}
	if len(s) > 600 {
		s = s[:600] + "…"
	}
	return s
}

func (g *caseGen) request(id string) specCase {
	g.calm = g.chance(2)
	switch n := g.pick(20); {
	case n < 8:
		return specCase{method: http.MethodPost, path: "/v1/resources", body: encodeBody(g.createBody())}
	case n < 13:
		return specCase{method: http.MethodPut, path: "/v1/resource/" + url.PathEscape(g.id(id)), body: encodeBody(g.updateBody())}
	case n < 19:
		return specCase{method: http.MethodGet, path: "/v1/resources", query: g.listQuery()}
	}
	return specCase{method: http.MethodGet, path: "/v1/resource/" + url.PathEscape(g.id(id))}
}

// encodeBody writes b as JSON, keeping json.RawMessage values as they are
// (escapes no encoder writes, nesting no map holds).
func encodeBody(b map[string]any) []byte {
	var out bytes.Buffer
	out.WriteByte('{')
	for i, k := range slices.Sorted(maps.Keys(b)) {
		if i > 0 {
			out.WriteByte(',')
		}
		key, _ := json.Marshal(k)
		out.Write(key)
		out.WriteByte(':')
		if raw, ok := b[k].(json.RawMessage); ok {
			out.Write(raw)
			continue
		}
		v, err := json.Marshal(b[k])
		if err != nil {
			panic(err)
		}
		out.Write(v)
	}
	out.WriteByte('}')
	return out.Bytes()
}

func (c specCase) newRequest(base string) *http.Request {
	target := base + c.path
	if c.query != "" {
		target += "?" + c.query
	}
	var body io.Reader
	if c.body != nil {
		body = bytes.NewReader(c.body)
	}
	req, err := http.NewRequest(c.method, target, body)
	if err != nil {
		panic(err)
	}
	if c.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

func (e *env) sendCase(c specCase, token string) response {
	e.t.Helper()
	req := c.newRequest("")
	var h http.Header = http.Header{}
	if c.body != nil {
		h.Set("Content-Type", "application/json")
	}
	return e.doBody(c.method, req.URL.RequestURI(), token, h, c.body)
}

// clientValidator is openapi.yaml as a client would use it: the file
// loaded by kin-openapi and checked with its defaults.
type clientValidator struct{ router routers.Router }

func newClientValidator(t *testing.T) *clientValidator {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromFile("../openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc.Servers = nil
	r, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &clientValidator{router: r}
}

// blame returns the parameters and fields the spec finds wrong with c,
// none when it is valid.
func (v *clientValidator) blame(t *testing.T, c specCase) []string {
	req := c.newRequest("http://client.invalid")
	route, params, err := v.router.FindRoute(req)
	if err != nil {
		t.Fatalf("%s: no route in openapi.yaml: %v", c, err)
	}
	err = openapi3filter.ValidateRequest(context.Background(), &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true},
	})
	return blamed(err)
}

var propertyName = regexp.MustCompile(`property "([^"]+)"`)

// blamed lists what err names: a parameter, a body field (the top of its
// JSON pointer), an unknown property, or the body as a whole. Its cases are
// concrete types: a MultiError's errors.As finds its first match only.
func blamed(err error) []string {
	switch err := err.(type) {
	case nil:
		return nil
	case openapi3.MultiError:
		var out []string
		for _, e := range err {
			out = append(out, blamed(e)...)
		}
		return out
	case *openapi3filter.RequestError:
		if err.Parameter != nil {
			return []string{`parameter "` + err.Parameter.Name + `"`}
		}
		if out := blamed(err.Err); len(out) > 0 {
			return out
		}
	case *openapi3.SchemaError:
		return blamedFields(err)
	}
	return []string{"request body"}
}

func blamedFields(se *openapi3.SchemaError) []string {
	var causes openapi3.MultiError
	if errors.As(se.Origin, &causes) {
		var out []string
		for _, c := range causes {
			var inner *openapi3.SchemaError
			if errors.As(c, &inner) {
				out = append(out, blamedFields(inner)...)
			}
		}
		if len(out) > 0 {
			return out
		}
	}
	if p := se.JSONPointer(); len(p) > 0 {
		return []string{"request body: " + p[0]}
	}
	if m := propertyName.FindStringSubmatch(se.Reason); m != nil {
		return []string{`property "` + m[1] + `"`}
	}
	return []string{"request body"}
}

// proseRules applies the rules openapi.yaml states in words because no
// JSON Schema can: exactly one of content and uri; metadata's compact size,
// NUL and unpaired surrogates, nesting depth; a cursor the server made; a
// parameter given once.
func proseRules(c specCase) []string {
	var out []string
	if c.query != "" {
		q, _ := url.ParseQuery(c.query)
		if cur := q.Get("cursor"); cur != "" {
			out = append(out, `parameter "cursor"`)
		}
		for name, values := range q {
			if len(values) > 1 && slices.Contains(listParams, name) {
				out = append(out, `parameter "`+name+`"`)
			}
		}
	}
	var body map[string]json.RawMessage
	if c.body == nil || json.Unmarshal(c.body, &body) != nil {
		return out
	}
	_, content := body["content"]
	_, uri := body["uri"]
	if c.method == http.MethodPost && content == uri {
		out = append(out, "request body: content", "request body: uri")
	}
	if m, ok := body["metadata"]; ok && !metadataAccepted(m) {
		out = append(out, "request body: metadata")
	}
	return out
}

var listParams = []string{"tags", "directory_prefix", "created_after", "created_before", "sort", "page", "page_size", "cursor"}

// metadataAccepted applies the Metadata schema's prose: at most 65,536
// bytes compact, no \u0000 or unpaired surrogate escape, nested at most
// 1,000 levels.
func metadataAccepted(m json.RawMessage) bool {
	var buf bytes.Buffer
	if json.Compact(&buf, m) != nil || buf.Len() > 65536 || depth(m) > 1000 {
		return false
	}
	// Escapes as written: encoding/json reads a lone surrogate as U+FFFD.
	for i := 0; i+5 < len(m); i++ {
		if m[i] == '\\' && m[i+1] == '\\' {
			i++
			continue
		}
		if m[i] != '\\' || m[i+1] != 'u' {
			continue
		}
		var r rune
		fmt.Sscanf(string(m[i+2:i+6]), "%04x", &r)
		switch {
		case r == 0:
			return false
		case utf16.IsSurrogate(r) && r < 0xdc00 && i+11 < len(m) && string(m[i+6:i+8]) == `\u`:
			var lo rune
			fmt.Sscanf(string(m[i+8:i+12]), "%04x", &lo)
			if lo < 0xdc00 || lo > 0xdfff {
				return false
			}
			i += 11
		case utf16.IsSurrogate(r):
			return false
		}
	}
	return true
}

// depth is the deepest nesting of arrays and objects in JSON text.
func depth(m []byte) int {
	d, deepest, inString := 0, 0, false
	for i := 0; i < len(m); i++ {
		switch c := m[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '[' || c == '{':
			d++
			deepest = max(deepest, d)
		case c == ']' || c == '}':
			d--
		}
	}
	return deepest
}

// tally counts what TestSpecValidIffAccepted saw.
type tally struct {
	cases, valid, invalid, prose, fetchFailed int
	byStatus                                  map[int]int
	blamed                                    map[string]int // what the spec found wrong, by name
}

func (t *tally) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d cases: %d spec-valid, %d spec-invalid (%d by a prose rule alone), %d spec-valid uris that could not be fetched; statuses %v; blamed:",
		t.cases, t.valid, t.invalid, t.prose, t.fetchFailed, t.byStatus)
	for _, k := range slices.Sorted(maps.Keys(t.blamed)) {
		fmt.Fprintf(&b, " %s %d;", k, t.blamed[k])
	}
	return b.String()
}

// fetchFailures are the messages of a uri the spec accepts but the server
// could not fetch: what no schema can know.
var fetchFailures = regexp.MustCompile(`^uri: (host not found|host lookup failed|timed out|could not be fetched|answered |host resolves to a non-public address|TLS)`)

// check judges one answer: schema is what the spec blames, prose what its
// prose rules do.
func (t *tally) check(tb *testing.T, c specCase, schema, prose []string, got response, fetchHost string) {
	tb.Helper()
	if t.byStatus == nil {
		t.byStatus, t.blamed = map[int]int{}, map[string]int{}
	}
	t.cases++
	t.byStatus[got.status]++
	if got.status >= 500 {
		tb.Errorf("%s: %d %s", c, got.status, got.body)
		return
	}
	want := append(schema, prose...)
	if len(want) == 0 {
		t.valid++
		if got.status == http.StatusBadRequest {
			msg := got.errorMessage(tb)
			if fetchFailures.MatchString(msg) && !fetchable(c, fetchHost) {
				t.fetchFailed++
				return
			}
			tb.Errorf("spec-valid, refused: %s\n  %s", c, msg)
		}
		return
	}
	t.invalid++
	if len(schema) == 0 {
		t.prose++
	}
	for _, w := range want {
		t.blamed[strings.TrimPrefix(w, "request body: ")]++
	}
	if got.status != http.StatusBadRequest {
		tb.Errorf("spec-invalid (%s), answered %d: %s\n  %s", strings.Join(want, "; "), got.status, c, got.body)
		return
	}
	msg := got.errorMessage(tb)
	if !slices.ContainsFunc(want, func(w string) bool { return naming(msg, w) }) {
		tb.Errorf("400 names none of %q: %s\n  %s", want, c, msg)
	}
}

// fetchable reports whether c's uri is one the test's fetch server answers.
func fetchable(c specCase, host string) bool {
	var body struct{ URI string }
	json.Unmarshal(c.body, &body)
	rest, ok := strings.CutPrefix(strings.ToLower(body.URI), "http://"+host)
	return ok && (rest == "" || strings.ContainsAny(rest[:1], "/?#"))
}

// naming reports whether a 400 message names what: a body field's message
// starts "request body: <field>", a parameter's says parameter "<name>".
func naming(msg, what string) bool {
	if strings.HasPrefix(what, "request body") {
		return strings.HasPrefix(msg, what)
	}
	return strings.Contains(msg, what)
}
