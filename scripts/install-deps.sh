#!/usr/bin/env bash
# Installs everything the build and the tests need, on Debian 12, as root:
#   - the Debian packages below (skipped when all are installed already);
#   - a Python venv at .cache/venv with tests/process/requirements.txt (skipped when the
#     requirements file has not changed since the last install).
# Idempotent and quick when nothing is missing. Env: VENV_DIR overrides .cache/venv.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  librdkafka-dev librocksdb-dev libabsl-dev
  libgtest-dev libgmock-dev
  libspdlog-dev libcli11-dev nlohmann-json3-dev prometheus-cpp-dev
  clang-format docker-compose ccache
  clang libclang-rt-14-dev  # the fuzz tree (scripts/fuzz.sh): libFuzzer, ASan, UBSan
  python3 python3-venv
  default-jre-headless maven kcat curl ca-certificates
)

log() { echo "[install-deps] $*"; }

SUDO=()
if [[ "$(id -u)" -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
  fi
fi

# --- Debian packages --------------------------------------------------------------------------
missing=()
for p in "${APT_PACKAGES[@]}"; do
  if [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" != "install ok installed" ]]; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} > 0)); then
  log "installing Debian packages: ${missing[*]}"
  "${SUDO[@]}" apt-get update
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${APT_PACKAGES[@]}"
else
  log "Debian packages: all ${#APT_PACKAGES[@]} present"
fi

# --- Python venv for tests/process ------------------------------------------------------------
# python3 is whatever is first on PATH (a pyenv python on some machines, Debian's elsewhere).
PYTHON="$(command -v python3)"
VENV="${VENV_DIR:-$ROOT/.cache/venv}"
REQ="$ROOT/tests/process/requirements.txt"
STAMP="$VENV/.requirements.sha256"

if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
  log "creating venv $VENV with $PYTHON ($("$PYTHON" --version 2>&1))"
  rm -rf "$VENV"
  mkdir -p "$(dirname "$VENV")"
  "$PYTHON" -m venv "$VENV"
fi

want="$(sha256sum "$REQ" | cut -d' ' -f1) $("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
  log "Python packages: up to date ($REQ)"
else
  log "installing Python packages from $REQ"
  "$VENV/bin/python" -m pip install --disable-pip-version-check -q --upgrade pip
  "$VENV/bin/python" -m pip install --disable-pip-version-check -q -r "$REQ"
  echo "$want" >"$STAMP"
fi
log "done"
