"""The mixed-fault soak (issue 9): the real server under a mixed client load for N minutes while
faults are injected on a seeded random schedule; every acknowledged command is recorded and
checked after each restart and at the end. Run by scripts/soak.sh (the long campaign) and, in its
short mode, by test_soak_short.py (so that it does not rot).

    python tests/process/soak.py [--minutes N | --short] [--engine embedded|kafka] [--seed S]

The load: command threads (each owning its customers, see loadgen.Commands: registrations,
profile updates, lifecycle moves, purchases, tags, interactions with follow-ups, complaints walked
through their flow) paced to `--rate` commands/s in all, retrying a call that fails with a
transient code (UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, CANCELLED) with the same
request id until it is answered; reader threads reading their own writes with consistency tokens
(GetCustomer must be at least at the acknowledged version) and listing (customers, complaints,
interactions, the timeline, follow-ups, segment sizes, complaint statistics).

The faults, one at a time, each kind in turn in a seeded random order:
  embedded: kill -9 and restart; SIGTERM (must exit 0 within the grace period) and restart;
            a burst of never-satisfiable consistency-token waits (they must not end by themselves
            and must end at once when cancelled); a full disk (root only: the data dir is on a
            tmpfs that is shrunk to what it holds, then grown back; writes must resume by
            themselves).
  kafka:    kill -9 of crm-command, of crm-projector, of both; SIGTERM of each; the broker killed
            for 10-20 s (only when scripts/kafka runs it: KAFKA_PORT etc. in the environment);
            the token-wait burst.

Checks (any failure makes the run fail): after each restart, the acknowledgements made since
the previous check (up to --check-sample customers of them) are in the views exactly once and
the views are at or past each last answer (equal when at the same version); at the end, all of
them, every resource equal to its last answer, health SERVING, and a clean SIGTERM. Also during
the run: a read with a command's token sees that command, and no call fails with a code a
valid call never gets (INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION, INTERNAL, ...).

Figures printed at the end: commands sent / acknowledged / failed attempts by code, faults,
recovery times, command and query latency outside fault windows (and during token-wait bursts),
the servers' peak RSS, the data dirs' growth.
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import crmtest  # noqa: E402  (puts the stubs on sys.path)
import kafkatest  # noqa: E402
import loadgen  # noqa: E402
import orgtest  # noqa: E402
from crmtest import grpc, query_stub, spb  # noqa: E402
from grpc_health.v1 import health_pb2  # noqa: E402

from crm.v1 import analytics_service_pb2 as apb  # noqa: E402
from crm.v1 import analytics_service_pb2_grpc as agrpc  # noqa: E402
from crm.v1 import complaint_query_service_pb2 as kqpb  # noqa: E402
from crm.v1 import complaint_query_service_pb2_grpc as kqgrpc  # noqa: E402
from crm.v1 import interaction_service_pb2 as ispb  # noqa: E402
from crm.v1 import interaction_service_pb2_grpc as isgrpc  # noqa: E402
from crm.v1 import segment_service_pb2 as sgpb  # noqa: E402
from crm.v1 import segment_service_pb2_grpc as sggrpc  # noqa: E402

TRANSIENT = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
             grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.CANCELLED}
COMMAND_DEADLINE_S = 10.0
GIVE_UP_S = 300.0  # a command not answered after this long (retrying) fails the run
QUERY_DEADLINE_S = 10.0
GRACE_S = 20  # the server's default --shutdown-grace-seconds
TMPFS_SIZE = "4g"


@dataclass
class Options:
    minutes: float = 30.0
    engine: str = "embedded"
    seed: int | None = None
    workdir: Path | None = None
    threads: int = 4
    readers: int = 2
    rate: float = 60.0  # commands per second, all threads together
    fault_gap_s: tuple[float, float] = (40.0, 80.0)
    first_fault_s: float = 30.0
    check_sample: int = 200  # customers checked after a restart
    brokers: str = ""
    disk_full: bool | None = None  # None: when root
    progress_s: float = 60.0
    out: object = None  # a file to print to (default stdout)

    @classmethod
    def short(cls, **kw) -> "Options":
        """About a minute of load with each fault kind once, then the checks."""
        base = dict(minutes=1.0, fault_gap_s=(7.0, 10.0), first_fault_s=5.0, check_sample=10**6,
                    progress_s=15.0)
        base.update(kw)
        return cls(**base)


@dataclass
class Fault:
    kind: str
    start: float  # monotonic
    end: float = 0.0  # when it was over: the server serving again, or the disk grown back
    figures: dict = field(default_factory=dict)  # recovery times etc.


class Stats:
    """Counters and latencies shared by the threads (under one lock)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.sent = 0  # commands (distinct request ids) sent
        self.acked = 0
        self.attempts: Counter = Counter()  # command attempts by code name
        self.queries: Counter = Counter()  # query calls by code name
        self.cmd_lat: list[tuple[float, float]] = []  # (sent, seconds) of answered attempts
        self.query_lat: list[tuple[float, float]] = []
        self.errors: list[str] = []  # what fails the run
        self.last_success = 0.0  # monotonic time of the last answered command
        self.t0 = time.monotonic()

    def error(self, msg: str) -> None:
        with self.lock:
            if len(self.errors) < 1000:
                self.errors.append(f"[{time.monotonic() - self.t0:.1f}s] {msg}")


class Soak:
    def __init__(self, opts: Options):
        self.o = opts
        self.seed = opts.seed if opts.seed is not None else random.randrange(1 << 30)
        self.rng = random.Random(self.seed)
        self.out = opts.out or sys.stdout
        self.own_workdir = opts.workdir is None
        self.workdir = Path(opts.workdir or tempfile.mkdtemp(prefix="crm-soak-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.stats = Stats()
        self.acks: list[loadgen.Ack] = []
        self.acks_lock = threading.Lock()
        self.checked_upto = 0  # acks[:checked_upto] were checked after a restart
        self.faults: list[Fault] = []
        self.bursts: list[tuple[float, float]] = []
        self.stop_load = threading.Event()
        self.gate = threading.Event()  # cleared: commands wait (while a start sets up the disk)
        self.gate.set()
        self.stop_sampler = threading.Event()
        self.published: dict[str, tuple[str, int]] = {}  # customer -> (token, version) acked
        self.peak_rss: dict[str, int] = {}
        self.disk: Path | None = None
        self.checks = 0
        self.broker_scripted = False

    # -- output ---------------------------------------------------------------------------------

    def log(self, msg: str) -> None:
        t = time.monotonic() - getattr(self, "t0", time.monotonic())
        print(f"[soak {t:7.1f}s] {msg}", file=self.out, flush=True)

    # -- the server -----------------------------------------------------------------------------

    def _make_server(self):
        if self.o.engine == "embedded":
            data_dir = self.workdir / "server" / "data"
            if self.o.disk_full if self.o.disk_full is not None else os.geteuid() == 0:
                self.disk = self.workdir / "disk"
                self.disk.mkdir(exist_ok=True)
                subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE}", "tmpfs",
                                str(self.disk)], check=True)
                data_dir = self.disk / "data"
            return crmtest.Server(self.workdir / "server", data_dir=data_dir)
        if self.o.engine == "kafka":
            assert self.o.brokers, "--engine kafka needs --brokers (scripts/soak.sh starts one)"
            self.broker_scripted = kafkatest.broker_is_scripted(self.o.brokers)
            return crmtest.Cluster(self.workdir / "cluster", self.o.brokers,
                                   crmtest.topic_prefix_for(f"soak-{self.seed}"))
        raise ValueError(f"unknown engine {self.o.engine!r}")

    def processes(self) -> list:
        return list(getattr(self.server, "servers", [self.server]))

    def data_dirs(self) -> list[Path]:
        return [p.data_dir for p in self.processes()]

    def data_size(self) -> tuple[int, int]:
        """(allocated, apparent) bytes of the data dirs' files (RocksDB preallocates its
        write-ahead logs: allocated is what the disk gives up)."""
        allocated = apparent = 0
        for d in self.data_dirs():
            for root, _, files in os.walk(d):
                for f in files:
                    try:
                        st = os.lstat(os.path.join(root, f))
                    except FileNotFoundError:
                        continue
                    allocated += st.st_blocks * 512
                    apparent += st.st_size
        return allocated, apparent

    def _sample(self) -> None:
        while not self.stop_sampler.wait(0.5):
            for p in self.processes():
                pid = p.pid
                if pid is None:
                    continue
                try:
                    with open(f"/proc/{pid}/status") as f:
                        for line in f:
                            if line.startswith("VmHWM:"):
                                kb = int(line.split()[1])
                                self.peak_rss[p.name] = max(self.peak_rss.get(p.name, 0), kb)
                except (FileNotFoundError, ProcessLookupError, ValueError):
                    pass

    # -- the load -------------------------------------------------------------------------------

    def _command_thread(self, no: int, prefix: str, pace_s: float, stop: threading.Event,
                        make=None) -> None:
        rng = random.Random(self.seed * 1000 + no)
        commands = loadgen.Commands(rng, f"{prefix}{no}", mixed=True)
        next_at = time.monotonic()
        while not stop.is_set():
            if pace_s:
                next_at += rng.uniform(0.5, 1.5) * pace_s
                delay = next_at - time.monotonic()
                if delay > 0:
                    stop.wait(delay)
                else:
                    next_at = time.monotonic()  # behind (a fault): do not burst to catch up
            cmd = make(commands) if make else commands.next()
            resp = self._send(cmd)
            if resp is None:
                continue
            ack = commands.answered(cmd, resp)
            with self.acks_lock:
                self.acks.append(ack)
                self.published[loadgen.customer_of(ack.name)] = (
                    ack.token, ack.version if cmd.service == "customer" else -1)

    def _send(self, cmd: loadgen.Command):
        """Sends until answered (same request id), or records an error; returns the answer."""
        with self.stats.lock:
            self.stats.sent += 1
        first = time.monotonic()
        while True:
            self.gate.wait()
            stubs = self._stubs()
            t = time.monotonic()
            code, details = None, ""
            if stubs is None:  # the server is down (being restarted)
                code = "server down"
            else:
                try:
                    resp = getattr(stubs[cmd.service], cmd.method)(cmd.request,
                                                                   timeout=COMMAND_DEADLINE_S)
                except grpc.RpcError as err:
                    code, details = err.code(), err.details()
                except ValueError:  # "Cannot invoke RPC on closed channel!" (a restart)
                    code = "channel closed"
            done = time.monotonic()
            if code is None:
                with self.stats.lock:
                    self.stats.attempts["OK"] += 1
                    self.stats.acked += 1
                    self.stats.cmd_lat.append((t, done - t))
                    self.stats.last_success = done
                return resp
            name = code if isinstance(code, str) else code.name
            if isinstance(code, str):
                if self.stop_load.is_set() and done - first > 60:
                    self.stats.error(f"{cmd.method} {cmd.request.request_id}: no server at the end")
                    return None
                time.sleep(0.05)
            else:
                with self.stats.lock:
                    self.stats.attempts[name] += 1
                if code not in TRANSIENT:
                    self.stats.error(f"{cmd.method} {cmd.request.request_id}: {name} "
                                     f"{details}")
                    return None
                time.sleep(0.05)
            if done - first > GIVE_UP_S:
                self.stats.error(f"{cmd.method} {cmd.request.request_id}: not answered after "
                                 f"{GIVE_UP_S:.0f}s of retries (last: {name})")
                return None

    def _stubs(self):
        s = self.server
        if s.channel is None or getattr(s, "query_channel", None) is None:
            return None
        key = (id(s.channel), id(s.query_channel))
        cached = getattr(self, "_stub_cache", None)
        if cached is None or cached[0] != key:
            stubs = loadgen.command_stubs(s)
            stubs.update(
                cq=query_stub(s, kqgrpc.ComplaintQueryServiceStub),
                iq=query_stub(s, isgrpc.InteractionQueryServiceStub),
                sq=query_stub(s, sggrpc.SegmentServiceStub),
                aq=query_stub(s, agrpc.AnalyticsServiceStub),
                q=s.query)
            self._stub_cache = cached = (key, stubs)
        return cached[1]

    def _reader_thread(self, no: int) -> None:
        rng = random.Random(self.seed * 1000 + 500 + no)
        while not self.stop_load.is_set():
            self.stop_load.wait(rng.uniform(0.01, 0.05))
            stubs = self._stubs()
            with self.acks_lock:
                if not self.published:
                    continue
                customer = rng.choice(list(self.published))  # O(n) but small next to a call
                token, version = self.published[customer]
            if stubs is None:
                continue
            r = rng.random()
            t = time.monotonic()
            method = ""
            try:
                if r < 0.4:
                    method = "GetCustomer"
                    got = stubs["q"].GetCustomer(spb.GetCustomerRequest(
                        name=customer, consistency_token=token), timeout=QUERY_DEADLINE_S)
                    if got.version < version:
                        self.stats.error(f"read-your-writes: {customer} at v{got.version} with "
                                         f"the token of v{version}")
                elif r < 0.55:
                    method = "GetCustomerTimeline"
                    stubs["iq"].GetCustomerTimeline(ispb.GetCustomerTimelineRequest(
                        parent=customer, consistency_token=token, page_size=50),
                        timeout=QUERY_DEADLINE_S)
                elif r < 0.65:
                    method = "ListInteractions"
                    stubs["iq"].ListInteractions(ispb.ListInteractionsRequest(
                        parent=customer, consistency_token=token), timeout=QUERY_DEADLINE_S)
                elif r < 0.75:
                    method = "ListComplaints"
                    stubs["cq"].ListComplaints(kqpb.ListComplaintsRequest(
                        parent=customer, consistency_token=token), timeout=QUERY_DEADLINE_S)
                elif r < 0.85:
                    method = "ListCustomers"  # a few pages
                    page = ""
                    for _ in range(3):
                        resp = stubs["q"].ListCustomers(spb.ListCustomersRequest(
                            page_size=100, page_token=page), timeout=QUERY_DEADLINE_S)
                        page = resp.next_page_token
                        if not page:
                            break
                elif r < 0.93:
                    method = "ListFollowUps"
                    stubs["iq"].ListFollowUps(ispb.ListFollowUpsRequest(
                        staff_id=rng.choice([orgtest.AGENT, orgtest.AGENT2]), page_size=100),
                        timeout=QUERY_DEADLINE_S)
                elif r < 0.97:
                    method = "GetSegmentSizes"
                    stubs["sq"].GetSegmentSizes(sgpb.GetSegmentSizesRequest(),
                                                timeout=QUERY_DEADLINE_S)
                else:
                    method = "GetComplaintStats"
                    stubs["aq"].GetComplaintStats(apb.GetComplaintStatsRequest(),
                                                  timeout=QUERY_DEADLINE_S)
                code = "OK"
            except grpc.RpcError as err:
                code = err.code().name
                if err.code() not in TRANSIENT:
                    self.stats.error(f"{method} on {customer}: {code} {err.details()}")
            except ValueError:
                code = "channel closed"
            done = time.monotonic()
            with self.stats.lock:
                self.stats.queries[code] += 1
                if code == "OK":
                    self.stats.query_lat.append((t, done - t))

    # -- faults ---------------------------------------------------------------------------------

    def fault_kinds(self) -> list[str]:
        if self.o.engine == "embedded":
            kinds = ["kill9", "sigterm", "token-burst"]
            if self.disk is not None:
                kinds.append("disk-full")
            return kinds
        kinds = ["kill9-command", "kill9-projector", "kill9-both", "sigterm-command",
                 "sigterm-projector", "token-burst"]
        if self.broker_scripted:
            kinds.append("broker-outage")
        return kinds

    def _first_success_after(self, t: float, timeout_s: float = GIVE_UP_S) -> float:
        """Seconds from t to the first command answered after t (polls the shared clock)."""
        deadline = time.monotonic() + timeout_s
        while self.stats.last_success <= t:
            if time.monotonic() > deadline:
                raise AssertionError(f"no command answered within {timeout_s:.0f}s")
            time.sleep(0.01)
        return self.stats.last_success - t

    def _restart(self, proc, f: Fault, label: str) -> None:
        f.figures[f"{label} restart to SERVING s"] = self._start(proc)

    def _start(self, proc, first_write=None) -> float:
        """Starts `proc`; returns the seconds to SERVING. On the tmpfs, the disk then has less
        free than a write-ahead log's preallocation (RocksDB reserves about 70 MiB per store at
        a new log's first write when it can) until the first write after the start
        (`first_write`, else the load's next command, held back meanwhile) and a second more, so
        that a later disk-full episode runs out of space within seconds instead of writing into
        reserved space for many minutes. (Before the start would not do: opening the stores
        deletes the old logs and frees their reserved space.)"""
        if self.disk is not None:
            self.gate.clear()
        try:
            t = time.monotonic()
            proc.start()
            serving = time.monotonic() - t
            if self.disk is None:
                if first_write is not None:
                    first_write()
                return serving
            subprocess.run(["mount", "-o", f"remount,size={self._disk_used() + (40 << 20)}",
                            str(self.disk)], check=True)
            try:
                t = time.monotonic()
                self.gate.set()
                if first_write is not None:
                    first_write()
                else:
                    self._first_success_after(t, timeout_s=30)
                time.sleep(1.0)
            finally:
                subprocess.run(["mount", "-o", f"remount,size={TMPFS_SIZE}", str(self.disk)],
                               check=True)
            return serving
        finally:
            self.gate.set()

    def _disk_used(self) -> int:
        st = os.statvfs(self.disk)
        return (st.f_blocks - st.f_bfree) * st.f_frsize

    def inject(self, kind: str) -> Fault:
        f = Fault(kind, time.monotonic())
        self.faults.append(f)
        s = self.server
        if kind in ("kill9", "kill9-both"):
            s.kill()
            self._restart(s, f, "all")
        elif kind == "kill9-command":
            s.commander.kill()
            self._restart(s.commander, f, "crm-command")
        elif kind == "kill9-projector":
            s.projector.kill()
            self._restart(s.projector, f, "crm-projector")
        elif kind.startswith("sigterm"):
            proc = {"sigterm": s, "sigterm-command": getattr(s, "commander", None),
                    "sigterm-projector": getattr(s, "projector", None)}[kind]
            t = time.monotonic()
            proc.signal_term()
            rc = proc.wait_exit(timeout_s=GRACE_S + 30)
            took = time.monotonic() - t
            f.figures["exit after SIGTERM s"] = took
            if rc != 0:
                self.stats.error(f"{kind}: exit code {rc} after SIGTERM")
            if took > GRACE_S + 1:
                self.stats.error(f"{kind}: exited {took:.1f}s after SIGTERM (grace {GRACE_S}s)")
            self._restart(proc, f, getattr(proc, "name", "all"))
        elif kind == "token-burst":
            self._token_burst(f)
        elif kind == "disk-full":
            self._last_disk_full = f
            self._disk_full(f)
        elif kind == "broker-outage":
            outage = self.rng.uniform(10, 20)
            kafkatest.stop_broker(kill=True)
            time.sleep(outage)
            t = time.monotonic()
            kafkatest.start_broker()
            f.figures["broker down s"] = t - f.start
            f.figures["broker start s"] = time.monotonic() - t
            f.figures["broker back to first success s"] = self._first_success_after(t)
        else:
            raise ValueError(kind)
        if kind != "token-burst":
            f.figures["fault to first success s"] = self._first_success_after(f.start)
        f.end = time.monotonic()
        return f

    def _token_burst(self, f: Fault, waiters: int = 200, hold_s: float = 5.0) -> None:
        token = base64.urlsafe_b64encode(b"0:1000000000").decode().rstrip("=")
        stubs = self._stubs()
        with self.acks_lock:
            customer = next(iter(self.published))
        futures = [stubs["q"].GetCustomer.future(
            spb.GetCustomerRequest(name=customer, consistency_token=token), timeout=120)
            for _ in range(waiters)]
        time.sleep(hold_s)
        ended = sum(1 for fu in futures if fu.done())
        if ended:
            self.stats.error(f"token-burst: {ended} of {waiters} unreachable waits ended by "
                             f"themselves within {hold_s}s")
        t = time.monotonic()
        for fu in futures:
            fu.cancel()
        for fu in futures:
            try:
                fu.result(timeout=10)
            except (grpc.FutureCancelledError, grpc.RpcError):
                pass
        f.figures["cancel all s"] = time.monotonic() - t
        self.bursts.append((f.start, time.monotonic()))
        ok = self.server.health.Check(health_pb2.HealthCheckRequest(), timeout=5)
        if ok.status != health_pb2.HealthCheckResponse.SERVING:
            self.stats.error(f"token-burst: health {ok.status} after cancelling")

    def _failed_attempts(self) -> int:
        """Command attempts failed with a transient code so far."""
        with self.stats.lock:
            return sum(v for k, v in self.stats.attempts.items()
                       if k in {c.name for c in TRANSIENT})

    def _disk_full(self, f: Fault) -> None:
        small = self._disk_used() + (2 << 20)
        subprocess.run(["mount", "-o", f"remount,size={small}", str(self.disk)], check=True)
        # A writer of large registrations fills what is left quickly (its acks are recorded).
        stop = threading.Event()
        failed_before = self._failed_attempts()
        filler = threading.Thread(target=self._command_thread, daemon=True, args=(
            900 + len(self.faults), "fill-", 0.0, stop, _big_registration))
        filler.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._failed_attempts() - failed_before >= 5:
                break
            time.sleep(0.05)
        full = time.monotonic()
        stop.set()
        f.figures["disk full after s"] = full - f.start
        if full >= deadline:
            self.stats.error("disk-full: no command failed within 30 s of shrinking the disk")
        time.sleep(3)  # full for a while, reads and health go on
        health = self.server.health.Check(health_pb2.HealthCheckRequest(), timeout=5)
        if health.status != health_pb2.HealthCheckResponse.SERVING:
            self.stats.error(f"disk-full: health {health.status} on a full disk")
        if not self.server.running:
            self.stats.error("disk-full: the server died")
        subprocess.run(["mount", "-o", f"remount,size={TMPFS_SIZE}", str(self.disk)], check=True)
        t = time.monotonic()
        f.figures["failed attempts while full"] = self._failed_attempts() - failed_before
        f.figures["space back to first success s"] = self._first_success_after(t)
        filler.join(GIVE_UP_S + 10)

    # -- checks ---------------------------------------------------------------------------------

    def check(self, when: str, final: bool = False) -> None:
        """The acknowledgements since the last check (all of them at the end) against the views."""
        t = time.monotonic()
        with self.acks_lock:
            acks = list(self.acks if final else self.acks[self.checked_upto:])
            self.checked_upto = len(self.acks)
        if not final:
            customers = sorted({loadgen.customer_of(a.name) for a in acks})
            if len(customers) > self.o.check_sample:
                keep = set(self.rng.sample(customers, self.o.check_sample))
                acks = [a for a in acks if loadgen.customer_of(a.name) in keep]
        try:
            loadgen.verify_acks(self.server, acks, self.rng, retries=25, workers=4)
            n = loadgen.verify_views_match_answers(self.server, acks, quiet=final, workers=4)
            health = self.server.health.Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert health.status == health_pb2.HealthCheckResponse.SERVING, health
        except (AssertionError, grpc.RpcError) as e:
            self.stats.error(f"check {when}: {e}")
            self.log(f"CHECK FAILED {when}: {str(e)[:2000]}")
            return
        self.checks += 1
        self.log(f"check {when}: {len(acks)} acknowledgements, {n} resources ok "
                 f"({time.monotonic() - t:.1f}s)")

    # -- the run --------------------------------------------------------------------------------

    def run(self) -> bool:
        o = self.o
        self.t0 = time.monotonic()
        self.log(f"seed {self.seed} (--seed {self.seed} to repeat), engine {o.engine}, "
                 f"{o.minutes:g} min, {o.threads} command threads at {o.rate:g}/s, "
                 f"{o.readers} readers, workdir {self.workdir}")
        self.server = self._make_server()
        if o.engine == "embedded" and self.disk is None:
            self.log("disk-full episodes skipped (not root, or --no-disk-full)")
        if o.engine == "kafka" and not self.broker_scripted:
            self.log("broker outages skipped: the broker is not run by scripts/kafka here")
        sampler = threading.Thread(target=self._sample, daemon=True)
        try:
            self._start(self.server, first_write=lambda: orgtest.make_org(self.server))
            sampler.start()
            size0 = self.data_size()
            threads = [threading.Thread(target=self._command_thread, daemon=True,
                                        args=(i, "c", o.threads / o.rate, self.stop_load))
                       for i in range(o.threads)]
            threads += [threading.Thread(target=self._reader_thread, args=(i,), daemon=True)
                        for i in range(o.readers)]
            for t in threads:
                t.start()
            self._schedule(self.t0 + o.minutes * 60)
            self.log("load stops")
            self.stop_load.set()
            for t in threads:
                t.join(GIVE_UP_S + 30)
            self.check("at the end", final=True)
            size1 = self.data_size()
            t = time.monotonic()
            rc = self.server.stop(check=False)
            if rc != 0:
                self.stats.error(f"final SIGTERM: exit code {rc}")
            self.log(f"stopped (exit {rc}) in {time.monotonic() - t:.1f}s")
            self.report(size0, size1)
        except BaseException as e:  # report what happened, then fail
            self.stats.error(f"the soak itself failed: {type(e).__name__}: {e}")
            self.log(f"FAILED: {type(e).__name__}: {e}")
            for p in self.processes():
                self.log(f"----- {p.name} log {p.log_path} (tail)\n{p.log_tail(4000)}")
            if isinstance(e, KeyboardInterrupt):
                raise
        finally:
            self.stop_load.set()
            self.stop_sampler.set()
            for p in self.processes():
                if p.running:
                    p.kill()
            if self.disk is not None:
                subprocess.run(["umount", "-l", str(self.disk)], check=False)
            if getattr(self.server, "topic", None):
                kafkatest.delete_topics(self.o.brokers, [self.server.topic])
        if self.stats.errors:
            self.log(f"FAILED with {len(self.stats.errors)} errors; the first ones:")
            for e in self.stats.errors[:20]:
                print(f"  {e[:1500]}", file=self.out)
            self.log(f"logs kept in {self.workdir}")
            return False
        if self.own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
        self.log("PASSED")
        return True

    def _schedule(self, end: float) -> None:
        """Injects faults until `end`: each kind in turn, in a random order per cycle."""
        o = self.o
        next_fault = self.t0 + o.first_fault_s
        next_progress = self.t0 + o.progress_s
        cycle: list[str] = []
        short = o.minutes <= 1.5
        done_kinds: set[str] = set()
        # The short mode goes on until each kind of fault was injected once.
        while time.monotonic() < end or (short and not done_kinds >= set(self.fault_kinds())):
            now = time.monotonic()
            if now >= next_progress:
                self.progress()
                next_progress += o.progress_s
            if now >= next_fault and not (short and done_kinds >= set(self.fault_kinds())):
                if not cycle:
                    cycle = self.fault_kinds()
                    self.rng.shuffle(cycle)
                kind = self._pick(cycle)
                done_kinds.add(kind)
                with self.acks_lock:
                    n_acks = len(self.acks)
                self.log(f"fault {len(self.faults) + 1}: {kind} ({n_acks} acknowledged so far)")
                f = self.inject(kind)
                self.log(f"  {kind} over after {f.end - f.start:.1f}s: " + ", ".join(
                    f"{k} {v:.2f}" for k, v in f.figures.items()))
                if kind != "token-burst":
                    self.check(f"after {kind}")
                next_fault = time.monotonic() + self.rng.uniform(*o.fault_gap_s)
            time.sleep(0.1)

    def _pick(self, cycle: list[str]) -> str:
        """The next fault of the cycle, except that a disk-full episode waits for a restart
        after the previous one: after the disk was grown back RocksDB reserves a new log's
        space again (see _start), which the next episode would write into for many minutes."""
        restarted = any(f.kind.startswith(("kill9", "sigterm")) for f in reversed(
            self.faults[self.faults.index(self._last_disk_full) + 1:])) \
            if getattr(self, "_last_disk_full", None) else True
        for i in range(len(cycle) - 1, -1, -1):
            if cycle[i] != "disk-full" or restarted:
                kind = cycle.pop(i)
                break
        else:
            kind = self.rng.choice(["kill9", "sigterm"])  # only disk-full left: restart first
        return kind

    def progress(self) -> None:
        s = self.stats
        with s.lock:
            line = (f"{s.acked} acknowledged of {s.sent} sent, attempts "
                    f"{dict(s.attempts)}, queries {sum(s.queries.values())}, "
                    f"{len(self.faults)} faults, {len(s.errors)} errors")
        rss = ", ".join(f"{k} {v / 1024:.0f} MiB" for k, v in self.peak_rss.items())
        allocated, apparent = self.data_size()
        self.log(f"{line}; peak RSS {rss}; data {allocated / 2**20:.1f} MiB allocated, "
                 f"{apparent / 2**20:.1f} MiB in files")

    # -- figures --------------------------------------------------------------------------------

    def _in(self, t: float, d: float, windows) -> bool:
        return any(a - 0.5 <= t + d and t <= b + 2.0 for a, b in windows)

    def report(self, size0: int, size1: int) -> None:
        s, o = self.stats, self.o
        fault_windows = [(f.start, f.end) for f in self.faults if f.kind != "token-burst"]
        steady = [d for t, d in s.cmd_lat if not self._in(t, d, fault_windows + self.bursts)]
        in_bursts = [d for t, d in s.cmd_lat if self._in(t, d, self.bursts)]
        q_steady = [d for t, d in s.query_lat if not self._in(t, d, fault_windows + self.bursts)]
        elapsed = time.monotonic() - self.t0
        out = [f"## soak: engine {o.engine}, seed {self.seed}, {elapsed / 60:.1f} min",
               "",
               f"- commands: {s.sent} sent, {s.acked} acknowledged "
               f"({s.acked / max(elapsed, 1):.1f}/s), attempts by code: "
               + ", ".join(f"{k} {v}" for k, v in s.attempts.most_common()),
               f"- queries: {sum(s.queries.values())}, by code: "
               + ", ".join(f"{k} {v}" for k, v in s.queries.most_common()),
               f"- checks passed: {self.checks} (0 acknowledged lost, 0 duplicated, views equal "
               f"to the answers, health SERVING)" if not s.errors else
               f"- ERRORS: {len(s.errors)}",
               f"- faults: {len(self.faults)} ("
               + ", ".join(f"{k} {v}" for k, v in Counter(f.kind for f in self.faults).items())
               + ")"]
        by_fig: dict[str, list[float]] = defaultdict(list)
        for f in self.faults:
            for k, v in f.figures.items():
                by_fig[f"{f.kind}: {k}"].append(v)
        out.append("- recovery (min / median / max over the faults of a kind):")
        for k in sorted(by_fig):
            v = sorted(by_fig[k])
            out.append(f"  - {k}: {v[0]:.2f} / {v[len(v) // 2]:.2f} / {v[-1]:.2f}")
        out.append(f"- command latency outside fault windows: {_pcts(steady)} "
                   f"({len(steady)} commands)")
        if in_bursts:
            out.append(f"- command latency during token-wait bursts: {_pcts(in_bursts)} "
                       f"({len(in_bursts)} commands)")
        out.append(f"- query latency outside fault windows: {_pcts(q_steady)} "
                   f"({len(q_steady)} queries)")
        out.append("- peak RSS: " + ", ".join(f"{k} {v / 1024:.0f} MiB"
                                              for k, v in sorted(self.peak_rss.items())))
        for i, what in enumerate(("allocated", "file sizes")):
            a, b = size0[i], size1[i]
            out.append(f"- data dirs ({what}): {a / 2**20:.1f} MiB after set-up, "
                       f"{b / 2**20:.1f} MiB at the end (+{(b - a) / 2**20:.1f} MiB, "
                       f"{(b - a) / max(s.acked, 1):.0f} bytes per acknowledged command)")
        if self.disk is not None:
            out.append("- data dir on a tmpfs (for the disk-full episodes): fsync costs nothing")
        print("\n".join(out), file=self.out, flush=True)


def _big_registration(commands: loadgen.Commands) -> loadgen.Command:
    cmd = commands.next()
    while cmd.method != "RegisterCustomer":
        cmd = commands.next()
    cmd.request.customer.display_name += " " + "x" * 150  # at most 200 characters
    return cmd


def _pcts(values: list[float]) -> str:
    if not values:
        return "n/a"
    v = sorted(values)
    p99 = v[min(len(v) - 1, len(v) * 99 // 100)]
    return f"p50 {v[len(v) // 2] * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, max {v[-1] * 1000:.0f} ms"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--short", action="store_true",
                    help="about a minute, each fault kind once (what the test suite runs)")
    ap.add_argument("--engine", choices=["embedded", "kafka"], default="embedded")
    ap.add_argument("--seed", type=int)
    ap.add_argument("--workdir", type=Path, help="default: a temporary dir, kept on failure")
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--readers", type=int, default=2)
    ap.add_argument("--rate", type=float, default=60.0, help="commands/s, all threads together")
    ap.add_argument("--brokers", default=os.environ.get("CRM_KAFKA_BROKERS", ""))
    ap.add_argument("--no-disk-full", action="store_true")
    a = ap.parse_args(argv)
    kw = dict(engine=a.engine, seed=a.seed, workdir=a.workdir, threads=a.threads,
              readers=a.readers, rate=a.rate, brokers=a.brokers,
              disk_full=False if a.no_disk_full else None)
    opts = Options.short(**kw) if a.short else Options(minutes=a.minutes, **kw)
    return 0 if Soak(opts).run() else 1


if __name__ == "__main__":
    sys.exit(main())
