#!/usr/bin/env bash
# Breaking-change check of the event contract (proto/crm/events) and of the API (proto/crm/v1, a
# public contract of its own) against the same files at the previous commit (or
# EVENTS_BASELINE_REF), with buf's FILE rules (no field renumbered, retyped, renamed or removed, no
# enum value changed, no message or file removed or moved). The events are the system of record
# and the BI contract: they only ever grow (rules in proto/crm/events/v1/README.md). buf comes from
# the Go module proxy into .cache/bin.
#
# A break of the event schema decided on purpose is allowed by a git trailer
# "Event-Schema-Break: <reason>" on a commit in EVENTS_BASELINE_REF..HEAD (every commit a merge
# brings in counts): the script prints each reason and skips the comparison of proto/crm/events;
# proto/crm/v1 is still checked.
# Skips (exit 0, with a message) when there is no baseline commit or it has no event protos.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BUF_VERSION="v1.75.0"
BUF="$ROOT/.cache/bin/buf"
if [[ ! -x "$BUF" ]]; then
  echo "[check-event-protos] installing buf $BUF_VERSION into .cache/bin"
  GOBIN="$ROOT/.cache/bin" go install "github.com/bufbuild/buf/cmd/buf@$BUF_VERSION"
fi
AGAINST="${EVENTS_BASELINE_REF:-HEAD~1}"
if ! git rev-parse -q --verify "$AGAINST^{commit}" >/dev/null; then
  echo "[check-event-protos] no baseline commit $AGAINST (a shallow clone?): nothing to compare"
  exit 0
fi
if ! git cat-file -e "$AGAINST:proto/crm/events/v1/envelope.proto" 2>/dev/null; then
  echo "[check-event-protos] $AGAINST has no event protos: nothing to compare"
  exit 0
fi
# Reasons given by "Event-Schema-Break:" trailers of the commits since the baseline, one a line.
BREAK_REASONS="$(git log --format='%(trailers:key=Event-Schema-Break,valueonly,separator=%x0A)' \
  "$AGAINST..HEAD" | sed '/^[[:space:]]*$/d')"
paths=(crm/events crm/v1)
if [[ -n "$BREAK_REASONS" ]]; then
  echo "[check-event-protos] event schema break allowed by an Event-Schema-Break trailer in" \
    "$AGAINST..HEAD:"
  sed 's/^/[check-event-protos]   /' <<<"$BREAK_REASONS"
  echo "[check-event-protos] skipping proto/crm/events; still checking proto/crm/v1"
  paths=(crm/v1)
fi
echo "[check-event-protos] $(printf 'proto/%s ' "${paths[@]}")against $AGAINST" \
  "($(git rev-parse --short "$AGAINST"))"
# From proto/ (the module root, with its buf.yaml), so --path is relative to it; one run per
# folder (buf 1.75 answers "no .proto files were targeted" to some orders of several --path).
# --exclude-imports: each run checks its own folder only (crm/v1 imports the events, for
# TimelineEntry and the history; a skipped event package must not come back through it).
for path in "${paths[@]}"; do
  (cd proto && "$BUF" breaking --exclude-imports \
    --against "../.git#ref=$AGAINST,subdir=proto" --path "$path")
done
echo "[check-event-protos] no breaking change"
