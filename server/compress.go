package server

import (
	"net/http"

	"github.com/klauspost/compress/gzhttp"
	"github.com/klauspost/compress/gzip"
	"github.com/labstack/echo/v4"
)

// compressMinBytes is the smallest body worth compressing: below it the
// encoding's framing and the CPU cost more than the bytes saved.
const compressMinBytes = 1024

// compressedTypes are the responses that compress: the API's JSON, the spec
// and the pages' HTML, scripts and styles. Stored content is never among
// them (see contentRoute).
var compressedTypes = []string{"application/json", "application/yaml", "text/html", "text/javascript", "text/css"}

// contentRoute serves stored bytes as they were stored, so that Range,
// Content-Length and the ETag (their sha256) mean what they say.
const contentRoute = "/v1/resource/:id/content"

// compressResponses encodes responses with zstd or gzip when the request's
// Accept-Encoding allows (zstd preferred), through klauspost/compress's
// gzhttp, which also adds Vary: Accept-Encoding. Both at their fastest
// level: on a page of the API's JSON a higher level costs much more CPU
// for a few per cent fewer bytes, and nothing cheaper is worth its bytes,
// since at these sizes building the Huffman tables is a fixed share of the
// cost (bench/notes.md has the measurements).
func compressResponses() echo.MiddlewareFunc {
	wrap, err := gzhttp.NewWrapper(gzhttp.MinSize(compressMinBytes), gzhttp.ContentTypes(compressedTypes),
		gzhttp.CompressionLevel(gzip.BestSpeed))
	if err != nil {
		panic(err) // the options are fixed at build time
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if c.Path() == contentRoute {
				return next(c)
			}
			res := c.Response()
			plain := res.Writer
			defer func() { res.Writer = plain }()
			// Errors are rendered inside, so that their bodies go through the
			// encoder before it closes.
			wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				res.Writer = w
				c.SetRequest(r)
				if err := next(c); err != nil {
					c.Error(err)
				}
			})).ServeHTTP(plain, c.Request())
			return nil
		}
	}
}
