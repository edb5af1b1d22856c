package server

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

	"github.com/re-factor/resources/server/spectest"
)

// TestQuickCheckAgrees holds quickCheck to the validator it stands in for:
// on random bodiless requests (spectest.Gen: list queries and item ids,
// many at or past a limit, plus the content route's Range header), the
// quick check passes a request exactly when the JSON Schema 2020-12
// validator does, with the server's own document, options and formats.
func TestQuickCheckAgrees(t *testing.T) {
	spec, formats, err := validatorSpec()
	if err != nil {
		t.Fatal(err)
	}
	withoutSecurity(spec)
	spec.Servers = nil
	opts := validationOptions(formats)
	quick, err := newQuickCheck(spec, opts)
	if err != nil {
		t.Fatal(err)
	}
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
	passed := 0
	for _, r := range reqs {
		want := fullPasses(r.Clone(context.Background()))
		got := quick.passes(e.NewContext(r.Clone(context.Background()), httptest.NewRecorder()))
		if got != want {
			t.Errorf("%s %s (Range %q): quick check passes %v, the 2020-12 validator %v",
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

// TestQuickCheckRefuses: a parameter schema with a keyword the 3.0
// validator does not apply cannot be checked quickly.
func TestQuickCheckRefuses(t *testing.T) {
	for name, s := range map[string]*openapi3.Schema{
		"const":         {Const: "a"},
		"propertyNames": {PropertyNames: openapi3.NewStringSchema().NewRef()},
		"null":          {Type: &openapi3.Types{openapi3.TypeString, openapi3.TypeNull}},
		"if":            {If: openapi3.NewStringSchema().NewRef()},
	} {
		t.Run(name, func(t *testing.T) {
			spec, _, err := validatorSpec()
			if err != nil {
				t.Fatal(err)
			}
			op := spec.Paths.Value("/v1/resources").Get
			op.Parameters[0].Value.Schema = s.NewRef()
			if _, err := newQuickCheck(spec, openapi3filter.Options{}); err == nil {
				t.Errorf("newQuickCheck accepts a parameter schema with %s", name)
			}
		})
	}
}
