package server_test

import (
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/re-factor/resources/internal/testkit"
	"github.com/re-factor/resources/server/spectest"
)

var specCases = flag.Int("spec.cases", 300, "requests per engine in TestSpecValidIffAccepted (CI's short form; try 10000 by hand)")

// TestSpecValidIffAccepted is the property that openapi.yaml says
// everything the server enforces: random create and update bodies, item
// ids and list queries (spectest.Gen), many at or past a limit, are
// validated by kin-openapi against the file as a client would (no format or
// code of the server's), then sent to the real server. A request the spec
// accepts must not be refused with 400; one it refuses must be a 400 naming
// a parameter or field it blames. The rules no schema can state are applied
// from the spec's own prose (spectest.ProseRules), and a uri the spec
// accepts may still fail to fetch, which must then be said.
func TestSpecValidIffAccepted(t *testing.T) {
	seed := testkit.Seed(t)
	t.Logf("%d cases per engine", *specCases)
	client, err := spectest.LoadClient("../openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	fetched := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "fetched\n")
	}))
	t.Cleanup(fetched.Close)
	host := strings.TrimPrefix(fetched.URL, "http://")
	forEngine(t, func(t *testing.T, e *env) {
		g := spectest.NewGen(seed, host)
		tok := rwToken(t, "acct")
		id := e.mustCreate(tok, map[string]any{"name": "base.txt", "directory_path": "/property",
			"content": dataURL("text/plain", []byte("base"))})["id"].(string)
		var tally spectest.Tally
		for range *specCases {
			c := g.Request(id)
			r := e.sendCase(c, tok)
			var msg string
			if r.status >= 400 {
				msg = r.errorMessage(t)
			}
			tally.Check(t, c, client.Blame(t, c), spectest.ProseRules(c), r.status, msg, host)
		}
		t.Logf("%s", &tally)
	})
}

func (e *env) sendCase(c spectest.Case, token string) response {
	e.t.Helper()
	req := c.NewRequest("")
	return e.doBody(c.Method, req.URL.RequestURI(), token, req.Header, c.Body)
}
