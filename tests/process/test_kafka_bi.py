"""The topic as a BI consumer sees it: read with confluent-kafka (not our C++ code), every record
decoded as crm.events.v1.EventEnvelope with the generated Python stubs, and once with protoc and
the descriptor set the build writes (build/crm-events.desc).

Checks the event contract of proto/crm/events/v1/README.md: key = customer id, per key versions
1..n in offset order, the headers (event-type, schema-version, event-id, content-type and the
CloudEvents binary-mode ce_* attributes), the payload oneof matching event_type, and the partition
of every key equal to what the Java client's default partitioner (murmur2) picks: any Kafka client
finds a customer's events where we put them.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections import defaultdict

import pytest
from google.protobuf import field_mask_pb2, timestamp_pb2

import crmtest
import kafkatest
import orgtest
from crm.events.v1 import envelope_pb2
from crmtest import cpb, history, merge_tokens, new_request_id, purchase, register, spb

pytestmark = [pytest.mark.kafka, pytest.mark.engines("kafka", "kafka-server")]

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")


def test_murmur2_matches_the_java_client():
    # Values of org.apache.kafka.common.utils.Utils.murmur2 (Kafka's UtilsTest) and librdkafka's
    # rdmurmur2.c unit test.
    cases = {b"21": -973932308, b"foobar": -790332482, b"a-little-bit-long-string": -985981536,
             b"a-little-bit-longer-string": -1486304829,
             b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
             b"abc": 479470107, b"1": -1993445489, b"12": 126087238, b"123": -267702483,
             b"1234": -1614185708, b"12345": -1188365604, b"kafka": -798503068}
    for key, want in cases.items():
        assert kafkatest.murmur2(key) == want, key
    assert kafkatest.java_partition(b"foobar", 6) == (-790332482 & 0x7FFFFFFF) % 6


def _scenario(server) -> tuple[dict[str, list[spb.CustomerCommandResponse]], str]:
    """Register, update, stage change, owner, tag, untag, purchase for a few customers.
    Returns the answers per customer id, and a token covering them all."""
    answers: dict[str, list] = defaultdict(list)
    cmd = server.command
    # The owner must be on the staff: two org events (key "org") before the customers' events.
    orgtest.add_account_managers(server, "staff-li")
    ids = [f"bi-{i:02d}" for i in range(8)] + [""]  # "" : a generated id
    for i, cid in enumerate(ids):
        r = register(server, customer_id=cid, display_name=f"BI {i}", kind=cpb.COMPANY,
                     emails=[f"bi{i}@example.com"])
        name = r.customer.name
        cid = crmtest.customer_id_of(name)
        answers[cid].append(r)
        steps = [
            lambda: cmd.UpdateCustomer(spb.UpdateCustomerRequest(
                customer=cpb.Customer(name=name, display_name=f"BI {i} renamed", region="East"),
                update_mask=field_mask_pb2.FieldMask(paths=["display_name", "region"]),
                request_id=new_request_id())),
            lambda: cmd.ChangeLifecycleStage(spb.ChangeLifecycleStageRequest(
                name=name, lifecycle_stage=cpb.FIRST_CONTACT, reason="called",
                request_id=new_request_id())),
            lambda: cmd.AssignOwner(spb.AssignOwnerRequest(
                name=name, owner="staff-li", request_id=new_request_id())),
            lambda: cmd.TagCustomer(spb.TagCustomerRequest(
                name=name, tag="vip", request_id=new_request_id())),
            lambda: cmd.TagCustomer(spb.TagCustomerRequest(
                name=name, tag="north", request_id=new_request_id())),
            lambda: cmd.UntagCustomer(spb.UntagCustomerRequest(
                name=name, tag="vip", request_id=new_request_id())),
            lambda: cmd.RecordPurchase(spb.RecordPurchaseRequest(
                name=name, purchase=purchase(1000 * (i + 1)), request_id=new_request_id())),
        ]
        for step in steps[: 3 + i % 5]:  # customers get different numbers of events
            answers[cid].append(step())
    token = merge_tokens(*(a[-1].consistency_token for a in answers.values()))
    return answers, token


def test_a_bi_consumer_reads_every_event_by_the_contract(server):
    assert kafkatest.partition_count(server.brokers, server.topic) == 6, (
        "crm-command creates the topic with --kafka-partitions' default of 6")
    _check_the_topic(server)


def test_partitions_follow_a_topic_provisioned_with_3(make_server):
    """An operator created the topic with 3 partitions: keys go to murmur2 % 3, not % 6."""
    server = make_server(provision_partitions=3)
    assert kafkatest.partition_count(server.brokers, server.topic) == 3
    _check_the_topic(server)


def _check_the_topic(server) -> None:
    started = time.time()
    answers, token = _scenario(server)
    records = kafkatest.read_topic(server.brokers, server.topic)
    partitions = kafkatest.partition_count(server.brokers, server.topic)
    # Every event's actor is the suite's caller (the token's subject with security on), the
    # organisation's and the e-mail claims' included.
    actors = {envelope_pb2.EventEnvelope.FromString(r.value).actor for r in records}
    assert actors == {crmtest.suite_actor()}, actors
    # Org events share the topic under the fixed key "org".
    org_records = [r for r in records if r.key == b"org"]
    org_events = [envelope_pb2.EventEnvelope.FromString(r.value) for r in org_records]
    assert [(e.event_type, e.aggregate, e.customer_id) for e in org_events] == [
        ("crm.events.v1.DepartmentCreated", "departments/sales", ""),
        ("crm.events.v1.StaffAdded", "staff/staff-li", "")]
    assert [r.header("ce_subject") for r in org_records] == ["departments/sales", "staff/staff-li"]
    assert {r.partition for r in org_records} == {kafkatest.java_partition(b"org", partitions)}
    records = [r for r in records if r.key != b"org"]
    # E-mail claims are keyed by their aggregate (a digest of the address: no personal data).
    claim_records = [r for r in records if r.key.startswith(b"emailReservations/")]
    for r in claim_records:
        env = envelope_pb2.EventEnvelope.FromString(r.value)
        assert env.event_type == "crm.events.v1.EmailClaimed", env.event_type
        assert r.key.decode() == env.aggregate == r.header("ce_subject")
        assert r.partition == kafkatest.java_partition(r.key, partitions)
        assert env.customer_id and "@" not in r.key.decode()
        assert r.header("ce_source") == "crm/command"
    records = [r for r in records if not r.key.startswith(b"emailReservations/")]

    expected_events = sum(len(a) for a in answers.values())
    assert all(r.customer.version == i + 1 and r.appended_event_count == 1
               for a in answers.values() for i, r in enumerate(a)), "one event per command"
    assert len(records) == expected_events, (
        f"{len(records)} records in {server.topic}, {expected_events} commands acknowledged")

    by_key: dict[str, list[tuple[kafkatest.Record, envelope_pb2.EventEnvelope]]] = defaultdict(list)
    event_ids = set()
    for rec in records:
        where = f"{server.topic}[{rec.partition}]@{rec.offset}"
        assert rec.key is not None and rec.value is not None, where
        env = envelope_pb2.EventEnvelope.FromString(rec.value)
        key = rec.key.decode()
        assert key == env.customer_id, f"{where}: key {key!r}, customer_id {env.customer_id!r}"
        assert rec.partition == kafkatest.java_partition(rec.key, partitions), (
            f"{where}: key {key!r} is in partition {rec.partition}, the Java partitioner "
            f"(murmur2) puts it in {kafkatest.java_partition(rec.key, partitions)}")
        # Headers.
        names = [k for k, _ in rec.headers]
        assert len(names) == len(set(names)), f"{where}: repeated headers {names}"
        h = rec.header
        assert h("event-type") == env.event_type, where
        assert h("schema-version") == str(env.schema_version) and env.schema_version >= 1, where
        assert h("event-id") == env.event_id and env.event_id, where
        assert h("content-type") and "protobuf" in h("content-type"), (where, h("content-type"))
        assert h("ce_specversion") == "1.0", where
        assert h("ce_id") == env.event_id, where
        assert h("ce_source") == "crm/command", f"{where}: ce_source {h('ce_source')!r}"
        assert h("ce_type") == env.event_type, where
        assert h("ce_subject") == f"customers/{env.customer_id}", where
        assert env.aggregate == f"customers/{env.customer_id}", where
        assert h("aggregate") == env.aggregate, where
        ce_time = h("ce_time")
        assert ce_time and RFC3339.match(ce_time), f"{where}: ce_time {ce_time!r} is not RFC 3339"
        parsed = timestamp_pb2.Timestamp()
        parsed.FromJsonString(ce_time)
        assert parsed == env.recorded_at, f"{where}: ce_time {ce_time} != recorded_at"
        assert started - 60 < parsed.seconds < time.time() + 60, f"{where}: ce_time {ce_time}"
        # The payload is the one event_type names.
        which = env.WhichOneof("payload")
        assert which is not None, f"{where}: no payload"
        assert env.DESCRIPTOR.fields_by_name[which].message_type.full_name == env.event_type, (
            f"{where}: payload {which} but event_type {env.event_type}")
        assert env.event_id not in event_ids, f"{where}: event id {env.event_id} seen before"
        event_ids.add(env.event_id)
        by_key[key].append((rec, env))

    assert set(by_key) == set(answers), "record keys are not the registered customers"
    for key, items in by_key.items():
        assert len({rec.partition for rec, _ in items}) == 1, f"{key} is in several partitions"
        offsets = [rec.offset for rec, _ in items]
        assert offsets == sorted(offsets)
        versions = [env.aggregate_version for _, env in items]
        assert versions == list(range(1, len(items) + 1)), f"{key}: versions {versions}"
        request_ids = [env.request_id for _, env in items]
        assert all(request_ids) and len(set(request_ids)) == len(request_ids), (key, request_ids)
        assert items[0][1].WhichOneof("payload") == "customer_registered", key
        # The same events as the query side's history of the customer.
        served = history(server, f"customers/{key}", token)
        assert [e.SerializeToString(deterministic=True) for e in served] == [
            env.SerializeToString(deterministic=True) for _, env in items], (
            f"{key}: GetCustomerHistory differs from the topic")


@pytest.mark.skipif(shutil.which("protoc") is None, reason="protoc not installed")
def test_protoc_decodes_a_record_with_the_descriptor_set(server):
    desc = crmtest.BUILD_DIR / "crm-events.desc"
    assert desc.exists(), f"{desc} missing: the build writes it"
    r = register(server, customer_id="desc-check-001", display_name="Decoded By Protoc")
    server.command.TagCustomer(spb.TagCustomerRequest(name=r.customer.name, tag="bi",
                                                      request_id=new_request_id()))
    records = [x for x in kafkatest.read_topic(server.brokers, server.topic)
               if x.key == b"desc-check-001"]
    assert len(records) == 2
    for rec in records:
        out = subprocess.run(
            ["protoc", f"--descriptor_set_in={desc}", "--decode=crm.events.v1.EventEnvelope"],
            input=rec.value, capture_output=True, timeout=30, check=False)
        assert out.returncode == 0, out.stderr.decode(errors="replace")
        text = out.stdout.decode()
        assert 'customer_id: "desc-check-001"' in text, text
    assert "customer_registered {" in subprocess.run(
        ["protoc", f"--descriptor_set_in={desc}", "--decode=crm.events.v1.EventEnvelope"],
        input=records[0].value, capture_output=True, timeout=30, check=True).stdout.decode()
    if shutil.which("kcat"):
        # The same bytes as a command-line consumer prints them (-e: exit at the end).
        raw = subprocess.run(
            ["kcat", "-C", "-b", server.brokers, "-t", server.topic,
             "-p", str(records[0].partition), "-o", str(records[0].offset), "-c", "1", "-e",
             "-f", "%s"], capture_output=True, timeout=60, check=True).stdout
        assert raw == records[0].value, "kcat printed other bytes than confluent-kafka read"
