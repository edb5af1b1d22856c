package server

import (
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// requestID gives every response an X-Request-Id, reusing the caller's when
// it is a plausible id, so a client can quote it and we can find its log line.
func requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Request().Header.Get(echo.HeaderXRequestID)
		if !plausibleRequestID(id) {
			id = uuid.NewString()
		}
		c.Response().Header().Set(echo.HeaderXRequestID, id)
		return next(c)
	}
}

func plausibleRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, r := range id {
		if r <= ' ' || r > '~' {
			return false
		}
	}
	return true
}

// accessLog writes one JSON line per request; server faults are logged at
// error level with their cause, which never reaches the client.
func (s *Server) accessLog(next echo.HandlerFunc) echo.HandlerFunc {
	return middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		HandleError:  true,
		LogStatus:    true,
		LogLatency:   true,
		LogMethod:    true,
		LogURIPath:   true,
		LogRoutePath: true,
		LogError:     true,
		LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
			attrs := []slog.Attr{
				slog.String("request_id", c.Response().Header().Get(echo.HeaderXRequestID)),
				slog.String("method", v.Method),
				slog.String("route", v.RoutePath),
				slog.String("path", loggedPath(v.URIPath)),
				slog.Int("status", v.Status),
				// An integer: slog writes every float through json.Marshal.
				slog.Int64("latency_us", v.Latency.Microseconds()),
			}
			if id := linkIDOf(c); id != "" {
				attrs = append(attrs, slog.String("link_id", id))
			}
			// What the answer cost in body bytes read (a refused upload's
			// should be none); lingering after the answer is not counted.
			if b, ok := c.Get(watchedBodyKey).(*watchedBody); ok {
				attrs = append(attrs, slog.Int64("body_read", b.read.Load()))
			}
			level := slog.LevelInfo
			if v.Status >= http.StatusInternalServerError {
				level = slog.LevelError
				if v.Error != nil {
					attrs = append(attrs, slog.String("error", v.Error.Error()))
				}
			}
			s.log.LogAttrs(c.Request().Context(), level, "request", attrs...)
			return nil
		},
	})(next)
}

// loggedPath is the path a log may keep: a download link's token is cut
// off (the line names the link's id instead).
func loggedPath(p string) string {
	if strings.HasPrefix(p, linkPathPrefix) {
		return linkPathPrefix + "…"
	}
	return p
}

// recoverPanic turns a handler panic into a 500 whose cause and stack go to
// the log only.
var recoverPanic = middleware.RecoverWithConfig(middleware.RecoverConfig{
	DisablePrintStack: true,
})

// securityHeaders stops browsers from sniffing types and caches from keeping
// tenant data.
func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set(echo.HeaderXContentTypeOptions, "nosniff")
		if strings.HasPrefix(c.Request().URL.Path, "/v1/") {
			h.Set(echo.HeaderCacheControl, "no-store")
		}
		return next(c)
	}
}

// keepPlusInTimestamps re-encodes a literal "+" in created_after and
// created_before before anything decodes the query. Users type offsets such
// as +02:00 unencoded, and query decoding would turn the "+" into a space.
func keepPlusInTimestamps(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		u := c.Request().URL
		if strings.Contains(u.RawQuery, "+") {
			u.RawQuery = encodePlus(u.RawQuery, "created_after", "created_before")
		}
		return next(c)
	}
}

func encodePlus(rawQuery string, keys ...string) string {
	pairs := strings.Split(rawQuery, "&")
	for i, pair := range pairs {
		k, v, ok := strings.Cut(pair, "=")
		if !ok {
			continue
		}
		if name, err := url.QueryUnescape(k); err == nil && slices.Contains(keys, name) {
			pairs[i] = k + "=" + strings.ReplaceAll(v, "+", "%2B")
		}
	}
	return strings.Join(pairs, "&")
}
