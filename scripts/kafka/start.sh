#!/usr/bin/env bash
# Starts a single-node Apache Kafka (KRaft, combined broker+controller, node.id=1) on loopback
# for tests and local runs, in the background, and waits until it answers metadata requests.
#
#   scripts/kafka/start.sh [--fresh]
#
#   --fresh   stop a running broker of this data dir and wipe the data dir first
#
# Fetches the jars first (scripts/kafka/fetch.sh). Client listener 127.0.0.1:${KAFKA_PORT:-19092},
# controller 127.0.0.1:${KAFKA_CONTROLLER_PORT:-19093}, state in ${KAFKA_DATA_DIR:-<repo>/.cache/
# kafka-run/data} (server.properties, kafka.log, kafka.pid, kraft-logs/). Formats the storage on
# first use only, so it restarts on existing data (e.g. after scripts/kafka/stop.sh [--kill]).
# If a broker of this data dir is already running, only waits for it to be ready.
# On success prints the bootstrap address (127.0.0.1:PORT) as the only line on stdout. Exits
# non-zero with the tail of the broker log if the broker does not come up within
# KAFKA_START_TIMEOUT (default 60) seconds; a broker this call launched is then killed.
# Readiness: `kcat -L` lists the broker when kcat is installed; without kcat, the port accepts
# connections and the broker logged "Kafka Server started".
# See scripts/kafka/common.sh for the environment variables. Needs Java 17+ and mvn (first fetch).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

fresh=0
for arg in "$@"; do
  case "$arg" in
    --fresh) fresh=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) kafka_die "unknown argument: $arg (usage: $0 [--fresh])" ;;
  esac
done

START_TIMEOUT="${KAFKA_START_TIMEOUT:-60}"
kafka_lock_data_dir
now_ms() { echo $(($(date +%s%N) / 1000000)); }
secs() { printf "%d.%01d" $(($1 / 1000)) $(($1 % 1000 / 100)); }
t0=$(now_ms)

if ((fresh)); then
  if kafka_running_pid >/dev/null; then
    KAFKA_LOCK_HELD=1 "$KAFKA_SCRIPTS_DIR/stop.sh"
  fi
  kafka_log "wiping $KAFKA_DATA_DIR"
  rm -rf "$KAFKA_DATA_DIR"
fi

# Prints the tail of the broker log and fails.
fail_with_log() {
  kafka_log "ERROR: $*"
  if [[ -f "$KAFKA_LOG_FILE" ]]; then
    kafka_log "last lines of $KAFKA_LOG_FILE:"
    tail -n "${KAFKA_LOG_TAIL_LINES:-60}" "$KAFKA_LOG_FILE" >&2
  fi
  exit 1
}

# True when the broker answers a metadata request (kcat), or, without kcat, when the client port
# accepts connections and the broker logged its startup after byte offset $1 of the log.
broker_ready() {
  kafka_port_open "$KAFKA_PORT" || return 1
  if command -v kcat >/dev/null 2>&1; then
    kcat -L -J -b "$KAFKA_BOOTSTRAP" -m 2 2>/dev/null | grep -q '"brokers":\[{"id":1,'
  else
    tail -c "+$(($1 + 1))" "$KAFKA_LOG_FILE" 2>/dev/null | grep -q 'Kafka Server started'
  fi
}

wait_ready() { # $1: pid, $2: log offset at launch, $3: 1 if this script launched it
  local deadline=$((SECONDS + START_TIMEOUT))
  while ((SECONDS < deadline)); do
    if broker_ready "$2"; then
      return 0
    fi
    if ! kafka_pid_alive "$1"; then
      rm -f "$KAFKA_PID_FILE"
      fail_with_log "broker process $1 exited during startup"
    fi
    sleep 0.3
  done
  if [[ "$3" == 1 ]]; then
    kill -KILL "$1" 2>/dev/null || true
    rm -f "$KAFKA_PID_FILE"
    fail_with_log "broker did not answer on $KAFKA_BOOTSTRAP within ${START_TIMEOUT}s (killed pid $1)"
  fi
  fail_with_log "broker did not answer on $KAFKA_BOOTSTRAP within ${START_TIMEOUT}s (pid $1 still running; stop it with $KAFKA_SCRIPTS_DIR/stop.sh)"
}

if pid="$(kafka_running_pid)"; then
  kafka_log "already running (pid $pid, data $KAFKA_DATA_DIR); waiting until ready"
  # Without kcat, readiness is read from the log after the last launch marker.
  marker_offset="$(grep -b -F 'start.sh: starting Kafka' "$KAFKA_LOG_FILE" 2>/dev/null | tail -n1 | cut -d: -f1)"
  wait_ready "$pid" "${marker_offset:-0}" 0
  echo "$KAFKA_BOOTSTRAP"
  exit 0
fi
rm -f "$KAFKA_PID_FILE"

for port in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT" ${KAFKA_PROXIED_PORT:+"$KAFKA_PROXIED_PORT"}; do
  if kafka_port_open "$port"; then
    kafka_die "127.0.0.1:$port is in use by another process (a broker of another data dir? set KAFKA_PORT / KAFKA_CONTROLLER_PORT)"
  fi
done

# Java 17+ is required by the Kafka 4.x broker.
java_version="$("$KAFKA_JAVA" -version 2>&1 | sed -nE 's/.*version "([^"]+)".*/\1/p' | head -n1)" ||
  true
[[ -n "$java_version" ]] || kafka_die "cannot run '$KAFKA_JAVA' (install a JDK/JRE 17+, or set JAVA_HOME)"
java_major="${java_version%%.*}"
[[ "$java_major" == 1 ]] && java_major="$(echo "$java_version" | cut -d. -f2)"
((java_major >= 17)) || kafka_die "Java 17+ required, '$KAFKA_JAVA' is $java_version (set JAVA_HOME)"

libs="$("$KAFKA_SCRIPTS_DIR/fetch.sh")"
t_fetched=$(now_ms)

mkdir -p "$KAFKA_DATA_DIR" "$KAFKA_LOG_DIRS"
# kafka.log is appended to across runs; keep one older generation once it passes 50 MB.
if [[ -f "$KAFKA_LOG_FILE" ]] && (($(stat -c %s "$KAFKA_LOG_FILE") > 50 * 1024 * 1024)); then
  mv -f "$KAFKA_LOG_FILE" "$KAFKA_LOG_FILE.1"
fi

# A second client listener behind a proxy (KAFKA_PROXIED_PORT, KAFKA_PROXY_ADDRESS): clients that
# bootstrap through the proxy get the proxy's address in their metadata, so all their traffic goes
# through it; the broker's own traffic and other clients stay on PLAINTEXT.
listeners="PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT"
advertised="PLAINTEXT://127.0.0.1:$KAFKA_PORT"
protocols="CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
if [[ -n "$KAFKA_PROXIED_PORT" ]]; then
  listeners+=",PROXIED://127.0.0.1:$KAFKA_PROXIED_PORT"
  advertised+=",PROXIED://$KAFKA_PROXY_ADDRESS"
  protocols+=",PROXIED:PLAINTEXT"
fi

cat >"$KAFKA_CONFIG_FILE" <<PROPS
# Generated by scripts/kafka/start.sh on each start; edits are overwritten.
# Single-node KRaft: combined broker + controller, static quorum of one voter.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=$listeners
advertised.listeners=$advertised
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=$protocols

log.dirs=$KAFKA_LOG_DIRS
num.partitions=3
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=false

# Internal topics on a single node: replication factor 1, few partitions (quick to create).
offsets.topic.replication.factor=1
offsets.topic.num.partitions=5
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=5
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1

# Consumer groups rebalance at once (no 3 s wait for more members).
group.initial.rebalance.delay.ms=0

# After a crash (stop.sh --kill) the restarted node cannot register again until the controller
# expires the old incarnation's session: keep that short (defaults: 9000 / 2000 ms).
broker.session.timeout.ms=4000
broker.heartbeat.interval.ms=500
PROPS

cat >"$KAFKA_LOG4J_FILE" <<'LOG4J'
# Generated by scripts/kafka/start.sh. Everything goes to stdout, which start.sh appends to kafka.log.
status = warn
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.state.name = state.change.logger
logger.state.level = WARN
LOG4J

classpath="$libs/*"
log4j_opt="-Dlog4j2.configurationFile=$KAFKA_LOG4J_FILE"
# C1 only: the JIT's C2 compiler threads slow startup noticeably on a busy 2-core machine, and a
# local test broker does not need peak throughput. Override with KAFKA_JVM_OPTS=-XX:TieredStopAtLevel=4.
# shellcheck disable=SC2206
jvm_opts=(-server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35
  -XX:+ExplicitGCInvokesConcurrent -XX:TieredStopAtLevel=1 -Djava.awt.headless=true
  -XX:ErrorFile="$KAFKA_DATA_DIR/hs_err_pid%p.log" ${KAFKA_JVM_OPTS:-})
# shellcheck disable=SC2206
heap_opts=(${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m})

# Class data sharing (KAFKA_CDS=0 turns it off): the first broker run records the classes it
# loaded into kafka.jsa.new in the data dir when it exits cleanly (stop.sh); the next start checks
# that archive (a JVM that maps a truncated archive crashes) and moves it to the jar cache, where
# every later start and format uses it: about 3 s less per start.
cds_archive="$KAFKA_CACHE_DIR/$KAFKA_VERSION/kafka-java$java_version.jsa"
cds_new="$KAFKA_DATA_DIR/kafka.jsa.new"
cds_use=()
cds_record=()
if [[ "${KAFKA_CDS:-1}" != 0 ]]; then
  if [[ -f "$cds_new" && ! -f "$cds_archive" ]]; then
    if (cd "$KAFKA_DATA_DIR" && "$KAFKA_JAVA" -XX:SharedArchiveFile="$cds_new" -Xshare:on \
        -XX:ErrorFile=/dev/null -cp "$classpath" -version >/dev/null 2>&1); then
      cp "$cds_new" "$cds_archive.tmp.$$" && mv -f "$cds_archive.tmp.$$" "$cds_archive"
      kafka_log "class data sharing archive saved: $cds_archive"
    else
      kafka_log "discarding unusable class data sharing archive $cds_new"
    fi
  fi
  rm -f "$cds_new"
  if [[ -f "$cds_archive" ]]; then
    cds_use=(-XX:SharedArchiveFile="$cds_archive" -Xlog:cds=off -Xlog:cds+dynamic=off)
  else
    cds_record=(-XX:ArchiveClassesAtExit="$cds_new" -Xlog:cds=off -Xlog:cds+dynamic=off)
  fi
fi

# Format the storage once (random cluster id); an existing formatted dir is reused as is.
if [[ ! -f "$KAFKA_LOG_DIRS/meta.properties" ]]; then
  cluster_id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
  kafka_log "formatting $KAFKA_LOG_DIRS (cluster id $cluster_id)"
  echo "=== $(date -Is) start.sh: format storage, cluster id $cluster_id" >>"$KAFKA_LOG_FILE"
  if ! "$KAFKA_JAVA" -Xmx256m -XX:TieredStopAtLevel=1 "${cds_use[@]}" "$log4j_opt" \
      -cp "$classpath" kafka.tools.StorageTool format \
      --cluster-id="$cluster_id" -c "$KAFKA_CONFIG_FILE" >>"$KAFKA_LOG_FILE" 2>&1; then
    fail_with_log "formatting the storage failed"
  fi
fi
t_formatted=$(now_ms)

log_offset="$(stat -c %s "$KAFKA_LOG_FILE" 2>/dev/null || echo 0)"
echo "=== $(date -Is) start.sh: starting Kafka $KAFKA_VERSION on $KAFKA_BOOTSTRAP" >>"$KAFKA_LOG_FILE"
# setsid: own session, so the broker outlives the caller's terminal / process group. The child
# writes its own pid (then execs java), so the pid file holds the JVM's pid.
# shellcheck disable=SC2016
setsid bash -c 'echo $$ >"$0"; exec "$@"' "$KAFKA_PID_FILE" \
  "$KAFKA_JAVA" "${heap_opts[@]}" "${jvm_opts[@]}" "${cds_use[@]}" "${cds_record[@]}" \
  "$log4j_opt" -cp "$classpath" \
  kafka.Kafka "$KAFKA_CONFIG_FILE" >>"$KAFKA_LOG_FILE" 2>&1 </dev/null 8>&- &
launcher=$!

pid=""
for _ in $(seq 1 50); do
  [[ -s "$KAFKA_PID_FILE" ]] && pid="$(tr -dc '0-9' <"$KAFKA_PID_FILE")"
  [[ -n "$pid" ]] && break
  sleep 0.1
done
[[ -n "$pid" ]] || pid="$launcher"
kafka_log "started pid $pid (Kafka $KAFKA_VERSION, data $KAFKA_DATA_DIR, log $KAFKA_LOG_FILE); waiting until ready"
wait_ready "$pid" "$log_offset" 1
t_ready=$(now_ms)
kafka_log "ready on $KAFKA_BOOTSTRAP in $(secs $((t_ready - t0)))s (fetch $(secs $((t_fetched - t0)))s, format $(secs $((t_formatted - t_fetched)))s, broker start $(secs $((t_ready - t_formatted)))s)"
echo "$KAFKA_BOOTSTRAP"
