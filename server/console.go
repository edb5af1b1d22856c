package server

import (
	"bytes"
	"embed"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"
)

// consoleFS is the web console, built from console/ by esbuild (make
// console) and committed, so a binary built with Go alone serves it.
//
//go:embed console/index.html console/app.js console/app.css
var consoleFS embed.FS

// consolePrefix is where the console is served; it is not in the spec, so
// the request validator skips it (see outsideSpec).
const consolePrefix = "/console/"

// consoleCSP lets the console load its own script and style and call this
// server only. blob: images are previews of stored images, which an <img>
// renders without running script.
const consoleCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// registerConsole serves the console's page, with the server's content
// limit written in so the page can refuse a large file before sending it,
// and its two assets.
func registerConsole(e *echo.Echo, maxContentBytes int64) {
	page, err := consoleFS.ReadFile("console/index.html")
	if err != nil {
		panic(err) // embedded at build time
	}
	page = bytes.Replace(page, []byte("{{MAX_CONTENT_BYTES}}"), []byte(strconv.FormatInt(maxContentBytes, 10)), 1)
	serve := func(contentType string, body []byte) echo.HandlerFunc {
		return func(c echo.Context) error {
			h := c.Response().Header()
			h.Set("Content-Security-Policy", consoleCSP)
			// Revalidate each load, so a new binary's console is seen at once.
			h.Set(echo.HeaderCacheControl, "no-cache")
			return c.Blob(http.StatusOK, contentType, body)
		}
	}
	e.GET("/console", func(c echo.Context) error { return c.Redirect(http.StatusMovedPermanently, consolePrefix) })
	e.GET(consolePrefix, serve("text/html; charset=utf-8", page))
	for name, contentType := range map[string]string{"app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8"} {
		body, err := consoleFS.ReadFile("console/" + name)
		if err != nil {
			panic(err)
		}
		e.GET(consolePrefix+name, serve(contentType, body))
	}
}
