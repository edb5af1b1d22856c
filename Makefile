# The two commands a newcomer needs: `make run` and `make test`.
GO      ?= go
BIN     := bin/refactor
PKGS    := ./...

.PHONY: all build run test tools generate check-generate lint vet fmt-check staticcheck check clean \
	node-deps lint-spec contract

all: build

# `refactor version` and the refactor_build_info metric report these.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)

build:
	$(GO) build -ldflags "-X main.version=$(VERSION) -X main.commit=$(COMMIT)" -o $(BIN) ./cmd/refactor

## run: serve on the embedded SQLite default with demo data and a development secret
run: build
	./$(BIN) serve --dev

## test: the whole test suite (SQLite and PostgreSQL, file:// and S3 storage; see README)
test: tools
	$(GO) test -race -count=1 $(PKGS)

## tools: build the S3 server the storage tests run against (SeaweedFS from the Go
## module proxy, cached outside the repo; about 6 minutes the first time, then instant)
tools:
	$(GO) run ./blobstore/blobtest/cmd/buildweed

## generate: rebuild gen/ (server) and client/ (Go client) from openapi.yaml, and the
## TypeScript SDK's types once its node_modules exist (make node-deps)
generate:
	$(GO) generate ./gen/... ./client/...
	@if [ -d sdk/typescript/node_modules ]; then npm run --prefix sdk/typescript --silent generate >/dev/null; \
	else echo "skipping sdk/typescript/src/schema.ts: run make node-deps first" >&2; fi

## check-generate: fail when generated code is not what openapi.yaml generates
GENERATED := gen/ client/ sdk/typescript/src/schema.ts
check-generate: generate
	@git diff --exit-code --stat -- $(GENERATED) || (echo "generated code is stale: run make generate and commit it" >&2; exit 1)
	@test -z "$$(git status --porcelain -- $(GENERATED))" || (git status --porcelain -- $(GENERATED); echo "generated files are uncommitted" >&2; exit 1)

lint: vet fmt-check staticcheck

vet:
	$(GO) vet $(PKGS)

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^gen/')); test -z "$$out" || (echo "gofmt would change: $$out" >&2; exit 1)

staticcheck:
	$(GO) run honnef.co/go/tools/cmd/staticcheck $$($(GO) list $(PKGS) | grep -v '/gen$$')

## check: everything CI runs
check: check-generate lint test

## node-deps: install the pinned Node tools (Prism, Spectral, Redocly) and the SDK's packages
node-deps:
	npm ci --prefix e2e --no-audit --no-fund --loglevel=error
	npm ci --prefix sdk/typescript --no-audit --no-fund --loglevel=error

## lint-spec: Spectral (spectral:oas) and Redocly CLI on openapi.yaml; errors fail
lint-spec:
	e2e/node_modules/.bin/spectral lint --fail-severity=error openapi.yaml
	REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true e2e/node_modules/.bin/redocly lint openapi.yaml

## contract: the e2e suite and the TypeScript SDK test through Prism's validating proxy,
## against openapi.yaml and the published spec (E2E_UPSTREAM=URL checks a deployment)
contract:
	e2e/contract.sh

clean:
	rm -rf bin
