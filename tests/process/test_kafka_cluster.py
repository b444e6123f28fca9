"""crm-command and crm-projector as separate processes: what each serves, tokens across
projectors, and starting on a topic that does not exist yet."""

from __future__ import annotations

import threading

import pytest
from grpc_health.v1 import health_pb2

import crmtest
import kafkatest
from crmtest import expect_error, grpc, list_all, merge_tokens, register, spb

pytestmark = [pytest.mark.kafka, pytest.mark.engines("kafka")]

COMMAND = "crm.v1.CustomerCommandService"
QUERY = "crm.v1.CustomerQueryService"


def _health(process, service: str):
    return process.health.Check(health_pb2.HealthCheckRequest(service=service)).status


def test_each_process_serves_its_own_services(server):
    serving = health_pb2.HealthCheckResponse.SERVING
    for process, own, other in ((server.commander, COMMAND, QUERY),
                                (server.projector, QUERY, COMMAND)):
        assert _health(process, "") == serving, process.name
        assert _health(process, own) == serving, process.name
        expect_error(grpc.StatusCode.NOT_FOUND, _health, process, other)
        reflection = pytest.importorskip(
            "grpc_reflection.v1alpha.proto_reflection_descriptor_database")
        services = set(reflection.ProtoReflectionDescriptorDatabase(process.channel)
                       .get_services())
        assert own in services and other not in services, (process.name, services)
    # A query sent to crm-command is UNIMPLEMENTED, and the other way round.
    expect_error(grpc.StatusCode.UNIMPLEMENTED, server.commander.query.GetCustomer,
                 spb.GetCustomerRequest(name="customers/x"))
    expect_error(grpc.StatusCode.UNIMPLEMENTED, register, server.projector, customer_id="x")


def test_a_command_token_works_against_any_projector(server):
    answers = [register(server, customer_id=f"any-{i}") for i in range(30)]
    second = server.new_projector("second-projector")  # folds the topic from its start
    for a in answers:
        for p in (server.projector, second):
            got = p.query.GetCustomer(spb.GetCustomerRequest(
                name=a.customer.name, consistency_token=a.consistency_token))
            assert got.version == 1, p.name
    later = register(server, customer_id="any-later")
    got = second.query.GetCustomer(spb.GetCustomerRequest(
        name=later.customer.name, consistency_token=later.consistency_token))
    assert got.name == later.customer.name
    token = merge_tokens(*(a.consistency_token for a in answers), later.consistency_token)
    assert len(list_all(server, consistency_token=token)) == 31


def test_command_and_projector_start_together_on_a_new_topic(tmp_path, kafka_brokers):
    """Both processes started at once on a topic neither has seen (as a fresh deployment does),
    several times: each must come up and serve. (Both create the topic, and right after the
    creation its partitions have no leader yet: watermark queries answer NOT_LEADER_OR_FOLLOWER
    for a moment. Before KafkaEventLog::EndOffset retried that, one start in a few exited 1.)"""
    for attempt in range(5):
        cluster = crmtest.Cluster(tmp_path / f"c{attempt}", kafka_brokers,
                                  crmtest.topic_prefix_for(f"new-topic-{attempt}"))
        errors = []

        def start(p):
            try:
                p.start()
            except Exception as e:  # pylint: disable=broad-except
                errors.append(f"{p.name}: {e}\n{p.log_tail(3000)}")

        threads = [threading.Thread(target=start, args=(p,)) for p in cluster.servers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        try:
            assert not errors, f"attempt {attempt}: " + "\n".join(errors)
            r = register(cluster, customer_id="fresh")
            assert cluster.query.GetCustomer(spb.GetCustomerRequest(
                name=r.customer.name, consistency_token=r.consistency_token)).version == 1
            assert kafkatest.partition_count(kafka_brokers, cluster.topic) == 6
        finally:
            cluster.stop()
            kafkatest.delete_topics(kafka_brokers, [cluster.topic])
