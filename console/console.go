// Package console is the web console as the server serves it: its page and
// style sheet embedded from their sources here, and the bundle esbuild
// builds from src/ (make console) into dist/, committed so that a binary
// built with Go alone serves it.
package console

import "embed"

// FS holds index.html, app.css and dist/app.js.
//
//go:embed index.html app.css dist/app.js
var FS embed.FS
