# The two commands a newcomer needs: `make run` and `make test`.
GO      ?= go
BIN     := bin/refactor
BENCH   := bin/refactor-bench
PKGS    := ./...

.PHONY: all build run test tools generate check-generate lint vet fmt-check staticcheck tidy-check check clean \
	node-deps lint-spec contract fuzz soak resilience-long cluster-test bench bench-scale bench-smoke bench-build console check-console console-test

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

## test: the whole test suite (SQLite and PostgreSQL, file:// and S3 storage; see README)
## and the resilience suites in their short form. Deterministic: each fuzz target runs
## only its seeds and its corpus in testdata/fuzz, as plain `go test` does; no new inputs.
## gotestsum runs the root module's tests last, so that the last lines name every test
## skipped and why (what it needs: make node-deps, Chromium, make contract, ...)
test: tools
	$(GO) -C bench test -count=1 ./...
	$(GO) build -o bin/gotestsum gotest.tools/gotestsum
	bin/gotestsum --format standard-quiet -- -race -count=1 $(PKGS)

## fuzz: explore: run each fuzz target on random inputs for FUZZTIME (default 1m), so
## it can find what nobody wrote yet. A failing input is saved under the package's
## testdata/fuzz; commit it with the fix and `make test` runs it from then on
FUZZTIME ?= 1m
FUZZ_TARGETS := server:FuzzListQuery server:FuzzItemPath server:FuzzDataURLPattern upload:FuzzDecode \
	.:FuzzValidateDirectoryPath .:FuzzValidateName .:FuzzNormalizeTags \
	.:FuzzParseTagFilter .:FuzzDecodeLine .:FuzzScanLine
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

## cluster-test: the reference deployment of deploy/ on this machine, from its own HAProxy and
## PgBouncer files: a PostgreSQL primary and streaming replica, PgBouncer in transaction mode,
## three servers, HAProxy, SeaweedFS; mixed load through rolling SIGTERM restarts of every
## server, then a SIGKILL of one (about 2 minutes; needs haproxy and pgbouncer: apt-get install)
cluster-test: tools
	$(GO) test ./resilience -run 'TestDeployment$$' -count=1 -v -timeout=10m -deployment

## bench: the list benchmark as users run it (1M rows loaded by migrate + import, then Q1-Q11 through
## the server and with pgbench) on a stock PostgreSQL cluster, a tuned one and SQLite; the request
## path's Go benchmarks; the uploads section (24 MiB creates, refused anonymous uploads); the links
## section (1 MiB downloads through links against /content, a flood of random link tokens); the sweep
## of every filter combination (280, 2 s each, on each setup); the PgBouncer section (Q1, Q9 and a get
## through PgBouncer in transaction mode against direct, with deploy/pgbouncer.ini); writes
## BENCHMARKS.md. About 50 minutes on an idle machine; BENCH_FLAGS adds flags (-only uploads, -only
## links, -only pgbouncer: that alone; -only sweep: the sweep alone, replacing its section of BENCHMARKS.md)
bench: build bench-build
	./$(BENCH) -refactor $(BIN) $(BENCH_FLAGS)

## bench-scale: the cost curve (opt-in, long: hours at 10M rows on 2 cores): every query of the mix
## at 100,000, 1,000,000 and 10,000,000 rows on stock PostgreSQL and SQLite, loaded by migrate +
## import; replaces its section of BENCHMARKS.md and writes bench/scale-*.svg, which it embeds.
## BENCH_SCALE sets the sizes
BENCH_SCALE ?= 100000,1000000,10000000
bench-scale: build bench-build
	./$(BENCH) -refactor $(BIN) -only scale -scale $(BENCH_SCALE) -setups stock,sqlite -duration 5s -warmup 1s \
		-pgbench=false $(BENCH_FLAGS)

## bench-smoke: the same benchmark, tiny and short, to check that it runs (under a minute; the
## tuned setup is the stock one's code with other settings, so it is left out)
bench-smoke: build bench-build
	./$(BENCH) -refactor $(BIN) -rows 20000 -setups stock,sqlite -duration 500ms -warmup 0 -gobench-time 1x \
		-sweep-duration 20ms -profile 0 -upload-mib 1 -tus-mib 16 -link-downloads 2 -work "$${TMPDIR:-/tmp}/refactor-bench-smoke" -out "$${TMPDIR:-/tmp}/BENCHMARKS.smoke.md"

## bench-build: the benchmark program, a module of its own (bench/) so that its load
## generator is no requirement of the server's
bench-build:
	$(GO) -C bench build -o ../$(BENCH) .

## tools: build the S3 server the storage tests run against (SeaweedFS from the Go
## module proxy, cached outside the repo; about 10 minutes on 2 cores the first time,
## with a progress line every 30 s, then instant)
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

## console: rebuild the web console's bundle (console/src → console/dist/, committed) after make node-deps
console:
	npm run --prefix console --silent build

## check-console: fail when the committed console bundle is not what the sources and lockfiles build
check-console: console
	@git diff --exit-code --stat -- console/dist || (echo "console/dist is stale: run make console and commit it" >&2; exit 1)
	@test -z "$$(git status --porcelain -- console/dist)" || (git status --porcelain -- console/dist; echo "console/dist has uncommitted files" >&2; exit 1)

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
