package server

import (
	"context"
	"embed"
	"io/fs"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/re-factor/resources/gen"
)

// docsFS is the reference page and the Redoc bundle it runs, taken from the
// redoc package on npm (docs/update.sh), so /docs works offline.
//
//go:embed docs/index.html docs/redoc.standalone.js docs/redoc.standalone.js.LICENSE.txt
var docsFS embed.FS

// docsAssetPrefix is where the page's script is served. It is not in the
// spec, so the request validator lets it through.
const docsAssetPrefix = "/docs/"

// docsCSP lets the page load its script and the spec from this server
// only, so a page that renders under it provably needs no other host.
// Redoc styles elements inline and runs its search index in a blob: worker.
const docsCSP = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; font-src 'self' data:; worker-src blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// GetDocs serves GET /docs, the API reference page.
func (s *Server) GetDocs(context.Context, gen.GetDocsRequestObject) (gen.GetDocsResponseObject, error) {
	page, err := docsFS.ReadFile("docs/index.html")
	if err != nil {
		return nil, err
	}
	return staticBody{contentType: "text/html; charset=utf-8", body: page, csp: docsCSP}, nil
}

// registerDocsAssets serves the page's script and its licence.
func registerDocsAssets(e withHead) {
	sub, err := fs.Sub(docsFS, "docs")
	if err != nil {
		panic(err) // the embedded directory is fixed at build time
	}
	files := http.StripPrefix(docsAssetPrefix, http.FileServer(http.FS(sub)))
	for _, name := range []string{"redoc.standalone.js", "redoc.standalone.js.LICENSE.txt"} {
		e.GET(docsAssetPrefix+name, echo.WrapHandler(files))
	}
}
