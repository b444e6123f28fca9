#!/usr/bin/env bash
# Static checks of the container setup; no Docker engine needed. Exits non-zero on the first
# failure, with a message naming it.
#   - docker-compose.yml parses and validates (`docker-compose config -q`), with and without the
#     "single" profile, and defines the services kafka, crm-command, crm-projector, crm-server;
#   - its apache/kafka tag is the broker version pinned for development (scripts/kafka/common.sh);
#   - with --libs: every shared library the built binaries need (readelf NEEDED, in $BUILD_DIR,
#     default build) comes from a Debian package the Dockerfile's runtime stage installs, or from
#     one of their dependencies, or from the base image (libc6, libgcc-s1, libstdc++6); and every
#     package listed there exists in the apt sources. Needs a build, dpkg and apt lists.
# Usage: scripts/check-compose.sh [--libs]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
COMPOSE_FILE="$ROOT/docker-compose.yml"
BUILD_DIR="${BUILD_DIR:-build}"

log() { echo "[check-compose] $*"; }
fail() { echo "[check-compose] FAIL: $*" >&2; exit 1; }

check_libs=0
for arg in "$@"; do
  case "$arg" in
    --libs) check_libs=1 ;;
    -h | --help) sed -n '2,12p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) fail "unknown argument: $arg" ;;
  esac
done

command -v docker-compose >/dev/null 2>&1 || fail "docker-compose not found (Debian package docker-compose)"
[[ -f "$COMPOSE_FILE" ]] || fail "missing $COMPOSE_FILE"
[[ -f "$ROOT/Dockerfile" ]] || fail "missing Dockerfile"
[[ -f "$ROOT/.dockerignore" ]] || fail "missing .dockerignore"

# --- docker-compose.yml -------------------------------------------------------------------------
docker-compose -f "$COMPOSE_FILE" config -q || fail "docker-compose config -q"
docker-compose -f "$COMPOSE_FILE" --profile single config -q ||
  fail "docker-compose --profile single config -q"
log "docker-compose config: ok"

services="$(docker-compose -f "$COMPOSE_FILE" --profile single config --services)"
for s in kafka crm-command crm-projector crm-server; do
  grep -qx "$s" <<<"$services" || fail "service $s is not defined in docker-compose.yml"
done
log "services: $(tr '\n' ' ' <<<"$services")"

# The broker image must be the version the code is tested against.
pinned="$(sed -n 's/^KAFKA_PINNED_VERSION="\(.*\)"$/\1/p' scripts/kafka/common.sh)"
[[ -n "$pinned" ]] || fail "KAFKA_PINNED_VERSION not found in scripts/kafka/common.sh"
image="$(docker-compose -f "$COMPOSE_FILE" config | sed -n 's/^ *image: *\(apache\/kafka:.*\)$/\1/p')"
[[ "$image" == "apache/kafka:$pinned" ]] ||
  fail "kafka image is '${image:-none}', expected apache/kafka:$pinned (scripts/kafka/common.sh)"
log "kafka image: $image (pinned $pinned)"

# --- runtime libraries of the image (opt-in) ----------------------------------------------------
if ((check_libs)); then
  binaries=("$BUILD_DIR/apps/crm_server/crm-server" "$BUILD_DIR/apps/crm_command/crm-command"
            "$BUILD_DIR/apps/crm_projector/crm-projector" "$BUILD_DIR/apps/crmctl/crmctl")
  for b in "${binaries[@]}"; do [[ -x "$b" ]] || fail "--libs: $b not built"; done

  # Packages of the runtime stage: the apt-get install after "FROM debian:bookworm-slim".
  mapfile -t listed < <(awk '
      /^FROM debian:bookworm-slim/ { rt = 1 }
      rt && /apt-get install/ { on = 1 }
      on { for (i = 1; i <= NF; i++) if ($i ~ /^[a-z0-9][a-z0-9.+-]+$/ && $i != "apt-get" &&
                                          $i != "install" && $i != "clean" && $i != "rm") print $i }
      on && /rm -rf/ { exit }' Dockerfile | grep -vx 'DEBIAN_FRONTEND=noninteractive' | sort -u)
  ((${#listed[@]} > 0)) || fail "--libs: no apt-get install found in the Dockerfile's runtime stage"
  for p in "${listed[@]}"; do
    candidate="$(apt-cache policy "$p" 2>/dev/null | awk '/Candidate:/ {print $2}')"
    [[ -n "$candidate" && "$candidate" != "(none)" ]] ||
      fail "--libs: Debian package $p (Dockerfile runtime stage) not found by apt-cache policy"
  done

  # What the image will hold: the listed packages, their Depends (recursively), the base.
  closure="$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts \
               --no-breaks --no-replaces --no-enhances "${listed[@]}" 2>/dev/null |
             awk '/^[a-z0-9]/ {print $1} /Depends:/ {print $2}' | tr -d '<>' | sed 's/:.*//' |
             sort -u)"
  closure+=$'\n'"libc6"$'\n'"libgcc-s1"$'\n'"libstdc++6"

  # soname -> resolved path, as the dynamic loader resolves them for these binaries.
  resolved="$(for b in "${binaries[@]}"; do ldd "$b"; done | awk '$2 == "=>" {print $1, $3}')"
  needed_pkgs=()
  while read -r soname; do
    path="$(awk -v s="$soname" '$1 == s && !p {p = $2} END {print p}' <<<"$resolved")"
    [[ -n "$path" && "$path" != "not" ]] || fail "--libs: $soname not found (ldd)"
    pkg="$(dpkg -S "$(readlink -f "$path")" 2>/dev/null || dpkg -S "$path" 2>/dev/null ||
           dpkg -S "/usr$path" 2>/dev/null || true)"
    pkg="${pkg%%:*}"
    [[ -n "$pkg" ]] || fail "--libs: no Debian package owns $path ($soname)"
    grep -qx "$pkg" <<<"$closure" ||
      fail "--libs: $soname is in $pkg, which the Dockerfile's runtime stage does not install"
    needed_pkgs+=("$pkg")
  done < <(for b in "${binaries[@]}"; do
             readelf -d "$b" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'
           done | sort -u)
  log "runtime libraries: $(printf '%s\n' "${needed_pkgs[@]}" | sort -u | tr '\n' ' ')-> all installed by the image"
fi

log "ok"
