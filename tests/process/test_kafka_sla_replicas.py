"""The complaint deadline watcher with two crm-command replicas on one topic: each replica
watches the partitions it writes, so every passed deadline gets exactly one ComplaintSlaBreached
(and one automatic escalation) in the topic, also after a replica restarts and refolds the log."""

from __future__ import annotations

import collections

import pytest

import crmtest
import kafkatest
import orgtest
from crm.events.v1 import complaint_events_pb2 as kev  # noqa: E402
from crm.events.v1 import envelope_pb2  # noqa: E402
from crm.v1 import complaint_pb2 as kpb  # noqa: E402
from crm.v1 import complaint_service_pb2 as kspb  # noqa: E402
from crm.v1 import complaint_service_pb2_grpc as ksgrpc  # noqa: E402
from crm.v1 import interaction_pb2 as ipb  # noqa: E402
from test_kafka_replicas import _free_port, _replica

pytestmark = [pytest.mark.kafka]

COMPLAINTS = 12
# Severe complaints get a 2 s response deadline that nobody meets.
SLA_ARGS = ["--sla-policy", "severe=2s/1h", "--sla-scan-interval", "100ms"]


def _breaches(brokers: str, topic: str) -> dict[str, list[envelope_pb2.EventEnvelope]]:
    out: dict[str, list] = collections.defaultdict(list)
    for record in kafkatest.read_topic(brokers, topic):
        event = envelope_pb2.EventEnvelope.FromString(record.value)
        if event.HasField("complaint_sla_breached") or event.HasField("complaint_escalated"):
            out[event.aggregate].append(event)
    return out


def test_each_deadline_is_breached_once_across_replicas_and_restarts(tmp_path, kafka_brokers):
    prefix = crmtest.topic_prefix_for("sla-replicas")
    topic = f"{prefix}.customer.events.v1"
    peers = [f"127.0.0.1:{_free_port()}", f"127.0.0.1:{_free_port()}"]
    replicas = [_replica(tmp_path / f"command-{i}", kafka_brokers, prefix, i, peers)
                for i in range(2)]
    for r in replicas:
        r.base_args += SLA_ARGS
    try:
        for r in replicas:
            r.start()
        orgtest.make_org(replicas[0])
        names = []
        for i in range(COMPLAINTS):
            via = replicas[i % 2]
            customer = crmtest.register(via, customer_id=f"sla-{i:02d}").customer
            filed = crmtest.command_stub(via, ksgrpc.ComplaintCommandServiceStub).FileComplaint(
                kspb.FileComplaintRequest(
                    parent=customer.name, request_id=crmtest.new_request_id(),
                    complaint=kpb.Complaint(channel=ipb.EMAIL, category=kpb.LOGISTICS,
                                            severity=kpb.SEVERE, description="Late delivery")))
            names.append(filed.complaint.name)
        partitions = {kafkatest.java_partition(crmtest.customer_id_of(n.split("/complaints/")[0]
                                                                      ).encode(),
                                               kafkatest.partition_count(kafka_brokers, topic))
                      for n in names}
        assert {p % 2 for p in partitions} == {0, 1}, "both replicas must own some complaints"

        def all_breached():
            found = _breaches(kafka_brokers, topic)
            return found if all(any(e.HasField("complaint_sla_breached") for e in found[n])
                                for n in names) else None

        crmtest.wait_for("a breach of every complaint", all_breached, timeout_s=120,
                         interval_s=0.5)

        # Restart replica 0: it refolds its state and its watcher scans again.
        replicas[0].restart()
        # Acknowledge every complaint through both replicas: these commands decide on the
        # refolded state, so the restarted watcher has seen everything it could re-breach.
        for i, name in enumerate(names):
            crmtest.command_stub(replicas[i % 2], ksgrpc.ComplaintCommandServiceStub) \
                .AcknowledgeComplaint(kspb.AcknowledgeComplaintRequest(
                    name=name, request_id=crmtest.new_request_id(),
                    responder=orgtest.AGENT))

        found = _breaches(kafka_brokers, topic)
        for name in names:
            breaches = [e for e in found[name] if e.HasField("complaint_sla_breached")]
            escalations = [e for e in found[name] if e.HasField("complaint_escalated")]
            assert len(breaches) == 1, f"{name}: {len(breaches)} breaches"
            assert breaches[0].complaint_sla_breached.kind == kev.RESPONSE
            assert breaches[0].actor == "crm/sla-watcher"
            assert len(escalations) == 1 and escalations[0].complaint_escalated.automatic, name
    finally:
        for r in replicas:
            if r.running:
                r.stop(check=False)
        kafkatest.delete_topics(kafka_brokers, [topic])
