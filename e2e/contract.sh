#!/usr/bin/env bash
# Contract check: runs the end-to-end traffic (the Go client suite in e2e/
# and the TypeScript SDK test) through Prism's validating proxy, once against
# our openapi.yaml and once against the vendor's published file, and fails on
# any violation Prism reports for a response, and on any request Prism and
# the server judge differently (Prism finds it invalid and the server
# accepts it, or the server answers 400 to one Prism finds valid). One
# server serves both passes.
#
#   e2e/contract.sh            build cmd/refactor, seed a fresh SQLite database
#                              with e2e/testdata/seed.jsonl and serve it locally
#   E2E_UPSTREAM=https://api.example.com E2E_JWT_SECRET=... e2e/contract.sh
#                              check a deployment instead; its database must
#                              hold the seed (refactor import --file
#                              e2e/testdata/seed.jsonl) and it must verify
#                              tokens with E2E_JWT_SECRET
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

wait_for() { # URL SECONDS LOG
  for _ in $(seq 1 $(($2 * 10))); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "contract: $1 did not answer within $2 s; log:" >&2
  cat "$3" >&2
  return 1
}

[ -d e2e/node_modules ] || npm ci --prefix e2e --no-audit --no-fund --loglevel=error
[ -d sdk/typescript/node_modules ] || npm ci --prefix sdk/typescript --no-audit --no-fund --loglevel=error

npm run --prefix sdk/typescript --silent build
go build -o "$work/refactor" ./cmd/refactor
upstream=${E2E_UPSTREAM:-}
if [ -z "$upstream" ]; then
  export E2E_JWT_SECRET
  E2E_JWT_SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
  port=$(free_port)
  upstream=http://127.0.0.1:$port
  export DATABASE_URL=sqlite:$work/db.sqlite BLOB_URL=file://$work/blobs
  "$work/refactor" import --file e2e/testdata/seed.jsonl
  JWT_SECRET=$E2E_JWT_SECRET LISTEN_ADDR=127.0.0.1:$port "$work/refactor" serve >"$work/serve.log" 2>&1 &
  pids+=($!)
  wait_for "$upstream/readyz" 15 "$work/serve.log"
fi
: "${E2E_JWT_SECRET:?set E2E_JWT_SECRET to the secret the server verifies tokens with}"
token=$(JWT_SECRET=$E2E_JWT_SECRET "$work/refactor" token --account e2e --scope resources:read --ttl 30m)
write_token=$(JWT_SECRET=$E2E_JWT_SECRET "$work/refactor" token --account e2e-writer --scope "resources:read resources:write" --ttl 30m)

# Both proxies start together; Prism takes a few seconds to boot.
declare -A specs=([ours]="$root/openapi.yaml" [published]="$root/server/testdata/list-resources.published.yaml")
declare -A proxies
for name in ours published; do
  p=$(free_port)
  e2e/node_modules/.bin/prism proxy "${specs[$name]}" "$upstream" --host 127.0.0.1 --port "$p" >"$work/prism-$name.log" 2>&1 &
  pids+=($!)
  proxies[$name]=http://127.0.0.1:$p
done

status=0
for name in ours published; do
  wait_for "${proxies[$name]}/healthz" 60 "$work/prism-$name.log" || { status=1; continue; }
  echo "== contract pass: $name (${specs[$name]#"$root"/})"
  E2E_BASE_URL=${proxies[$name]} E2E_DIRECT_URL=$upstream E2E_SPEC=${specs[$name]} E2E_PRISM=true \
    go test -count=1 -v ./e2e >"$work/go-$name.log" 2>&1 || status=1
  grep -E '^(--- FAIL|FAIL|ok|panic)|Prism:' "$work/go-$name.log" || true
  echo "go e2e: $(grep -c '^\s*--- PASS' "$work/go-$name.log") passed, $(grep -c '^\s*--- FAIL' "$work/go-$name.log") failed, $(grep -c '^\s*--- SKIP' "$work/go-$name.log") skipped"
  # The links routes are ours only: the published pass leaves their test out.
  # Resumable uploads go to the server itself: binary PATCH bodies are no
  # business of Prism's; the pass over our spec runs them once. So are the
  # events and webhooks: their test starts its own server (REFACTOR_BIN),
  # which may deliver to the test's loopback receiver.
  links_token=$write_token; upload_url=$upstream; bin=$work/refactor
  [ "$name" = ours ] || { links_token=; upload_url=; bin=; }
  (cd sdk/typescript && API_URL=${proxies[$name]} API_TOKEN=$token API_WRITE_TOKEN=$links_token API_UPLOAD_URL=$upload_url REFACTOR_BIN=$bin PRISM=true node --test dist/test/) >"$work/ts-$name.log" 2>&1 || status=1
  grep -E '^# (pass|fail)|^not ok' "$work/ts-$name.log" | tr '\n' ' '; echo "(TypeScript SDK)"
  log=$work/prism-$name.log
  echo "prism: $(grep -c 'Request received' "$log") requests proxied," \
    "$(grep -c 'Violation: request' "$log") request violations (bad requests sent on purpose; the suites fail where the server disagrees)," \
    "$(grep -c 'Violation: response' "$log") response violations"
  if grep -q 'Violation: response' "$log"; then
    grep 'Violation: response' "$log" | sort | uniq -c >&2
    status=1
  fi
  if [ "$status" != 0 ]; then
    cat "$work/go-$name.log" "$work/ts-$name.log" >&2
  fi
done
exit $status
