"""Kafka helpers of the process-level tests: the broker, the topic read as a BI consumer would, and
a command stream under broker faults with the checks that no answer lied.

Everything here talks to Kafka through confluent-kafka (Python, with its own bundled librdkafka),
never through our C++ code, so what it reads is what any outside consumer sees.

Env:
  CRM_KAFKA_BROKERS   bootstrap address of the broker the Kafka tests use (scripts/test.sh starts
                      one and sets it). Unset: Kafka tests are skipped, or fail when CI=true.
  KAFKA_DATA_DIR, KAFKA_PORT, KAFKA_CONTROLLER_PORT
                      passed on to scripts/kafka/{start,stop}.sh by the broker-outage test, so that
                      it stops and starts the broker at CRM_KAFKA_BROKERS (see docs/kafka-dev.md).
"""

from __future__ import annotations

import os
import random
import subprocess
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from google.protobuf import field_mask_pb2

import crmtest
from crmtest import grpc
from grpc_health.v1 import health_pb2

ROOT = crmtest.ROOT
KAFKA_SCRIPTS = ROOT / "scripts" / "kafka"


def brokers_from_env() -> str:
    return os.environ.get("CRM_KAFKA_BROKERS", "").strip()


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


# ---------------------------------------------------------------------------------------------
# Kafka's default partitioner (the Java client's murmur2), written out from its definition.


def murmur2(data: bytes) -> int:
    """org.apache.kafka.common.utils.Utils.murmur2: a signed 32-bit int."""
    m = 0x5BD1E995
    mask = 0xFFFFFFFF
    length = len(data)
    h = (0x9747B28C ^ length) & mask
    for i in range(0, length - length % 4, 4):
        k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24)
        k = (k * m) & mask
        k ^= k >> 24
        k = (k * m) & mask
        h = (h * m) & mask
        h ^= k
    tail = length & ~3
    rest = length % 4
    if rest == 3:
        h ^= data[tail + 2] << 16
    if rest >= 2:
        h ^= data[tail + 1] << 8
    if rest >= 1:
        h ^= data[tail]
        h = (h * m) & mask
    h ^= h >> 13
    h = (h * m) & mask
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def java_partition(key: bytes, partitions: int) -> int:
    """The partition the Java producer's default partitioner picks for a non-null key."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


# ---------------------------------------------------------------------------------------------
# Reading a topic.


@dataclass
class Record:
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]
    timestamp_ms: int

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k == name]
        assert len(values) <= 1, f"header {name!r} appears {len(values)} times"
        return values[0].decode() if values else None


def _admin(brokers: str):
    from confluent_kafka.admin import AdminClient  # pylint: disable=import-outside-toplevel
    return AdminClient({"bootstrap.servers": brokers, "socket.timeout.ms": 10000,
                        "log_level": 4})  # no info lines (BGQUEUE purges at close)


def _consumer(brokers: str):
    from confluent_kafka import Consumer  # pylint: disable=import-outside-toplevel
    return Consumer({
        "bootstrap.servers": brokers,
        # A group id is required by the client; nothing is committed (assign, no auto commit).
        "group.id": f"crm-process-tests-{uuid.uuid4().hex[:8]}",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "enable.partition.eof": True,
        "isolation.level": "read_committed",
    })


def check_reachable(brokers: str, timeout_s: float = 15.0) -> None:
    """Raises if the broker does not answer a metadata request within timeout_s."""
    md = _admin(brokers).list_topics(timeout=timeout_s)
    assert md.brokers, f"no broker in the metadata of {brokers}"


def partition_count(brokers: str, topic: str, timeout_s: float = 15.0) -> int:
    md = _admin(brokers).list_topics(topic=topic, timeout=timeout_s)
    t = md.topics.get(topic)
    assert t is not None and t.error is None, f"topic {topic}: {t.error if t else 'missing'}"
    return len(t.partitions)


def watermarks(brokers: str, topic: str, timeout_s: float = 15.0) -> dict[int, tuple[int, int]]:
    """partition -> (low, high) offsets."""
    from confluent_kafka import TopicPartition  # pylint: disable=import-outside-toplevel
    n = partition_count(brokers, topic, timeout_s)
    c = _consumer(brokers)
    try:
        return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout_s)
                for p in range(n)}
    finally:
        c.close()


def end_token(brokers: str, topic: str) -> str:
    """A consistency token naming the last record of every non-empty partition.

    Read, not computed from the high watermarks: with transactional writers the last offset of
    a partition is a commit marker, which no consumer ever applies.
    """
    last: dict[int, int] = {}
    for r in read_topic(brokers, topic):
        last[r.partition] = max(last.get(r.partition, -1), r.offset)
    return crmtest.encode_token(last)


def read_topic(brokers: str, topic: str, timeout_s: float = 60.0) -> list[Record]:
    """Every committed record of the topic, from the start of each partition to its end when
    called, in partition then offset order (read_committed: records of aborted transactions and
    transaction markers are not returned)."""
    # pylint: disable-next=import-outside-toplevel
    from confluent_kafka import KafkaError, TopicPartition
    marks = watermarks(brokers, topic)
    c = _consumer(brokers)
    out: list[Record] = []
    try:
        todo = {p: high for p, (low, high) in marks.items() if high > low}
        if not todo:
            return out
        c.assign([TopicPartition(topic, p, marks[p][0]) for p in todo])
        deadline = time.monotonic() + timeout_s
        while todo:
            assert time.monotonic() < deadline, f"{topic}: partitions {todo} not read to the end"
            msg = c.poll(0.5)
            if msg is None:
                continue
            p = msg.partition()
            if msg.error():
                # pylint: disable-next=protected-access
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    # The end of what a read_committed consumer may read (the last stable offset).
                    if p in todo and msg.offset() >= todo[p]:
                        del todo[p]
                    continue
                raise AssertionError(f"{topic}: consumer error {msg.error()}")
            if p in todo and msg.offset() < todo[p]:
                ts_type, ts = msg.timestamp()
                out.append(Record(p, msg.offset(), msg.key(), msg.value(),
                                  list(msg.headers() or []), ts if ts_type else -1))
            if p in todo and msg.offset() + 1 >= todo[p]:
                del todo[p]
    finally:
        c.close()
    out.sort(key=lambda r: (r.partition, r.offset))
    return out


def create_topic(brokers: str, topic: str, partitions: int,
                 timeout_s: float = 30.0) -> None:
    """Creates the topic like crm-command does (retention forever) and waits until every
    partition has a leader that answers a watermark query."""
    # pylint: disable-next=import-outside-toplevel
    from confluent_kafka import KafkaException, TopicPartition
    from confluent_kafka.admin import NewTopic  # pylint: disable=import-outside-toplevel
    admin = _admin(brokers)  # must outlive the futures
    futures = admin.create_topics(
        [NewTopic(topic, num_partitions=partitions, replication_factor=1,
                  config={"retention.ms": "-1"})], operation_timeout=timeout_s)
    futures[topic].result(timeout_s)
    deadline = time.monotonic() + timeout_s
    c = _consumer(brokers)
    try:
        for p in range(partitions):
            while True:
                try:
                    c.get_watermark_offsets(TopicPartition(topic, p), timeout=5)
                    break
                except KafkaException as e:
                    assert time.monotonic() < deadline, f"{topic}[{p}]: no leader: {e}"
                    time.sleep(0.05)
    finally:
        c.close()


def delete_topics(brokers: str, topics: list[str], timeout_s: float = 15.0) -> None:
    """Best effort: deletes the topics (a test's own), ignoring errors."""
    if not topics:
        return
    try:
        admin = _admin(brokers)  # must outlive the futures
        futures = admin.delete_topics(topics, operation_timeout=timeout_s)
        for f in futures.values():
            try:
                f.result(timeout_s)
            except Exception:  # pylint: disable=broad-except
                pass
    except Exception:  # pylint: disable=broad-except
        pass


# ---------------------------------------------------------------------------------------------
# The broker process (scripts/kafka).


def _run_script(name: str, *args: str, env: dict[str, str] | None = None,
                timeout_s: float = 120.0) -> subprocess.CompletedProcess:
    """Runs scripts/kafka/<name>; `env` (KAFKA_DATA_DIR, KAFKA_PORT, ...) is added to this
    process's environment."""
    proc = subprocess.run([str(KAFKA_SCRIPTS / name), *args], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout_s, check=False,
                          cwd=ROOT, env={**os.environ, **(env or {})})
    assert proc.returncode == 0, (
        f"scripts/kafka/{name} {' '.join(args)} exited {proc.returncode}:\n"
        f"{proc.stdout}\n{proc.stderr}")
    return proc


def broker_is_scripted(brokers: str) -> bool:
    """True if scripts/kafka (with this environment) run the broker at `brokers`."""
    port = os.environ.get("KAFKA_PORT", "19092")
    return brokers in (f"127.0.0.1:{port}", f"localhost:{port}")


def stop_broker(kill: bool = False, env: dict[str, str] | None = None) -> None:
    """Stops the broker of this environment (or of `env`, added to it)."""
    _run_script("stop.sh", *(["--kill"] if kill else []), env=env)


def start_broker(env: dict[str, str] | None = None, fresh: bool = False) -> str:
    """Starts the broker of this environment (or of `env`, added to it) on its data, or on a wiped
    data dir when `fresh`; returns the bootstrap address."""
    return _run_script("start.sh", *(["--fresh"] if fresh else []), env=env).stdout.strip()


def broker_log_tail(max_chars: int = 20000, data_dir: Path | None = None) -> str:
    data_dir = data_dir or Path(os.environ.get("KAFKA_DATA_DIR",
                                               ROOT / ".cache" / "kafka-run" / "data"))
    try:
        text = (data_dir / "kafka.log").read_text(errors="replace")
    except FileNotFoundError:
        return "(no broker log)"
    return text if len(text) <= max_chars else "...\n" + text[-max_chars:]


# ---------------------------------------------------------------------------------------------
# Commands under broker faults: a stream of commands with deadlines, and the checks that no
# answer lied (test_kafka_outage.py, test_kafka_netfaults.py).

FAULT_ERRORS = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}


@dataclass
class Call:
    method: str
    request: object
    request_id: str
    sent: float
    done: float = 0.0
    name: str = ""  # acknowledged: the customer and version of the answer
    version: int = 0
    token: str = ""
    code: grpc.StatusCode | None = None  # failed: the status
    details: str = ""
    partition: int = -1  # of the customer, as Kafka's murmur2 partitioner puts it
    retry: bool = False  # a retry (same request id) after the fault ended


def _customer_id(method: str, request) -> str:
    if method == "RegisterCustomer":
        return request.customer_id
    name = request.customer.name if method == "UpdateCustomer" else request.name
    return name[len("customers/"):]


@dataclass
class CommandStream:
    """Client threads sending commands to crm-command, each with a deadline of `deadline_s`, that
    each append exactly one event when they succeed, whatever happened to earlier commands
    (registrations, renames to a new name, purchases). Every call and its outcome is recorded."""
    command: object
    partitions: int
    prefix: str = "out"  # of the customer ids
    deadline_s: float = 5.0
    stopping: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    calls: list[Call] = field(default_factory=list)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self, threads: int) -> "CommandStream":
        self.threads = [threading.Thread(target=self.run, args=(t,), daemon=True)
                        for t in range(threads)]
        for t in self.threads:
            t.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        for t in self.threads:
            t.join(self.deadline_s + 10)
            assert not t.is_alive(), "a client thread did not finish"

    def run(self, thread_no: int) -> None:
        rng = random.Random(thread_no)
        mine: list[str] = []
        n = 0
        while not self.stopping.is_set():
            n += 1
            rid = crmtest.new_request_id()
            if not mine or rng.random() < 0.3:
                cid = f"{self.prefix}-t{thread_no}-{n}"
                method, req = "RegisterCustomer", crmtest.spb.RegisterCustomerRequest(
                    customer_id=cid, request_id=rid,
                    customer=crmtest.cpb.Customer(display_name=f"Fault {cid}",
                                                  kind=crmtest.cpb.PERSON))
            elif rng.random() < 0.5:
                method, req = "UpdateCustomer", crmtest.spb.UpdateCustomerRequest(
                    customer=crmtest.cpb.Customer(name=rng.choice(mine),
                                                  display_name=f"Name {rid}"),
                    update_mask=field_mask_pb2.FieldMask(paths=["display_name"]), request_id=rid)
            else:
                method, req = "RecordPurchase", crmtest.spb.RecordPurchaseRequest(
                    name=rng.choice(mine), request_id=rid,
                    purchase=crmtest.purchase(rng.randrange(1, 10**5), product="fault"))
            call = Call(method, req, rid, time.monotonic(), partition=java_partition(
                _customer_id(method, req).encode(), self.partitions))
            try:
                resp = getattr(self.command, method)(req, timeout=self.deadline_s)
                call.name, call.version = resp.customer.name, resp.customer.version
                call.token = resp.consistency_token
                if method == "RegisterCustomer":
                    mine.append(resp.customer.name)
            except grpc.RpcError as err:
                call.code, call.details = err.code(), err.details() or ""
                time.sleep(0.2)  # a client backs off a little
            call.done = time.monotonic()
            with self.lock:
                self.calls.append(call)

    def acked(self) -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.code is None]

    def failed(self) -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.code is not None]

    def first_success_per_partition(self, after: float) -> dict[int, float]:
        """partition -> when the first call sent after `after` that succeeded was sent."""
        first: dict[int, float] = {}
        with self.lock:
            for c in self.calls:
                if c.code is None and c.sent > after:
                    first[c.partition] = min(first.get(c.partition, c.sent), c.sent)
        return first

    def wait_every_partition(self, after: float, timeout_s: float) -> float | None:
        """Polls until a call sent after `after` succeeded on every partition; returns when the
        last partition's first such call was sent, or None after timeout_s."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            time.sleep(0.5)
            first = self.first_success_per_partition(after)
            if len(first) == self.partitions:
                return max(first.values())
        return None

    def retry(self, calls: list[Call], timeout_s: float = 15.0) -> list[Call]:
        """Each call again with its request id (and request), which must succeed now."""
        out = []
        for c in calls:
            resp = getattr(self.command, c.method)(c.request, timeout=timeout_s)
            out.append(Call(c.method, c.request, c.request_id, c.sent, name=resp.customer.name,
                            version=resp.customer.version, token=resp.consistency_token,
                            partition=c.partition, retry=True))
        return out


def serving(process) -> bool:
    """Whether the process's gRPC health says SERVING."""
    try:
        return process.health.Check(health_pb2.HealthCheckRequest(service=""), timeout=5).status \
            == health_pb2.HealthCheckResponse.SERVING
    except grpc.RpcError:
        return False


class HealthRecorder:
    """Polls a process's readiness (health service "") every `interval_s` on a thread of its own
    and keeps the answers with their times: (monotonic time, SERVING?)."""

    def __init__(self, process, interval_s: float = 0.1):
        self.process = process
        self.interval_s = interval_s
        self.samples: list[tuple[float, bool]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "HealthRecorder":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.monotonic(), serving(self.process)))
            self._stop.wait(self.interval_s)

    def not_serving_between(self, start: float, end: float) -> list[float]:
        """The times in [start, end] at which the process answered other than SERVING."""
        return [t for t, ok in self.samples if start <= t <= end and not ok]


def _describe_twice(key, records, calls: list[Call], t_fault: float, t_repair: float) -> str:
    """Both records of a (customer, version) and what the client saw of their request ids."""
    lines = [f"{key[0]} v{key[1]}:"]
    for rec, env in records:
        lines.append(f"  [{rec.partition}]@{rec.offset} {env.event_type} event_id={env.event_id} "
                     f"request_id={env.request_id} recorded_at={env.recorded_at.ToJsonString()}")
        for c in calls:
            if c.request_id == env.request_id:
                what = (f"acknowledged v{c.version}" if c.code is None
                        else f"failed {c.code.name}: {c.details}")
                lines.append(f"    client: {'retry of ' if c.retry else ''}{c.method} sent "
                             f"{c.sent - t_fault:+.1f}s from the fault's start (ended at "
                             f"{t_repair - t_fault:+.1f}s), {what}")
    return "\n".join(lines)


def check_no_false_success(brokers: str, topic: str, calls: list[Call], t_fault: float,
                           t_repair: float) -> int:
    """The topic as BI reads it (read_committed) against what the client was told: no customer
    version twice, every acknowledged call's (customer, version) in the topic with the call's
    request id, and no request id with more than one event. `calls` are every call (failed ones
    only describe a duplicate). Returns the number of records read."""
    from crm.events.v1 import envelope_pb2  # pylint: disable=import-outside-toplevel
    records = read_topic(brokers, topic)
    in_topic: dict[tuple[str, int], object] = {}
    where: dict[tuple[str, int], Record] = {}
    per_request: Counter = Counter()
    twice = []
    for rec in records:
        env = envelope_pb2.EventEnvelope.FromString(rec.value)
        key = (f"customers/{env.customer_id}", env.aggregate_version)
        if key in in_topic:
            twice.append((key, (where[key], in_topic[key]), (rec, env)))
            continue
        in_topic[key] = env
        where[key] = rec
        per_request[env.request_id] += 1
    assert not twice, "customer versions twice in the topic:\n" + "\n".join(
        _describe_twice(key, pair, calls, t_fault, t_repair) for key, *pair in twice[:3])
    for c in calls:
        if c.code is not None:
            continue
        env = in_topic.get((c.name, c.version))
        assert env is not None, (
            f"{c.method} {c.request_id} was acknowledged as {c.name} v{c.version}, "
            "but that event is not in Kafka")
        assert env.request_id == c.request_id, (
            f"{c.name} v{c.version}: request id {env.request_id}, acknowledged {c.request_id}")
    dup = {rid: n for rid, n in per_request.items() if n > 1}
    assert not dup, f"request ids with more than one event in the topic: {dup}"
    return len(records)


def check_in_views(server, acked: list[Call]) -> None:
    """Every acknowledged call is in the query side's views, read with each customer's latest
    token (its history has the call's version and request id)."""
    latest: dict[str, Call] = {}
    by_name = defaultdict(list)
    for c in acked:
        by_name[c.name].append(c)
        if c.name not in latest or c.version > latest[c.name].version:
            latest[c.name] = c
    for name, last in latest.items():
        events = crmtest.history(server, name, last.token)
        have = {(e.aggregate_version, e.request_id) for e in events}
        for c in by_name[name]:
            assert (c.version, c.request_id) in have, (
                f"{name}: acknowledged v{c.version} ({c.method} {c.request_id}) not in the views")
        got = server.query.GetCustomer(crmtest.spb.GetCustomerRequest(
            name=name, consistency_token=last.token))
        assert got.version >= last.version
