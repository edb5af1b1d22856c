# The two commands a newcomer needs: `make run` and `make test`.
GO      ?= go
BIN     := bin/refactor
BENCH   := bin/refactor-bench
PKGS    := ./...

.PHONY: all build run test tools generate check-generate lint vet fmt-check staticcheck tidy-check check clean \
	node-deps lint-spec contract fuzz soak resilience-long bench bench-smoke bench-build console check-console console-test

all: build

# `refactor version` and the refactor_build_info metric report these.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)

build:
	$(GO) build -ldflags "-X main.version=$(VERSION) -X main.commit=$(COMMIT)" -o $(BIN) ./cmd/refactor

## run: serve on the embedded SQLite default with demo data and a development secret;
## prints a console link that opens signed in
run: build
	./$(BIN) serve --dev

## test: the whole test suite (SQLite and PostgreSQL, file:// and S3 storage; see README),
## the resilience suites in their short form, then every fuzz target briefly
test: tools
	$(GO) test -race -count=1 $(PKGS)
	$(GO) -C bench test -count=1 ./...
	@$(MAKE) --no-print-directory fuzz FUZZTIME=3s

## fuzz: run each fuzz target for FUZZTIME (default 1m); a failing input is
## saved under the package's testdata/fuzz and fails `make test` until fixed
FUZZTIME ?= 1m
FUZZ_TARGETS := server:FuzzListQuery server:FuzzItemPath server:FuzzDataURLPattern upload:FuzzDecode \
	store:FuzzValidateDirectoryPath store:FuzzValidateName store:FuzzNormalizeTags \
	resources:FuzzParseTagFilter store:FuzzDecodeResourceLine
fuzz:
	@for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; name=$${t#*:}; \
		out=$$($(GO) test ./$$pkg -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) 2>&1) || \
			{ echo "$$out"; exit 1; }; \
		echo "$$name: $$(echo "$$out" | grep -o 'execs: [0-9]*' | tail -n 1)"; \
	done

## soak: the 10-minute mixed load against the real binary on PostgreSQL
soak:
	$(GO) test ./resilience -run 'TestSoak$$' -count=1 -v -timeout=20m -soak=10m

## resilience-long: the fault, kill, isolation and round-trip suites at full size (about 30 minutes)
resilience-long:
	$(GO) test ./resilience -count=1 -v -timeout=60m -run 'Outage|Kill|RoundTrip' -outages=5 -kills=25 -roundtrip.rows=1000000
	$(GO) test ./server -count=1 -run 'TestTenantIsolation' -isolation.rounds=2000

## bench: the list benchmark as users run it (1M rows loaded by migrate + import, then Q1-Q11 through
## the server and with pgbench) on a stock PostgreSQL cluster, a tuned one and SQLite; the request
## path's Go benchmarks; the uploads section (24 MiB creates, refused anonymous uploads); writes
## BENCHMARKS.md. About 20 minutes on an idle machine; BENCH_FLAGS adds flags (-only uploads: that
## alone; -scale 100000,5000000: Q1/Q2 at those sizes too, about 10 minutes more)
bench: build bench-build
	./$(BENCH) -refactor $(BIN) $(BENCH_FLAGS)

## bench-smoke: the same benchmark, tiny and short, to check that it runs (under a minute; the
## tuned setup is the stock one's code with other settings, so it is left out)
bench-smoke: build bench-build
	./$(BENCH) -refactor $(BIN) -rows 20000 -setups stock,sqlite -duration 500ms -warmup 0 -gobench-time 1x \
		-profile 0 -upload-mib 1 -work "$${TMPDIR:-/tmp}/refactor-bench-smoke" -out "$${TMPDIR:-/tmp}/BENCHMARKS.smoke.md"

## bench-build: the benchmark program, a module of its own (bench/) so that its load
## generator is no requirement of the server's
bench-build:
	$(GO) -C bench build -o ../$(BENCH) .

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

lint: vet fmt-check staticcheck tidy-check

vet:
	$(GO) vet $(PKGS)
	$(GO) -C bench vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^gen/')); test -z "$$out" || (echo "gofmt would change: $$out" >&2; exit 1)

# Built once from the root module's pinned version, then run in each module.
staticcheck:
	$(GO) build -o bin/staticcheck honnef.co/go/tools/cmd/staticcheck
	bin/staticcheck $$($(GO) list $(PKGS) | grep -v '/gen$$')
	cd bench && ../bin/staticcheck ./...

## tidy-check: fail when `go mod tidy` would change go.mod or go.sum, in the root
## module and in every module nested in the tree (bench/)
tidy-check:
	@for mod in $$(git ls-files --cached --others --exclude-standard -- go.mod '*/go.mod'); do \
		dir=$$(dirname $$mod); \
		(cd $$dir && $(GO) mod tidy -diff) || { echo "go mod tidy would change $$dir/go.mod or go.sum: run it there and commit" >&2; exit 1; }; \
	done

## check: everything CI runs
check: check-generate lint test

## node-deps: install the pinned Node tools (Prism, Spectral, Redocly) and the SDK's packages
node-deps:
	npm ci --prefix e2e --no-audit --no-fund --loglevel=error
	npm ci --prefix sdk/typescript --no-audit --no-fund --loglevel=error
	npm ci --prefix console --no-audit --no-fund --loglevel=error

## console: rebuild the web console (console/ → server/console/, committed) after make node-deps
console:
	npm run --prefix console --silent build

## check-console: fail when the committed console bundle is not what the sources and lockfiles build
check-console: console
	@git diff --exit-code --stat -- server/console || (echo "server/console is stale: run make console and commit it" >&2; exit 1)
	@test -z "$$(git status --porcelain -- server/console)" || (git status --porcelain -- server/console; echo "server/console has uncommitted files" >&2; exit 1)

## console-test: the browser suite: the real binary, Debian's Chromium through playwright-core, axe-core
console-test: build
	npm test --prefix console

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
