package spectest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// Client is a spec as a client uses it to check its own requests:
// kin-openapi with its default options, and none of the server's formats
// or code.
type Client struct{ router routers.Router }

// LoadClient reads the spec at path.
func LoadClient(path string) (*Client, error) {
	doc, err := openapi3.NewLoader().LoadFromFile(path)
	if err != nil {
		return nil, err
	}
	doc.Servers = nil
	r, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, err
	}
	return &Client{router: r}, nil
}

// Blame returns the parameters and fields the spec finds wrong with c, in
// the forms Tally.Check matches against messages (`parameter "page"`,
// "request body: name", "request body"); none when c is valid.
func (v *Client) Blame(tb testing.TB, c Case) []string {
	tb.Helper()
	req := c.NewRequest("http://client.invalid")
	route, params, err := v.router.FindRoute(req)
	if err != nil {
		tb.Fatalf("%s: no route in the spec: %v", c, err)
	}
	err = openapi3filter.ValidateRequest(context.Background(), &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true},
	})
	return blamed(err)
}

var propertyName = regexp.MustCompile(`property "([^"]+)"`)

// blamed lists what err names: a parameter, a body field (the top of its
// JSON pointer, or an unknown property), or the body as a whole. Its cases are
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
		return []string{"request body: " + m[1]}
	}
	return []string{"request body"}
}

// ProseRules applies the rules openapi.yaml states in words because no
// JSON Schema can: exactly one of content and uri; metadata's compact size,
// NUL and unpaired surrogates, nesting depth; a cursor the server made; a
// parameter given once; integers written in base-10 digits that fit in 64
// bits; an empty value, which is not an absent parameter. (Validators that
// read query strings as JavaScript does disagree on the last two.) It
// returns what they blame, as Blame does.
func ProseRules(c Case) []string {
	var out []string
	if c.Query != "" {
		q, _ := url.ParseQuery(c.Query)
		if cur := q.Get("cursor"); cur != "" {
			out = append(out, `parameter "cursor"`)
		}
		for name, values := range q {
			if len(values) > 1 && slices.Contains(listParams, name) {
				out = append(out, `parameter "`+name+`"`)
			}
		}
		for _, name := range []string{"page", "page_size"} {
			if _, err := strconv.ParseInt(q.Get(name), 10, 64); q.Has(name) && err != nil {
				out = append(out, `parameter "`+name+`"`)
			}
		}
		for _, name := range []string{"sort", "created_after", "created_before"} {
			if q.Has(name) && q.Get(name) == "" {
				out = append(out, `parameter "`+name+`"`)
			}
		}
	}
	var body map[string]json.RawMessage
	if c.Body == nil || json.Unmarshal(c.Body, &body) != nil {
		return out
	}
	_, content := body["content"]
	_, uri := body["uri"]
	if c.Method == http.MethodPost && content == uri {
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

// Tally judges a server's answers against what a spec blames, and counts
// what it saw.
type Tally struct {
	cases, valid, invalid, prose, fetchFailed int
	byStatus                                  map[int]int
	blamed                                    map[string]int // what the spec found wrong, by name
}

func (t *Tally) String() string {
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
var fetchFailures = regexp.MustCompile(`^request body: uri: (host not found|host lookup failed|timed out|could not be fetched|answered |host resolves to a non-public address|TLS)`)

// Check judges one answer (status, and the {"error"} message of a 400):
// schema is what the spec blames, prose what its prose rules do. A request
// neither blames must not get a 400, unless its uri, which the test at
// fetchHost does not serve, could not be fetched; any other must get a 400
// naming something they blame.
func (t *Tally) Check(tb testing.TB, c Case, schema, prose []string, status int, msg, fetchHost string) {
	tb.Helper()
	if t.byStatus == nil {
		t.byStatus, t.blamed = map[int]int{}, map[string]int{}
	}
	t.cases++
	t.byStatus[status]++
	if status >= 500 {
		tb.Errorf("%s: %d %s", c, status, msg)
		return
	}
	want := append(schema, prose...)
	if len(want) == 0 {
		t.valid++
		if status == http.StatusBadRequest {
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
	if status != http.StatusBadRequest {
		tb.Errorf("spec-invalid (%s), answered %d: %s\n  %s", strings.Join(want, "; "), status, c, msg)
		return
	}
	if !slices.ContainsFunc(want, func(w string) bool { return naming(msg, w) }) {
		tb.Errorf("400 names none of %q: %s\n  %s", want, c, msg)
	}
}

// fetchable reports whether c's uri is one the test's fetch server answers.
func fetchable(c Case, host string) bool {
	var body struct{ URI string }
	json.Unmarshal(c.Body, &body)
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
