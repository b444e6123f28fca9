#!/usr/bin/env bash
# Draws the Grafana dashboard (deploy/k8s/components/monitoring/crm-dashboard.json) from real data
# into docs/images/dashboard.png: starts crm-server (embedded log, --metrics-listen) and a
# Prometheus scraping it every 5 s, drives a scenario over gRPC (commands in three load phases,
# queries, calls that fail, complaints whose SLA deadlines pass), then evaluates every panel's
# own queries through Prometheus' HTTP API and plots them with matplotlib in the dashboard's
# grid. Not Grafana: the picture is drawn from the dashboard's queries, not by Grafana.
# Takes about three minutes; not part of scripts/test.sh.
# Installs what it needs (scripts/install-deps.sh --dashboard: a venv in .cache/venv-dashboard,
# Prometheus in .cache/bin) and builds crm-server first.
# Env: BUILD_DIR (default build). Arguments go to scripts/render_dashboard.py (--duration
# SECONDS, default 120; --out PATH; --workdir DIR to keep the logs; --help).
# Usage: scripts/render-dashboard.sh [--duration 120] [--out docs/images/dashboard.png]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BUILD_DIR="${BUILD_DIR:-build}"

case "${1:-}" in
  -h | --help) sed -n '2,13p' "${BASH_SOURCE[0]}"; exit 0 ;;
esac

scripts/install-deps.sh --dashboard
BUILD_DIR="$BUILD_DIR" BUILD_TARGETS="crm-server" scripts/build.sh
export CRM_BUILD_DIR="$BUILD_DIR" PROMETHEUS="$ROOT/.cache/bin/prometheus"
exec "${DASHBOARD_VENV_DIR:-$ROOT/.cache/venv-dashboard}/bin/python" \
  scripts/render_dashboard.py "$@"
