#!/usr/bin/env bash
# Breaking-change check of the event contract: proto/crm/events, and proto/crm/v1 (whose messages
# and enums some events still embed, and which is a public contract of its own), against the same
# files at the previous commit (or EVENTS_BASELINE_REF), with buf's FILE rules (no field renumbered, retyped,
# renamed or removed, no enum value changed, no message or file removed or moved). The events are
# the system of record and the BI contract: they only ever grow (rules in
# proto/crm/events/v1/README.md). buf comes from the Go module proxy into .cache/bin.
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
echo "[check-event-protos] proto/crm/events and proto/crm/v1 against $AGAINST" \
  "($(git rev-parse --short "$AGAINST"))"
# From proto/ (the module root, with its buf.yaml), so --path is relative to it; one run per
# folder (buf 1.75 answers "no .proto files were targeted" to some orders of several --path).
for path in crm/events crm/v1; do
  (cd proto && "$BUF" breaking --against "../.git#ref=$AGAINST,subdir=proto" --path "$path")
done
echo "[check-event-protos] no breaking change"
