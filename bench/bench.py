#!/usr/bin/env python3
"""The benchmark (issue 12): measures the real binaries from outside and writes every figure, raw,
to OUT/results.json (and each load generator run's summary to OUT/raw/). bench/report.py turns
that into the markdown tables and the plot. Run it through scripts/bench.sh, which installs and
builds what it needs and starts a broker; bench/README.md says what each part measures.

The load generator is ghz (gRPC, server reflection, one process per run). Every command and query
figure is taken next to its ceiling, measured in the same run with the same client and concurrency:
the bare grpc.health.v1.Health/Check round trip to the same process.

Processes are started with the helpers of the process-level tests (tests/process/crmtest.py):
without authentication (the default development mode), with --metrics-listen.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "process"))

import crmtest  # noqa: E402
import orgtest  # noqa: E402
from crmtest import grpc  # noqa: E402
from crm.admin.v1 import admin_service_pb2 as apb  # noqa: E402
from crm.admin.v1 import admin_service_pb2_grpc as agrpc  # noqa: E402
from crm.v1 import customer_pb2 as cpb  # noqa: E402
from crm.v1 import customer_service_pb2 as spb  # noqa: E402
from crm.v1 import customer_service_pb2_grpc as sgrpc  # noqa: E402
from crm.v1 import segment_service_pb2 as segpb  # noqa: E402
from crm.v1 import segment_service_pb2_grpc as seggrpc  # noqa: E402

HEALTH = "grpc.health.v1.Health/Check"
CUSTOMER_CMD = "crm.v1.CustomerCommandService/"
CUSTOMER_Q = "crm.v1.CustomerQueryService/"
COMPLAINT_CMD = "crm.v1.ComplaintCommandService/"
COMPLAINT_Q = "crm.v1.ComplaintQueryService/"
INTERACTION_CMD = "crm.v1.InteractionCommandService/"
INTERACTION_Q = "crm.v1.InteractionQueryService/"
ANALYTICS = "crm.v1.AnalyticsService/"
SEGMENT = "crm.v1.SegmentService/"
ORG = "crm.v1.OrgService/"
PAST = "2026-01-15T10:00:00Z"  # a business time in the past (purchases, interactions)
FUTURE = "2099-01-01T00:00:00Z"  # a follow-up due time


def log(*args) -> None:
    print("[bench]", *args, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return 0.0
    k = (len(sorted_values) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


# ---------------------------------------------------------------------------------------------
# Processes: resident memory and CPU from /proc.

CLK_TCK = os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime
    except (FileNotFoundError, ProcessLookupError):
        return 0.0


def dir_bytes(path: Path) -> int:
    """Bytes the files under `path` take on disk (allocated blocks: Kafka's index files are
    preallocated sparse files whose size says little)."""
    total = 0
    for p in Path(path).rglob("*"):
        try:
            if p.is_file() and not p.is_symlink():
                total += p.stat().st_blocks * 512
        except FileNotFoundError:
            pass
    return total


class RssSampler:
    """Samples the resident memory of some processes every 0.2 s; keeps the maximum of each."""

    def __init__(self, pids: dict[str, int]):
        self.pids = pids
        self.peak = {name: rss_bytes(pid) for name, pid in pids.items()}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            for name, pid in self.pids.items():
                self.peak[name] = max(self.peak[name], rss_bytes(pid))

    def __enter__(self) -> "RssSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


# ---------------------------------------------------------------------------------------------
# The load generator.


class Ghz:
    """Runs ghz and summarises its answer. Every run's summary (without the per-request details)
    is kept in raw_dir as JSON."""

    def __init__(self, binary: str, raw_dir: Path):
        self.binary = binary
        self.raw_dir = raw_dir
        self.raw_dir.mkdir(parents=True, exist_ok=True)
        self.runs = 0
        self.errors: list[str] = []

    def run(self, address: str, call: str, data: dict, concurrency: int, *, n: int = 0,
            duration: float = 0.0, rps: int = 0, label: str = "") -> dict:
        args = [self.binary, "--insecure", "--call", call, "-d", json.dumps(data),
                "-c", str(concurrency), "--connections", str(min(concurrency, 4)),
                "--timeout", "60s", "-O", "json"]
        if n:
            args += ["-n", str(n)]
        else:
            args += ["-z", f"{duration:.3f}s", "-n", str(10**9)]
        if rps:
            args += ["--rps", str(rps)]
        args.append(address)
        proc = subprocess.run(args, capture_output=True, text=True, check=False)
        try:
            answer = json.loads(proc.stdout)
        except json.JSONDecodeError:
            raise RuntimeError(f"ghz {call} failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
        return self.summarise(answer, call, concurrency, label, n)

    def popen(self, address: str, call: str, data: dict, concurrency: int, duration: float,
              rps: int) -> subprocess.Popen:
        args = [self.binary, "--insecure", "--call", call, "-d", json.dumps(data),
                "-c", str(concurrency), "--connections", str(min(concurrency, 4)),
                "-z", f"{duration:.3f}s", "-n", str(10**9), "--rps", str(rps), "-O", "json",
                address]
        return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def summarise(self, answer: dict, call: str, concurrency: int, label: str,
                  n: int = 0) -> dict:
        details = answer.get("details") or []
        ok = sorted(d["latency"] / 1e6 for d in details if d.get("status") == "OK")
        # With a duration (-z), ghz closes its connections when the time is up: the calls in
        # flight then (at most one per worker) end with these errors. They are not the server's.
        cut = [d for d in details if d.get("status") != "OK" and any(
            m in d.get("error", "") for m in ("use of closed network connection",
                                              "the client connection is closing",
                                              "transport is closing"))] if not n else []
        errors = sum(1 for d in details if d.get("status") != "OK") - len(cut)
        if len(cut) > concurrency:
            errors += len(cut)
        seconds = answer.get("total", 0) / 1e9
        self.runs += 1
        raw = {k: v for k, v in answer.items() if k not in ("details", "histogram")}
        raw["label"] = label
        name = re.sub(r"[^A-Za-z0-9]+", "-", f"{self.runs:04d}-{label}-{call}-c{concurrency}")
        (self.raw_dir / f"{name}.json").write_text(json.dumps(raw, indent=1))
        if errors:
            message = (f"{label} {call} c={concurrency}: {errors} errors of {len(details)}: "
                       f"{json.dumps(answer.get('errorDistribution'))[:300]}")
            log("ERROR", message)
            self.errors.append(message)
        return {
            "call": call.split("/")[-1],
            "concurrency": concurrency,
            "count": len(ok),
            "errors": errors,
            "seconds": round(seconds, 4),
            "rate": round(len(ok) / seconds, 1) if seconds > 0 else 0.0,
            "p25": round(percentile(ok, 25), 3),
            "p50": round(percentile(ok, 50), 3),
            "p75": round(percentile(ok, 75), 3),
            "p99": round(percentile(ok, 99), 3),
            "latencies": ok,  # dropped before results.json is written (merged for flows)
        }


def merged(runs: list[dict], call: str) -> dict:
    """One figure of several sequential ghz runs (a complaint's flow): the commands of all of them
    over their total time, percentiles of all their latencies."""
    latencies = sorted(x for r in runs for x in r["latencies"])
    seconds = sum(r["seconds"] for r in runs)
    return {
        "call": call, "concurrency": runs[0]["concurrency"], "count": len(latencies),
        "errors": sum(r["errors"] for r in runs), "seconds": round(seconds, 4),
        "rate": round(len(latencies) / seconds, 1) if seconds else 0.0,
        "p25": round(percentile(latencies, 25), 3), "p50": round(percentile(latencies, 50), 3),
        "p75": round(percentile(latencies, 75), 3), "p99": round(percentile(latencies, 99), 3),
        "latencies": latencies,
        "steps": {r["call"]: {k: r[k] for k in ("rate", "p50", "p99")} for r in runs},
    }


def strip(figure: dict) -> dict:
    return {k: v for k, v in figure.items() if k != "latencies"}


# ---------------------------------------------------------------------------------------------
# Requests. Customers "s-<i>" are seeded first (SEED of them); commands on existing customers
# pick one by the request number. Templates: ghz's ({{.RequestNumber}}, {{newUUID}}) and sprig's
# ({{mod}}, {{mul}}).


def cust(seed: int, prefix: str = "s") -> str:
    return f"customers/{prefix}-{{{{mod .RequestNumber {seed}}}}}"


def register_data(prefix: str = "") -> dict:
    if prefix:  # ids of our choosing: prefix-<n>
        cid = f"{prefix}-{{{{.RequestNumber}}}}"
        email = f"{prefix}{{{{.RequestNumber}}}}@bench.example"
    else:
        cid = "{{newUUID}}"
        email = "{{newUUID}}@bench.example"
    return {"customer_id": cid, "customer": {"display_name": "Bench {{.RequestNumber}}",
                                              "kind": "COMPANY", "emails": [email],
                                              "region": "East", "industry": "Retail"}}


def command_data(seed: int, tag: str) -> dict[str, tuple[str, dict]]:
    c = cust(seed)
    return {
        "RegisterCustomer": (CUSTOMER_CMD + "RegisterCustomer", register_data()),
        "UpdateCustomer": (CUSTOMER_CMD + "UpdateCustomer", {
            "customer": {"name": c, "display_name": f"Updated {tag} {{{{.RequestNumber}}}}"}}),
        "RecordPurchase": (CUSTOMER_CMD + "RecordPurchase", {
            "name": c, "purchase": {"amount": {"currency_code": "CNY", "amount_minor": 12345},
                                    "product": "bench", "purchased_at": PAST}}),
        "LogInteraction": (INTERACTION_CMD + "LogInteraction", {
            "parent": c, "interaction": {"channel": "PHONE", "direction": "INBOUND",
                                         "staff_id": orgtest.AGENT, "occurred_at": PAST,
                                         "summary": "bench call"}}),
    }


def flow_steps(seed: int, tag: str) -> list[tuple[str, dict]]:
    """A complaint's flow, filed to closed: seven commands, each a ghz run over the same
    complaints (complaint <tag>-<n> of customer s-<n mod seed>)."""
    parent = cust(seed)
    name = f"{parent}/complaints/{tag}-{{{{.RequestNumber}}}}"
    return [
        (COMPLAINT_CMD + "FileComplaint", {
            "parent": parent, "complaint_id": f"{tag}-{{{{.RequestNumber}}}}",
            "complaint": {"channel": "PHONE", "category": "PRODUCT_QUALITY",
                          "severity": "GENERAL", "description": "bench complaint"}}),
        (COMPLAINT_CMD + "AcknowledgeComplaint", {"name": name}),
        (COMPLAINT_CMD + "AssignComplaint", {"name": name, "assignee": orgtest.AGENT}),
        (COMPLAINT_CMD + "StartInvestigation", {"name": name}),
        (COMPLAINT_CMD + "ResolveComplaint", {"name": name, "resolution": "replaced",
                                              "root_cause": "PRODUCT_DEFECT"}),
        (COMPLAINT_CMD + "RecordFollowUpVisit", {"name": name,
                                                 "visit": {"satisfied": True, "csat": 5}}),
        (COMPLAINT_CMD + "CloseComplaint", {"name": name}),
    ]


def query_data(seed: int, few: int, prefix: str = "s") -> list[tuple[str, str, dict]]:
    """(label, call, data) of every query on customers <prefix>-0 .. <prefix>-<seed-1>; the first
    `few` have a complaint q-<i> and an interaction q-<i> each."""
    c = cust(seed, prefix=prefix)
    cq = cust(few, prefix=prefix)
    return [
        ("GetCustomer", CUSTOMER_Q + "GetCustomer", {"name": c}),
        ("ListCustomers", CUSTOMER_Q + "ListCustomers", {}),
        ("ListCustomers stage=POTENTIAL", CUSTOMER_Q + "ListCustomers",
         {"lifecycle_stage": "POTENTIAL"}),
        ("ListCustomers tier=HIGH_VALUE", CUSTOMER_Q + "ListCustomers",
         {"value_tier": "HIGH_VALUE"}),
        ("ListCustomers tag=vip", CUSTOMER_Q + "ListCustomers", {"tag": "vip"}),
        # A name prefix with a small answer, and filters every customer matches (a full page).
        ("SearchCustomers query", CUSTOMER_Q + "SearchCustomers", {"query": "bench 12"}),
        ("SearchCustomers region+industry", CUSTOMER_Q + "SearchCustomers",
         {"region": "east", "industry": "retail"}),
        ("FindCustomers email", CUSTOMER_Q + "FindCustomers",
         {"email": f"{prefix}{{{{mod .RequestNumber {seed}}}}}@bench.example"}),
        ("GetCustomerHistory", CUSTOMER_Q + "GetCustomerHistory", {"name": c}),
        ("GetComplaint", COMPLAINT_Q + "GetComplaint",
         {"name": f"{cq}/complaints/q-{{{{mod .RequestNumber {few}}}}}"}),
        ("GetComplaintHistory", COMPLAINT_Q + "GetComplaintHistory",
         {"name": f"{cq}/complaints/q-{{{{mod .RequestNumber {few}}}}}"}),
        ("ListComplaints status=CLOSED", COMPLAINT_Q + "ListComplaints", {"status": "CLOSED"}),
        ("ListComplaints of a customer", COMPLAINT_Q + "ListComplaints", {"parent": cq}),
        ("GetInteraction", INTERACTION_Q + "GetInteraction",
         {"name": f"{cq}/interactions/q-{{{{mod .RequestNumber {few}}}}}"}),
        ("ListInteractions", INTERACTION_Q + "ListInteractions", {"parent": cq}),
        ("GetCustomerTimeline", INTERACTION_Q + "GetCustomerTimeline", {"parent": cq}),
        ("ListFollowUps", INTERACTION_Q + "ListFollowUps", {"staff_id": orgtest.AGENT}),
        ("GetComplaintStats", ANALYTICS + "GetComplaintStats", {}),
        ("GetSlaCompliance", ANALYTICS + "GetSlaCompliance", {}),
        ("GetResponseTimes", ANALYTICS + "GetResponseTimes", {}),
        ("GetSatisfaction", ANALYTICS + "GetSatisfaction", {}),
        ("GetInteractionStats", ANALYTICS + "GetInteractionStats", {}),
        ("GetRootCauses", ANALYTICS + "GetRootCauses", {}),
        ("GetStaffKpis", ANALYTICS + "GetStaffKpis", {"scope": {"staff_id": orgtest.AGENT}}),
        ("GetCustomerValue", SEGMENT + "GetCustomerValue", {"name": c}),
        ("GetSegmentSizes", SEGMENT + "GetSegmentSizes", {}),
        ("GetLifecycleFunnel", SEGMENT + "GetLifecycleFunnel", {}),
        ("GetOrgChart", "crm.v1.OrgQueryService/GetOrgChart", {}),
    ]


# ---------------------------------------------------------------------------------------------
# The processes under test.


class Target:
    """crm-server (embedded), or crm-command + crm-projector on Kafka: where commands and queries
    go, their pids, data dirs and metrics."""

    def __init__(self, engine: str, workdir: Path, brokers: str = ""):
        self.engine = engine
        self.workdir = workdir
        self.brokers = brokers
        self.metrics_ports: dict[str, int] = {}
        self.event_base = 0
        if engine == "embedded":
            self.metrics_ports["crm-server"] = free_port()
            self.command = crmtest.Server(
                workdir / "server", auth=False, tls=False,
                base_args=["--log-level", "warn", "--metrics-listen",
                           f"127.0.0.1:{self.metrics_ports['crm-server']}"])
            self.query = self.command
            self.servers = {"crm-server": self.command}
        else:
            self.topic_prefix = f"bench-{uuid.uuid4().hex[:8]}"
            self.topic = f"{self.topic_prefix}.customer.events.v1"
            self.kafka_args = ["--engine", "kafka", "--kafka-brokers", brokers,
                               "--kafka-topic-prefix", self.topic_prefix, "--log-level", "warn"]
            for name in ("crm-command", "crm-projector"):
                self.metrics_ports[name] = free_port()
            self.command = crmtest.Server(
                workdir / "command", binary=crmtest.COMMAND_BIN, auth=False, tls=False,
                base_args=self.kafka_args + ["--metrics-listen",
                                             f"127.0.0.1:{self.metrics_ports['crm-command']}"])
            self.query = crmtest.Server(
                workdir / "projector", binary=crmtest.PROJECTOR_BIN, auth=False, tls=False,
                base_args=self.kafka_args + ["--metrics-listen",
                                             f"127.0.0.1:{self.metrics_ports['crm-projector']}"])
            self.servers = {"crm-command": self.command, "crm-projector": self.query}

    def start(self, *extra: str) -> "Target":
        for server in self.servers.values():
            server.start(*extra)
        return self

    def stop(self) -> None:
        for server in reversed(list(self.servers.values())):
            if server.running:
                server.stop()

    def pids(self) -> dict[str, int]:
        pids = {name: s.pid for name, s in self.servers.items()}
        broker = broker_pid() if self.engine == "kafka" else None
        if broker:
            pids["kafka broker"] = broker
        return pids

    def metrics(self, name: str) -> crmtest.Metrics:
        import urllib.request  # pylint: disable=import-outside-toplevel
        url = f"http://127.0.0.1:{self.metrics_ports[name]}/metrics"
        with urllib.request.urlopen(url, timeout=10) as answer:
            return crmtest.Metrics(answer.read().decode())

    def events_appended(self) -> int:
        """Events appended to the log, counted by the command side since its first start."""
        name = "crm-server" if self.engine == "embedded" else "crm-command"
        return self.event_base + int(self.metrics(name).value("crm_events_appended_total"))

    def data_bytes(self) -> dict[str, int]:
        out = {name: dir_bytes(s.data_dir) for name, s in self.servers.items()}
        if self.engine == "kafka" and os.environ.get("KAFKA_DATA_DIR"):
            logs = Path(os.environ["KAFKA_DATA_DIR"]) / "kraft-logs"
            out["kafka topic"] = sum(dir_bytes(d) for d in logs.glob(f"{self.topic_prefix}.*"))
        return out

    def caught_up(self) -> None:
        """Waits until the query side has folded every event appended so far."""
        if self.engine == "embedded":
            answer = self.command.command.RegisterCustomer(spb.RegisterCustomerRequest(
                customer=cpb.Customer(display_name="Marker", kind=cpb.COMPANY)))
            token = answer.consistency_token
        else:
            import kafkatest  # pylint: disable=import-outside-toplevel
            token = kafkatest.end_token(self.brokers, self.topic)
        seggrpc.SegmentServiceStub(self.query.channel).GetSegmentSizes(
            segpb.GetSegmentSizesRequest(consistency_token=token), timeout=300)


def record_size(brokers: str, topic: str, count: int = 2000) -> int:
    """The mean size (key, value and headers) of the first `count` records of the topic."""
    from confluent_kafka import Consumer, KafkaError, TopicPartition  # pylint: disable=import-outside-toplevel
    consumer = Consumer({"bootstrap.servers": brokers, "group.id": f"bench-{uuid.uuid4().hex[:8]}",
                         "enable.auto.commit": False, "isolation.level": "read_committed",
                         "enable.partition.eof": True})
    try:
        consumer.assign([TopicPartition(topic, 0, 0)])
        sizes = []
        deadline = time.monotonic() + 30
        end = False
        while not end and len(sizes) < count and time.monotonic() < deadline:
            for m in consumer.consume(500, timeout=1.0):
                if m.error():
                    end = end or m.error().code() == KafkaError._PARTITION_EOF
                    continue
                sizes.append(len(m.value() or b"") + len(m.key() or b"") +
                             sum(len(k) + len(v or b"") for k, v in (m.headers() or [])))
        return round(statistics.fmean(sizes[:count])) if sizes else 300
    finally:
        consumer.close()


def broker_pid() -> int | None:
    data = os.environ.get("KAFKA_DATA_DIR")
    if not data:
        return None
    try:
        pid = int(Path(data, "kafka.pid").read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if Path(f"/proc/{pid}").exists() else None


# ---------------------------------------------------------------------------------------------
# The parts of the benchmark.


class Bench:
    def __init__(self, args):
        self.args = args
        self.out = Path(args.out).resolve()
        self.work = self.out / "work"
        shutil.rmtree(self.work, ignore_errors=True)
        self.work.mkdir(parents=True)
        self.ghz = Ghz(args.ghz, self.out / "raw")
        self.results: dict = {"commands": [], "queries": [], "lag": [], "resources": [],
                              "kafka_ceiling": [], "fold": [], "growth": []}

    # -- helpers ---------------------------------------------------------------------------

    def seed(self, t: Target, count: int, few: int) -> None:
        """Customers s-0..s-<count-1>; every 100th tagged vip; a purchase for every other one;
        an interaction with a follow-up and a complaint for the first `few`."""
        a = t.command.address
        g = self.ghz
        g.run(a, CUSTOMER_CMD + "RegisterCustomer", register_data("s"), 16, n=count,
              label="seed")
        g.run(a, CUSTOMER_CMD + "TagCustomer", {
            "name": "customers/s-{{mul .RequestNumber 100}}", "tag": "vip"},
            4, n=max(1, count // 100), label="seed")
        g.run(a, CUSTOMER_CMD + "RecordPurchase", {
            "name": "customers/s-{{mul .RequestNumber 2}}",
            "purchase": {"amount": {"currency_code": "CNY",
                                    "amount_minor": "{{add 1 .RequestNumber}}00"},
                         "product": "seed", "purchased_at": PAST}},
            16, n=count // 2, label="seed")
        g.run(a, INTERACTION_CMD + "LogInteraction", {
            "parent": "customers/s-{{.RequestNumber}}", "interaction_id": "q-{{.RequestNumber}}",
            "interaction": {"channel": "EMAIL", "direction": "OUTBOUND",
                            "staff_id": orgtest.AGENT, "occurred_at": PAST,
                            "summary": "seed", "follow_up_due_time": FUTURE}},
            16, n=few, label="seed")
        g.run(a, COMPLAINT_CMD + "FileComplaint", {
            "parent": "customers/s-{{.RequestNumber}}", "complaint_id": "q-{{.RequestNumber}}",
            "complaint": {"channel": "EMAIL", "category": "LOGISTICS", "severity": "MINOR",
                          "description": "seed"}},
            16, n=few, label="seed")

    def ceiling(self, address: str, c: int, label: str) -> dict:
        return self.ghz.run(address, HEALTH, {}, c, duration=self.args.duration, label=label)

    # -- commands --------------------------------------------------------------------------

    def commands(self, t: Target) -> None:
        a = t.command.address
        seed = self.args.seed_customers
        for run in range(self.args.runs):
            for c in self.args.concurrency:
                label = f"{t.engine}-r{run}"
                health = self.ceiling(a, c, label)
                tag = f"r{run}c{c}-{uuid.uuid4().hex[:6]}"
                for name, (call, data) in command_data(seed, tag).items():
                    figure = self.measured(t, lambda: self.ghz.run(
                        a, call, data, c, duration=self.args.duration, label=label))
                    self.add("commands", t, name, figure, health, run)
                steps = [self.measured(t, lambda call=call, data=data: self.ghz.run(
                    a, call, data, c, n=self.args.flow_complaints, label=label))
                    for call, data in flow_steps(seed, f"k{tag}")]
                flow = merged(steps, "complaint flow (7 commands)")
                flow["cpu_ms_per_1k"] = round(
                    statistics.fmean(s["cpu_ms_per_1k"] for s in steps), 1)
                self.add("commands", t, flow["call"], flow, health, run)

    def measured(self, t: Target, fn) -> dict:
        """Runs fn (a ghz run) and adds the processes' CPU per 1k calls, their peak RSS, and on
        Kafka the writer's events and time per transaction."""
        pids = t.pids()
        cpu0 = {n: cpu_seconds(p) for n, p in pids.items()}
        txn0 = self.txn_stats(t)
        with RssSampler(pids) as sampler:
            figure = fn()
        cpu = {n: cpu_seconds(p) - cpu0[n] for n, p in pids.items()}
        calls = max(1, figure["count"])
        servers = sum(v for n, v in cpu.items() if n != "kafka broker")
        figure["cpu_ms_per_1k"] = round(servers * 1e6 / calls, 1)
        if "kafka broker" in cpu:
            figure["broker_cpu_ms_per_1k"] = round(cpu["kafka broker"] * 1e6 / calls, 1)
        figure["rss_peak"] = sampler.peak
        if txn0 is not None:
            txn1 = self.txn_stats(t)
            writes = txn1["count"] - txn0["count"]
            if writes > 0:
                figure["events_per_txn"] = round((txn1["records"] - txn0["records"]) / writes, 2)
                figure["commands_per_txn"] = round((txn1["appends"] - txn0["appends"]) / writes, 2)
                figure["txn_ms"] = round((txn1["seconds"] - txn0["seconds"]) * 1e3 / writes, 3)
        return figure

    def txn_stats(self, t: Target) -> dict | None:
        if t.engine != "kafka":
            return None
        m = t.metrics("crm-command")
        return {"count": m.value("crm_log_write_seconds_count"),
                "seconds": m.value("crm_log_write_seconds_sum"),
                "records": m.value("crm_log_write_records_sum"),
                "appends": m.value("crm_log_write_appends_sum")}

    def add(self, kind: str, t: Target, name: str, figure: dict, health: dict, run: int) -> None:
        figure = strip(figure)
        figure.update(engine=t.engine, name=name, run=run, health_rate=health["rate"],
                      health_p50=health["p50"], health_p99=health["p99"],
                      ratio=round(figure["rate"] / health["rate"], 4) if health["rate"] else 0)
        self.results[kind].append(figure)
        log(f"{t.engine:8} {name:32} c={figure['concurrency']:<3} {figure['rate']:>8}/s "
            f"p50 {figure['p50']:.2f} p99 {figure['p99']:.2f} ms  ratio {figure['ratio']:.3f}")

    # -- queries ---------------------------------------------------------------------------

    def queries(self, t: Target) -> None:
        a = t.query.address
        for run in range(self.args.runs):
            for c in self.args.query_concurrency:
                label = f"{t.engine}-q{run}"
                health = self.ceiling(a, c, label)
                for name, call, data in query_data(self.args.seed_customers, self.args.few):
                    figure = self.measured(t, lambda call=call, data=data: self.ghz.run(
                        a, call, data, c, duration=self.args.duration, label=label))
                    self.add("queries", t, name, figure, health, run)

    # -- command -> queryable lag ------------------------------------------------------------

    def lag(self, t: Target) -> None:
        """Under a steady background load (ghz at --lag-rate commands/s), a probe registers a
        customer, then asks for it with the answer's consistency token: the lag is the time from
        the command's answer until that query answered. Next to it, the same query without a
        token for a customer folded long ago (the bare query round trip under the same load)."""
        call, data = command_data(self.args.seed_customers, "lag")["LogInteraction"]
        load = self.ghz.popen(t.command.address, call, data, 16, self.args.lag_seconds,
                              self.args.lag_rate)
        cmd = sgrpc.CustomerCommandServiceStub(t.command.channel)
        query = sgrpc.CustomerQueryServiceStub(t.query.channel)
        lags, bare, commands = [], [], []
        time.sleep(min(1.0, self.args.lag_seconds / 5))  # the load is running
        end = time.monotonic() + self.args.lag_seconds * 0.7
        while time.monotonic() < end:
            t0 = time.perf_counter()
            answer = cmd.RegisterCustomer(spb.RegisterCustomerRequest(
                customer=cpb.Customer(display_name="Lag probe", kind=cpb.PERSON)), timeout=30)
            t1 = time.perf_counter()
            query.GetCustomer(spb.GetCustomerRequest(
                name=answer.customer.name, consistency_token=answer.consistency_token),
                timeout=30)
            t2 = time.perf_counter()
            query.GetCustomer(spb.GetCustomerRequest(name="customers/s-0"), timeout=30)
            t3 = time.perf_counter()
            commands.append((t1 - t0) * 1e3)
            lags.append((t2 - t1) * 1e3)
            bare.append((t3 - t2) * 1e3)
            time.sleep(0.01)
        out, err = load.communicate()
        background = self.ghz.summarise(json.loads(out), call, 16, f"{t.engine}-lag-load")
        lags.sort(), bare.sort(), commands.sort()
        figure = {
            "engine": t.engine, "probes": len(lags), "load_rate": background["rate"],
            "load_target": self.args.lag_rate,
            "lag_p50": round(percentile(lags, 50), 3), "lag_p99": round(percentile(lags, 99), 3),
            "bare_query_p50": round(percentile(bare, 50), 3),
            "bare_query_p99": round(percentile(bare, 99), 3),
            "command_p50": round(percentile(commands, 50), 3),
            "command_p99": round(percentile(commands, 99), 3),
        }
        self.results["lag"].append(figure)
        log(f"{t.engine:8} lag under {figure['load_rate']}/s: p50 {figure['lag_p50']} "
            f"p99 {figure['lag_p99']} ms (bare query p50 {figure['bare_query_p50']} ms)")

    # -- Kafka's own ceiling -------------------------------------------------------------------

    def kafka_ceiling(self, t: Target) -> None:
        """ProducerPerformance (Kafka's Java producer benchmark), transactional, records of the
        size of our events, transactions as long as crm-command's writer's at the highest
        concurrency; and bench/txn_ceiling.c (crm-command's librdkafka and writer settings) with
        transactions of as many records as the writer's."""
        import kafkatest  # pylint: disable=import-outside-toplevel
        size = record_size(t.brokers, t.topic)
        top = min(self.args.concurrency, key=lambda c: abs(c - 64))  # the goals' concurrency
        writer = [f for f in self.results["commands"] if f["engine"] == "kafka"
                  and f["concurrency"] == top and f["name"] == "RegisterCustomer"]
        txn_ms = statistics.median(f.get("txn_ms", 1.0) for f in writer) if writer else 1.0
        per_txn = statistics.median(f.get("events_per_txn", 1.0) for f in writer) if writer else 1
        duration_ms = max(1, round(txn_ms))
        topic = f"{t.topic_prefix}.pp"
        kafkatest.create_topic(t.brokers, topic, 6)
        for run in range(self.args.runs):
            proc = subprocess.run(
                ["java", "-Xms128m", "-Xmx256m", "-cp", f"{self.args.kafka_tools}/*",
                 "org.apache.kafka.tools.ProducerPerformance", "--topic", topic,
                 "--num-records", str(self.args.pp_records), "--record-size", str(size),
                 "--throughput", "-1", "--transactional-id", f"bench-pp-{run}",
                 "--transaction-duration-ms", str(duration_ms),
                 "--command-property", f"bootstrap.servers={t.brokers}", "acks=all",
                 "linger.ms=0", "compression.type=lz4"],
                capture_output=True, text=True, check=False)
            line = [x for x in proc.stdout.splitlines() if "records sent" in x]
            if proc.returncode != 0 or not line:
                raise RuntimeError(f"ProducerPerformance failed: {proc.stdout[-1000:]}"
                                   f"{proc.stderr[-2000:]}")
            m = re.search(r"([\d.]+) records/sec .* ([\d.]+) ms avg latency.*?(\d+) ms 50th.*?"
                          r"(\d+) ms 99th", line[-1])
            figure = {"tool": "ProducerPerformance", "run": run, "record_bytes": size,
                      "transaction_ms": duration_ms, "records": self.args.pp_records,
                      "rate": round(float(m.group(1)), 1), "p50": float(m.group(3)),
                      "p99": float(m.group(4))}
            self.results["kafka_ceiling"].append(figure)
            log(f"kafka    ProducerPerformance {size} B, {duration_ms} ms transactions: "
                f"{figure['rate']}/s")
        if self.args.txn_ceiling and Path(self.args.txn_ceiling).exists():
            topic = f"{t.topic_prefix}.txn"
            kafkatest.create_topic(t.brokers, topic, 1)
            for per in sorted({1, max(1, round(per_txn))}):
                for run in range(self.args.runs):
                    proc = subprocess.run([self.args.txn_ceiling, t.brokers, topic,
                                           str(self.args.txn_count), str(per)],
                                          capture_output=True, text=True, check=True)
                    m = re.search(r"([\d.]+)/s, p50 ([\d.]+) ms, p90 ([\d.]+) ms, p99 ([\d.]+) ms",
                                  proc.stdout)
                    figure = {"tool": "txn_ceiling", "run": run, "record_bytes": 300,
                              "records_per_txn": per, "txn_rate": float(m.group(1)),
                              "rate": round(float(m.group(1)) * per, 1), "p50": float(m.group(2)),
                              "p99": float(m.group(4))}
                    self.results["kafka_ceiling"].append(figure)
                    log(f"kafka    txn_ceiling {per} record(s)/transaction: "
                        f"{figure['txn_rate']} transactions/s")

    def kafka_fold(self, t: Target) -> None:
        """A new crm-projector with empty views on the topic: it listens once it has folded the
        whole topic, so the time to its port is the fold time of every event so far."""
        events = t.events_appended()
        p = crmtest.Server(self.work / "kafka-projector-2", binary=crmtest.PROJECTOR_BIN,
                           auth=False, tls=False, base_args=t.kafka_args)
        t0 = time.monotonic()
        p.start(timeout_s=3600)
        seconds = time.monotonic() - t0
        rss = rss_bytes(p.pid)
        p.stop()
        figure = {"engine": "kafka", "kind": "fold (new crm-projector)", "events": events,
                  "seconds": round(seconds, 3), "rate": round(events / seconds, 1),
                  "rss_after": rss}
        self.results["fold"].append(figure)
        log(f"kafka    fold of {events} events by a new projector: {figure['rate']}/s")

    # -- growth, fold and rebuild (embedded) -------------------------------------------------

    def growth_and_fold(self) -> None:
        t = Target("embedded", self.work / "growth").start()
        try:
            orgtest.make_org(t.command)
            a = t.command.address
            have = 0
            for size in self.args.growth_sizes:
                self.grow(t, have, size)
                have = size
                t.caught_up()
                for name, call, data in query_data(size, 1, prefix="g"):
                    if name not in GROWTH_QUERIES:
                        continue
                    f = strip(self.ghz.run(a, call, data, 1, n=self.args.growth_calls,
                                           label=f"growth-{size}"))
                    f.update(name=name, customers=size)
                    self.results["growth"].append(f)
                    log(f"growth   {name:32} {size:>8} customers: p50 {f['p50']:.2f} "
                        f"p99 {f['p99']:.2f} ms")
            for events in self.args.fold_events:
                while (more := events - t.events_appended()) > 0:
                    # A registration appends two events (the e-mail's claim and the registration):
                    # half as many, then what is still missing.
                    n = max(1, (more + 1) // 2)
                    self.grow(t, have, have + n, tag=False)
                    have += n
                self.fold_and_rebuild(t)
        finally:
            # Also when a step fails: a server left running would share the next run's data dir.
            t.stop()

    def grow(self, t: Target, have: int, size: int, tag: bool = True) -> None:
        """Registers customers g-<have> .. g-<size-1>; tags every 100th vip."""
        if size <= have:
            return
        data = register_data("g")
        data = json.loads(json.dumps(data).replace(".RequestNumber", f".RequestNumber | add {have}"))
        # sprig: {{.RequestNumber | add N}}
        self.ghz.run(t.command.address, CUSTOMER_CMD + "RegisterCustomer", data, 32,
                     n=size - have, label="grow")
        if tag:
            self.ghz.run(t.command.address, CUSTOMER_CMD + "TagCustomer", {
                "name": f"customers/g-{{{{mul .RequestNumber 100 | add {have}}}}}",
                "tag": "vip"}, 4, n=max(1, (size - have) // 100), label="grow")

    def fold_and_rebuild(self, t: Target) -> None:
        server = t.command
        admin = agrpc.AdminServiceStub(server.channel)
        t.caught_up()
        events = t.events_appended()
        rss_before = rss_bytes(server.pid)
        t0 = time.monotonic()
        admin.RebuildFolds(apb.RebuildFoldsRequest(store="views"))
        while True:
            status = admin.GetStatus(apb.GetStatusRequest())
            views = [s for s in status.stores if s.name == "views"]
            if not any(f.refolding for s in views for f in s.folds):
                break
            time.sleep(0.02)
        fold_s = time.monotonic() - t0
        rss_fold = rss_bytes(server.pid)
        server.stop()
        disk = {p.name: dir_bytes(p) for p in server.data_dir.iterdir() if p.is_dir()}
        t0 = time.monotonic()
        server.start("--rebuild", timeout_s=3600)
        rebuild_s = time.monotonic() - t0
        rss_rebuild = rss_bytes(server.pid)
        server.stop()
        target = self.work / f"raw-rocksdb-{events}"
        shutil.rmtree(target, ignore_errors=True)
        raw = json.loads(subprocess.run(
            [self.args.rocksdb_bench, "--source", str(server.data_dir / "views"),
             "--target", str(target), "--events", str(events)],
            capture_output=True, text=True, check=True).stdout)
        shutil.rmtree(target, ignore_errors=True)
        server.start(timeout_s=3600)
        t.event_base = events  # the counter starts again at 0
        figure = {"engine": "embedded", "events": events,
                  "fold_seconds": round(fold_s, 3), "fold_rate": round(events / fold_s, 1),
                  "rebuild_seconds": round(rebuild_s, 3),
                  "rebuild_rate": round(events / rebuild_s, 1),
                  "raw_rocksdb": raw, "fold_ratio": round(events / fold_s / raw["events_per_s"], 4),
                  "rss_before": rss_before, "rss_after_fold": rss_fold,
                  "rss_after_rebuild": rss_rebuild, "disk_bytes": disk}
        self.results["fold"].append(figure)
        log(f"embedded fold {events} events: {figure['fold_rate']}/s (raw RocksDB "
            f"{raw['events_per_s']:.0f}/s), rebuild {figure['rebuild_rate']}/s")

    # -- resources ---------------------------------------------------------------------------

    def resources(self, t: Target, rest: dict, seeded: dict) -> None:
        events = t.events_appended()
        disk = t.data_bytes()
        peak: dict[str, int] = {}
        for f in self.results["commands"] + self.results["queries"]:
            if f["engine"] == t.engine:
                for name, v in (f.get("rss_peak") or {}).items():
                    peak[name] = max(peak.get(name, 0), v)
        top = min(self.args.concurrency, key=lambda c: abs(c - 64))  # the goals' concurrency
        cpu = [f for f in self.results["commands"] if f["engine"] == t.engine
               and f["concurrency"] == top and f["name"] == "RegisterCustomer"]
        figure = {
            "engine": t.engine, "events": events, "rss_rest": rest, "rss_seeded": seeded,
            "rss_peak_under_load": peak,
            "rss_end": {n: rss_bytes(p) for n, p in t.pids().items()},
            "disk_bytes": disk,
            "disk_bytes_per_100k_events": {n: round(v * 1e5 / max(1, events))
                                           for n, v in disk.items()},
            "cpu_ms_per_1k_register": statistics.median(f["cpu_ms_per_1k"] for f in cpu)
            if cpu else None,
            "broker_cpu_ms_per_1k_register": statistics.median(
                f["broker_cpu_ms_per_1k"] for f in cpu if "broker_cpu_ms_per_1k" in f)
            if any("broker_cpu_ms_per_1k" in f for f in cpu) else None,
            "concurrency": top,
        }
        self.results["resources"].append(figure)

    # -- the whole run -----------------------------------------------------------------------

    def engine(self, engine: str) -> None:
        log(f"== {engine}")
        t = Target(engine, self.work / engine, self.args.brokers)
        t.start()
        try:
            rest = {n: rss_bytes(p) for n, p in t.pids().items()}
            orgtest.make_org(t.command)
            self.seed(t, self.args.seed_customers, self.args.few)
            t.caught_up()
            seeded = {n: rss_bytes(p) for n, p in t.pids().items()}
            # warm-up: connections, JIT of the broker, the first transactions
            self.ghz.run(t.command.address, HEALTH, {}, 4, n=200, label="warmup")
            call, data = command_data(self.args.seed_customers, "warm")["UpdateCustomer"]
            self.ghz.run(t.command.address, call, data, 16, n=self.args.warmup, label="warmup")
            self.commands(t)
            # a complaint's flow leaves closed complaints for the queries
            t.caught_up()
            self.queries(t)
            self.lag(t)
            self.resources(t, rest, seeded)
            if engine == "kafka":
                self.kafka_ceiling(t)
                self.kafka_fold(t)
        finally:
            t.stop()

    @staticmethod
    def part_of(section: str, figure: dict) -> str:
        """The part (an --engines name) a figure of `section` comes from."""
        if section == "growth" or (section == "fold" and figure.get("engine") == "embedded"):
            return "growth"
        if section == "kafka_ceiling":
            return "kafka"
        return figure["engine"]

    def keep_other_parts(self, previous: dict) -> None:
        """Copies the figures of the parts this run does not measure from an earlier run's
        results, each part with that run's meta (date, commit, load), so one part can be rerun
        without the whole benchmark. Parts the earlier run took from a run before it keep
        that run's meta."""
        kept = {}
        earlier = previous["meta"].get("kept", {})
        for section, figures in previous.items():
            if section == "meta":
                continue
            for f in figures:
                part = self.part_of(section, f)
                if part in self.args.engines:
                    continue
                self.results.setdefault(section, []).append(f)
                kept[part] = earlier.get(part) or {
                    k: previous["meta"].get(k) for k in (
                        "date", "commit", "load_before", "load_after", "runs", "duration_s",
                        "note")}
        self.results["meta"]["kept"] = kept
        for part, m in kept.items():
            log(f"keeping {part} from the run of {m['date']} at {m['commit']}")

    def run(self) -> int:
        started = time.time()
        meta = {
            "mode": "short" if self.args.short else "full",
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                     capture_output=True, text=True).stdout.strip(),
            "cpus": os.cpu_count(),
            "cpu_model": next((line.split(":", 1)[1].strip() for line in
                               Path("/proc/cpuinfo").read_text().splitlines()
                               if line.startswith("model name")), ""),
            "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
                                / 2**30, 1),
            "load_before": os.getloadavg(),
            "runs": self.args.runs, "duration_s": self.args.duration,
            "concurrency": self.args.concurrency,
            "query_concurrency": self.args.query_concurrency,
            "seed_customers": self.args.seed_customers,
            "flow_complaints": self.args.flow_complaints,
            "lag_rate": self.args.lag_rate, "growth_sizes": self.args.growth_sizes,
            "fold_events": self.args.fold_events, "engines": self.args.engines,
            "kafka_brokers": self.args.brokers,
            "note": self.args.note,
        }
        self.results["meta"] = meta
        if self.args.keep:
            self.keep_other_parts(json.loads(Path(self.args.keep).read_text()))
        try:
            for engine in self.args.engines:
                if engine == "growth":
                    self.growth_and_fold()
                else:
                    self.engine(engine)
        finally:
            meta["load_after"] = os.getloadavg()
            meta["wall_seconds"] = round(time.time() - started, 1)
            meta["ghz_errors"] = self.ghz.errors
            (self.out / "results.json").write_text(json.dumps(self.results, indent=1))
            shutil.rmtree(self.work, ignore_errors=True)
            log(f"results in {self.out / 'results.json'} ({meta['wall_seconds']} s)")
        return 1 if self.ghz.errors else 0


GROWTH_QUERIES = ("GetCustomer", "ListCustomers", "ListCustomers stage=POTENTIAL",
                  "ListCustomers tier=HIGH_VALUE", "ListCustomers tag=vip",
                  "SearchCustomers query", "SearchCustomers region+industry", "FindCustomers email",
                  "GetCustomerHistory", "GetCustomerValue", "GetSegmentSizes",
                  "GetLifecycleFunnel", "GetComplaintStats", "GetSlaCompliance",
                  "GetInteractionStats", "ListComplaints status=CLOSED", "GetOrgChart")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="results directory")
    p.add_argument("--short", action="store_true", help="tiny sizes and durations")
    p.add_argument("--engines", default="embedded,kafka,growth",
                   help="comma-separated among embedded, kafka, growth (growth, fold and "
                        "rebuild on the embedded engine)")
    p.add_argument("--brokers", default=os.environ.get("CRM_KAFKA_BROKERS", ""))
    p.add_argument("--ghz", required=True)
    p.add_argument("--kafka-tools", default="", help="directory of the kafka-tools jars")
    p.add_argument("--txn-ceiling", default="", help="bench/txn_ceiling.c, built")
    p.add_argument("--rocksdb-bench", required=True, help="bench/rocksdb_write_bench, built")
    p.add_argument("--runs", type=int)
    p.add_argument("--duration", type=float, help="seconds per figure")
    p.add_argument("--note", default="", help="a line shown at the top of the report")
    p.add_argument("--flow-complaints", type=int, help="complaints per step of a flow run")
    p.add_argument("--growth-sizes", help="customers, comma-separated (default 1000,100000)")
    p.add_argument("--fold-events", help="events, comma-separated (default 100000,1000000)")
    p.add_argument("--keep", default="", help="an earlier results.json: the parts not in "
                   "--engines are copied from it (the report says from which run)")
    args = p.parse_args()
    overrides = {k: getattr(args, k) for k in ("flow_complaints", "growth_sizes", "fold_events")}
    args.engines = [e for e in args.engines.split(",") if e]
    short = args.short
    args.runs = args.runs or (1 if short else 3)
    args.duration = args.duration or (0.3 if short else 3.0)
    args.concurrency = [1, 16, 64, 256] if not short else [1, 64]
    args.query_concurrency = [1, 64] if not short else [64]
    args.seed_customers = 200 if short else 5000
    args.few = 20 if short else 500
    args.flow_complaints = 10 if short else 500
    args.warmup = 100 if short else 3000
    args.lag_rate = 100 if short else 500
    args.lag_seconds = 1.5 if short else 15.0
    args.pp_records = 2000 if short else 100000
    args.txn_count = 30 if short else 2000
    args.growth_sizes = [100, 1000] if short else [1000, 100000]
    args.growth_calls = 20 if short else 500
    args.fold_events = [1000] if short else [100000, 1000000]
    if overrides["flow_complaints"]:
        args.flow_complaints = overrides["flow_complaints"]
    for key in ("growth_sizes", "fold_events"):
        if overrides[key]:
            setattr(args, key, [int(x) for x in overrides[key].split(",")])
    if "kafka" in args.engines and not args.brokers:
        p.error("--engines kafka needs --brokers (or CRM_KAFKA_BROKERS)")
    crmtest.ensure_stubs()
    return Bench(args).run()


if __name__ == "__main__":
    sys.exit(main())
