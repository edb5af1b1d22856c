package server

import (
	"bytes"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/re-factor/resources/console"
)

// consolePrefix is where the console is served; it is in no operation of
// the spec, so the request validator lets it through.
const consolePrefix = "/console/"

// consoleCSP lets the console load its own script and style and call this
// server only. blob: images are previews of stored images, which an <img>
// renders without running script.
const consoleCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// registerConsole serves the console's page, with the server's limits
// written in so the page can refuse a large file before sending it (and
// send one over maxContentBytes as a resumable upload, up to
// maxUploadBytes), and its two assets.
func registerConsole(e withHead, maxContentBytes, maxUploadBytes int64) {
	page, err := console.FS.ReadFile("index.html")
	if err != nil {
		panic(err) // embedded at build time
	}
	page = bytes.Replace(page, []byte("{{MAX_CONTENT_BYTES}}"), []byte(strconv.FormatInt(maxContentBytes, 10)), 1)
	page = bytes.Replace(page, []byte("{{MAX_UPLOAD_BYTES}}"), []byte(strconv.FormatInt(maxUploadBytes, 10)), 1)
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
	for _, a := range []struct{ path, file, contentType string }{
		{"app.js", "dist/app.js", "text/javascript; charset=utf-8"},
		{"app.css", "app.css", "text/css; charset=utf-8"},
	} {
		body, err := console.FS.ReadFile(a.file)
		if err != nil {
			panic(err)
		}
		e.GET(consolePrefix+a.path, serve(a.contentType, body))
	}
}
