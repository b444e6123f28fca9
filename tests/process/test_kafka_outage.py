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
  - no crm process was restarted: same pids, still running, health SERVING;
  - readiness told the truth: crm-command (which cannot write without the broker) turned
    NOT_SERVING during the outage and SERVING again after it; crm-projector (caught up, only
    reading) stayed SERVING throughout (apps/runtime/monitor.h).

It stops the broker every Kafka test shares, so it runs after all other tests (marker
broker_outage) and restarts the broker whatever happens. It needs the broker at
CRM_KAFKA_BROKERS to be the one scripts/kafka controls (KAFKA_PORT / KAFKA_DATA_DIR as exported
by scripts/test.sh).
"""

from __future__ import annotations

import time
from collections import Counter

import pytest

import crmtest
import kafkatest
from kafkatest import CommandStream

pytestmark = [pytest.mark.kafka, pytest.mark.broker_outage, pytest.mark.engines("kafka")]

THREADS = 4
CALL_DEADLINE_S = 5.0
OUTAGE_S = 20.0
RECOVERY_S = 30.0  # how long after the broker's restart every partition must take commands again


class PartitionsStuck(AssertionError):
    """Some partitions take no command any more after the broker came back."""


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
    stream = CommandStream(server.command, partitions, prefix="out",
                           deadline_s=CALL_DEADLINE_S).start(THREADS)
    broker_down = broker_up = recovered = None
    readiness = {p.name: kafkatest.HealthRecorder(p).start() for p in server.servers}
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
        recovered = stream.wait_every_partition(broker_up, RECOVERY_S)
        time.sleep(2.0)
    finally:
        stream.stop()
        for recorder in readiness.values():
            recorder.stop()
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
    wrong = [c for c in failed if c.code not in kafkatest.FAULT_ERRORS]
    assert not wrong, ("failures other than UNAVAILABLE/DEADLINE_EXCEEDED: "
                       f"{[(c.method, c.code, c.details) for c in wrong[:10]]}")
    assert failed, "no call failed: was the broker really stopped?"

    # The processes rode it out, and their readiness said what they could do.
    for p in server.servers:
        assert p.running and p.pid == pids[p.name], f"{p.name} was restarted or died"
        crmtest.wait_for(f"{p.name} SERVING after the outage", lambda p=p: kafkatest.serving(p),
                         timeout_s=30)
    command_down = readiness["crm-command"].not_serving_between(broker_down, broker_up)
    assert command_down, "crm-command stayed ready while the broker was away"
    print(f"crm-command not ready {command_down[0] - broker_down:.1f}s after the broker went away")
    projector_down = readiness["crm-projector"].not_serving_between(0, time.monotonic())
    assert not projector_down, "crm-projector (caught up, reading only) turned not ready"

    # Retries of the failed calls (same request id) succeed now, and resolve each exactly once
    # (on the partitions that take commands again).
    retried = stream.retry([c for c in failed if c.partition not in stuck])

    # Everything acknowledged (first answers and retries) is in the topic, as BI reads it, ...
    kafkatest.check_no_false_success(server.brokers, server.topic, stream.calls + retried,
                                     broker_down, broker_up)
    # ... and in the views, read with each customer's latest token.
    kafkatest.check_in_views(server, acked + retried)

    # Then liveness: every partition takes commands again, and keeps doing so.
    if stuck:
        raise PartitionsStuck(
            f"{len(stuck)} of {partitions} partitions accepted no command in the "
            f"{RECOVERY_S:.0f} s after the broker's restart (everything acknowledged is in Kafka "
            f"and in the views); the last failure of each: {stuck}")
    assert recovered is not None, (
        f"every partition took commands again, but not within {RECOVERY_S:.0f} s of the restart")
    late = [c for c in failed if c.sent > recovered + 1.0]
    assert not late, ("calls failed after recovery: "
                      f"{[(c.partition, c.method, c.code, c.details) for c in late[:10]]}")
