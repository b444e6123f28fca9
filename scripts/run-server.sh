#!/usr/bin/env bash
# Runs the CRM server on the embedded event log: gRPC on ${CRM_LISTEN:-127.0.0.1:50051}, data in
# ${CRM_DATA_DIR:-./data}. Installs what is missing and builds first. Extra arguments go to the
# server (e.g. --log-level debug, --rebuild; --tls-cert/--tls-key to serve other hosts, or
# --insecure to serve them in plaintext: docs/security.md).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

BUILD_DIR="${BUILD_DIR:-build}"

scripts/install-deps.sh
BUILD_DIR="$BUILD_DIR" scripts/build.sh

exec "$BUILD_DIR/apps/crm_server/crm-server" \
  --data-dir "${CRM_DATA_DIR:-./data}" \
  --listen "${CRM_LISTEN:-127.0.0.1:50051}" \
  "$@"
