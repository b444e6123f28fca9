"""The broker goes away for 20 s while clients stream commands, then comes back on the same data.

Client threads keep sending commands to crm-command (each call with a 5 s deadline) while the
broker is stopped (scripts/kafka/stop.sh --kill) and, 20 s later, started again
(scripts/kafka/start.sh, same data). Then:
  - no call reported success for an event that is not in Kafka: every acknowledged answer's
    customer and version is in the topic, with the command's request id (read with confluent-kafka);
  - every acknowledged command is in crm-projector's views after recovery (queried with tokens);
  - within 30 s of the broker's return every partition takes commands again (each partition has
    a writer of its own in crm-command);
  - calls failed only while the broker was away or recovering, and only with UNAVAILABLE or
    DEADLINE_EXCEEDED;
  - a retry of each failed call with its request id succeeds once the broker is back, and no
    request id has more than one event in the topic (unknown outcomes resolve exactly once);
  - no crm process was restarted: same pids, still running, health SERVING.

It stops the broker every Kafka test shares, so it runs after all other tests (marker
broker_outage) and restarts the broker whatever happens. It needs the broker at
CRM_KAFKA_BROKERS to be the one scripts/kafka controls (KAFKA_PORT / KAFKA_DATA_DIR as exported
by scripts/test.sh).
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import pytest
from google.protobuf import field_mask_pb2

import kafkatest
from crm.events.v1 import envelope_pb2
from crmtest import (cpb, grpc, history, new_request_id, purchase, spb)
from grpc_health.v1 import health_pb2

pytestmark = [pytest.mark.kafka, pytest.mark.broker_outage, pytest.mark.engines("kafka")]

THREADS = 4
CALL_DEADLINE_S = 5.0
OUTAGE_S = 20.0
RECOVERY_S = 30.0  # how long after the broker's restart every partition must take commands again
ALLOWED = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}


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
    retry: bool = False  # a retry (same request id) after the broker came back


def _customer_id(method: str, request) -> str:
    if method == "RegisterCustomer":
        return request.customer_id
    name = request.customer.name if method == "UpdateCustomer" else request.name
    return name[len("customers/"):]


@dataclass
class Stream:
    """Threads sending commands that each append exactly one event when they succeed, whatever
    happened to earlier commands (registrations, renames to a new name, purchases)."""
    command: object
    partitions: int
    stopping: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    calls: list[Call] = field(default_factory=list)

    def run(self, thread_no: int) -> None:
        rng = random.Random(thread_no)
        mine: list[str] = []
        n = 0
        while not self.stopping.is_set():
            n += 1
            rid = new_request_id()
            if not mine or rng.random() < 0.3:
                cid = f"out-t{thread_no}-{n}"
                method, req = "RegisterCustomer", spb.RegisterCustomerRequest(
                    customer_id=cid, request_id=rid,
                    customer=cpb.Customer(display_name=f"Outage {cid}", kind=cpb.PERSON))
            elif rng.random() < 0.5:
                method, req = "UpdateCustomer", spb.UpdateCustomerRequest(
                    customer=cpb.Customer(name=rng.choice(mine), display_name=f"Name {rid}"),
                    update_mask=field_mask_pb2.FieldMask(paths=["display_name"]), request_id=rid)
            else:
                method, req = "RecordPurchase", spb.RecordPurchaseRequest(
                    name=rng.choice(mine), request_id=rid,
                    purchase=purchase(rng.randrange(1, 10**5), product="outage"))
            call = Call(method, req, rid, time.monotonic(), partition=kafkatest.java_partition(
                _customer_id(method, req).encode(), self.partitions))
            try:
                resp = getattr(self.command, method)(req, timeout=CALL_DEADLINE_S)
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


def _describe_twice(key, records, calls: list[Call], t_down: float, t_up: float) -> str:
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
                             f"{c.sent - t_down:+.1f}s from the broker's stop (back at "
                             f"{t_up - t_down:+.1f}s), {what}")
    return "\n".join(lines)


class PartitionsStuck(AssertionError):
    """Some partitions take no command any more after the broker came back."""


def _serving(process) -> bool:
    try:
        return process.health.Check(health_pb2.HealthCheckRequest(service=""), timeout=5).status \
            == health_pb2.HealthCheckResponse.SERVING
    except grpc.RpcError:
        return False


@pytest.mark.parametrize("delivery_timeout_ms", [None, 3000], ids=["default-delivery-timeout",
                                                                  "delivery-timeout-3s"])
def test_broker_outage_loses_no_acknowledged_command(make_server, kafka_brokers,
                                                     delivery_timeout_ms):
    """With the default --kafka-delivery-timeout-ms (15 s, longer than a call's 5 s deadline) the
    calls time out on the client; with 3 s crm-command gives up on the event itself and answers
    UNAVAILABLE. Either way the outcome may be unknown to the client, and may still land."""
    if not kafkatest.broker_is_scripted(kafka_brokers):
        msg = (f"CRM_KAFKA_BROKERS={kafka_brokers} is not the broker scripts/kafka control "
               f"(KAFKA_PORT): cannot stop it")
        if kafkatest.in_ci():
            pytest.fail(msg)
        pytest.skip(msg)
    server = make_server(args=("--kafka-delivery-timeout-ms", str(delivery_timeout_ms))
                         if delivery_timeout_ms else ())
    pids = {p.name: p.pid for p in server.servers}
    partitions = kafkatest.partition_count(server.brokers, server.topic)
    stream = Stream(server.command, partitions)
    threads = [threading.Thread(target=stream.run, args=(t,), daemon=True) for t in range(THREADS)]
    for t in threads:
        t.start()
    broker_down = broker_up = recovered = None
    try:
        time.sleep(3.0)
        assert stream.acked() and not stream.failed(), (
            f"before the outage: {len(stream.acked())} acknowledged, failures "
            f"{[(c.method, c.code, c.details) for c in stream.failed()[:5]]}")
        broker_down = time.monotonic()
        kafkatest.stop_broker(kill=True)
        print(f"broker killed; {len(stream.acked())} commands acknowledged before")
        time.sleep(max(0.0, broker_down + OUTAGE_S - time.monotonic()))
        kafkatest.start_broker()
        broker_up = time.monotonic()
        print(f"broker back after {broker_up - broker_down:.1f}s")
        # Recovered: a command on every partition succeeded again (each partition has a writer of
        # its own, which may have its own trouble to get over).
        deadline = time.monotonic() + RECOVERY_S
        while recovered is None and time.monotonic() < deadline:
            time.sleep(0.5)
            with stream.lock:
                first_ok = {}
                for c in stream.calls:
                    if c.code is None and c.sent > broker_up:
                        first_ok[c.partition] = min(first_ok.get(c.partition, c.sent), c.sent)
            if len(first_ok) == partitions:
                recovered = max(first_ok.values())
        time.sleep(2.0)
    finally:
        stream.stopping.set()
        for t in threads:
            t.join(CALL_DEADLINE_S + 10)
        if broker_down is not None and broker_up is None:
            kafkatest.start_broker()  # never leave the shared broker down
    acked, failed = stream.acked(), stream.failed()
    took_again = {c.partition for c in acked if c.sent > broker_up}
    stuck = {c.partition: (c.method, c.code.name, c.details)  # the last failure of each
             for c in failed if c.partition not in took_again}
    during = [c for c in acked if broker_down < c.done and c.sent < broker_up]
    print(f"delivery timeout {delivery_timeout_ms or 'default'}: "
          f"{len(acked)} acknowledged ({len(during)} of them answered during the outage), "
          f"{len(failed)} failed: {Counter(c.code.name for c in failed)}; " +
          (f"every partition took commands again {recovered - broker_up:.1f}s after the restart"
           if recovered is not None else f"partitions {sorted(stuck)} never again"))

    # Safety first (checked whether or not every partition came back).
    # Failures: only in the outage (or the recovery after it), only UNAVAILABLE/DEADLINE_EXCEEDED.
    early = [c for c in failed if c.done < broker_down]
    assert not early, f"calls failed before the outage: {[(c.method, c.code) for c in early]}"
    wrong = [c for c in failed if c.code not in ALLOWED]
    assert not wrong, ("failures other than UNAVAILABLE/DEADLINE_EXCEEDED: "
                       f"{[(c.method, c.code, c.details) for c in wrong[:10]]}")
    assert failed, "no call failed: was the broker really stopped?"

    # The processes rode it out.
    for p in server.servers:
        assert p.running and p.pid == pids[p.name], f"{p.name} was restarted or died"
        assert _serving(p), f"{p.name} is not SERVING after the outage"

    # Retries of the failed calls (same request id) succeed now, and resolve each exactly once
    # (on the partitions that take commands again).
    retried = []
    for c in failed:
        if c.partition in stuck:
            continue
        resp = getattr(server.command, c.method)(c.request, timeout=15)
        retried.append(Call(c.method, c.request, c.request_id, c.sent, name=resp.customer.name,
                            version=resp.customer.version, token=resp.consistency_token,
                            partition=c.partition, retry=True))

    # Everything acknowledged (first answers and retries) is in the topic, as BI reads it.
    records = kafkatest.read_topic(server.brokers, server.topic)
    in_topic: dict[tuple[str, int], envelope_pb2.EventEnvelope] = {}
    where: dict[tuple[str, int], kafkatest.Record] = {}
    per_request = Counter()
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
        _describe_twice(key, pair, stream.calls + retried, broker_down, broker_up)
        for key, *pair in twice[:3])
    for c in acked + retried:
        env = in_topic.get((c.name, c.version))
        assert env is not None, (
            f"{c.method} {c.request_id} was acknowledged as {c.name} v{c.version}, "
            "but that event is not in Kafka")
        assert env.request_id == c.request_id, (
            f"{c.name} v{c.version}: request id {env.request_id}, acknowledged {c.request_id}")
    dup = {rid: n for rid, n in per_request.items() if n > 1}
    assert not dup, f"request ids with more than one event in the topic: {dup}"

    # ... and in the views, read with each customer's latest token.
    latest: dict[str, Call] = {}
    by_name = defaultdict(list)
    for c in acked + retried:
        by_name[c.name].append(c)
        if c.name not in latest or c.version > latest[c.name].version:
            latest[c.name] = c
    for name, last in latest.items():
        events = history(server, name, last.token)
        have = {(e.aggregate_version, e.request_id) for e in events}
        for c in by_name[name]:
            assert (c.version, c.request_id) in have, (
                f"{name}: acknowledged v{c.version} ({c.method} {c.request_id}) not in the views")
        got = server.query.GetCustomer(spb.GetCustomerRequest(name=name,
                                                              consistency_token=last.token))
        assert got.version >= last.version

    # Then liveness: every partition takes commands again, and keeps doing so.
    if stuck:
        raise PartitionsStuck(
            f"{len(stuck)} of {partitions} partitions accepted no command in the "
            f"{RECOVERY_S:.0f} s after the broker's restart (everything acknowledged is in Kafka "
            f"and in the views); the last failure of each: {stuck}")
    late = [c for c in failed if c.sent > recovered + 1.0]
    assert not late, ("calls failed after recovery: "
                      f"{[(c.partition, c.method, c.code, c.details) for c in late[:10]]}")
