#!/usr/bin/env bash
# Installs everything the build and the tests need, on Debian 12, as root:
#   - the Debian packages below (skipped when all are installed already), podman, runc and
#     mmdebstrap among them: the image test builds and runs the Dockerfile with them;
#   - a Python venv at .cache/venv with tests/process/requirements.txt, and one at
#     .cache/venv-k8s with scripts/requirements-k8s.txt (the manifest checkers of
#     scripts/check-k8s.sh, whose dependencies conflict with the first); each skipped when its
#     requirements file has not changed since the last install;
#   - kustomize (renders deploy/k8s) from the Go module proxy into .cache/bin (skipped when that
#     version is there);
#   - toxiproxy (toxiproxy-server, toxiproxy-cli) from the Go module proxy into .cache/bin, for the
#     network-fault tests (skipped when that version is there; needs Go, else only a warning).
# With --dashboard, also what scripts/render-dashboard.sh needs (nothing else does): a venv at
# .cache/venv-dashboard with scripts/requirements-dashboard.txt, and Prometheus from the Go module
# proxy in .cache/bin (skipped when that version is there).
# With --bench, also what scripts/bench.sh needs: a venv at .cache/venv-bench with
# bench/requirements.txt (matplotlib, for the plot), and ghz (the gRPC load generator) from the Go
# module proxy in .cache/bin (skipped when that version is there).
# Idempotent and quick when nothing is missing. Env: VENV_DIR overrides .cache/venv,
# K8S_VENV_DIR .cache/venv-k8s, DASHBOARD_VENV_DIR .cache/venv-dashboard, BENCH_VENV_DIR
# .cache/venv-bench.
# Usage: scripts/install-deps.sh [--dashboard] [--bench]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

DASHBOARD=0
BENCH=0
for arg in "$@"; do
  case "$arg" in
    --dashboard) DASHBOARD=1 ;;
    --bench) BENCH=1 ;;
    *) echo "[install-deps] unknown argument: $arg" \
         "(usage: scripts/install-deps.sh [--dashboard] [--bench])" >&2
       exit 2 ;;
  esac
done

APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  librdkafka-dev librocksdb-dev libabsl-dev
  libgtest-dev libgmock-dev
  libspdlog-dev libcli11-dev nlohmann-json3-dev prometheus-cpp-dev
  librhonabwy-dev libssl-dev  # JWT verification (common/auth); OpenSSL makes the tests' keys
  clang-format docker-compose ccache
  clang libclang-rt-14-dev  # the fuzz tree (scripts/fuzz.sh): libFuzzer, ASan, UBSan
  podman runc mmdebstrap  # the container image without a Docker engine (scripts/image.sh)
  python3 python3-venv
  tzdata  # IANA time zones of the analytics reports (absl::LoadTimeZone reads /usr/share/zoneinfo)
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

# --- Python venvs -------------------------------------------------------------------------------
# python3 is whatever is first on PATH (a pyenv python on some machines, Debian's elsewhere).
PYTHON="$(command -v python3)"

ensure_venv() {  # ensure_venv DIR REQUIREMENTS: DIR holds a venv with REQUIREMENTS installed
  local venv="$1" req="$2"
  local stamp="$venv/.requirements.sha256"
  if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
    log "creating venv $venv with $PYTHON ($("$PYTHON" --version 2>&1))"
    rm -rf "$venv"
    mkdir -p "$(dirname "$venv")"
    "$PYTHON" -m venv "$venv"
  fi
  local want
  want="$(sha256sum "$req" | cut -d' ' -f1) $("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    log "Python packages: up to date ($req)"
  else
    log "installing Python packages from $req into $venv"
    "$venv/bin/python" -m pip install --disable-pip-version-check -q --upgrade pip
    "$venv/bin/python" -m pip install --disable-pip-version-check -q -r "$req"
    echo "$want" >"$stamp"
  fi
}
ensure_venv "${VENV_DIR:-$ROOT/.cache/venv}" "$ROOT/tests/process/requirements.txt"
ensure_venv "${K8S_VENV_DIR:-$ROOT/.cache/venv-k8s}" "$ROOT/scripts/requirements-k8s.txt"

# --- Go tools -----------------------------------------------------------------------------------
# kustomize v5.8.1: the newest whose module builds with this machine's Go (later ones need a newer
# toolchain). `kubectl kustomize` would do as well, but Debian 12's kubectl (kubernetes-client
# 1.20) predates kustomize Components.
KUSTOMIZE_VERSION="v5.8.1"
KUSTOMIZE="$ROOT/.cache/bin/kustomize"
if [[ -x "$KUSTOMIZE" && "$("$KUSTOMIZE" version 2>/dev/null)" == "$KUSTOMIZE_VERSION" ]]; then
  log "kustomize: $KUSTOMIZE_VERSION present"
else
  log "installing kustomize $KUSTOMIZE_VERSION into .cache/bin"
  command -v go >/dev/null 2>&1 || { log "go not found: needed to install kustomize"; exit 1; }
  mkdir -p "$ROOT/.cache/bin"
  GOBIN="$ROOT/.cache/bin" GOTOOLCHAIN=local go install \
    "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
fi

# --- Go tools: toxiproxy for tests/process/test_kafka_netfaults.py -----------------------------
# `go install` names a binary after its package folder (server, cli): built into a temp dir, then
# moved to .cache/bin under toxiproxy's own names. A stamp file holds the installed version.
TOXIPROXY_VERSION="v2.12.0"
BIN="$ROOT/.cache/bin"
TOXI_STAMP="$BIN/.toxiproxy-version"
if [[ -x "$BIN/toxiproxy-server" && -x "$BIN/toxiproxy-cli" && -f "$TOXI_STAMP" &&
      "$(cat "$TOXI_STAMP")" == "$TOXIPROXY_VERSION" ]]; then
  log "toxiproxy: $TOXIPROXY_VERSION present"
elif ! command -v go >/dev/null 2>&1; then
  log "WARNING: no go on PATH: toxiproxy not installed (the network-fault tests will not run)"
else
  log "installing toxiproxy $TOXIPROXY_VERSION into $BIN"
  mkdir -p "$BIN"
  gobin="$(mktemp -d)"
  GOBIN="$gobin" go install \
    "github.com/Shopify/toxiproxy/v2/cmd/server@$TOXIPROXY_VERSION" \
    "github.com/Shopify/toxiproxy/v2/cmd/cli@$TOXIPROXY_VERSION"
  mv -f "$gobin/server" "$BIN/toxiproxy-server"
  mv -f "$gobin/cli" "$BIN/toxiproxy-cli"
  rm -rf "$gobin"
  echo "$TOXIPROXY_VERSION" >"$TOXI_STAMP"
fi

# --- only with --dashboard: scripts/render-dashboard.sh -----------------------------------------
# Prometheus evaluates the dashboard's queries. Module v0.316.0 is Prometheus 3.16.0 (its Go
# module numbers v3.X.Y as v0.3XX.Y); built without the web UI's assets (the HTTP API is all the
# script uses). A stamp file holds the installed version.
PROMETHEUS_VERSION="v0.316.0"
PROM_STAMP="$BIN/.prometheus-version"
if ((DASHBOARD)); then
  ensure_venv "${DASHBOARD_VENV_DIR:-$ROOT/.cache/venv-dashboard}" \
    "$ROOT/scripts/requirements-dashboard.txt"
  if [[ -x "$BIN/prometheus" && -f "$PROM_STAMP" &&
        "$(cat "$PROM_STAMP")" == "$PROMETHEUS_VERSION" ]]; then
    log "prometheus: $PROMETHEUS_VERSION present"
  else
    command -v go >/dev/null 2>&1 || { log "go not found: needed to install prometheus"; exit 1; }
    log "installing prometheus $PROMETHEUS_VERSION into $BIN (a few minutes)"
    mkdir -p "$BIN"
    GOBIN="$BIN" GOTOOLCHAIN=local go install \
      "github.com/prometheus/prometheus/cmd/prometheus@$PROMETHEUS_VERSION"
    echo "$PROMETHEUS_VERSION" >"$PROM_STAMP"
  fi
fi
# --- only with --bench: scripts/bench.sh -----------------------------------------------------------
# ghz v0.120.0 is its newest release on the Go module proxy (the proxy's version list stops at
# v0.93.0, an older numbering; the exact version is served). A stamp file holds the installed one.
GHZ_VERSION="v0.120.0"
GHZ_STAMP="$BIN/.ghz-version"
if ((BENCH)); then
  ensure_venv "${BENCH_VENV_DIR:-$ROOT/.cache/venv-bench}" "$ROOT/bench/requirements.txt"
  if [[ -x "$BIN/ghz" && -f "$GHZ_STAMP" && "$(cat "$GHZ_STAMP")" == "$GHZ_VERSION" ]]; then
    log "ghz: $GHZ_VERSION present"
  else
    command -v go >/dev/null 2>&1 || { log "go not found: needed to install ghz"; exit 1; }
    log "installing ghz $GHZ_VERSION into $BIN"
    mkdir -p "$BIN"
    GOBIN="$BIN" GOTOOLCHAIN=local go install "github.com/bojand/ghz/cmd/ghz@$GHZ_VERSION"
    echo "$GHZ_VERSION" >"$GHZ_STAMP"
  fi
fi
log "done"
