"""Kafka helpers of the process-level tests: the broker, and the topic read as a BI consumer would.

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
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import crmtest

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


def _run_script(name: str, *args: str, timeout_s: float = 120.0) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(KAFKA_SCRIPTS / name), *args], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout_s, check=False,
                          cwd=ROOT)
    assert proc.returncode == 0, (
        f"scripts/kafka/{name} {' '.join(args)} exited {proc.returncode}:\n"
        f"{proc.stdout}\n{proc.stderr}")
    return proc


def broker_is_scripted(brokers: str) -> bool:
    """True if scripts/kafka (with this environment) run the broker at `brokers`."""
    port = os.environ.get("KAFKA_PORT", "19092")
    return brokers in (f"127.0.0.1:{port}", f"localhost:{port}")


def stop_broker(kill: bool = False) -> None:
    _run_script("stop.sh", *(["--kill"] if kill else []))


def start_broker() -> str:
    """Starts the broker again on its data (no --fresh); returns the bootstrap address."""
    return _run_script("start.sh").stdout.strip()


def broker_log_tail(max_chars: int = 20000) -> str:
    data_dir = Path(os.environ.get("KAFKA_DATA_DIR", ROOT / ".cache" / "kafka-run" / "data"))
    try:
        text = (data_dir / "kafka.log").read_text(errors="replace")
    except FileNotFoundError:
        return "(no broker log)"
    return text if len(text) <= max_chars else "...\n" + text[-max_chars:]
