#!/usr/bin/env bash
# The benchmark (issue 12): commands, queries, command-to-query lag, Kafka's own ceiling, fold and
# rebuild rates against raw RocksDB, resources and growth, each figure next to its ceiling measured
# in the same run. Installs what it needs (scripts/install-deps.sh --bench: ghz, matplotlib; the
# kafka-tools jars: scripts/kafka/fetch-tools.sh), builds the servers and bench/'s programs, starts
# a Kafka broker of its own, runs bench/bench.py and writes the report with bench/report.py.
#
#   scripts/bench.sh            the full benchmark (the better part of an hour): raw results in
#                               bench/results/ (git ignores it), the report in docs/performance.md
#                               and docs/images/performance-latency-throughput.png
#   scripts/bench.sh --short    everything with tiny sizes and durations (about a minute), no
#                               thresholds: the test command runs it so the benchmark never rots.
#                               Writes to $BUILD_DIR/bench-short/ only, never to docs/.
#   scripts/bench.sh --engines growth --keep
#                               reruns some parts (here growth, fold and rebuild) and keeps the
#                               others from the last results; the report says which run each
#                               part comes from.
#
# Other arguments go to bench/bench.py (--runs N, --duration SECONDS, --engines
# embedded,kafka,growth, --note TEXT). Exit status: non-zero if a step failed or any call of the
# load answered an error (a benchmark whose requests are wrong measures nothing).
# Env: BUILD_DIR (default build); BENCH_OUT (where results go); BENCH_NO_BUILD=1 skips the build;
# CRM_KAFKA_BROKERS: use that broker (KAFKA_DATA_DIR: its data dir, for its pid and disk use),
# else one of its own on BENCH_KAFKA_PORT / BENCH_KAFKA_CONTROLLER_PORT (default 19692 / 19693)
# with data in BENCH_KAFKA_DATA_DIR (default .cache/kafka-bench/data), the full JIT, stopped on
# exit. What each figure means: bench/README.md and docs/performance.md.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export BUILD_DIR="${BUILD_DIR:-build}"
PY="${VENV_DIR:-$ROOT/.cache/venv}/bin/python"
PLOT_PY="${BENCH_VENV_DIR:-$ROOT/.cache/venv-bench}/bin/python"
log() { echo "[bench] $*" >&2; }

short=0
keep=0
engines="embedded,kafka,growth"
pass=()
for ((i = 1; i <= $#; i++)); do
  case "${!i}" in
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    --short) short=1; pass+=(--short) ;;
    --keep) keep=1 ;;
    --engines) j=$((i + 1)); engines="${!j:-}"; i=$j ;;
    --engines=*) engines="${!i#--engines=}" ;;
    *) pass+=("${!i}") ;;
  esac
done
started=$(date +%s)

scripts/install-deps.sh --bench >&2
TOOLS=""
if [[ ",$engines," == *,kafka,* ]]; then
  TOOLS="$(scripts/kafka/fetch-tools.sh)"
fi
if [[ "${BENCH_NO_BUILD:-0}" != 1 ]]; then
  BUILD_TARGETS="crm-server crm-command crm-projector rocksdb_write_bench" scripts/build.sh >&2
fi
mkdir -p "$BUILD_DIR/bench"
cc -O2 -Wall -o "$BUILD_DIR/bench/txn_ceiling" bench/txn_ceiling.c -lrdkafka

if ((short)); then
  OUT="${BENCH_OUT:-$BUILD_DIR/bench-short}"
  DOC="$OUT/performance.md"
else
  OUT="${BENCH_OUT:-$ROOT/bench/results}"
  DOC="$ROOT/docs/performance.md"
fi
if ((keep)); then
  # The parts not measured now come from the last results (bench.py --keep).
  [[ -f "$OUT/results.json" ]] || { log "--keep: no $OUT/results.json to keep parts from"; exit 2; }
  KEPT="$BUILD_DIR/bench/kept-results.json"
  cp "$OUT/results.json" "$KEPT"
  pass+=(--keep "$KEPT")
fi
rm -rf "$OUT"
mkdir -p "$OUT"

if [[ ",$engines," == *,kafka,* && -z "${CRM_KAFKA_BROKERS:-}" ]]; then
  export KAFKA_PORT="${BENCH_KAFKA_PORT:-19692}"
  export KAFKA_CONTROLLER_PORT="${BENCH_KAFKA_CONTROLLER_PORT:-19693}"
  export KAFKA_DATA_DIR="${BENCH_KAFKA_DATA_DIR:-$ROOT/.cache/kafka-bench/data}"
  trap 'scripts/kafka/stop.sh >&2 || scripts/kafka/stop.sh --kill >&2 || true' EXIT
  # The scripts' broker runs the C1 JIT only, for a quick start; a benchmark wants the full JIT.
  CRM_KAFKA_BROKERS="$(KAFKA_JVM_OPTS="${KAFKA_JVM_OPTS:--XX:TieredStopAtLevel=4}" \
    scripts/kafka/start.sh --fresh)"
  export CRM_KAFKA_BROKERS
  log "Kafka broker $CRM_KAFKA_BROKERS (data $KAFKA_DATA_DIR)"
fi

rc=0
CRM_BUILD_DIR="$BUILD_DIR" "$PY" bench/bench.py --out "$OUT" --engines "$engines" \
  --ghz "$ROOT/.cache/bin/ghz" --kafka-tools "$TOOLS" \
  --txn-ceiling "$BUILD_DIR/bench/txn_ceiling" \
  --rocksdb-bench "$BUILD_DIR/bench/rocksdb_write_bench" "${pass[@]}" || rc=$?
if [[ -f "$OUT/results.json" ]]; then
  "$PLOT_PY" bench/report.py --results "$OUT/results.json" --markdown "$DOC" \
    --wall-seconds $(($(date +%s) - started)) || rc=$?
fi
log "done in $(($(date +%s) - started)) s (exit $rc): $DOC, raw results in $OUT"
exit "$rc"
