#!/usr/bin/env bash
# Builds the container image from the Dockerfile with podman, on a machine without a Docker engine
# (docs/image.md):
#   1. the base images docker.io/library/debian:bookworm and :bookworm-slim, when podman has none,
#      made from Debian's own packages (mmdebstrap --variant=minbase, then podman import; no
#      registry is pulled from), so the Dockerfile keeps its usual FROM lines;
#   2. podman build (chroot isolation, host network, docker format so that HEALTHCHECK is kept),
#      with the host's ccache directory mounted at /ccache: objects that scripts/build.sh already
#      compiled are hits, and a rebuild after a change compiles only what changed; the host's CA
#      bundle is mounted for the probe stage's HTTPS downloads;
#   3. dangling layers unused for a week are pruned.
#
#   scripts/image.sh                  build (quick when nothing changed: podman's layer cache)
#   scripts/image.sh --test           build, then tests/process/test_image.py: run it for real
#   scripts/image.sh run ARGS...      podman run with the options this machine needs, e.g.
#                                     scripts/image.sh run -d --name crm -v crm-data:/var/lib/crm crm:dev
#   scripts/image.sh podman ARGS...   podman with the global options of `run` (exec, stop, logs, ...)
#   scripts/image.sh run-options      prints the options `run` adds after `podman ... run`
#
# Env: CRM_IMAGE (default crm:dev), IMAGE_CCACHE_DIR (default: the host's ccache directory, else
# .cache/ccache-image), BUILD_JOBS (default 2), PODMAN_RUNTIME (default runc: crun fails on the
# cgroup v1 setup of these machines), PODMAN_CGROUP_MANAGER (default cgroupfs: no systemd),
# IMAGE_BUILD_ARGS (extra podman build arguments, e.g. --no-cache).
# Needs podman, runc and mmdebstrap (scripts/install-deps.sh installs them); runs as root.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

IMAGE="${CRM_IMAGE:-crm:dev}"
BASE="docker.io/library/debian"
SUITE="bookworm"
PODMAN=(podman --runtime "${PODMAN_RUNTIME:-runc}" --cgroup-manager "${PODMAN_CGROUP_MANAGER:-cgroupfs}")

log() { echo "[image] $*" >&2; }

# podman's default ulimits (nofile 1048576) exceed the hard limits of these machines, and the
# container could not start: ask for what the host allows.
run_options() {
  local nofile nproc
  nofile="$(ulimit -Hn)"
  [[ "$nofile" == unlimited ]] && nofile=1048576
  nproc="$(ulimit -Hu)"
  [[ "$nproc" == unlimited || "$nproc" -gt 4096 ]] && nproc=4096
  echo "--network host --ulimit nofile=$nofile:$nofile --ulimit nproc=$nproc:$nproc"
}

base_images() {
  local tag missing=()
  for tag in "$SUITE" "$SUITE-slim"; do
    podman image exists "$BASE:$tag" || missing+=("$tag")
  done
  if ((${#missing[@]} == 0)); then
    log "base images $BASE:$SUITE and :$SUITE-slim present"
    return
  fi
  command -v mmdebstrap >/dev/null || { log "mmdebstrap not found (scripts/install-deps.sh)"; exit 1; }
  local tmp start
  tmp="$(mktemp -d)"
  # shellcheck disable=SC2064
  trap "rm -rf '$tmp'" RETURN
  start=$SECONDS
  log "making $BASE:$SUITE from Debian packages (mmdebstrap --variant=minbase)"
  # The merged-/usr hook instead of the usrmerge package (which would pull in perl), and no
  # manuals, docs or translations, as Debian's official slim images; sources as in those images.
  mmdebstrap --quiet --variant=minbase --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --aptopt='Acquire::Languages "none"' \
    "$SUITE" "$tmp/rootfs.tar" \
    "deb http://deb.debian.org/debian $SUITE main" \
    "deb http://deb.debian.org/debian $SUITE-updates main" \
    "deb http://deb.debian.org/debian-security $SUITE-security main"
  podman import --quiet --change 'CMD ["bash"]' "$tmp/rootfs.tar" "$BASE:$SUITE" >/dev/null
  podman tag "$BASE:$SUITE" "$BASE:$SUITE-slim"
  log "base images made in $((SECONDS - start)) s"
}

ccache_dir() {
  if [[ -n "${IMAGE_CCACHE_DIR:-}" ]]; then
    echo "$IMAGE_CCACHE_DIR"
  elif command -v ccache >/dev/null && [[ -n "$(ccache -k cache_dir 2>/dev/null)" ]]; then
    ccache -k cache_dir
  else
    echo "$ROOT/.cache/ccache-image"
  fi
}

build() {
  command -v podman >/dev/null || { log "podman not found (scripts/install-deps.sh)"; exit 1; }
  base_images
  local cache start extra=()
  cache="$(ccache_dir)"
  mkdir -p "$cache"
  read -r -a extra <<<"${IMAGE_BUILD_ARGS:-}"
  # The host's CA bundle, for the probe stage's downloads over HTTPS (a TLS-intercepting proxy's CA
  # is in there, where there is one); a mounted file is in no layer of the image.
  local ca="${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}"
  [[ -s "$ca" ]] && extra+=(--volume "$ca:/run/host-ca-certificates.crt:ro")
  # ccache hashes these (they change the compiler's messages): the host's, so that the objects
  # scripts/build.sh compiled are hits.
  local var
  for var in LANG LC_ALL LC_CTYPE LC_MESSAGES; do
    [[ -n "${!var:-}" ]] && extra+=(--build-arg "$var=${!var}")
  done
  start=$SECONDS
  log "building $IMAGE (ccache $cache)"
  podman build --isolation chroot --network host --format docker \
    --volume "$cache:/ccache" --build-arg BUILD_JOBS="${BUILD_JOBS:-2}" \
    "${extra[@]}" -t "$IMAGE" .
  # Each build whose sources changed leaves its old layers behind (tens of MB, the build tree is
  # not kept): drop those unused for a week. A dropped layer is only rebuilt, from ccache.
  podman image prune --force --filter until=168h >/dev/null || true
  local size
  size="$(podman image inspect --format '{{.Size}}' "$IMAGE")"
  log "built $IMAGE in $((SECONDS - start)) s; size $((size / 1000000)) MB"
}

case "${1:-build}" in
  build)
    build
    ;;
  --test)
    build
    VENV="${VENV_DIR:-$ROOT/.cache/venv}"
    CRM_IMAGE="$IMAGE" CRM_IMAGE_BUILT=1 CRM_BUILD_DIR="${BUILD_DIR:-build}" \
      "$VENV/bin/python" -m pytest -q tests/process/test_image.py
    ;;
  run)
    shift
    # shellcheck disable=SC2046
    exec "${PODMAN[@]}" run $(run_options) "$@"
    ;;
  podman)
    shift
    exec "${PODMAN[@]}" "$@"
    ;;
  run-options)
    run_options
    ;;
  *)
    sed -n '2,/^set -euo/p' "$0" | sed '$d' >&2
    exit 2
    ;;
esac
