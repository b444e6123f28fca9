#!/usr/bin/env python3
"""Writes the benchmark's report from bench/bench.py's results.json: a markdown page (the tables,
each figure as the median of the runs with their range, and its ratio to its ceiling) and the plot
of latency against throughput per engine (PNG, next to the page in images/). Needs matplotlib
(scripts/install-deps.sh --bench puts it in .cache/venv-bench); without it the page is written and
the plot left out."""

from __future__ import annotations

import argparse
import json
import statistics
from collections import defaultdict
from pathlib import Path

PLOT_NAME = "performance-latency-throughput.png"
COMMANDS = ("RegisterCustomer", "UpdateCustomer", "RecordPurchase", "LogInteraction",
            "complaint flow (7 commands)")


def med(values) -> float:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else 0.0


def num(x: float) -> str:
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.1f}"
    if x >= 1:
        return f"{x:.2f}"
    return f"{x:.3f}"


def spread(values, fmt=num) -> str:
    """median (min–max) of the runs; just the value for one run."""
    values = [v for v in values if v is not None]
    if not values:
        return "–"
    if len(values) == 1:
        return fmt(values[0])
    return f"{fmt(statistics.median(values))} ({fmt(min(values))}–{fmt(max(values))})"


def mib(b: float) -> str:
    return f"{b / 2**20:,.0f} MiB" if b >= 2**20 else f"{b / 1024:,.0f} KiB"


def group(figures: list[dict]) -> dict:
    out = defaultdict(list)
    for f in figures:
        out[(f["engine"], f["name"], f["concurrency"])].append(f)
    return out


def figure_table(figures: list[dict], order: list[str], kafka_extra: bool = False) -> list[str]:
    head = ("| engine | what | concurrency | rate/s | p50 ms | p99 ms | health Check rate/s "
            "| ratio to health | CPU ms per 1k calls |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    if kafka_extra:
        lines[0] += " events per transaction | transaction ms |"
        lines[1] += "---|---|"
    groups = group(figures)
    keys = sorted(groups, key=lambda k: (k[0] != "embedded", order.index(k[1])
                                         if k[1] in order else 99, k[2]))
    for key in keys:
        runs = groups[key]
        engine, name, c = key
        row = (f"| {engine} | {name} | {c} | {spread([r['rate'] for r in runs])} "
               f"| {spread([r['p50'] for r in runs])} | {spread([r['p99'] for r in runs])} "
               f"| {spread([r['health_rate'] for r in runs])} "
               f"| {spread([r['ratio'] for r in runs], lambda x: f'{x:.2f}')} "
               f"| {spread([r.get('cpu_ms_per_1k') for r in runs])} |")
        if kafka_extra:
            row += (f" {spread([r.get('events_per_txn') for r in runs])} "
                    f"| {spread([r.get('txn_ms') for r in runs])} |")
        lines.append(row)
    return lines


def plot(results: dict, path: Path) -> bool:
    try:
        import matplotlib  # pylint: disable=import-outside-toplevel
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
    except ImportError:
        return False
    engines = sorted({f["engine"] for f in results["commands"]},
                     key=lambda e: (e != "embedded", e))
    if not engines:
        return False
    fig, axes = plt.subplots(1, len(engines), figsize=(6.2 * len(engines), 4.6), squeeze=False)
    groups = group(results["commands"])
    for ax, engine in zip(axes[0], engines):
        for name in COMMANDS:
            points = sorted((c, med(r["rate"] for r in runs), med(r["p50"] for r in runs))
                            for (e, n, c), runs in groups.items() if e == engine and n == name)
            if points:
                ax.plot([p[1] for p in points], [p[2] for p in points], marker="o", label=name)
                for c, x, y in points:
                    ax.annotate(f"c={c}", (x, y), fontsize=7, xytext=(3, 3),
                                textcoords="offset points")
        health = defaultdict(list)
        for f in results["commands"]:
            if f["engine"] == engine and f["name"] == "RegisterCustomer":
                health[f["concurrency"]].append((f["health_rate"], f["health_p50"]))
        if health:
            pts = sorted((c, med(v[0] for v in vs), med(v[1] for v in vs))
                         for c, vs in health.items())
            ax.plot([p[1] for p in pts], [p[2] for p in pts], "k--", marker="x",
                    label="health Check (ceiling)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("throughput (calls/s, median of runs)")
        ax.set_ylabel("p50 latency (ms)")
        ax.set_title(f"commands, {engine}")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    meta = results.get("meta", {})
    fig.suptitle(f"latency against throughput (concurrency 1 to {max(meta.get('concurrency', [1]))}"
                 f", {meta.get('mode', '')} mode, commit {meta.get('commit', '')})", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return True


def goal_concurrency(levels: list[int]) -> int:
    """The concurrency the goals name (64), or the nearest one measured."""
    return min(levels, key=lambda c: abs(c - 64))


def goals(r: dict) -> list[str]:
    meta = r["meta"]
    top = goal_concurrency(meta["concurrency"])
    qtop = goal_concurrency(meta["query_concurrency"])
    g = group(r["commands"])
    q = group(r["queries"])
    rows = ["| goal (2 cores, client included) | measured | met |", "|---|---|---|"]

    def ratios(groups, engine, c, names=None):
        return {n: med(x["ratio"] for x in runs) for (e, n, cc), runs in groups.items()
                if e == engine and cc == c and (names is None or n in names)}

    def verdict(ok) -> str:
        return "–" if ok is None else ("yes" if ok else "no")

    def ratio_row(goal, values, threshold):
        if not values:
            rows.append(f"| {goal} | not measured | – |")
            return
        text = ", ".join(f"{n} {v:.2f}" for n, v in values.items())
        rows.append(f"| {goal} | {text} | {verdict(min(values.values()) >= threshold)} |")

    ratio_row(f"embedded commands ≥ 50% of the bare round trip at concurrency 64 "
              f"(here {top})", ratios(g, "embedded", top), 0.5)
    qr = ratios(q, "embedded", qtop)
    if qr:
        worst = sorted(qr.items(), key=lambda kv: kv[1])[:3]
        text = (f"{min(qr.values()):.2f}–{max(qr.values()):.2f} over {len(qr)} queries; lowest: "
                + ", ".join(f"{n} {v:.2f}" for n, v in worst))
        rows.append(f"| embedded queries ≥ 80% at concurrency 64 (here {qtop}) | {text} "
                    f"| {verdict(min(qr.values()) >= 0.8)} |")
    qk = ratios(q, "kafka", qtop)
    if qk:
        rows.append(f"| (Kafka, crm-projector) queries at concurrency {qtop} | "
                    f"{min(qk.values()):.2f}–{max(qk.values()):.2f} | – |")
    ratio_row(f"Kafka commands ≥ 30% of the bare round trip at concurrency 64 (here {top})",
              ratios(g, "kafka", top), 0.3)
    kafka_rate = med(x["rate"] for x in g.get(("kafka", "RegisterCustomer", top), []))
    ceilings = r.get("kafka_ceiling", [])
    pp = med(c["rate"] for c in ceilings if c["tool"] == "ProducerPerformance")
    sized = [c for c in ceilings if c["tool"] == "txn_ceiling" and c["records_per_txn"] > 1]
    sized = sized or [c for c in ceilings if c["tool"] == "txn_ceiling"]
    if kafka_rate and (pp or sized):
        parts = []
        ok = None
        if sized:
            rate = med(c["rate"] for c in sized)
            parts.append(f"{kafka_rate / rate:.2f} of txn_ceiling ({num(rate)} events/s in "
                         f"transactions of {sized[0]['records_per_txn']})")
            ok = kafka_rate / rate >= 0.5
        if pp:
            parts.append(f"{kafka_rate / pp:.2f} of ProducerPerformance ({num(pp)} records/s)")
        rows.append(f"| Kafka commands ≥ 50% of the producer benchmark with the same transaction "
                    f"sizes (RegisterCustomer, one event each, at {top}) | {'; '.join(parts)} "
                    f"| {verdict(ok)} |")
    else:
        rows.append("| Kafka commands ≥ 50% of the producer benchmark | not measured | – |")
    emb1 = med(x["p50"] for x in g.get(("embedded", "RegisterCustomer", 1), []))
    kaf1 = med(x["p50"] for x in g.get(("kafka", "RegisterCustomer", 1), []))
    if emb1 and kaf1:
        rows.append(f"| a sequential command on Kafka ≤ 3× the embedded one (RegisterCustomer p50 "
                    f"at concurrency 1) | {kaf1:.2f} / {emb1:.2f} ms = {kaf1 / emb1:.1f}× "
                    f"| {verdict(kaf1 / emb1 <= 3)} |")
    for lag in r.get("lag", []):
        limit = 20 if lag["engine"] == "kafka" else 5
        rows.append(f"| lag p99 ≤ {limit} ms at {lag['load_target']} commands/s, {lag['engine']} "
                    f"| p99 {lag['lag_p99']:.1f} ms (p50 {lag['lag_p50']:.1f}) at "
                    f"{num(lag['load_rate'])}/s | "
                    f"{verdict(lag['lag_p99'] <= limit and lag['load_target'] >= 500)} |")
    folds = [f for f in r.get("fold", []) if f["engine"] == "embedded"]
    for f in folds:
        rows.append(f"| fold ≥ 50% of the raw RocksDB rate ({f['events']:,} events) | "
                    f"{num(f['fold_rate'])} / {num(f['raw_rocksdb']['events_per_s'])} events/s "
                    f"= {f['fold_ratio']:.2f} | {verdict(f['fold_ratio'] >= 0.5)} |")
    big = [f for f in folds if f["events"] >= 1_000_000]
    if big:
        f = big[-1]
        rows.append(f"| rebuild of 1M events in under a minute | {f['rebuild_seconds']:.1f} s for "
                    f"{f['events']:,} events | {verdict(f['rebuild_seconds'] < 60)} |")
        rows.append(f"| RSS bounded and written down at 1M events | crm-server "
                    f"{mib(f['rss_after_rebuild'])} after the rebuild, "
                    f"{mib(f['rss_after_fold'])} after the online refold | – |")
    else:
        rows.append("| rebuild of 1M events in under a minute | not measured (full mode only) "
                    "| – |")
        rows.append("| RSS bounded and written down at 1M events | not measured (full mode only) "
                    "| – |")
    return rows


def report(r: dict, wall: int | None, plotted: bool) -> str:
    meta = r["meta"]
    top = goal_concurrency(meta["concurrency"])
    out: list[str] = []
    w = out.append
    w("# Performance")
    w("")
    w("<!-- Written by scripts/bench.sh (bench/report.py) from bench/results/results.json; "
      "edit bench/report.py, not this file. -->")
    w("")
    if meta.get("note"):
        w(f"> **{meta['note']}**")
        w("")
    w("What the servers do on this machine, measured from outside with a gRPC load generator "
      "([ghz](https://ghz.sh)) against the real binaries, on both engines. Every figure is the "
      "median of several runs with their range (min–max), and its ratio to a ceiling measured in "
      "the same run: the bare `grpc.health.v1.Health/Check` round trip to the same process with "
      "the same client and concurrency. A benchmark, not a test: rerun it before you rely on a "
      "number. Where the time goes (perf profiles, before and after each change): "
      "[profile.md](profile.md).")
    w("")
    w("## How to run")
    w("")
    w("```sh")
    w("scripts/bench.sh            # the full benchmark: this page, its plot, raw JSON in "
      "bench/results/")
    w("scripts/bench.sh --short    # seconds per part, no thresholds (the test command runs it); "
      "writes build/bench-short/")
    w("```")
    w("")
    w("It installs ghz (Go module proxy), matplotlib (`.cache/venv-bench`) and Kafka's "
      "`kafka-tools` jars (Maven Central, the broker's version), builds the servers and "
      "`bench/rocksdb_write_bench`, starts a Kafka broker of its own (ports 19692/19693, the full "
      "JIT) and every server it measures. Options: `--runs N`, `--duration SECONDS` (per figure), "
      "`--engines embedded,kafka,growth`. Details of each part: [bench/README.md](../bench/README.md).")
    w("")
    w("The servers run **without authentication** (the default development mode, "
      "[security.md](security.md)); with tokens every call also verifies a JWT. No TLS.")
    w("")
    w("## This run")
    w("")
    w("| | |")
    w("|---|---|")
    w(f"| mode | {meta['mode']} |")
    w(f"| date, commit | {meta['date']}, `{meta['commit']}` |")
    w(f"| machine | {meta['cpus']} cores ({meta['cpu_model']}), {meta['memory_gib']} GiB; the "
      "servers, the broker and the load generator share the cores |")
    la, lb = meta.get("load_before", [0, 0, 0]), meta.get("load_after", [0, 0, 0])
    w(f"| load average before / after | {la[0]:.1f} / {lb[0]:.1f} |")
    w(f"| runs per figure, seconds per run | {meta['runs']}, {meta['duration_s']} "
      f"(a complaint's flow: {meta['flow_complaints']} complaints per step) |")
    w(f"| data | {meta['seed_customers']:,} customers seeded per engine (tags, purchases, "
      "interactions, complaints), plus everything the runs add |")
    w(f"| ghz | up to 4 connections, concurrency {', '.join(map(str, meta['concurrency']))} "
      f"(queries: {', '.join(map(str, meta['query_concurrency']))}) |")
    w("| Kafka | one `crm-command` and one `crm-projector` (6 partitions, one writer), a "
      "single KRaft broker (`scripts/kafka`) |")
    if wall:
        w(f"| wall time of the whole benchmark | {wall} s |")
    for part, m in sorted(meta.get("kept", {}).items()):
        la, lb = m.get("load_before") or [0], m.get("load_after") or [0]
        w(f"| **{part}**: from an earlier run | {m['date']}, `{m['commit']}`, {m['runs']} runs of "
          f"{m['duration_s']} s, load {la[0]:.1f} / {lb[0]:.1f} |")
    w("")
    w("## Commands")
    w("")
    w("`RegisterCustomer` a new customer per call; `UpdateCustomer` (display name), "
      "`RecordPurchase`, `LogInteraction` on the seeded customers; a complaint's flow is seven "
      "commands (file, acknowledge, assign, start investigation, resolve, follow-up visit, close) "
      "run step after step over a set of complaints, counted together. CPU: the servers' CPU time "
      "(user + system, from `/proc`) per 1000 calls; on Kafka, crm-command and crm-projector "
      "(the broker's is under Resources).")
    w("")
    out.extend(figure_table([f for f in r["commands"] if f["engine"] == "embedded"],
                            list(COMMANDS)))
    w("")
    kafka = [f for f in r["commands"] if f["engine"] == "kafka"]
    if kafka:
        w("On Kafka (events per transaction and transaction time: crm-command's writer, from its "
          "`crm_log_write_*` metrics during the run):")
        w("")
        out.extend(figure_table(kafka, list(COMMANDS), kafka_extra=True))
        w("")
    if plotted:
        w(f"![latency against throughput](images/{PLOT_NAME})")
        w("")
    ceilings = r.get("kafka_ceiling", [])
    if ceilings:
        w("## The Kafka engine's own ceiling")
        w("")
        w("Against the same broker, after the commands: `org.apache.kafka.tools.ProducerPerformance` "
          "(kafka-tools of the broker's version; transactional, `acks=all`, `linger.ms=0`, lz4, "
          "records of the mean size of our events, transactions as long as crm-command's at the "
          f"concurrency of the goals ({top}); it cannot fix the records per transaction), and "
          "`bench/txn_ceiling.c` (crm-command's librdkafka and producer settings; back-to-back "
          "transactions of exactly N records of 300 bytes: 1, and the writer's mean at "
          f"concurrency {top}).")
        w("")
        w("| tool | records | rate (records/s) | p50 / p99 ms | RegisterCustomer on Kafka "
          "(events/s) as a share of it |")
        w("|---|---|---|---|---|")
        groups = group(r["commands"])
        low = min(meta["concurrency"])
        by = defaultdict(list)
        for c in ceilings:
            key = (c["tool"], c.get("records_per_txn"), c.get("transaction_ms"),
                   c.get("record_bytes"))
            by[key].append(c)
        for (tool, per, ms, size), runs in by.items():
            what = (f"{size} B, {ms} ms transactions" if tool == "ProducerPerformance"
                    else f"{per} per transaction")
            rate = med(x["rate"] for x in runs)
            c = low if tool == "txn_ceiling" and per == 1 else top
            kafka_rate = med(x["rate"] for x in groups.get(("kafka", "RegisterCustomer", c), []))
            share = (f"{num(kafka_rate)} at concurrency {c} = {kafka_rate / rate:.2f}"
                     if rate and kafka_rate else "–")
            w(f"| {tool} | {what} | {spread([x['rate'] for x in runs])} | "
              f"{med(x['p50'] for x in runs):.1f} / {med(x['p99'] for x in runs):.1f} | {share} |")
        w("")
    w("## Queries")
    w("")
    w("Against the seeded customers (1 per cent tagged vip, half with a purchase) after the command "
      "runs; on Kafka against crm-projector, whose health Check is the ceiling.")
    w("")
    order = [f["name"] for f in r["queries"]]
    out.extend(figure_table(r["queries"], list(dict.fromkeys(order))))
    w("")
    if r.get("lag"):
        w("## Command → queryable lag")
        w("")
        w("Under a steady background load of `LogInteraction` (ghz, fixed rate), a probe "
          "registers a customer and then asks for it (`GetCustomer`) with the answer's "
          "consistency token; the lag is the time from the command's answer until that query "
          "answered, so it includes one query round trip (Python gRPC client). Next to it the same "
          "query without a token for a customer folded long ago, under the same load.")
        w("")
        w("| engine | background load (target → reached) | probes | lag p50 / p99 ms | bare "
          "query p50 / p99 ms | the probe's command p50 / p99 ms |")
        w("|---|---|---|---|---|---|")
        for lag in r["lag"]:
            w(f"| {lag['engine']} | {lag['load_target']} → {num(lag['load_rate'])}/s | "
              f"{lag['probes']} | {lag['lag_p50']:.2f} / {lag['lag_p99']:.2f} | "
              f"{lag['bare_query_p50']:.2f} / {lag['bare_query_p99']:.2f} | "
              f"{lag['command_p50']:.2f} / {lag['command_p99']:.2f} |")
        w("")
    if r.get("fold"):
        w("## Fold and rebuild")
        w("")
        w("Embedded: a crm-server with customers registered until the log holds the number of "
          "events shown (the growth data below, then more `RegisterCustomer`). *Fold*: "
          "`AdminService.RebuildFolds` of every view while the server is idle, until no fold is "
          "refolding. *Rebuild*: a restart with `--rebuild` (command state and views), from the "
          "process's start until it serves. *Raw RocksDB*: `bench/rocksdb_write_bench` writes the "
          "keys and values of the resulting views store (its final state: fewer keys than the "
          "fold wrote where it overwrote) into an empty RocksDB, shuffled, in WriteBatches of 512 "
          "events' worth of keys, with common/kv's options. Kafka: a new crm-projector folding the "
          "whole topic before it listens.")
        w("")
        w("| engine | events | fold events/s | rebuild events/s (seconds) | raw RocksDB events/s "
          "(keys, bytes) | fold / raw | RSS after |")
        w("|---|---|---|---|---|---|---|")
        for f in sorted(r["fold"], key=lambda f: (f["engine"] != "embedded", f["events"])):
            if f["engine"] == "embedded":
                raw = f["raw_rocksdb"]
                w(f"| embedded | {f['events']:,} | {num(f['fold_rate'])} "
                  f"({f['fold_seconds']:.1f} s) | {num(f['rebuild_rate'])} "
                  f"({f['rebuild_seconds']:.1f} s) | {num(raw['events_per_s'])} "
                  f"({raw['keys']:,} keys, {mib(raw['bytes'])}) | {f['fold_ratio']:.2f} | "
                  f"{mib(f['rss_after_fold'])} after the fold, {mib(f['rss_after_rebuild'])} "
                  "after the rebuild |")
            else:
                w(f"| kafka | {f['events']:,} | {num(f['rate'])} ({f['seconds']:.1f} s, a new "
                  f"crm-projector) | – | – | – | {mib(f['rss_after'])} |")
        w("")
    if r.get("resources"):
        w("## Resources")
        w("")
        w(f"RSS from `/proc` (sampled every 0.2 s during the runs); bytes on disk of each data "
          f"directory (and on Kafka the topic's partitions in the broker) per 100k events; CPU "
          f"per 1000 `RegisterCustomer` at concurrency {r['resources'][0]['concurrency']}.")
        w("")
        w("| engine | process | RSS at rest | RSS seeded | RSS peak under load | RSS at the end | "
          "disk per 100k events | CPU ms per 1k commands |")
        w("|---|---|---|---|---|---|---|---|")
        for res in r["resources"]:
            names = list(res["rss_rest"]) + [n for n in res["disk_bytes"]
                                             if n not in res["rss_rest"]]
            for n in names:
                cpu = "–"
                if n == "kafka broker" and res.get("broker_cpu_ms_per_1k_register") is not None:
                    cpu = num(res["broker_cpu_ms_per_1k_register"])
                elif n == names[0] and res.get("cpu_ms_per_1k_register") is not None:
                    cpu = num(res["cpu_ms_per_1k_register"]) + (" (both processes)"
                                                                if res["engine"] == "kafka" else "")
                disk = res["disk_bytes_per_100k_events"].get(n)
                w(f"| {res['engine']} | {n} | {mib(res['rss_rest'].get(n, 0)) if n in res['rss_rest'] else '–'} "
                  f"| {mib(res['rss_seeded'].get(n, 0)) if n in res['rss_seeded'] else '–'} "
                  f"| {mib(res['rss_peak_under_load'].get(n, 0)) if n in res['rss_peak_under_load'] else '–'} "
                  f"| {mib(res['rss_end'].get(n, 0)) if n in res['rss_end'] else '–'} "
                  f"| {mib(disk) if disk is not None else '–'} | {cpu} |")
            w(f"| {res['engine']} | events in the log | {res['events']:,} | | | | | |")
        w("")
    if r.get("growth"):
        sizes = meta["growth_sizes"]
        w("## Growth")
        w("")
        w(f"Embedded: each query at concurrency 1 with {sizes[0]:,} and with {sizes[-1]:,} "
          "customers (1 per cent tagged vip, none with purchases): nothing should grow where the "
          "answer does not.")
        w("")
        w("| query | " + " | ".join(f"p50 / p99 ms at {s:,}" for s in sizes) + " | p50 growth |")
        w("|---|" + "---|" * len(sizes) + "---|")
        by = defaultdict(dict)
        for f in r["growth"]:
            by[f["name"]][f["customers"]] = f
        for name, per in by.items():
            cells = [f"{per[s]['p50']:.2f} / {per[s]['p99']:.2f}" if s in per else "–"
                     for s in sizes]
            a, b = per.get(sizes[0]), per.get(sizes[-1])
            growth = f"{b['p50'] / a['p50']:.1f}×" if a and b and a["p50"] else "–"
            w(f"| {name} | " + " | ".join(cells) + f" | {growth} |")
        w("")
    w("## Goals (issue 12)")
    w("")
    w("Measured is this run's median; met says whether it reaches the goal.")
    w("")
    out.extend(goals(r))
    w("")
    if meta.get("ghz_errors"):
        w("## Errors during the run")
        w("")
        for e in meta["ghz_errors"]:
            w(f"- {e}")
        w("")
    return "\n".join(out)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--results", required=True)
    p.add_argument("--markdown", required=True)
    p.add_argument("--wall-seconds", type=int)
    args = p.parse_args()
    results = json.loads(Path(args.results).read_text())
    markdown = Path(args.markdown)
    plotted = plot(results, markdown.parent / "images" / PLOT_NAME)
    markdown.parent.mkdir(parents=True, exist_ok=True)
    markdown.write_text(report(results, args.wall_seconds, plotted) + "\n")
    print(f"[bench] wrote {markdown}" + (" and its plot" if plotted else " (no plot: no command "
                                                                        "figures or no matplotlib)"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
