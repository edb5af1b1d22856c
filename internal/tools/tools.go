//go:build tools

package tools

// The tools build tag keeps this file out of every build; its imports pin
// the versions of the tools the Makefile runs in go.mod: the code
// generator, staticcheck and gotestsum (make test's runner).
import (
	_ "github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen"
	_ "gotest.tools/gotestsum"
	_ "honnef.co/go/tools/cmd/staticcheck"
)
