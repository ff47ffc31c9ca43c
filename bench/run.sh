#!/usr/bin/env bash
# Runs the benchmarks of BENCHMARKS.md on this machine and prints every figure.
#   bench/run.sh [conditions] [engine] [http] [nats] [deliveries] [replay]     (all without arguments)
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
if [ ${#SECTIONS[@]} -eq 0 ]; then SECTIONS=(conditions engine http nats deliveries replay); fi

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

# The events of `load ingest` (bench/src/bin/load.rs, `event`), as NDJSON: $1 events, $2 customers.
events_file() {
  python3 - "$1" "$2" <<'PY'
import json, sys, datetime
n, customers = int(sys.argv[1]), int(sys.argv[2])
types = ["order.completed", "app.opened", "product.viewed", "order.completed"]
categories = ["shoes", "bags", "hats", "coats", "socks"]
start = 1_796_083_200
for i in range(n):
    mix = (i * 0x9E3779B97F4A7C15) % (1 << 64)
    at = datetime.datetime.fromtimestamp(start + 2 * i, datetime.timezone.utc).isoformat()
    print(json.dumps({"id": f"load-{i}", "customer_id": f"c{mix % customers}",
        "type": types[(mix >> 20) % 4], "occurred_at": at,
        "attributes": {"amount": (mix >> 32) % 80, "category": categories[(mix >> 40) % 5]}}))
PY
}

# Events in the database's inbox.
inbox() { psql "$PG/offerflow_bench" -tAc 'SELECT count(*) FROM inbox'; }

# Waits until the inbox holds $1 events; prints the rate from the first event in to the last.
time_inbox() {
  local total=$1 first="" t0 t1 n0=0 n
  while :; do
    n=$(inbox)
    if [ -z "$first" ] && [ "$n" -gt 0 ]; then first=1; t0=$(date +%s.%N); n0=$n; fi
    if [ "$n" -ge "$total" ]; then t1=$(date +%s.%N); break; fi
    sleep 0.1
  done
  python3 -c "print(f'{($total - $n0) / ($t1 - $t0):,.0f} events/s ({$total - $n0} events in {$t1 - $t0:.2f} s)')"
}

fresh_pg() {
  psql "$PG/postgres" -qc 'DROP DATABASE IF EXISTS offerflow_bench' -c 'CREATE DATABASE offerflow_bench'
}

# Nodes consuming a stream filled beforehand: $1 nodes.
nats_run() {
  local nodes=$1 url="$PG/offerflow_bench" stream="BENCH_EVENTS_$1_$$"
  fresh_pg
  serve "$url"
  "$LOAD" setup --url http://127.0.0.1:18080 --key "$KEY" --customers 10000 campaigns/examples/*.yaml
  kill $SERVER; wait $SERVER 2>/dev/null || true
  OFFERFLOW_NATS_STREAM=$stream OFFERFLOW_NATS_SUBJECT="bench.$$.$1.>" "$OFFERFLOW" events publish "$EVENTS"
  step "NATS into PostgreSQL: $nodes node(s) consume $TOTAL events"
  local pids=()
  for i in $(seq 1 "$nodes"); do
    OFFERFLOW_DATABASE_URL=$url OFFERFLOW_LISTEN=127.0.0.1:$((18080 + i)) OFFERFLOW_LOG_LEVEL=warn \
      OFFERFLOW_MAX_BATCH=1000 OFFERFLOW_NATS_URL=$NATS OFFERFLOW_NATS_STREAM=$stream \
      OFFERFLOW_NATS_SUBJECT="bench.$$.$1.>" "$OFFERFLOW" serve >/tmp/offerflow-bench-node-$i.log 2>&1 &
    pids+=($!)
  done
  time_inbox "$TOTAL"
  kill "${pids[@]}"; wait "${pids[@]}" 2>/dev/null || true
}

if want nats; then
  NATS=${OFFERFLOW_BENCH_NATS:-nats://127.0.0.1:4222}
  TOTAL=200000
  EVENTS=$(mktemp)
  events_file "$TOTAL" 10000 > "$EVENTS"
  step "the same events over HTTP into PostgreSQL: POST /v1/events, NDJSON batches of 1,000, 4 connections"
  fresh_pg
  serve "$PG/offerflow_bench"
  "$LOAD" setup --url http://127.0.0.1:18080 --key "$KEY" --customers 10000 campaigns/examples/*.yaml
  BATCHES=$(mktemp -d); split -l 1000 "$EVENTS" "$BATCHES/b"
  ls "$BATCHES"/b* | xargs -P 4 -I{} curl -sf -o /dev/null -H "authorization: Bearer $KEY" \
    -H 'content-type: application/x-ndjson' --data-binary @{} http://127.0.0.1:18080/v1/events &
  POSTS=$!
  # (`wait` alone would also wait for the server.)
  time_inbox "$TOTAL"; wait $POSTS
  kill $SERVER; wait $SERVER 2>/dev/null || true
  rm -rf "$BATCHES"
  nats_run 1
  nats_run 2
  rm -f "$EVENTS"
fi

deliveries_run() { # name url
  step "reward delivery on $1: webhooks to a local receiver (ceiling, throughput, latency at 1,000 rewards/s)"
  OFFERFLOW_WEBHOOK_ALLOW_PRIVATE_TARGETS=true serve "$2"
  "$ROOT/bench/target/release/deliveries" --url http://127.0.0.1:18080 --key "$KEY" \
    --events 50000 --rate 1000 --seconds 30 --concurrency 8
  kill $SERVER; wait $SERVER 2>/dev/null || true
}

if want deliveries; then
  DIR=$(mktemp -d)
  deliveries_run SQLite "sqlite:$DIR/bench.db?mode=rwc"
  fresh_pg
  deliveries_run PostgreSQL "$PG/offerflow_bench"
  rm -rf "$DIR"
fi

if want replay; then
  step "replay of a generated 1,000,000-event fixture (in-memory SQLite)"
  "$OFFERFLOW" fixtures generate --customers 10000 --events 1000000 --seed 1 --out /tmp/offerflow-m1
  /usr/bin/time -v "$OFFERFLOW" replay /tmp/offerflow-m1/fixture.json 2>&1 | grep -E 'PASS|FAIL|events:|rewards issued|Elapsed|Maximum resident'
fi
