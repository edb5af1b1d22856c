package validation

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/labstack/echo/v4"

	"github.com/re-factor/resources/gen"
	"github.com/re-factor/resources/server/spectest"
)

// TestFastPathAgrees holds the fast path to the validator it stands in
// for: on random bodiless requests (spectest.Gen: list queries and item
// ids, many at or past a limit, plus the content route's Range header), it
// passes a request exactly when the JSON Schema 2020-12 validator does,
// with the validator's own document, options and formats.
func TestFastPathAgrees(t *testing.T) {
	v, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	spec := v.doc
	spec.Servers = nil
	opts := v.opts
	full, err := gorillamux.NewRouter(spec)
	if err != nil {
		t.Fatal(err)
	}
	opts.ExcludeRequestBody = true
	fullPasses := func(r *http.Request) bool {
		route, params, err := full.FindRoute(r)
		if err != nil {
			return false
		}
		for k, v := range params {
			if s, err := url.PathUnescape(v); err == nil {
				params[k] = s
			}
		}
		return openapi3filter.ValidateRequest(context.Background(), &openapi3filter.RequestValidationInput{
			Request: r, PathParams: params, Route: route, Options: &opts}) == nil
	}
	const id = "75e35926-dd42-5b28-8493-ea7133ef5dcd"
	var reqs []*http.Request
	g := spectest.NewGen(20261129, "127.0.0.1:1")
	for len(reqs) < 3000 {
		if c := g.Request(id); c.Body == nil {
			reqs = append(reqs, c.NewRequest(""))
		}
	}
	for _, rng := range []string{"bytes=0-9", "bytes=-5", "bytes=5-", "bytes=0-1,4-5", "bytes=x", "items=0-1", ""} {
		r := httptest.NewRequest(http.MethodGet, "/v1/resource/"+id+"/content", nil)
		r.Header.Set("Range", rng)
		reqs = append(reqs, r)
	}
	reqs = append(reqs, httptest.NewRequest(http.MethodDelete, "/v1/resource/"+id, nil),
		httptest.NewRequest(http.MethodDelete, "/v1/resource/x", nil))
	e := echo.New()
	for path, item := range spec.Paths.Map() {
		for method := range item.Operations() {
			e.Add(method, echoPath(path), func(echo.Context) error { return nil })
		}
	}
	passed := 0
	for _, r := range reqs {
		want := fullPasses(r.Clone(context.Background()))
		got := false
		c := e.NewContext(r.Clone(context.Background()), httptest.NewRecorder())
		e.Router().Find(r.Method, r.URL.EscapedPath(), c)
		if op, ok := v.Operation(c); ok && op.route.Operation.RequestBody == nil {
			got = v.passesFast(c, op)
		}
		if got != want {
			t.Errorf("%s %s (Range %q): the fast path passes %v, the 2020-12 validator %v",
				r.Method, r.URL, r.Header.Get("Range"), got, want)
		}
		if got {
			passed++
		}
	}
	t.Logf("%d of %d requests pass", passed, len(reqs))
	if passed == 0 || passed == len(reqs) {
		t.Errorf("%d of %d requests pass: the cases do not tell the validators apart", passed, len(reqs))
	}
}

// TestFastPathRefuses: a parameter schema with a keyword the 3.0 validator
// does not apply cannot take the fast path.
func TestFastPathRefuses(t *testing.T) {
	for name, s := range map[string]*openapi3.Schema{
		"const":         {Const: "a"},
		"propertyNames": {PropertyNames: openapi3.NewStringSchema().NewRef()},
		"null":          {Type: &openapi3.Types{openapi3.TypeString, openapi3.TypeNull}},
		"if":            {If: openapi3.NewStringSchema().NewRef()},
	} {
		t.Run(name, func(t *testing.T) {
			spec, err := gen.GetSpec()
			if err != nil {
				t.Fatal(err)
			}
			op := spec.Paths.Value("/v1/resources").Get
			op.Parameters[0].Value.Schema = s.NewRef()
			if err := fastPathable(spec); err == nil {
				t.Errorf("fastPathable accepts a parameter schema with %s", name)
			}
		})
	}
}

// TestFastBodyAgrees holds Body's fast path to the validator it stands in
// for: on random create and update bodies (spectest.Gen, many at or past
// a limit), the OpenAPI 3.0 validator passes a body exactly when the JSON
// Schema 2020-12 validator does.
func TestFastBodyAgrees(t *testing.T) {
	v, err := New(Config{HandlerPatterns: []string{"DataURL"}})
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]*Operation{http.MethodPost: v.ops["POST /v1/resources"], http.MethodPut: v.ops["PUT /v1/resource/:id"]}
	for method, op := range ops {
		if op == nil || !op.fastBody {
			t.Fatalf("%s: the operation takes no fast path for its body", method)
		}
	}
	g := spectest.NewGen(20261207, "127.0.0.1:1")
	passed, n := 0, 0
	for n < 2000 {
		c := g.Request("75e35926-dd42-5b28-8493-ea7133ef5dcd")
		if c.Body == nil {
			continue
		}
		n++
		op := ops[c.Method]
		r := httptest.NewRequest(c.Method, c.Path, nil)
		r.Header.Set("Content-Type", "application/json")
		in := &openapi3filter.RequestValidationInput{Request: withBody(r, c.Body), Route: op.route, Options: &v.opts}
		want := openapi3filter.ValidateRequestBody(context.Background(), in, op.route.Operation.RequestBody.Value) == nil
		got := v.bodyPassesFast(context.Background(), r, op, c.Body)
		if got != want {
			t.Errorf("%s: the fast path passes %v, the 2020-12 validator %v", c, got, want)
		}
		if got {
			passed++
		}
	}
	t.Logf("%d of %d bodies pass", passed, n)
	if passed == 0 || passed == n {
		t.Errorf("%d of %d bodies pass: the cases do not tell the validators apart", passed, n)
	}
}
