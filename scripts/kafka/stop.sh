#!/usr/bin/env bash
# Stops the broker started by scripts/kafka/start.sh (the one whose pid file is in
# ${KAFKA_DATA_DIR:-<repo>/.cache/kafka-run/data}) and removes the pid file. Data is kept.
#
#   scripts/kafka/stop.sh          SIGTERM (controlled shutdown), SIGKILL after
#                                  ${KAFKA_STOP_TIMEOUT:-30} s
#   scripts/kafka/stop.sh --kill   SIGKILL at once (simulates a crash / outage)
#
# Returns when the process is gone. Exits 0 when no broker is running.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

kill_now=0
for arg in "$@"; do
  case "$arg" in
    --kill) kill_now=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) kafka_die "unknown argument: $arg (usage: $0 [--kill])" ;;
  esac
done

[[ "${KAFKA_LOCK_HELD:-0}" == 1 ]] || kafka_lock_data_dir

if ! pid="$(kafka_running_pid)"; then
  if [[ -f "$KAFKA_PID_FILE" ]]; then
    kafka_log "not running (removing stale pid file $KAFKA_PID_FILE)"
    rm -f "$KAFKA_PID_FILE"
  else
    kafka_log "not running (no pid file in $KAFKA_DATA_DIR)"
  fi
  exit 0
fi

# Waits up to $1 seconds for the process to be gone.
wait_gone() {
  local deadline=$((SECONDS + $1))
  while kafka_pid_alive "$pid"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

if ((kill_now)); then
  kafka_log "killing pid $pid (SIGKILL)"
  kill -KILL "$pid" 2>/dev/null || true
  wait_gone 10 || kafka_die "pid $pid still there 10 s after SIGKILL"
else
  timeout="${KAFKA_STOP_TIMEOUT:-30}"
  kafka_log "stopping pid $pid (SIGTERM, up to ${timeout}s)"
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait_gone "$timeout"; then
    kafka_log "pid $pid did not exit within ${timeout}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    wait_gone 10 || kafka_die "pid $pid still there 10 s after SIGKILL"
  fi
fi
# The listeners close with the process; make sure they are gone before a restart binds them.
for port in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
  deadline=$((SECONDS + 10))
  while kafka_port_open "$port" && ((SECONDS < deadline)); do sleep 0.1; done
done
rm -f "$KAFKA_PID_FILE"
echo "=== $(date -Is) stop.sh: broker pid $pid stopped$( ((kill_now)) && echo ' (SIGKILL)')" >>"$KAFKA_LOG_FILE"
kafka_log "stopped"
