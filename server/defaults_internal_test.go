package server

import (
	"fmt"
	"maps"
	"reflect"
	"strconv"
	"testing"

	"github.com/re-factor/resources/gen"
)

// TestHandlerDefaultsAreTheSpecs: the validator leaves absent query
// parameters absent (SkipSettingDefaults), so the handlers must read an
// absent parameter as the spec's default. A default added to the spec
// fails here until its handler is checked too.
func TestHandlerDefaultsAreTheSpecs(t *testing.T) {
	spec, err := gen.GetSpec()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{} // "METHOD path parameter" → the spec's default
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			for _, p := range append(item.Parameters, op.Parameters...) {
				if s := p.Value.Schema; s != nil && s.Value.Default != nil {
					got[method+" "+path+" "+p.Value.Name] = fmt.Sprint(s.Value.Default)
				}
			}
		}
	}
	want := map[string]string{
		"GET /v1/resources page":                    got["GET /v1/resources page"],
		"GET /v1/resources page_size":               got["GET /v1/resources page_size"],
		"GET /v1/resources sort":                    got["GET /v1/resources sort"],
		"GET /v1/resource/{id}/content disposition": string(gen.Attachment), // contentResponse's when absent
		"GET /v1/events limit":                      "100",                  // store.DefaultEventLimit
	}
	if !maps.Equal(got, want) {
		t.Errorf("the spec's parameter defaults = %v, want %v", got, want)
	}
	page, err1 := strconv.Atoi(got["GET /v1/resources page"])
	pageSize, err2 := strconv.Atoi(got["GET /v1/resources page_size"])
	if err1 != nil || err2 != nil {
		t.Fatalf("list defaults %v: %v %v", got, err1, err2)
	}
	sort := gen.ListResourcesParamsSort(got["GET /v1/resources sort"])
	absent := listFilter("acct", gen.ListResourcesParams{})
	given := listFilter("acct", gen.ListResourcesParams{Page: &page, PageSize: &pageSize, Sort: &sort})
	if !reflect.DeepEqual(absent, given) {
		t.Errorf("listFilter with no page, page_size or sort = %+v; with the spec's defaults %+v", absent, given)
	}
}
