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
// level: on a page of 20 resources gzip's default level costs half as much
// CPU again as level 1 for 6% fewer bytes (BenchmarkRequestPath's page,
// 9.9 kB of JSON: 2.04 kB against 2.16 kB). Nothing cheaper is worth its
// bytes at these sizes, where building the Huffman tables is a fixed share
// of the cost: counted with callgrind on that page, level 1 takes 343k
// instructions for 2.11 kB, Huffman-only 301k for 6.22 kB, zstd's fastest
// 336k for 1.93 kB (100 resources: 1.15M for 8.7 kB, 1.16M for 30.2 kB,
// 1.39M for 7.7 kB).
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
