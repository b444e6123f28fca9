#!/usr/bin/env bash
# The one test command: installs what is missing, builds, runs the static checks (docker-compose,
# Kubernetes manifests, event protos), the C++ tests (ctest) and the process-level suite (pytest
# tests/process, driving the real crm-server over gRPC; test_image.py builds the container image
# with podman, scripts/image.sh, and runs it), runs the benchmark's short mode
# (scripts/bench.sh --short), then fuzzes every RPC briefly (scripts/fuzz.sh; FUZZ_SECONDS per
# method).
# Exits non-zero if anything failed. Env: BUILD_DIR (default build), BUILD_JOBS (default 2),
# CTEST_JOBS (default 2), PYTEST_ARGS (extra pytest arguments, shell-quoted, e.g.
# PYTEST_ARGS="-x -k 'lifecycle and not churned'"), CRM_TEST_SECURE (default 1: the process
# suite runs every server with TLS and authentication on, tests/process/README.md; 0: plaintext
# and no authentication).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

export BUILD_DIR="${BUILD_DIR:-build}"
VENV="${VENV_DIR:-$ROOT/.cache/venv}"
PY="$VENV/bin/python"

declare -a STEPS=()
FAILED=0
record() {  # record NAME STATUS
  if [[ "$2" -eq 0 ]]; then
    STEPS+=("PASS  $1")
  else
    STEPS+=("FAIL  $1 (exit $2)")
    FAILED=1
  fi
}
LOGS="$BUILD_DIR/test-logs"
mkdir -p "$LOGS"
rm -f "$LOGS"/*.log
count() {  # count WORD LINE: the number before WORD in LINE, or 0
  local n
  n="$(grep -oE "[0-9]+ $1" <<<"$2" | tail -1 | grep -oE '^[0-9]+')"
  echo "${n:-0}"
}
summary() {
  echo
  echo "==================== test summary ===================="
  for s in "${STEPS[@]}"; do echo "  $s"; done
  local passed=0 failed=0 skipped=0 line
  if [[ -f "$LOGS/ctest.log" ]]; then
    line="$(grep -E 'tests passed, [0-9]+ tests failed out of' "$LOGS/ctest.log" | tail -1)"
    echo "  ctest:  ${line:-no result line}"
    [[ -z "$line" ]] && failed=$((failed + 1))
    local total cfailed
    total="$(grep -oE 'out of [0-9]+' <<<"$line" | grep -oE '[0-9]+')"
    cfailed="$(count 'tests failed' "$line")"
    passed=$((passed + ${total:-0} - cfailed))
    failed=$((failed + cfailed))
  fi
  if [[ -f "$LOGS/pytest.log" ]]; then
    line="$(grep -E '[0-9]+ (passed|failed|errors?|skipped).* in [0-9.]+s' "$LOGS/pytest.log" \
      | tail -1)"
    echo "  pytest: ${line:-no result line}"
    [[ -z "$line" ]] && failed=$((failed + 1))
    passed=$((passed + $(count passed "$line")))
    failed=$((failed + $(count failed "$line") + $(count 'errors?' "$line")))
    skipped=$((skipped + $(count skipped "$line")))
  fi
  if [[ "$FAILED" -eq 0 ]]; then
    echo "  RESULT: all steps passed"
  else
    echo "  RESULT: FAILED"
  fi
  echo "======================================================"
  echo "tests: $passed passed, $failed failed, $skipped skipped"
}
step() {  # step NAME CMD...: runs CMD, records its status
  local name="$1"; shift
  echo
  echo "==> $name"
  "$@"
  local rc=$?
  record "$name" "$rc"
  return "$rc"
}

step "install dependencies" scripts/install-deps.sh || { summary; exit 1; }
step "build ($BUILD_DIR)" scripts/build.sh || { summary; exit 1; }

# ---- Kafka: a broker of its own for the Kafka-backed tests ---------------------------------------
# scripts/kafka/start.sh --fresh on a data dir and ports of this script's own (not the developer's
# broker on 19092): wiped at every run, stopped on every exit path (trap). pytest gets its address
# in CRM_KAFKA_BROKERS, and KAFKA_DATA_DIR / KAFKA_PORT / KAFKA_CONTROLLER_PORT so that the
# broker-outage test stops and starts this same broker. Env: TEST_KAFKA_DATA_DIR (default
# .cache/kafka-test/data), TEST_KAFKA_PORT (19192), TEST_KAFKA_CONTROLLER_PORT (19193).
# If the broker does not start, this step fails and the Kafka tests are skipped (fail under CI=true).
export KAFKA_DATA_DIR="${TEST_KAFKA_DATA_DIR:-$ROOT/.cache/kafka-test/data}"
export KAFKA_PORT="${TEST_KAFKA_PORT:-19192}"
export KAFKA_CONTROLLER_PORT="${TEST_KAFKA_CONTROLLER_PORT:-19193}"
unset CRM_KAFKA_BROKERS
KAFKA_STARTED=0
kafka_up() {
  KAFKA_STARTED=1
  local bootstrap
  bootstrap="$(scripts/kafka/start.sh --fresh)" || return 1
  [[ -n "$bootstrap" ]] || return 1
  export CRM_KAFKA_BROKERS="$bootstrap"
  echo "Kafka broker for the tests: $CRM_KAFKA_BROKERS (data $KAFKA_DATA_DIR)"
}
kafka_down() {
  if [[ "$KAFKA_STARTED" -eq 1 ]]; then
    echo "==> stopping the test Kafka broker"
    scripts/kafka/stop.sh || scripts/kafka/stop.sh --kill || true
    KAFKA_STARTED=0
  fi
}
trap kafka_down EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
step "kafka broker (scripts/kafka/start.sh --fresh)" kafka_up
# ---- end Kafka ----------------------------------------------------------------------------------

step "docker-compose.yml renders (scripts/check-compose.sh)" scripts/check-compose.sh

step "Kubernetes manifests render, validate, pass checkov (scripts/check-k8s.sh)" \
  scripts/check-k8s.sh

step "event protos: no breaking change (scripts/check-event-protos.sh)" \
  scripts/check-event-protos.sh

step "ctest" bash -c \
  'set -o pipefail; ctest --test-dir "$1" --output-on-failure -j "$2" 2>&1 | tee "$3"' _ \
  "$BUILD_DIR" "${CTEST_JOBS:-2}" "$LOGS/ctest.log"

gen_stubs() {
  local out="$BUILD_DIR/py"
  rm -rf "$out" && mkdir -p "$out" || return 1
  local protos=()
  mapfile -t protos < <(cd proto && find . -name '*.proto' | sed 's|^\./||' | sort)
  "$PY" -m grpc_tools.protoc -I proto --python_out="$out" --grpc_python_out="$out" "${protos[@]}"
}
# Security on unless told otherwise: TLS from a test CA and the suite's bearer token on every
# process the suite starts (tests about plaintext defaults opt out in the tests themselves). For
# the pytest step only: the benchmark below measures plaintext, unauthenticated servers.
CRM_TEST_SECURE="${CRM_TEST_SECURE:-1}"
if step "python stubs ($BUILD_DIR/py)" gen_stubs; then
  # shellcheck disable=SC2086
  step "pytest tests/process (CRM_TEST_SECURE=$CRM_TEST_SECURE)" bash -c \
    'set -o pipefail; eval "extra=($3)"
     CRM_TEST_SECURE="$5" CRM_BUILD_DIR="$1" "$2" -m pytest -q tests/process "${extra[@]}" 2>&1 \
       | tee "$4"' _ \
    "$BUILD_DIR" "$PY" "${PYTEST_ARGS:-}" "$LOGS/pytest.log" "$CRM_TEST_SECURE"
fi

# The benchmark in its short mode (tiny sizes and durations, no thresholds), so that it never rots:
# every part runs against the real binaries, on this script's broker, and fails on any error the
# load got back. Its figures mean nothing here; it writes $BUILD_DIR/bench-short/, never docs/.
step "benchmark, short mode (scripts/bench.sh --short)" env BENCH_NO_BUILD=1 scripts/bench.sh --short

# Every RPC fuzzed for a few seconds (libFuzzer with ASan and UBSan, in a tree of its own:
# build-fuzz); a longer campaign is scripts/fuzz.sh --campaign SECONDS (docs/fuzzing.md).
step "fuzz every RPC, ${FUZZ_SECONDS:-3} s each (scripts/fuzz.sh)" scripts/fuzz.sh

summary
exit "$FAILED"
