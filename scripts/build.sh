#!/usr/bin/env bash
# Configures and builds the whole tree with Ninja.
# Env: BUILD_DIR (default build), BUILD_JOBS (default 2), BUILD_TYPE (default RelWithDebInfo),
# CMAKE_ARGS (extra configure arguments, e.g. the fuzz tree's compiler), BUILD_TARGETS (default:
# everything).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

BUILD_DIR="${BUILD_DIR:-build}"
BUILD_JOBS="${BUILD_JOBS:-2}"
BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}"

# ccache, when installed, makes rebuilds (and builds of other checkouts of the same tree) cheap.
LAUNCHER=()
if command -v ccache >/dev/null 2>&1; then
  export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$ROOT}"
  # Without this, -g makes ccache hash the working directory and other checkouts never hit.
  export CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-true}"
  LAUNCHER=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
fi
echo "[build] configuring $BUILD_DIR ($BUILD_TYPE)"
read -r -a EXTRA <<<"${CMAKE_ARGS:-}"
read -r -a TARGETS <<<"${BUILD_TARGETS:-}"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="$BUILD_TYPE" "${LAUNCHER[@]}" "${EXTRA[@]}"
echo "[build] building ${TARGETS[*]:-everything} with -j$BUILD_JOBS"
cmake --build "$BUILD_DIR" -j "$BUILD_JOBS" ${TARGETS:+--target "${TARGETS[@]}"}
