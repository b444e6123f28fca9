"""The process itself: health, reflection, port file, shutdown, bad configuration."""

from __future__ import annotations

import subprocess

import pytest
from grpc_health.v1 import health_pb2

import crmtest
from crmtest import register, spb


def test_health_is_serving(server):
    answer = server.health.Check(health_pb2.HealthCheckRequest(service=""))
    assert answer.status == health_pb2.HealthCheckResponse.SERVING


def test_liveness_is_serving(server):
    answer = server.health.Check(health_pb2.HealthCheckRequest(service="liveness"))
    assert answer.status == health_pb2.HealthCheckResponse.SERVING


@pytest.mark.engines("embedded")  # Kafka: test_kafka_cluster.py (each process has its own)
def test_reflection_lists_the_services(server):
    reflection = pytest.importorskip(
        "grpc_reflection.v1alpha.proto_reflection_descriptor_database")
    db = reflection.ProtoReflectionDescriptorDatabase(server.channel)
    services = set(db.get_services())
    assert "crm.v1.CustomerCommandService" in services, services
    assert "crm.v1.CustomerQueryService" in services, services
    # The descriptors come through too.
    fd = db.FindFileContainingSymbol("crm.v1.CustomerCommandService")
    assert fd.package == "crm.v1"


@pytest.mark.engines("embedded")
def test_port_file_holds_the_bound_port(server):
    assert int(server.port_file.read_text().strip()) == server.port > 0


def test_sigterm_when_idle_exits_0_and_data_survives(server):
    c = register(server, customer_id="durable-1")
    assert server.stop() == 0
    server.start()
    got = server.query.GetCustomer(spb.GetCustomerRequest(
        name=c.customer.name, consistency_token=c.consistency_token))
    assert got.version == 1


def test_rebuild_on_an_empty_store_serves(make_server):
    server = make_server(args=("--rebuild",))
    c = register(server, customer_id="after-rebuild")
    assert c.customer.version == 1


def test_bad_listen_address_is_a_clear_non_zero_exit(tmp_path):
    if not crmtest.SERVER_BIN.exists():
        pytest.fail(f"server binary {crmtest.SERVER_BIN} not found")
    proc = subprocess.run(
        [str(crmtest.SERVER_BIN), "--data-dir", str(tmp_path / "data"), "--listen", "not-an-address",
         "--port-file", str(tmp_path / "port")],
        stdin=subprocess.DEVNULL, capture_output=True, timeout=30, check=False)
    assert proc.returncode != 0, proc
    assert proc.stderr or proc.stdout, "no message"


@pytest.mark.engines("embedded")
def test_stderr_holds_json_lines_only(server):
    """Everything the process writes is one JSON object per line, the lines of the libraries
    underneath (protobuf's complaint about invalid UTF-8, gRPC's) included."""
    import json  # pylint: disable=import-outside-toplevel
    import grpc  # pylint: disable=import-outside-toplevel
    register(server)
    # Invalid UTF-8 in a string field: protobuf's parser logs about it.
    bad = b"\x0a\x05\x12\x03\xff\xfe\xff"  # customer { display_name: <bad bytes> }
    call = server.channel.unary_unary("/crm.v1.CustomerCommandService/RegisterCustomer",
                                      request_serializer=lambda b: b,
                                      response_deserializer=lambda b: b)
    with pytest.raises(grpc.RpcError) as e:
        call(bad, timeout=10)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    server.stop()
    lines = [line for line in server.log_path.read_text(errors="replace").splitlines()
             if line and not line.startswith("===== start")]
    assert lines
    for line in lines:
        try:
            assert isinstance(json.loads(line), dict), line
        except json.JSONDecodeError:
            pytest.fail(f"not a JSON line: {line!r}")
