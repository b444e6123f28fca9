#!/usr/bin/env bash
# Fuzzes every RPC the server serves, one method per libFuzzer run (tests/fuzz/README.md): builds
# the fuzz tree (clang, libFuzzer, AddressSanitizer, UBSan; only the fuzz target and the libraries
# it needs), lists the methods from the binary, writes each method's seed requests, and runs each
# method for FUZZ_SECONDS on its own corpus. Exits non-zero if any run found a crash, a sanitizer
# report or a broken contract; the input that did it is kept under .cache/fuzz/artifacts.
#
# Usage: scripts/fuzz.sh [--campaign SECONDS] [METHOD_REGEX]
#   (no flag)           the short run of the test command: FUZZ_SECONDS (default 3) per method
#   --campaign SECONDS  a long campaign: SECONDS per method; writes a Markdown table of the
#                       figures to .cache/fuzz/campaign.md (copy it into docs/fuzzing.md)
#   METHOD_REGEX        only the methods matching it (grep -E), e.g. 'Complaint|Customer/Get'
# Env: FUZZ_SECONDS, FUZZ_JOBS (methods run at once, default 2), FUZZ_BUILD_DIR (build-fuzz),
#   FUZZ_DIR (.cache/fuzz: corpus/<method>, artifacts, logs), BUILD_JOBS (default 2),
#   FUZZ_SKIP_BUILD=1 (use the binary already built).
# Corpora persist in FUZZ_DIR, so every run starts from what the earlier ones found.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

SECONDS_PER="${FUZZ_SECONDS:-3}"
CAMPAIGN=0
FILTER=""
while (($#)); do
  case "$1" in
    --campaign) CAMPAIGN=1; SECONDS_PER="${2:?--campaign needs SECONDS}"; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) FILTER="$1"; shift ;;
  esac
done
JOBS="${FUZZ_JOBS:-2}"
BUILD="${FUZZ_BUILD_DIR:-build-fuzz}"
DIR="${FUZZ_DIR:-$ROOT/.cache/fuzz}"
BIN="$BUILD/tests/fuzz/rpc_fuzzer"

log() { echo "[fuzz] $*"; }

if [[ "${FUZZ_SKIP_BUILD:-0}" != 1 ]]; then
  if ! command -v clang++ >/dev/null 2>&1; then
    log "clang++ is missing: run scripts/install-deps.sh"
    exit 1
  fi
  start=$(date +%s)
  BUILD_DIR="$BUILD" BUILD_TARGETS=rpc_fuzzer \
    CMAKE_ARGS="-DCRM_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang" \
    scripts/build.sh || exit 1
  log "fuzz tree built in $(($(date +%s) - start)) s"
fi

# The server's temporary directories: on tmpfs when there is one (its fsyncs cost nothing).
WORK="$(mktemp -d "$( [[ -w /dev/shm ]] && echo /dev/shm || echo "${TMPDIR:-/tmp}")/crm-fuzz.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
export TMPDIR="$WORK"
# Leaks are checked once, when the fuzzer exits and the server has been torn down; during the
# run, memory held by the server's threads between inputs is not a leak.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

mapfile -t METHODS < <("$BIN" -list_methods=1 | grep -E "${FILTER:-.}")
if ((${#METHODS[@]} == 0)); then
  log "no method matches '${FILTER}' (or $BIN -list_methods=1 failed)"
  exit 1
fi
mkdir -p "$DIR/corpus" "$DIR/artifacts" "$DIR/logs" "$WORK/seeds" "$WORK/results"
touch "$WORK/started"
log "${#METHODS[@]} methods, ${SECONDS_PER} s each, $JOBS at a time"

run_one() {  # run_one METHOD: fuzzes it, writes a result line
  local m="$1" id="${1//\//.}"
  local corpus="$DIR/corpus/$id" seeds="$WORK/seeds/$id" out="$DIR/logs/$id.log"
  mkdir -p "$corpus"
  "$BIN" -ignore_remaining_args=1 -method="$m" -write_seeds="$seeds" >"$out" 2>&1 || {
    echo "$m|FAIL (seeds)|0|0|0|0|0" >"$WORK/results/$id"; return; }
  "$BIN" -max_total_time="$SECONDS_PER" -timeout=60 -rss_limit_mb=4096 -max_len=4096 \
    -print_final_stats=1 -artifact_prefix="$DIR/artifacts/$id-" "$corpus" "$seeds" \
    -ignore_remaining_args=1 -method="$m" >"$out" 2>&1
  local rc=$?
  local execs rate cov ft units
  execs="$(grep -oE 'stat::number_of_executed_units: [0-9]+' "$out" | grep -oE '[0-9]+$')"
  rate="$(grep -oE 'stat::average_exec_per_sec: +[0-9]+' "$out" | grep -oE '[0-9]+$')"
  cov="$(grep -oE 'cov: [0-9]+' "$out" | tail -1 | grep -oE '[0-9]+')"
  ft="$(grep -oE 'ft: [0-9]+' "$out" | tail -1 | grep -oE '[0-9]+')"
  units="$(find "$corpus" -type f | wc -l)"
  local result=ok
  [[ $rc -eq 0 ]] || result="FAIL (exit $rc, $out)"
  echo "$m|$result|${execs:-0}|${rate:-0}|${cov:-0}|${ft:-0}|$units" >"$WORK/results/$id"
}

start=$(date +%s)
for m in "${METHODS[@]}"; do
  while (($(jobs -rp | wc -l) >= JOBS)); do wait -n; done
  run_one "$m" &
done
wait
elapsed=$(($(date +%s) - start))

FAILED=0
total_execs=0
table="| method | result | execs | execs/s | cov | ft | corpus |"$'\n'"|---|---|---:|---:|---:|---:|---:|"
for m in "${METHODS[@]}"; do
  line="$(cat "$WORK/results/${m//\//.}" 2>/dev/null || echo "$m|FAIL (no result)|0|0|0|0|0")"
  IFS='|' read -r name result execs rate cov ft units <<<"$line"
  [[ "$result" == ok ]] || FAILED=1
  total_execs=$((total_execs + execs))
  table+=$'\n'"| \`${name}\` | $result | $execs | $rate | $cov | $ft | $units |"
done
echo "$table"
crashes="$(find "$DIR/artifacts" -type f -newer "$WORK/started" | wc -l)"
log "${#METHODS[@]} methods, $total_execs inputs in ${elapsed} s, $crashes new artifacts"
if ((CAMPAIGN)); then
  {
    echo "Campaign of $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD): ${SECONDS_PER} s"
    echo "per method, $JOBS at a time, ${elapsed} s in all, $total_execs inputs, $crashes artifacts."
    echo
    echo "$table"
  } >"$DIR/campaign.md"
  log "figures written to $DIR/campaign.md"
fi
if ((FAILED)); then
  log "FAILED: see the logs above; reproduce with $BIN <artifact> -ignore_remaining_args=1 -method=<method>"
fi
exit "$FAILED"
