#!/usr/bin/env bash
# Static checks of the Kubernetes manifests (deploy/k8s); no cluster needed. Exits non-zero on the
# first failure, with a message naming it.
#   - every overlay in deploy/k8s/overlays renders with kustomize (pinned, .cache/bin) into
#     $BUILD_DIR/k8s/<overlay>.yaml;
#   - every rendered object validates against the Kubernetes OpenAPI schemas in strict mode (an
#     unknown field fails), of Kubernetes 1.30 and of the newest version kubernetes-validate
#     ships. Custom resources have no schema there: the kinds in SKIP_KINDS (Strimzi's, the
#     Prometheus Operator's PodMonitor) are left out by name, and any other kind without a
#     schema fails;
#   - checkov (framework kubernetes, its graph checks included) passes on the rendered objects.
#     Checks are skipped only by checkov.io/skipN annotations in deploy/k8s, each next to a
#     comment saying why; the script lists them. --skip-download: checkov calls no one;
#   - the Grafana dashboard of components/monitoring parses, and every metric its panels query
#     is in docs/observability.md's metric table (scripts/check-dashboard.py).
# Whether the binaries accept the flags and CRM_* variables the manifests set is the job of
# tests/process/test_k8s_manifests.py (pytest, needs a build), which renders the same overlays.
# Installs what is missing through scripts/install-deps.sh (kustomize, .cache/venv-k8s).
# Env: BUILD_DIR (default build), KUSTOMIZE, K8S_VENV_DIR.
# Usage: scripts/check-k8s.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BUILD_DIR="${BUILD_DIR:-build}"
KUSTOMIZE="${KUSTOMIZE:-$ROOT/.cache/bin/kustomize}"
K8S_VENV="${K8S_VENV_DIR:-$ROOT/.cache/venv-k8s}"
OUT="$BUILD_DIR/k8s"
# Oldest Kubernetes the manifests are validated against (the pod-index label that gives
# crm-command its replica index needs 1.28; 1.30 is the oldest release still maintained when
# this was written). The newest is whatever kubernetes-validate ships.
MIN_K8S_VERSION="1.30"
# Custom resources of components/strimzi (the Strimzi operator's CRDs): no schema in
# kubernetes-validate, so not validated here; the Strimzi operator validates them on apply.
SKIP_KINDS="Kafka KafkaNodePool KafkaTopic"
# Custom resource of components/monitoring (the Prometheus Operator's CRD): no schema in
# kubernetes-validate either; the operator's CRD validates it on apply.
SKIP_KINDS+=" PodMonitor"

log() { echo "[check-k8s] $*"; }
fail() { echo "[check-k8s] FAIL: $*" >&2; exit 1; }

case "${1:-}" in
  -h | --help) sed -n '2,21p' "${BASH_SOURCE[0]}"; exit 0 ;;
  "") ;;
  *) fail "unknown argument: $1" ;;
esac

if [[ ! -x "$KUSTOMIZE" || ! -x "$K8S_VENV/bin/kubernetes-validate" ||
      ! -x "$K8S_VENV/bin/checkov" ]]; then
  log "kustomize or the checkers are missing: running scripts/install-deps.sh"
  scripts/install-deps.sh
fi
KPY="$K8S_VENV/bin/python"

# --- render -------------------------------------------------------------------------------------
rm -rf "$OUT"
mkdir -p "$OUT"
overlays=()
for dir in deploy/k8s/overlays/*/; do
  name="$(basename "$dir")"
  "$KUSTOMIZE" build "$dir" >"$OUT/$name.yaml" || fail "kustomize build $dir"
  overlays+=("$name")
done
((${#overlays[@]} > 0)) || fail "no overlay in deploy/k8s/overlays"
log "rendered with kustomize $("$KUSTOMIZE" version): ${overlays[*]} (into $OUT)"

# --- schemas ------------------------------------------------------------------------------------
newest="$("$KPY" - <<'EOF'
import os, re, kubernetes_validate
d = os.path.join(os.path.dirname(kubernetes_validate.__file__), "kubernetes-json-schema")
versions = [tuple(map(int, m.groups())) for n in os.listdir(d)
            if (m := re.fullmatch(r"v(\d+)\.(\d+)\.\d+-local-strict", n))]
print("%d.%d" % max(versions))
EOF
)"
for name in "${overlays[@]}"; do
  # The objects of SKIP_KINDS go aside (listed); the rest into <overlay>.validate.yaml.
  "$KPY" - "$OUT/$name.yaml" "$OUT/$name.validate.yaml" "$SKIP_KINDS" <<'EOF' ||
import sys, yaml
src, dst, skip = sys.argv[1], sys.argv[2], set(sys.argv[3].split())
docs = [d for d in yaml.safe_load_all(open(src)) if d]
for d in docs:
    if d["kind"] in skip:
        print(f"[check-k8s]   not validated (custom resource): {d['kind']}/{d['metadata']['name']}")
with open(dst, "w") as f:
    yaml.safe_dump_all([d for d in docs if d["kind"] not in skip], f, sort_keys=False)
EOF
    fail "$name: cannot split the rendered objects"
  for version in "$MIN_K8S_VERSION" "$newest"; do
    if ! result="$("$K8S_VENV/bin/kubernetes-validate" --strict --quiet \
                     --kubernetes-version "$version" "$OUT/$name.validate.yaml" 2>&1)"; then
      echo "$result" >&2
      fail "$name: schema errors (Kubernetes $version)"
    fi
    # A kind without a schema is only a warning to kubernetes-validate; here it fails.
    if [[ -n "$result" ]]; then
      echo "$result" >&2
      fail "$name: kubernetes-validate warned (Kubernetes $version)"
    fi
  done
  count="$(grep -c '^kind:' "$OUT/$name.validate.yaml")"
  log "$name: $count objects valid against Kubernetes $MIN_K8S_VERSION and $newest (strict)"
done

# --- checkov ------------------------------------------------------------------------------------
skips="$(grep -rhoE 'checkov\.io/skip[0-9]+: *CKV[0-9]*_[A-Z0-9]+_[0-9]+' deploy/k8s |
         sed 's/.*: *//' | sort -u | tr '\n' ' ')"
log "checkov checks skipped by annotations in deploy/k8s (reasons there): ${skips:-none}"
files=()
for name in "${overlays[@]}"; do files+=(-f "$OUT/$name.yaml"); done
"$K8S_VENV/bin/checkov" "${files[@]}" --framework kubernetes --skip-download --compact --quiet \
  >"$OUT/checkov.txt" 2>&1 || { cat "$OUT/checkov.txt" >&2; fail "checkov"; }
sed -n 's/^\(Passed checks: .*\)$/[check-k8s] checkov: \1/p' "$OUT/checkov.txt"

# --- dashboard ----------------------------------------------------------------------------------
"$KPY" scripts/check-dashboard.py || fail "the Grafana dashboard (scripts/check-dashboard.py)"
log "ok"
