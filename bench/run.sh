#!/usr/bin/env bash
# Runs the benchmarks of BENCHMARKS.md on this machine and prints every figure.
#   bench/run.sh [conditions] [engine] [http] [replay]     (all of them without arguments)
# Installs what it needs: json-rules-engine from npm (Node.js must be on the machine), and
# builds the release `offerflow` binary and this folder's benchmarks.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OFFERFLOW=$ROOT/target/release/offerflow
LOAD=$ROOT/bench/target/release/load
PG=${OFFERFLOW_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432}
step() { printf '\n==> %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }
want() { [ $# -eq 0 ] && return 0; for w in "${SECTIONS[@]}"; do [ "$w" = "$1" ] && return 0; done; return 1; }
SECTIONS=("$@")
if [ ${#SECTIONS[@]} -eq 0 ]; then SECTIONS=(conditions engine http replay); fi

step "machine"
uname -srm; nproc; grep -m1 'model name' /proc/cpuinfo || true; free -g | head -2

step "build"
cargo build --release --bin offerflow
(cd bench && cargo build --release --bins)

if want conditions; then
  step "condition evaluation: offerflow, cel, zen-expression (criterion)"
  (cd bench && ./target/release/conditions-data node/facts.json && cargo bench --bench conditions)
  step "condition evaluation: json-rules-engine (node)"
  (cd bench/node && npm install --no-audit --no-fund --silent && node conditions.js)
fi

if want engine; then
  step "pure engine: 50 campaigns, 10 event types, 10,000 customers (criterion, one core)"
  cargo bench -p engine --bench engine
fi

# Starts the release server on database $1 and sets KEY; the server is stopped at exit.
serve() {
  local url=$1
  KEY=$("$OFFERFLOW" keys create --name bench --scopes admin --database-url "$url")
  OFFERFLOW_DATABASE_URL=$url OFFERFLOW_LISTEN=127.0.0.1:18080 OFFERFLOW_RATE_LIMIT_PER_SECOND=0 \
    OFFERFLOW_MAX_BATCH=${OFFERFLOW_MAX_BATCH:-1000} OFFERFLOW_LOG_LEVEL=warn \
    "$OFFERFLOW" serve >/tmp/offerflow-bench-server.log 2>&1 &
  SERVER=$!
  trap 'kill $SERVER 2>/dev/null || true' EXIT
  for _ in $(seq 1 50); do curl -sf http://127.0.0.1:18080/healthz >/dev/null && return 0; sleep 0.2; done
  echo "the server did not start:" >&2; cat /tmp/offerflow-bench-server.log >&2; exit 1
}

http_run() { # name url
  step "HTTP on $1: setup (example campaigns, 10,000 profiles)"
  serve "$2"
  "$LOAD" setup --url http://127.0.0.1:18080 --key "$KEY" --customers 10000 campaigns/examples/*.yaml
  step "HTTP on $1: durable ingestion, POST /v1/events, NDJSON batches of 1,000, 4 connections"
  "$LOAD" ingest --url http://127.0.0.1:18080 --key "$KEY" --customers 10000 --events 200000 --batch 1000 --concurrency 4
  step "HTTP on $1: offers query, 32 connections, 10 s"
  "$LOAD" offers --url http://127.0.0.1:18080 --key "$KEY" --customers 10000 --seconds 10 --concurrency 32
  kill $SERVER; wait $SERVER 2>/dev/null || true
}

if want http; then
  DIR=$(mktemp -d)
  http_run SQLite "sqlite:$DIR/bench.db?mode=rwc"
  psql "$PG/postgres" -qc 'DROP DATABASE IF EXISTS offerflow_bench' -c 'CREATE DATABASE offerflow_bench'
  http_run PostgreSQL "$PG/offerflow_bench"
  rm -rf "$DIR"
fi

if want replay; then
  step "replay of a generated 1,000,000-event fixture (in-memory SQLite)"
  "$OFFERFLOW" fixtures generate --customers 10000 --events 1000000 --seed 1 --out /tmp/offerflow-m1
  /usr/bin/time -v "$OFFERFLOW" replay /tmp/offerflow-m1/fixture.json 2>&1 | grep -E 'PASS|FAIL|events:|rewards issued|Elapsed|Maximum resident'
fi
