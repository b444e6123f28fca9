#!/usr/bin/env bash
# Command throughput and latency from outside, with ghz (a gRPC load generator from the Go module
# proxy, installed into .cache/bin on first use), against the real binaries:
#   bench/commands.sh embedded            crm-server on its embedded log
#   bench/commands.sh kafka               crm-command + crm-projector on the broker at
#                                         CRM_KAFKA_BROKERS (default: start scripts/kafka's own)
# For each concurrency in CONCURRENCY (default "1 16 64 256") it runs RegisterCustomer (a new
# customer per call) and, as the ceiling, grpc.health.v1.Health/Check, REQUESTS calls each
# (default 3000), RUNS times (default 1), and prints one markdown row per run: rate, p50, p99,
# and the ratio to the health check at the same concurrency. A benchmark, not a test: numbers go
# to docs/ or an issue note. BENCH_LOG_DIR: keep the servers' logs there.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
ENGINE="${1:-embedded}"
BUILD_DIR="${BUILD_DIR:-build}"
REQUESTS="${REQUESTS:-3000}"
RUNS="${RUNS:-1}"
CONCURRENCY="${CONCURRENCY:-1 16 64 256}"
GHZ="$ROOT/.cache/bin/ghz"
if [[ ! -x "$GHZ" ]]; then
  echo "[bench] installing ghz into .cache/bin" >&2
  GOBIN="$ROOT/.cache/bin" go install github.com/bojand/ghz/cmd/ghz@v0.120.0
fi
WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [[ -n "${BENCH_LOG_DIR:-}" ]]; then mkdir -p "$BENCH_LOG_DIR" && cp "$WORK"/*.log "$BENCH_LOG_DIR"/; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

wait_port() {  # wait_port FILE: prints the port once the process wrote it
  for _ in $(seq 1 600); do
    if [[ -s "$1" ]]; then cat "$1"; return 0; fi
    sleep 0.1
  done
  echo "[bench] no port in $1" >&2
  return 1
}

if [[ "$ENGINE" == "embedded" ]]; then
  "$BUILD_DIR/apps/crm_server/crm-server" --data-dir "$WORK/data" --listen 127.0.0.1:0 \
    --port-file "$WORK/port" --log-level warn >"$WORK/server.log" 2>&1 &
  PIDS+=($!)
  PORT="$(wait_port "$WORK/port")"
else
  if [[ -z "${CRM_KAFKA_BROKERS:-}" ]]; then
    # The scripts' broker runs C1-only for a quick start; a benchmark wants the full JIT.
    CRM_KAFKA_BROKERS="$(KAFKA_JVM_OPTS="${KAFKA_JVM_OPTS:--XX:TieredStopAtLevel=4}" \
      scripts/kafka/start.sh)"
  fi
  PREFIX="bench-$(date +%s)"
  ARGS=(--engine kafka --kafka-brokers "$CRM_KAFKA_BROKERS" --kafka-topic-prefix "$PREFIX"
        --log-level warn ${EXTRA_ARGS:-})
  "$BUILD_DIR/apps/crm_command/crm-command" "${ARGS[@]}" --data-dir "$WORK/command" \
    --listen 127.0.0.1:0 --port-file "$WORK/port" >"$WORK/command.log" 2>&1 &
  PIDS+=($!)
  PORT="$(wait_port "$WORK/port")"
  "$BUILD_DIR/apps/crm_projector/crm-projector" "${ARGS[@]}" --data-dir "$WORK/projector" \
    --listen 127.0.0.1:0 --port-file "$WORK/pport" >"$WORK/projector.log" 2>&1 &
  PIDS+=($!)
  wait_port "$WORK/pport" >/dev/null
fi

run() {  # run CALL DATA CONCURRENCY: prints "rate p50_ms p99_ms"
  local connections=$(($3 < 4 ? $3 : 4))
  "$GHZ" --insecure --call "$1" -d "$2" -c "$3" -n "$REQUESTS" --connections "$connections" -O json \
    "127.0.0.1:$PORT" 2>/dev/null | python3 -c '
import json, sys
r = json.load(sys.stdin)
lat = {d["percentage"]: d["latency"] / 1e6 for d in r.get("latencyDistribution") or []}
errors = sum(v for k, v in (r.get("statusCodeDistribution") or {}).items() if k != "OK")
rps = r["rps"]
print(f"{rps:.0f} {lat.get(50, 0):.1f} {lat.get(99, 0):.1f} {errors}")'
}

echo "| engine | command | concurrency | rate/s | p50 ms | p99 ms | errors | health rate/s | ratio |"
echo "|---|---|---|---|---|---|---|---|---|"
for c in $CONCURRENCY; do
  for r in $(seq 1 "$RUNS"); do
    read -r hrate _ _ _ < <(run grpc.health.v1.Health/Check '{}' "$c")
    read -r rate p50 p99 errs < <(run crm.v1.CustomerCommandService/RegisterCustomer \
      '{"customer_id":"{{newUUID}}","customer":{"display_name":"Bench","kind":"COMPANY"}}' "$c")
    ratio="$(python3 -c "print(f'{$rate / max($hrate, 1):.3f}')")"
    echo "| $ENGINE | RegisterCustomer | $c | $rate | $p50 | $p99 | $errs | $hrate | $ratio |"
  done
done
