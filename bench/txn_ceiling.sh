#!/usr/bin/env bash
# The Kafka engine's ceiling for one sequential command: bare transactions with crm-command's
# librdkafka and writer settings (bench/txn_ceiling.c), against the broker at CRM_KAFKA_BROKERS
# (default: start scripts/kafka's own, with the full JIT). COUNT transactions (default 2000) of 1
# record, then of 20. A benchmark, not a test: numbers go to docs/benchmarks.md.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BUILD_DIR="${BUILD_DIR:-build}"
COUNT="${COUNT:-2000}"
mkdir -p "$BUILD_DIR/bench"
cc -O2 -Wall -o "$BUILD_DIR/bench/txn_ceiling" bench/txn_ceiling.c -lrdkafka
if [[ -z "${CRM_KAFKA_BROKERS:-}" ]]; then
  CRM_KAFKA_BROKERS="$(KAFKA_JVM_OPTS="${KAFKA_JVM_OPTS:--XX:TieredStopAtLevel=4}" scripts/kafka/start.sh)"
fi
TOPIC="txn-ceiling-$(date +%s)"
"$ROOT/.cache/venv/bin/python" - "$CRM_KAFKA_BROKERS" "$TOPIC" <<'PY'
import sys
from confluent_kafka.admin import AdminClient, NewTopic
admin = AdminClient({"bootstrap.servers": sys.argv[1]})
for f in admin.create_topics([NewTopic(sys.argv[2], 1, 1)]).values():
    f.result()
PY
"$BUILD_DIR/bench/txn_ceiling" "$CRM_KAFKA_BROKERS" "$TOPIC" 200 >/dev/null  # warm-up
"$BUILD_DIR/bench/txn_ceiling" "$CRM_KAFKA_BROKERS" "$TOPIC" "$COUNT" 1
"$BUILD_DIR/bench/txn_ceiling" "$CRM_KAFKA_BROKERS" "$TOPIC" "$COUNT" 20
