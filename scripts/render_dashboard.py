#!/usr/bin/env python3
"""Draws the Grafana dashboard from real data (run it through scripts/render-dashboard.sh, which
installs Prometheus and matplotlib and builds crm-server).

1. crm-server on its embedded log with --metrics-listen, and Prometheus scraping it every 5 s
   with the labels the PodMonitor gives a pod (namespace, pod, container, job crm-server).
2. A scenario over gRPC for --duration seconds: command clients (tests/process/loadgen.py's mixed
   commands: customers, interactions, complaints through their flow) in three phases (light,
   heavy, light), query clients, a client whose calls fail (NOT_FOUND, INVALID_ARGUMENT,
   FAILED_PRECONDITION, ALREADY_EXISTS), and severe complaints left open so that their SLA
   deadlines pass (--sla-policy severe=15s/30s): breaches and automatic escalations.
3. Every panel's queries, as written in the dashboard, with the variables at "All" and
   $__rate_interval at 20 s (what Grafana picks for a 5 s scrape interval: 4 x scrape), go to
   Prometheus' /api/v1/query_range (stat panels: their last value; `instant` ones /api/v1/query).
4. matplotlib draws each panel where its gridPos puts it (rows, titles, units, legends, stat
   thresholds), in Grafana's dark colours.

Grafana itself does not run here: the picture is the dashboard's own queries on real data, drawn
by this script. Prints what it did and the panels that had no data.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import math
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "process"))

import crmtest  # noqa: E402  (generates the stubs, puts them on sys.path)
import loadgen  # noqa: E402
import orgtest  # noqa: E402
from crmtest import cpb, grpc, spb  # noqa: E402

from crm.v1 import complaint_pb2 as kpb  # noqa: E402
from crm.v1 import complaint_query_service_pb2 as kqpb  # noqa: E402
from crm.v1 import complaint_query_service_pb2_grpc as kqgrpc  # noqa: E402
from crm.v1 import complaint_service_pb2 as kspb  # noqa: E402
from crm.v1 import complaint_service_pb2_grpc as ksgrpc  # noqa: E402
from crm.v1 import interaction_pb2 as ipb  # noqa: E402

DASHBOARD = ROOT / "deploy" / "k8s" / "components" / "monitoring" / "crm-dashboard.json"
OUT = ROOT / "docs" / "images" / "dashboard.png"
SCRAPE_S = 5
RATE_INTERVAL = "20s"  # Grafana's $__rate_interval for a 5 s scrape interval
SLA_POLICY = "severe=15s/30s"
# The PodMonitor's labels for crm-server's pod (deploy/k8s/components/monitoring/podmonitor.yaml).
TARGET_LABELS = {"namespace": "crm", "pod": "crm-server-0", "container": "crm"}
JOB = "crm-server"
# (share of the duration it ends at, command clients, mean pause between two commands of one).
PHASES = [(0.3, 2, 0.02), (0.65, 6, 0.0), (1.0, 2, 0.02)]


def log(msg: str) -> None:
    print(f"[render-dashboard] {msg}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------------------
# Prometheus.


def _module_version(binary: Path) -> str:
    """The release of a Prometheus built by `go install` (which stamps no version into it), from
    the module version install-deps.sh records beside it: v0.316.0 is Prometheus 3.16.0."""
    try:
        module = (binary.parent / ".prometheus-version").read_text().strip()
    except OSError:
        return "(unknown version)"
    m = re.fullmatch(r"v0\.(\d)(\d\d)\.(\d+)", module)
    return f"{m.group(1)}.{int(m.group(2))}.{m.group(3)}" if m else module


class Prometheus:
    def __init__(self, binary: Path, workdir: Path, target: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = workdir / "prometheus.yml"
        labels = "".join(f"\n          {k}: {v}" for k, v in TARGET_LABELS.items())
        config.write_text(f"""global:
  scrape_interval: {SCRAPE_S}s
  evaluation_interval: {SCRAPE_S}s
scrape_configs:
  - job_name: {JOB}
    metrics_path: /metrics
    static_configs:
      - targets: ["{target}"]
        labels:{labels}
""")
        self.log_path = workdir / "prometheus.log"
        self.proc = subprocess.Popen(
            [str(binary), f"--config.file={config}", f"--storage.tsdb.path={workdir / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{self.port}"],
            stdin=subprocess.DEVNULL, stdout=open(self.log_path, "wb"), stderr=subprocess.STDOUT)
        crmtest.wait_for("Prometheus ready", self._ready, timeout_s=60, interval_s=0.2)
        self.version = self.get("/api/v1/status/buildinfo")["version"] or _module_version(binary)

    def _ready(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"prometheus exited {self.proc.returncode}; see {self.log_path}")
        try:
            with urllib.request.urlopen(self.url + "/-/ready", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def get(self, path: str, **params):
        url = self.url + path + ("?" + urllib.parse.urlencode(params) if params else "")
        with urllib.request.urlopen(url, timeout=30) as r:
            answer = json.loads(r.read())
        if answer.get("status") != "success":
            raise RuntimeError(f"{path} {params}: {answer}")
        return answer["data"]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


# ---------------------------------------------------------------------------------------------
# The scenario.


class Scenario:
    """Client threads against one server, counting every call's outcome by method and code."""

    def __init__(self, server, duration_s: float, seed: int):
        self.server = server
        self.duration_s = duration_s
        self.seed = seed
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.calls: Counter = Counter()  # (method, code)
        self.customers: list[str] = []
        self.started = 0.0
        self.threads: list[threading.Thread] = []
        self.failures: list[str] = []

    def count(self, method: str, code: str) -> None:
        with self.lock:
            self.calls[(method, code)] += 1

    def call(self, method: str, fn, request):
        try:
            answer = fn(request, timeout=10)
        except grpc.RpcError as err:
            self.count(method, err.code().name)
            return None
        self.count(method, "OK")
        return answer

    def phase(self) -> tuple[int, float]:
        share = (time.monotonic() - self.started) / self.duration_s
        for end, clients, pause in PHASES:
            if share < end:
                return clients, pause
        return PHASES[-1][1], PHASES[-1][2]

    def run(self) -> None:
        orgtest.make_org(self.server)
        self.started = time.monotonic()
        workers = [(self._commands, i) for i in range(max(p[1] for p in PHASES))]
        workers += [(self._queries, i) for i in range(2)] + [(self._errors, 0), (self._sla, 0)]
        self.threads = [threading.Thread(target=self._guard, args=(fn, i), daemon=True)
                        for fn, i in workers]
        for t in self.threads:
            t.start()
        while time.monotonic() - self.started < self.duration_s and not self.failures:
            time.sleep(0.5)
        self.stop.set()
        for t in self.threads:
            t.join(30)
        if self.failures:
            raise RuntimeError("a client failed: " + self.failures[0])

    def _guard(self, fn, i) -> None:
        try:
            fn(i)
        except Exception as err:  # pylint: disable=broad-except
            self.failures.append(f"{fn.__name__}({i}): {err!r}")
            self.stop.set()

    def _commands(self, i: int) -> None:
        rng = random.Random(self.seed * 100 + i)
        stubs = loadgen.command_stubs(self.server)
        commands = loadgen.Commands(rng, f"dash-{self.seed}-t{i}", mixed=True)
        while not self.stop.is_set():
            clients, pause = self.phase()
            if i >= clients:
                time.sleep(0.1)
                continue
            cmd = commands.next()
            # loadgen escalates a fifth of the complaints under way by hand, dozens a minute
            # here, which would bury the automatic escalations of the SLA breaches: none by hand
            # (a command skipped changes nothing: Commands learns only from answers).
            if cmd.method == "EscalateComplaint":
                continue
            answer = self.call(cmd.method, getattr(stubs[cmd.service], cmd.method), cmd.request)
            if answer is not None:
                ack = commands.answered(cmd, answer)
                if cmd.method == "RegisterCustomer":
                    with self.lock:
                        self.customers.append(ack.name)
            if pause:
                time.sleep(rng.uniform(0, 2 * pause))

    def _queries(self, i: int) -> None:
        rng = random.Random(self.seed * 1000 + i)
        query = self.server.query
        complaints = kqgrpc.ComplaintQueryServiceStub(self.server.channel)
        while not self.stop.is_set():
            with self.lock:
                name = rng.choice(self.customers) if self.customers else ""
            r = rng.random()
            if r < 0.6 and name:
                self.call("GetCustomer", query.GetCustomer, spb.GetCustomerRequest(name=name))
            elif r < 0.75 and name:
                self.call("GetCustomerHistory", query.GetCustomerHistory,
                          spb.GetCustomerHistoryRequest(name=name, page_size=100))
            elif r < 0.9:
                self.call("ListCustomers", query.ListCustomers,
                          spb.ListCustomersRequest(page_size=50))
            else:
                self.call("ListComplaints", complaints.ListComplaints,
                          kqpb.ListComplaintsRequest(page_size=50))
            time.sleep(rng.uniform(0, 0.03))

    def _errors(self, _: int) -> None:
        """Calls that fail, about five a second: what the error panels show."""
        rng = random.Random(self.seed)
        command = self.server.command
        complaints = ksgrpc.ComplaintCommandServiceStub(self.server.channel)
        owner = crmtest.register(self.server, customer_id=f"dash-{self.seed}-errors").customer
        filed = complaints.FileComplaint(kspb.FileComplaintRequest(
            parent=owner.name, request_id=crmtest.new_request_id(), complaint=kpb.Complaint(
                channel=ipb.PHONE, category=kpb.SERVICE_ATTITUDE, severity=kpb.MINOR,
                description="never acknowledged"))).complaint
        n = 0
        while not self.stop.is_set():
            n += 1
            r = rng.random()
            if r < 0.4:
                self.call("GetCustomer", self.server.query.GetCustomer,
                          spb.GetCustomerRequest(name=f"customers/missing-{n}"))
            elif r < 0.7:
                self.call("RegisterCustomer", command.RegisterCustomer,
                          spb.RegisterCustomerRequest(
                              request_id=crmtest.new_request_id(),
                              customer=crmtest.make_customer(display_name="")))
            elif r < 0.9:  # a FILED complaint cannot be closed
                self.call("CloseComplaint", complaints.CloseComplaint,
                          kspb.CloseComplaintRequest(name=filed.name,
                                                     request_id=crmtest.new_request_id()))
            else:  # the id is taken
                self.call("RegisterCustomer", command.RegisterCustomer,
                          spb.RegisterCustomerRequest(
                              customer_id=crmtest.customer_id_of(owner.name),
                              request_id=crmtest.new_request_id(),
                              customer=crmtest.make_customer(display_name="Taken")))
            time.sleep(rng.uniform(0.1, 0.3))

    def _sla(self, _: int) -> None:
        """Severe complaints nobody resolves: at 10 %, 35 % and 60 % of the run one acknowledged
        and assigned (its resolution deadline passes 30 s after filing), at 20 % one never
        acknowledged (its response deadline passes after 15 s, then its resolution deadline)."""
        complaints = ksgrpc.ComplaintCommandServiceStub(self.server.channel)
        plan = [(0.10, True), (0.20, False), (0.35, True), (0.60, True)]
        for k, (at, handled) in enumerate(plan):
            while (time.monotonic() - self.started) < at * self.duration_s:
                if self.stop.wait(0.2):
                    return
            customer = crmtest.register(self.server,
                                        customer_id=f"dash-{self.seed}-sla-{k}").customer
            c = self.call("FileComplaint", complaints.FileComplaint, kspb.FileComplaintRequest(
                parent=customer.name, request_id=crmtest.new_request_id(),
                complaint=kpb.Complaint(channel=ipb.PHONE, category=kpb.PRODUCT_QUALITY,
                                        severity=kpb.SEVERE, description="it caught fire")))
            if c is None or not handled:
                continue
            name = c.complaint.name
            self.call("AcknowledgeComplaint", complaints.AcknowledgeComplaint,
                      kspb.AcknowledgeComplaintRequest(name=name, responder=orgtest.AGENT,
                                                       request_id=crmtest.new_request_id()))
            self.call("AssignComplaint", complaints.AssignComplaint,
                      kspb.AssignComplaintRequest(name=name, assignee=orgtest.AGENT,
                                                  request_id=crmtest.new_request_id()))


# ---------------------------------------------------------------------------------------------
# The dashboard's queries.


def substitute(expr: str, range_s: int) -> str:
    """The expression as Grafana would send it: template variables at "All" (their allValue
    .*), $__rate_interval, $__interval and $__range."""
    expr = expr.replace("$__rate_interval", RATE_INTERVAL)
    expr = expr.replace("$__interval", f"{SCRAPE_S}s").replace("$__range", f"{range_s}s")
    return re.sub(r"\$\{?(namespace|job|pod)\}?", ".*", expr)


def legend(fmt: str, labels: dict) -> str:
    if not fmt:
        return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"
    return re.sub(r"\{\{\s*([a-zA-Z_]\w*)\s*\}\}", lambda m: labels.get(m.group(1), ""),
                  fmt).strip()


def evaluate(prom: Prometheus, dash: dict, start: float, end: float) -> dict:
    """{panel id: [(legend, [times], [values])...]} for every panel, from Prometheus."""
    out = {}
    range_s = int(round(end - start))
    for panel in dash["panels"]:
        if panel.get("type") == "row":
            continue
        series = []
        for t in panel.get("targets", []):
            expr = substitute(t["expr"], range_s)
            if t.get("instant"):
                data = prom.get("/api/v1/query", query=expr, time=end)
                for r in data["result"]:
                    ts, v = r["value"]
                    series.append((legend(t.get("legendFormat", ""), r["metric"]), [float(ts)],
                                   [float(v)]))
                continue
            data = prom.get("/api/v1/query_range", query=expr, start=start, end=end,
                            step=SCRAPE_S)
            # On one grid (start + k * step), missing steps NaN, so that series can be stacked.
            grid = [start + k * SCRAPE_S for k in range(int((end - start) // SCRAPE_S) + 1)]
            for r in data["result"]:
                values = [float("nan")] * len(grid)
                for ts, v in r["values"]:
                    k = round((float(ts) - start) / SCRAPE_S)
                    if 0 <= k < len(grid):
                        values[k] = float(v)
                series.append((legend(t.get("legendFormat", ""), r["metric"]), grid, values))
        out[panel["id"]] = series
    return out


# ---------------------------------------------------------------------------------------------
# Drawing.

BG = "#111217"
PANEL = "#181b1f"
BORDER = "#2b2f36"
TEXT = "#ccccdc"
DIM = "#8e8e9e"
GRID = "#25282e"
# Grafana's classic palette.
PALETTE = ["#7EB26D", "#EAB839", "#6ED0E0", "#EF843C", "#E24D42", "#1F78C1", "#BA43A9",
           "#705DA0", "#508642", "#CCA300", "#447EBC", "#C15C17", "#890F02", "#0A437C",
           "#6D1F62", "#584477", "#B7DBAB", "#F4D598", "#70DBED", "#F9BA8F"]
# Grafana's named colours, as thresholds use them.
COLORS = {"green": "#73BF69", "red": "#F2495C", "orange": "#FF9830", "yellow": "#FADE2A",
          "blue": "#5794F2"}
LEGEND_MAX = 8


def _si(v: float, suffix: str = "", decimals: int | None = None) -> str:
    a = abs(v)
    for factor, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if a >= factor:
            return f"{v / factor:.{1 if decimals is None else decimals}f} {prefix}{suffix}".strip()
    if decimals is None:
        decimals = 0 if a >= 100 or v == int(v) else (1 if a >= 10 else 2)
    return f"{v:.{decimals}f} {suffix}".strip()


def fmt(unit: str, v: float, decimals: int | None = None) -> str:
    """A value in a Grafana unit, roughly as Grafana shows it."""
    if v is None or math.isnan(v):
        return "No data"
    if unit == "s":
        a = abs(v)
        if a == 0:
            return "0 s"
        if a < 1e-3:
            return f"{v * 1e6:.0f} µs"
        if a < 1:
            return f"{v * 1e3:.{0 if a >= 0.1 else 1}f} ms"
        if a < 60:
            return f"{v:.{1 if a < 10 else 0}f} s"
        return f"{v / 60:.1f} min"
    if unit == "percentunit":
        return f"{v * 100:.{1 if abs(v) < 0.1 else 0}f}%"
    if unit == "bytes":
        a = abs(v)
        for factor, name in ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
            if a >= factor:
                return f"{v / factor:.{1 if v / factor < 100 else 0}f} {name}"
        return f"{v:.0f} B"
    if unit == "reqps":
        return _si(v, "req/s", decimals)
    if unit == "ops":
        return _si(v, "ops/s", decimals)
    return _si(v, "", decimals)


def _threshold_color(panel: dict, value: float) -> str:
    steps = panel["fieldConfig"]["defaults"].get("thresholds", {}).get("steps", [])
    color = "green"
    for s in steps:
        if s.get("value") is None or (not math.isnan(value) and value >= s["value"]):
            color = s["color"]
    return COLORS.get(color, color)


def draw(dash: dict, data: dict, out: Path, subtitle: str, footer: str,
         span: tuple[float, float]) -> None:
    # pylint: disable=import-outside-toplevel  (only this part needs matplotlib)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    rows = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in dash["panels"])
    unit_h, width = 0.36, 22.0  # inches per grid row; figure width
    header, bottom = 1.1, 0.35
    height = header + rows * unit_h + bottom
    fig = plt.figure(figsize=(width, height), facecolor=BG, dpi=100)
    plt.rcParams.update({"font.family": "DejaVu Sans", "font.size": 8})
    gap = 0.06  # inches between panels

    def rect(gp):  # (left, bottom, w, h) in figure fractions, gaps taken out
        left = (gp["x"] / 24 * (width - 0.4) + 0.2 + gap / 2) / width
        top = height - header - gp["y"] * unit_h - gap / 2
        w = (gp["w"] / 24 * (width - 0.4) - gap) / width
        h = (gp["h"] * unit_h - gap) / height
        return left, top / height - h, w, h

    fig.text(0.2 / width, 1 - 0.32 / height, dash["title"], color="#ffffff", fontsize=17,
             fontweight="bold", va="center")
    fig.text(0.2 / width + 0.035, 1 - 0.32 / height, dash.get("description", ""), color=DIM,
             fontsize=9, va="center")
    fig.text(0.2 / width, 1 - 0.75 / height, subtitle, color=TEXT, fontsize=9, va="center")
    fig.text(0.2 / width, 0.17 / height, footer, color=DIM, fontsize=8, va="center")

    local = dt.datetime.now().astimezone().tzinfo
    for panel in dash["panels"]:
        gp = panel["gridPos"]
        l, b, w, h = rect(gp)
        if panel["type"] == "row":
            fig.text(l, b + h / 2, panel["title"], color="#ffffff", fontsize=11,
                     fontweight="bold", va="center")
            continue
        card = fig.add_axes([l, b, w, h])
        card.set_axis_off()
        card.add_patch(FancyBboxPatch((0, 0), 1, 1, boxstyle="round,pad=0,rounding_size=0.01",
                                      transform=card.transAxes, facecolor=PANEL,
                                      edgecolor=BORDER, linewidth=0.8))
        title_h = 0.3 / (h * height)  # of the card
        card.text(0.012, 1 - title_h / 2, panel["title"], color=TEXT, fontsize=9,
                  fontweight="bold", va="center", transform=card.transAxes)
        defaults = panel["fieldConfig"]["defaults"]
        unit = defaults.get("unit", "short")
        series = data.get(panel["id"], [])

        if panel["type"] == "stat":
            values = [v for _, _, vs in series for v in vs if not math.isnan(v)]
            last = None
            for _, _, vs in series[:1]:
                finite = [v for v in vs if not math.isnan(v)]
                last = finite[-1] if finite else None
            color = _threshold_color(panel, last if last is not None else float("nan"))
            card.patches[0].set_facecolor(color if last is not None else PANEL)
            if series and len(series[0][1]) > 1 and values:
                spark = fig.add_axes([l, b + 0.02 * h, w, h * 0.45])
                spark.set_axis_off()
                t, v = series[0][1], [x if not math.isnan(x) else 0 for x in series[0][2]]
                spark.fill_between(t, v, color="#ffffff", alpha=0.18, linewidth=0)
                spark.plot(t, v, color="#ffffff", alpha=0.5, linewidth=0.8)
                spark.set_xlim(t[0], t[-1])
                spark.set_ylim(min(0, min(v)), max(v) * 1.05 if max(v) > 0 else 1)
            text = fmt(unit, last if last is not None else float("nan"),
                       defaults.get("decimals"))
            card.text(0.5, 0.5, text, color="#ffffff" if last is not None else DIM,
                      fontsize=20 if last is not None else 12, fontweight="bold", ha="center",
                      va="center", transform=card.transAxes)
            card.texts[0].set_color("#ffffff")
            continue

        # A time series panel: the plot below the title, the legend under it.
        legend_rows = min(len(series), LEGEND_MAX)
        ncol = 2 if gp["w"] >= 8 else 1
        legend_h = (math.ceil(legend_rows / ncol) * 0.14 + 0.1) / (h * height)
        inner = [l + 0.055 * w * (8 / gp["w"]), b + h * (legend_h + 0.06),
                 w * (1 - 0.055 * (8 / gp["w"]) - 0.015), h * (1 - title_h - legend_h - 0.09)]
        ax = fig.add_axes(inner, facecolor=PANEL)
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.tick_params(colors=DIM, labelsize=7, length=0)
        ax.grid(True, color=GRID, linewidth=0.6)
        custom = defaults.get("custom", {})
        stacked = custom.get("stacking", {}).get("mode") == "normal"
        bars = custom.get("drawStyle") == "bars"
        step = custom.get("lineInterpolation") == "stepAfter"
        if not series:
            ax.text(0.5, 0.5, "No data", color=DIM, fontsize=12, ha="center", va="center",
                    transform=ax.transAxes)
        # Legend order: the largest series first (by mean), as Grafana's sort by mean would.
        order = sorted(series, key=lambda s: -_mean(s[2]))
        base = None
        handles = []
        for k, (name, times, values) in enumerate(order):
            color = PALETTE[k % len(PALETTE)]
            x = [dt.datetime.fromtimestamp(t, local) for t in times]
            y = [v if not math.isnan(v) else float("nan") for v in values]
            if stacked:
                zero = [0.0 if math.isnan(v) else v for v in y]
                below = base or [0.0] * len(zero)
                top = [a + c for a, c in zip(below, zero)]
                if bars:
                    handle = ax.bar(x, zero, bottom=below, width=SCRAPE_S / 86400 * 0.8,
                                    color=color, alpha=0.8, linewidth=0)
                else:
                    ax.fill_between(x, below, top, color=color, alpha=0.25, linewidth=0,
                                    step="post" if step else None)
                    (handle,) = ax.plot(x, top, color=color, linewidth=1.1,
                                        drawstyle="steps-post" if step else "default")
                base = top
            elif bars:
                handle = ax.bar(x, [0 if math.isnan(v) else v for v in y],
                                width=SCRAPE_S / 86400 * 0.8, color=color, alpha=0.85,
                                linewidth=0)
            else:
                (handle,) = ax.plot(x, y, color=color, linewidth=1.2,
                                    drawstyle="steps-post" if step else "default")
                ax.fill_between(x, 0, [0 if math.isnan(v) else v for v in y], color=color,
                                alpha=0.06, linewidth=0, step="post" if step else None)
            handles.append((handle, name))
        ax.set_xlim(dt.datetime.fromtimestamp(span[0], local),
                    dt.datetime.fromtimestamp(span[1], local))
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M:%S", tz=local))
        ax.xaxis.set_major_locator(MaxNLocator(6))
        ax.yaxis.set_major_locator(MaxNLocator(4))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _, u=unit: fmt(u, v)))
        if "min" in defaults:
            ax.set_ylim(bottom=defaults["min"])
        if "max" in defaults:
            ax.set_ylim(top=defaults["max"] * 1.05)
            if defaults.get("min") == 0 and defaults["max"] == 1:
                ax.set_yticks([0, 1])
        if series and "max" not in defaults:
            finite = [v for _, _, vs in series for v in vs if not math.isnan(v)]
            if finite and max(finite) == 0:
                ax.set_ylim(-0.05, 1)
        if custom.get("axisLabel"):
            ax.set_ylabel(custom["axisLabel"], color=DIM, fontsize=7)
        if handles:
            shown = handles[:LEGEND_MAX]
            labels = [n if len(n) <= 48 else n[:46] + "…" for _, n in shown]
            if len(handles) > LEGEND_MAX:
                labels[-1] += f"   (+{len(handles) - LEGEND_MAX} more)"
            leg = ax.legend([hd for hd, _ in shown], labels, loc="upper left",
                            bbox_to_anchor=(0, -0.13), ncol=ncol, frameon=False, fontsize=7,
                            labelcolor=TEXT, handlelength=1.0, columnspacing=1.2,
                            borderaxespad=0, handletextpad=0.4, labelspacing=0.25)
            leg.set_in_layout(False)
    out.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    fig.savefig(buf, facecolor=BG, dpi=100, format="png")
    plt.close(fig)
    # 256 colours, no dithering: a third of the size, no visible difference.
    from PIL import Image  # pylint: disable=import-outside-toplevel  (matplotlib depends on it)
    image = Image.open(buf).convert("RGB")
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT,
                   dither=Image.Dither.NONE).save(out, optimize=True)


def _mean(values: list[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return sum(finite) / len(finite) if finite else -1.0


# ---------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=120.0,
                        help="seconds of scenario (default 120)")
    parser.add_argument("--out", type=Path, default=OUT, help=f"the picture (default {OUT})")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep the server's and Prometheus' data and logs here")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    prom_bin = Path(os.environ.get("PROMETHEUS", ROOT / ".cache" / "bin" / "prometheus"))
    if not prom_bin.exists():
        sys.exit(f"{prom_bin} not found: run scripts/install-deps.sh --dashboard")
    dash = json.loads(DASHBOARD.read_text())

    tmp = None
    workdir = args.workdir
    if workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="crm-dashboard-")
        workdir = Path(tmp.name)
    workdir.mkdir(parents=True, exist_ok=True)
    server = crmtest.Server(workdir / "server")
    server.start("--metrics-listen", "127.0.0.1:0", "--sla-policy", SLA_POLICY,
                 "--sla-scan-interval", "1s")
    prom = None
    try:
        prom = Prometheus(prom_bin, workdir, f"127.0.0.1:{server.metrics_port()}")
        log(f"crm-server on {server.address} (metrics :{server.metrics_port()}), Prometheus "
            f"{prom.version} on :{prom.port}, scraping every {SCRAPE_S}s; scenario of "
            f"{args.duration:.0f}s")
        # Two scrapes before the load, so that rates start from a sample.
        time.sleep(2 * SCRAPE_S)
        start = time.time()
        scenario = Scenario(server, args.duration, args.seed)
        scenario.run()
        time.sleep(2 * SCRAPE_S)  # the last samples scraped, the breaches of the end recorded
        end = time.time()
        data = evaluate(prom, dash, start, end)
    finally:
        if prom is not None:
            prom.stop()
        if server.running:
            server.stop()

    total = sum(scenario.calls.values())
    by_code = Counter()
    for (_, code), n in scenario.calls.items():
        by_code[code] += n
    log(f"{total} calls in {args.duration:.0f}s: " +
        ", ".join(f"{c} {n}" for c, n in by_code.most_common()))
    watcher = [line for line in server.log_path.read_text().splitlines()
               if "sla-watcher:" in line and "breached" in line]
    escalated = [line for line in watcher if "escalated to level" in line]
    log(f"the deadline watcher logged {len(watcher)} breaches, {len(escalated)} of them "
        "escalated")
    stats = []
    for p in dash["panels"]:
        if p["type"] == "stat" and data.get(p["id"]):
            finite = [v for v in data[p["id"]][0][2] if not math.isnan(v)]
            unit = p["fieldConfig"]["defaults"].get("unit", "short")
            stats.append(f"{p['title']} {fmt(unit, finite[-1]) if finite else 'no data'}")
    log("stats at the end: " + "; ".join(stats))
    empty = [p["title"] for p in dash["panels"] if p["type"] != "row" and not data.get(p["id"])]
    log("panels without data: " + (", ".join(empty) if empty else "none"))

    started = dt.datetime.fromtimestamp(start).astimezone()
    subtitle = (f"Prometheus: {prom.version} (local)    namespace: All    job: All    pod: All"
                f"        {started:%Y-%m-%d %H:%M:%S} to "
                f"{dt.datetime.fromtimestamp(end).astimezone():%H:%M:%S}")
    footer = (f"Drawn by scripts/render-dashboard.sh, not by Grafana: each panel's own queries "
              f"from deploy/k8s/components/monitoring/crm-dashboard.json, evaluated by "
              f"Prometheus {prom.version} (scrape {SCRAPE_S}s, $__rate_interval {RATE_INTERVAL})"
              f" on a crm-server (embedded log) scenario of {args.duration:.0f}s: {total} calls;"
              f" legends show the {LEGEND_MAX} largest series.")
    draw(dash, data, args.out, subtitle, footer, (start, end))
    log(f"wrote {args.out}")
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
