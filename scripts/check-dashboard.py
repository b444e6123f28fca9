#!/usr/bin/env python3
"""Cheap drift check of the Grafana dashboard (deploy/k8s/components/monitoring/crm-dashboard.json)
against the metrics the servers serve, run by scripts/check-k8s.sh; standard library only.

Fails (exit 1, naming the panel) when:
  - the file is not JSON, or not a dashboard of this shape: a `${datasource}` Prometheus
    variable that every panel and query uses, unique panel ids, every non-row panel has a
    gridPos and at least one query;
  - a query (or a template variable's query) names a metric that docs/observability.md's
    metric table does not list. Histogram series (`_bucket`, `_sum`, `_count`) count as their
    histogram. Metric names are what is left of an expression once strings, label matchers,
    ranges, grouping clauses, functions and keywords are taken out, so a metric written without
    braces is caught too.
It does not evaluate PromQL: scripts/render-dashboard.sh runs every query against a real
Prometheus.

Usage: scripts/check-dashboard.py [DASHBOARD_JSON [OBSERVABILITY_MD]]
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = ROOT / "deploy" / "k8s" / "components" / "monitoring" / "crm-dashboard.json"
DOC = ROOT / "docs" / "observability.md"

# PromQL words that are not metric names: aggregations, binary and set operators, modifiers.
KEYWORDS = {
    "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk", "quantile",
    "count_values", "group", "limitk", "limit_ratio", "by", "without", "on", "ignoring",
    "group_left", "group_right", "and", "or", "unless", "bool", "offset", "atan2", "inf", "nan",
}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
IDENT = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def documented_metrics(doc: Path) -> set[str]:
    """The metric names in the first column of the table under '## Metrics'."""
    names: set[str] = set()
    in_section = False
    for line in doc.read_text().splitlines():
        if line.startswith("## "):
            in_section = line.strip() == "## Metrics"
            continue
        if in_section and line.startswith("|"):
            first_cell = line.split("|")[1]
            names.update(re.findall(r"`([a-zA-Z_:][a-zA-Z0-9_:]*)`", first_cell))
    return names


def metric_names(expr: str) -> set[str]:
    """The metric names an expression selects (see the module comment)."""
    e = re.sub(r"\$\{?__[a-z_]+\}?", "1m", expr)                # Grafana's $__rate_interval, ...
    e = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', e)  # string literals
    e = re.sub(r"\{[^{}]*\}", " ", e)                         # label matchers
    e = re.sub(r"\[[^\[\]]*\]", " ", e)                       # ranges and subqueries
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", r" \1 ", e)
    e = re.sub(r"\b\d[\w.]*", " ", e)                         # numbers and durations
    names = set()
    for m in IDENT.finditer(e):
        word = m.group(0)
        if re.match(r"\s*\(", e[m.end():]):                   # a function call
            continue
        if word.lower() in KEYWORDS:
            continue
        names.add(word)
    return names


def known(name: str, documented: set[str]) -> bool:
    if name in documented:
        return True
    return any(name.endswith(s) and name[: -len(s)] in documented for s in HISTOGRAM_SUFFIXES)


def check(dashboard_path: Path, doc_path: Path) -> list[str]:
    problems: list[str] = []
    try:
        dash = json.loads(dashboard_path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        return [f"{dashboard_path}: not JSON: {err}"]
    documented = documented_metrics(doc_path)
    if not documented:
        return [f"{doc_path}: no metric table under '## Metrics'"]

    variables = {v.get("name"): v for v in dash.get("templating", {}).get("list", [])}
    ds = variables.get("datasource")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        problems.append("no `datasource` variable of type datasource (query prometheus)")
    want_ds = {"type": "prometheus", "uid": "${datasource}"}

    queries: list[tuple[str, str]] = []  # (where, expression)
    for name, v in variables.items():
        if v.get("type") == "query":
            q = v.get("query")
            q = q.get("query", "") if isinstance(q, dict) else (q or "")
            inner = re.fullmatch(r"\s*label_values\((.*),\s*[a-zA-Z_]+\)\s*", q)
            queries.append((f"variable {name}", inner.group(1) if inner else q))
            if v.get("datasource") != want_ds:
                problems.append(f"variable {name}: datasource is not ${{datasource}}")

    ids = set()
    for panel in dash.get("panels", []):
        title = panel.get("title", "?")
        pid = panel.get("id")
        if pid in ids:
            problems.append(f"panel {title!r}: id {pid} used twice")
        ids.add(pid)
        if not all(k in panel.get("gridPos", {}) for k in ("h", "w", "x", "y")):
            problems.append(f"panel {title!r}: no gridPos")
        if panel.get("type") == "row":
            continue
        if panel.get("datasource") != want_ds:
            problems.append(f"panel {title!r}: datasource is not ${{datasource}}")
        targets = panel.get("targets", [])
        if not targets:
            problems.append(f"panel {title!r}: no query")
        for t in targets:
            if t.get("datasource", want_ds) != want_ds:
                problems.append(f"panel {title!r} query {t.get('refId')}: datasource is not "
                                "${datasource}")
            expr = t.get("expr", "")
            names = metric_names(expr)
            if not names:
                problems.append(f"panel {title!r} query {t.get('refId')}: no metric in {expr!r}")
            queries.append((f"panel {title!r} query {t.get('refId')}", expr))

    for where, expr in queries:
        for name in sorted(metric_names(expr)):
            if not known(name, documented):
                problems.append(f"{where}: metric {name} is not in {doc_path.name}'s metric "
                                "table")
    return problems


def main(argv: list[str]) -> int:
    dashboard = Path(argv[1]) if len(argv) > 1 else DASHBOARD
    doc = Path(argv[2]) if len(argv) > 2 else DOC
    problems = check(dashboard, doc)
    for p in problems:
        print(f"[check-dashboard] {p}", file=sys.stderr)
    if problems:
        return 1
    dash = json.loads(dashboard.read_text())
    panels = [p for p in dash["panels"] if p.get("type") != "row"]
    used = set()
    for p in panels:
        for t in p["targets"]:
            used |= metric_names(t["expr"])
    shown = dashboard.relative_to(ROOT) if dashboard.is_relative_to(ROOT) else dashboard
    print(f"[check-dashboard] {shown}: {len(panels)} panels, {len(used)} metric names, all in "
          f"{doc.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
