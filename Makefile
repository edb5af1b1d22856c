# The two commands a newcomer needs: `make run` and `make test`.
GO      ?= go
BIN     := bin/refactor
PKGS    := ./...

.PHONY: all build run test tools generate check-generate lint vet fmt-check staticcheck check clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/refactor

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

## generate: rebuild gen/ from openapi.yaml
generate:
	$(GO) generate ./gen/...

## check-generate: fail when gen/ is not what openapi.yaml generates
check-generate: generate
	@git diff --exit-code --stat -- gen/ || (echo "gen/ is stale: run make generate and commit it" >&2; exit 1)
	@test -z "$$(git status --porcelain -- gen/)" || (git status --porcelain -- gen/; echo "gen/ has uncommitted files" >&2; exit 1)

lint: vet fmt-check staticcheck

vet:
	$(GO) vet $(PKGS)

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^gen/')); test -z "$$out" || (echo "gofmt would change: $$out" >&2; exit 1)

staticcheck:
	$(GO) run honnef.co/go/tools/cmd/staticcheck $$($(GO) list $(PKGS) | grep -v '/gen$$')

## check: everything CI runs
check: check-generate lint test

clean:
	rm -rf bin
