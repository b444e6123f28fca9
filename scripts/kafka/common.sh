# shellcheck shell=bash disable=SC2034
# Shared settings for scripts/kafka/*.sh (sourced, not run).
#
# Environment (all optional):
#   KAFKA_VERSION          broker version to fetch and run (default: the pinned one below)
#   KAFKA_CACHE_DIR        jar cache root; jars go to $KAFKA_CACHE_DIR/<version>/libs
#                          (default: <repo>/.cache/kafka)
#   KAFKA_DATA_DIR         broker state: KRaft log dirs, server.properties, kafka.log, kafka.pid
#                          (default: <repo>/.cache/kafka-run/data)
#   KAFKA_PORT             PLAINTEXT (client) listener on 127.0.0.1 (default 19092)
#   KAFKA_CONTROLLER_PORT  CONTROLLER listener on 127.0.0.1 (default 19093)
#   KAFKA_PROXIED_PORT     a second client listener (PROXIED) on 127.0.0.1, for a proxy in front of
#                          the broker (fault tests); unset: none
#   KAFKA_PROXY_ADDRESS    host:port the PROXIED listener advertises (the proxy's); required with
#                          KAFKA_PROXIED_PORT
#   KAFKA_HEAP_OPTS        JVM heap flags (default "-Xms256m -Xmx512m")
#   KAFKA_JVM_OPTS         extra JVM flags appended to the defaults
#   KAFKA_START_TIMEOUT    seconds start.sh waits for the broker (default 60)
#   KAFKA_STOP_TIMEOUT     seconds stop.sh waits after SIGTERM before SIGKILL (default 30)
#   JAVA_HOME / JAVA       which java to use (default: $JAVA_HOME/bin/java, else java on PATH)

# Pinned broker version: the newest Apache Kafka release verified against the system
# librdkafka 2.0.2 (see docs/kafka-dev.md for the compatibility findings).
KAFKA_PINNED_VERSION="4.4.0"

KAFKA_SCRIPTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KAFKA_REPO="$(cd "$KAFKA_SCRIPTS_DIR/../.." && pwd)"

KAFKA_VERSION="${KAFKA_VERSION:-$KAFKA_PINNED_VERSION}"
KAFKA_CACHE_DIR="${KAFKA_CACHE_DIR:-$KAFKA_REPO/.cache/kafka}"
KAFKA_LIBS_DIR="$KAFKA_CACHE_DIR/$KAFKA_VERSION/libs"
KAFKA_DATA_DIR="${KAFKA_DATA_DIR:-$KAFKA_REPO/.cache/kafka-run/data}"
KAFKA_PORT="${KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-19093}"
KAFKA_BOOTSTRAP="127.0.0.1:$KAFKA_PORT"
KAFKA_PROXIED_PORT="${KAFKA_PROXIED_PORT:-}"
KAFKA_PROXY_ADDRESS="${KAFKA_PROXY_ADDRESS:-}"
if [[ -n "$KAFKA_PROXIED_PORT" && -z "$KAFKA_PROXY_ADDRESS" ]]; then
  echo "[kafka] ERROR: KAFKA_PROXIED_PORT needs KAFKA_PROXY_ADDRESS (the proxy's host:port)" >&2
  exit 1
fi

KAFKA_PID_FILE="$KAFKA_DATA_DIR/kafka.pid"
KAFKA_LOG_FILE="$KAFKA_DATA_DIR/kafka.log"
KAFKA_CONFIG_FILE="$KAFKA_DATA_DIR/server.properties"
KAFKA_LOG4J_FILE="$KAFKA_DATA_DIR/log4j2.properties"
KAFKA_LOG_DIRS="$KAFKA_DATA_DIR/kraft-logs"

if [[ -n "${JAVA:-}" ]]; then
  KAFKA_JAVA="$JAVA"
elif [[ -n "${JAVA_HOME:-}" && -x "${JAVA_HOME}/bin/java" ]]; then
  KAFKA_JAVA="$JAVA_HOME/bin/java"
else
  KAFKA_JAVA="java"
fi

kafka_log() { echo "[kafka] $*" >&2; }
kafka_die() { echo "[kafka] ERROR: $*" >&2; exit 1; }

# True while any thread of process $1 is not yet a zombie. (After SIGKILL the JVM's main thread
# can be a zombie while other threads still run and its sockets are still open.)
kafka_pid_alive() {
  local stat state
  for stat in /proc/"$1"/task/*/stat; do
    state="$(sed -E 's/^[0-9]+ \(.*\) ([A-Za-z]).*/\1/' "$stat" 2>/dev/null)" || continue
    [[ -n "$state" && "$state" != Z && "$state" != X ]] && return 0
  done
  return 1
}

# Prints the pid from the pid file if that process is alive and is a Kafka broker; else fails.
kafka_running_pid() {
  [[ -f "$KAFKA_PID_FILE" ]] || return 1
  local pid
  pid="$(tr -dc '0-9' <"$KAFKA_PID_FILE")"
  [[ -n "$pid" ]] || return 1
  kafka_pid_alive "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'kafka\.Kafka' || return 1
  echo "$pid"
}

# Serialises start.sh / stop.sh calls for one data dir (fd 8; the lock file sits beside the dir,
# so --fresh can wipe the dir). Children that outlive the script must close fd 8.
kafka_lock_data_dir() {
  mkdir -p "$(dirname "$KAFKA_DATA_DIR")"
  exec 8>"$KAFKA_DATA_DIR.lock"
  flock 8
}

# True if something accepts TCP connections on 127.0.0.1:$1.
kafka_port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# kafka_fetch_jars POM DEST STAMP MAIN_JAR [STALE...]: the runtime jars of Maven project POM (its
# text) into directory DEST, once: a stamp (STAMP: the POM's SHA-256) makes a complete DEST a
# no-op, concurrent fetches of the same version are serialised (a lock beside STAMP), and DEST is
# replaced whole (with the STALE paths removed) only once MAIN_JAR (a file name) was fetched.
# Prints DEST on stdout. Used by fetch.sh (the broker) and fetch-tools.sh (kafka-tools).
kafka_fetch_jars() {
  local pom="$1" dest="$2" stamp="$3" main_jar="$4"
  shift 4
  local want
  want="$(printf '%s\n' "$pom" | sha256sum | cut -d' ' -f1)"
  local dir
  dir="$(dirname "$stamp")"
  if ! [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -f "$dest/$main_jar" ]]; then
    mkdir -p "$dir"
    exec 9>"$stamp.lock"
    flock 9
    if ! [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -f "$dest/$main_jar" ]]; then
      command -v mvn >/dev/null 2>&1 || kafka_die "mvn not found (apt-get install maven)"
      kafka_log "fetching ${main_jar%.jar} and its dependencies from Maven Central into $dest"
      local work
      work="$(mktemp -d "$dir/.fetch.XXXXXX")"
      printf '%s\n' "$pom" >"$work/pom.xml"
      if ! mvn -B -q -f "$work/pom.xml" dependency:copy-dependencies -DincludeScope=runtime \
          -DoutputDirectory="$work/libs" >"$work/mvn.log" 2>&1; then
        cat "$work/mvn.log" >&2
        rm -rf "$work"
        kafka_die "mvn dependency:copy-dependencies failed for ${main_jar%.jar}"
      fi
      if [[ ! -f "$work/libs/$main_jar" ]]; then
        rm -rf "$work"
        kafka_die "$main_jar missing after fetch"
      fi
      rm -rf "$dest" "$@"
      mv "$work/libs" "$dest"
      rm -rf "$work"
      echo "$want" >"$stamp"
      kafka_log "fetched $(find "$dest" -name "*.jar" | wc -l) jars ($(du -sh "$dest" | cut -f1))"
    fi
    exec 9>&-
  fi
  echo "$dest"
}
