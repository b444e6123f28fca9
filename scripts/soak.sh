#!/usr/bin/env bash
# The mixed-fault soak (issue 9): the real server(s) under a mixed client load for N minutes
# while faults are injected on a seeded random schedule (kill -9, SIGTERM, never-satisfiable
# token waits, a full disk when run as root; on Kafka also crm-command / crm-projector kills and
# a broker outage), checking that nothing acknowledged is lost or duplicated and that the views
# agree with the answers. Prints the figures at the end; exit 0 if every check passed.
#
#   scripts/soak.sh [--minutes N | --short] [--engine embedded|kafka] [--seed S] [soak.py options]
#
# The driver is tests/process/soak.py (its --help lists every option); --short (about a minute,
# each fault kind once) is what the test suite runs (tests/process/test_soak_short.py).
# --engine kafka starts a broker of its own with scripts/kafka/start.sh --fresh on
# SOAK_KAFKA_PORT / SOAK_KAFKA_CONTROLLER_PORT (default 19492 / 19493) and SOAK_KAFKA_DATA_DIR
# (default .cache/kafka-soak/data), and stops it on exit. Builds first unless SOAK_NO_BUILD=1.
# Env: BUILD_DIR (default build), VENV_DIR (default .cache/venv). Figures: docs/soak.md.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export BUILD_DIR="${BUILD_DIR:-build}"
PY="${VENV_DIR:-$ROOT/.cache/venv}/bin/python"

engine=embedded
for ((i = 1; i <= $#; i++)); do
  case "${!i}" in
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    --engine) j=$((i + 1)); engine="${!j:-}" ;;
    --engine=*) engine="${!i#--engine=}" ;;
  esac
done

if [[ "${SOAK_NO_BUILD:-0}" != 1 ]]; then
  scripts/build.sh >&2
fi
if [[ ! -x "$PY" ]]; then
  scripts/install-deps.sh >&2
fi

if [[ "$engine" == kafka ]]; then
  export KAFKA_PORT="${SOAK_KAFKA_PORT:-19492}"
  export KAFKA_CONTROLLER_PORT="${SOAK_KAFKA_CONTROLLER_PORT:-19493}"
  export KAFKA_DATA_DIR="${SOAK_KAFKA_DATA_DIR:-$ROOT/.cache/kafka-soak/data}"
  # The broker is killed and restarted by the soak itself (kafkatest.stop_broker/start_broker
  # read the three variables above); this trap makes sure it is gone at the end.
  trap 'scripts/kafka/stop.sh >&2 || scripts/kafka/stop.sh --kill >&2 || true' EXIT
  CRM_KAFKA_BROKERS="$(scripts/kafka/start.sh --fresh)"
  export CRM_KAFKA_BROKERS
  echo "[soak] Kafka broker $CRM_KAFKA_BROKERS (data $KAFKA_DATA_DIR)" >&2
fi

CRM_BUILD_DIR="$BUILD_DIR" "$PY" tests/process/soak.py "$@"
