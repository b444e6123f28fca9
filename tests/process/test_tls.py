"""Transport security: TLS and mutual TLS on the gRPC port, certificates rotated on disk, the
forwarding between crm-command replicas over mutual TLS, and the safe defaults (no plaintext port
beyond loopback without --insecure). docs/security.md "Transport".

The certificates are made here with the openssl command: a CA, a server certificate for
127.0.0.1/localhost (also usable as a client certificate, as a replica's is), client certificates
with SPIFFE URI SANs, and a second CA nobody trusts.

The suite's own TLS and authentication (CRM_TEST_SECURE=1) are off for every server here: each
test chooses the transport it is about, and its clients carry no token.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest

import crmtest
import kafkatest
from crm.events.v1 import envelope_pb2  # noqa: E402  (stubs are on the path once crmtest is in)
from crmtest import grpc, health_pb2, spb
from grpc_health.v1 import health_pb2_grpc  # noqa: E402

SERVER_SPIFFE = "spiffe://crm/ns/crm/sa/crm-command"
BI_SPIFFE = "spiffe://crm/ns/crm/sa/bi"
ROTATION_TIMEOUT_S = 60.0


# ---------------------------------------------------------------------------------------------
# Certificates.


Pki = crmtest.Pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    root = tmp_path_factory.mktemp("pki")
    ca = Pki(root)
    ca.server = ca.issue("server", "crm-server", 1001,
                         f"IP:127.0.0.1,DNS:localhost,URI:{SERVER_SPIFFE}")
    ca.bi = ca.issue("bi", "bi-reader", 3001, f"URI:{BI_SPIFFE}", usage="clientAuth")
    ca.cn_only = ca.issue("agent", "agent-7", 3002, "DNS:agent-7.example", usage="clientAuth")
    rogue = Pki(root / "rogue", "rogue")
    ca.rogue = rogue.issue("intruder", "intruder", 4001, f"URI:{BI_SPIFFE}", usage="clientAuth")
    return ca


def _credentials(pki: Pki, client: tuple[Path, Path] | None = None) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(
        root_certificates=pki.ca.read_bytes(),
        private_key=client[1].read_bytes() if client else None,
        certificate_chain=client[0].read_bytes() if client else None)


def _tls_args(pki: Pki, cert: tuple[Path, Path] | None = None, mtls: str = "") -> list[str]:
    cert_file, key_file = cert or pki.server
    args = ["--tls-cert", str(cert_file), "--tls-key", str(key_file)]
    if mtls:
        args += ["--tls-client-ca", str(pki.ca)]
    if mtls == "required":
        args += ["--tls-require-client-cert"]
    return args


def _channel(server: crmtest.Server, credentials=None) -> grpc.Channel:
    if credentials is None:
        return grpc.insecure_channel(server.address)
    return grpc.secure_channel(server.address, credentials)


def _health(channel: grpc.Channel) -> int:
    return health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""),
                                                     timeout=10).status


def _register_and_get(channel: grpc.Channel, customer_id: str) -> None:
    command = crmtest.sgrpc.CustomerCommandServiceStub(channel)
    query = crmtest.sgrpc.CustomerQueryServiceStub(channel)
    resp = command.RegisterCustomer(spb.RegisterCustomerRequest(
        customer_id=customer_id, customer=crmtest.make_customer(),
        request_id=crmtest.new_request_id()), timeout=15)
    got = query.GetCustomer(spb.GetCustomerRequest(name=f"customers/{customer_id}",
                                                   consistency_token=resp.consistency_token),
                            timeout=15)
    assert got.name == f"customers/{customer_id}"


def _call_lines(server: crmtest.Server) -> list[dict]:
    out = []
    for line in server.log_path.read_text(errors="replace").splitlines():
        if line.startswith("{") and '"msg":"call"' in line:
            out.append(json.loads(line))
    return out


def _served_serial(port: int, ca: Path) -> int:
    """The serial number of the certificate the server presents to a new connection."""
    context = ssl.create_default_context(cafile=str(ca))
    context.set_alpn_protocols(["h2"])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            return int(tls.getpeercert()["serialNumber"], 16)


def _tls_server(tmp_path: Path, pki: Pki, *args: str, name: str = "server",
                client=None, **kwargs) -> crmtest.Server:
    server = crmtest.Server(tmp_path / name, credentials=_credentials(pki, client), auth=False,
                            **kwargs)
    return server.start(*args)


# ---------------------------------------------------------------------------------------------
# TLS and mutual TLS.


def test_a_plaintext_client_fails_against_the_tls_port_and_a_tls_client_works(tmp_path, pki):
    server = _tls_server(tmp_path, pki, *_tls_args(pki))
    try:
        with _channel(server) as plaintext:
            crmtest.expect_error(grpc.StatusCode.UNAVAILABLE, _health, plaintext)
        with _channel(server, _credentials(pki)) as tls:
            assert _health(tls) == health_pb2.HealthCheckResponse.SERVING
            _register_and_get(tls, "tls-1")
        # A client that does not trust the server's CA refuses it.
        other_ca = grpc.ssl_channel_credentials(root_certificates=Path(
            pki.root / "rogue" / "rogue.pem").read_bytes())
        with _channel(server, other_ca) as untrusting:
            crmtest.expect_error(grpc.StatusCode.UNAVAILABLE, _health, untrusting)
        assert "TLS on 127.0.0.1:0" in server.log_path.read_text()
    finally:
        server.stop()


def test_with_client_certificates_required_only_clients_with_a_valid_certificate_get_in(
        tmp_path, pki):
    server = _tls_server(tmp_path, pki, *_tls_args(pki, mtls="required"), client=pki.bi)
    try:
        with _channel(server, _credentials(pki)) as no_cert:
            crmtest.expect_error(grpc.StatusCode.UNAVAILABLE, _health, no_cert)
        with _channel(server, _credentials(pki, pki.rogue)) as rogue:
            crmtest.expect_error(grpc.StatusCode.UNAVAILABLE, _health, rogue)
        with _channel(server, _credentials(pki, pki.bi)) as bi:
            _register_and_get(bi, "mtls-bi")
        with _channel(server, _credentials(pki, pki.cn_only)) as agent:
            _register_and_get(agent, "mtls-agent")
        # The identity of each call: the SPIFFE URI SAN, else the subject CN.
        identities = {c["method"].rsplit("/", 1)[1] + ":" + c["identity"]
                      for c in _call_lines(server) if c["code"] == "OK"}
        assert f"RegisterCustomer:{BI_SPIFFE}" in identities, identities
        assert "RegisterCustomer:agent-7" in identities, identities
        assert "client certificates required" in server.log_path.read_text()
    finally:
        server.stop()


def test_crmctl_speaks_mutual_tls(tmp_path, pki):
    server = _tls_server(tmp_path, pki, *_tls_args(pki, mtls="required"), client=pki.bi)
    try:
        address = ["--server", server.address]
        plain = crmtest.crmctl("status", *address, "--timeout", "3")
        assert plain.returncode == 2, plain  # no TLS: cannot connect
        ok = crmctl_tls = crmtest.crmctl(
            "status", *address, "--tls-ca", str(pki.ca), "--tls-cert", str(pki.bi[0]),
            "--tls-key", str(pki.bi[1]), "--output", "json")
        assert ok.returncode == 0, crmctl_tls.stderr
        assert json.loads(ok.stdout.splitlines()[0])
    finally:
        server.stop()


def test_with_client_certificates_optional_a_client_may_come_without_one(tmp_path, pki):
    server = _tls_server(tmp_path, pki, *_tls_args(pki, mtls="optional"))
    try:
        with _channel(server, _credentials(pki)) as no_cert:
            _register_and_get(no_cert, "optional-anonymous")
        with _channel(server, _credentials(pki, pki.bi)) as bi:
            _register_and_get(bi, "optional-bi")
        # A certificate that is presented must still be valid.
        with _channel(server, _credentials(pki, pki.rogue)) as rogue:
            crmtest.expect_error(grpc.StatusCode.UNAVAILABLE, _health, rogue)
        registered = {c["identity"] for c in _call_lines(server)
                      if c["method"].endswith("/RegisterCustomer")}
        assert registered == {"", BI_SPIFFE}, registered
    finally:
        server.stop()


def test_a_certificate_rotated_on_disk_is_served_without_a_restart(tmp_path, pki):
    live = tmp_path / "live"
    live.mkdir()
    cert, key = live / "tls.crt", live / "tls.key"
    cert.write_bytes(pki.server[0].read_bytes())
    key.write_bytes(pki.server[1].read_bytes())
    server = _tls_server(tmp_path, pki, "--tls-cert", str(cert), "--tls-key", str(key),
                         "--tls-reload-interval", "1s")
    try:
        assert _served_serial(server.port, pki.ca) == 1001
        pid = server.pid
        # A new certificate and key from the same CA, put in place as a Secret update would:
        # written beside, then renamed over the old files.
        new_cert, new_key = pki.issue("server-rotated", "crm-server", 1002,
                                      f"IP:127.0.0.1,DNS:localhost,URI:{SERVER_SPIFFE}")
        (live / "tls.key.new").write_bytes(new_key.read_bytes())
        (live / "tls.crt.new").write_bytes(new_cert.read_bytes())
        os.replace(live / "tls.key.new", key)
        os.replace(live / "tls.crt.new", cert)
        deadline = time.monotonic() + ROTATION_TIMEOUT_S
        seen = []
        while True:
            try:
                serial = _served_serial(server.port, pki.ca)
            except (ssl.SSLError, OSError) as e:  # between the two renames
                serial = repr(e)
            seen.append(serial)
            if serial == 1002:
                break
            assert time.monotonic() < deadline, f"still serving {seen[-5:]}"
            time.sleep(0.2)
        assert server.pid == pid and server.running
        with _channel(server, _credentials(pki)) as tls:
            _register_and_get(tls, "after-rotation")
    finally:
        server.stop()


# ---------------------------------------------------------------------------------------------
# Safe defaults and bad configuration.


def _refused(tmp_path: Path, *args: str) -> str:
    """Starts crm-server with `args`, which must fail start-up; returns its output."""
    proc = subprocess.run([str(crmtest.SERVER_BIN), "--data-dir", str(tmp_path / "data"), *args],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert not (tmp_path / "data").exists(), "opened its data before refusing"
    return proc.stdout + proc.stderr


def test_plaintext_beyond_loopback_needs_insecure(tmp_path, pki):
    out = _refused(tmp_path, "--listen", "0.0.0.0:0")
    assert "is not a loopback address and no TLS is configured" in out, out
    assert "--insecure" in out, out
    out = _refused(tmp_path, "--listen", "127.0.0.1:0", "--metrics-listen", "0.0.0.0:0")
    assert "/metrics is served in plaintext" in out, out
    # With TLS the port may listen anywhere; /metrics (plaintext) still needs --insecure.
    out = _refused(tmp_path, "--listen", "0.0.0.0:0", *_tls_args(pki), "--metrics-listen",
                   "[::]:0")
    assert "/metrics is served in plaintext" in out, out

    # --insecure (or CRM_INSECURE=true) allows it, and the log says so.
    server = crmtest.Server(tmp_path / "insecure", tls=False, auth=False)
    server.start("--listen", "0.0.0.0:0", "--insecure")
    try:
        assert "PLAINTEXT on 0.0.0.0:0 (--insecure)" in server.log_path.read_text()
    finally:
        server.stop()


def test_the_default_listens_on_loopback_only_and_says_so(tmp_path):
    server = crmtest.Server(tmp_path / "default", tls=False, auth=False)
    server.start()  # --listen 127.0.0.1:0
    try:
        assert "loopback only: no TLS configured" in server.log_path.read_text()
    finally:
        server.stop()
    help_text = subprocess.run([str(crmtest.SERVER_BIN), "--help"], capture_output=True,
                               text=True, check=True).stdout
    assert "127.0.0.1:50051" in help_text, help_text


def test_bad_tls_files_fail_start_up_naming_the_flag(tmp_path, pki):
    out = _refused(tmp_path, "--tls-cert", str(pki.server[0]), "--tls-key", str(pki.bi[1]))
    assert "--tls-key: the key in" in out and "does not belong to the certificate" in out, out
    out = _refused(tmp_path, "--tls-cert", str(tmp_path / "missing.pem"), "--tls-key",
                   str(pki.server[1]))
    assert "--tls-cert: cannot read" in out, out
    out = _refused(tmp_path, "--tls-cert", str(pki.server[0]))
    assert "--tls-cert and --tls-key go together" in out, out
    out = _refused(tmp_path, *_tls_args(pki), "--tls-require-client-cert")
    assert "--tls-require-client-cert needs --tls-client-ca" in out, out
    out = _refused(tmp_path, *_tls_args(pki), "--tls-client-ca", str(pki.server[1]))
    assert "--tls-client-ca:" in out and "holds no PEM certificate" in out, out


# ---------------------------------------------------------------------------------------------
# crm-command replicas forwarding to each other over mutual TLS.


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.kafka
def test_command_replicas_forward_to_each_other_over_mutual_tls(tmp_path, pki, kafka_brokers):
    prefix = crmtest.topic_prefix_for("tls-replicas")
    peers = [f"127.0.0.1:{_free_port()}", f"127.0.0.1:{_free_port()}"]
    # Each replica its own certificate (the same service identity), used as server certificate
    # and as client certificate towards the other replica.
    certs = [pki.issue(f"command-{i}", f"crm-command-{i}", 2001 + i,
                       f"IP:127.0.0.1,DNS:localhost,URI:{SERVER_SPIFFE}") for i in range(2)]
    replicas = []
    try:
        for i in range(2):
            args = ["--engine", "kafka", "--kafka-brokers", kafka_brokers,
                    "--kafka-topic-prefix", prefix, "--kafka-writers", "0",
                    "--replica-index", str(i),
                    "--peers", ",".join(peers), "--listen", peers[i],
                    *_tls_args(pki, certs[i], mtls="required")]
            replicas.append(crmtest.Server(tmp_path / f"command-{i}", binary=crmtest.COMMAND_BIN,
                                           base_args=args, auth=False,
                                           credentials=_credentials(pki, pki.bi)).start())
        ids = [f"tls-fwd-{i}" for i in range(12)]
        for cid in ids:
            crmtest.register(replicas[0], customer_id=cid)  # about half forwarded to replica 1

        # Replica 1 answered the forwarded ones: calls from replica 0's certificate.
        forwarded = [c for c in _call_lines(replicas[1])
                     if c["method"].endswith("/RegisterCustomer") and c["code"] == "OK"]
        assert forwarded, "nothing was forwarded: the test proves nothing"
        assert {c["identity"] for c in forwarded} == {SERVER_SPIFFE}, forwarded
        direct = [c for c in _call_lines(replicas[0])
                  if c["method"].endswith("/RegisterCustomer") and c["code"] == "OK"]
        assert {c["identity"] for c in direct} == {BI_SPIFFE}, direct
        assert len(direct) == len(ids)

        customers = set()
        for record in kafkatest.read_topic(kafka_brokers, f"{prefix}.customer.events.v1"):
            event = envelope_pb2.EventEnvelope.FromString(record.value)
            if not event.aggregate.startswith("emailReservations/"):
                customers.add(event.customer_id)
        assert customers == set(ids)
    finally:
        for r in replicas:
            if r.running:
                r.stop(check=False)
        kafkatest.delete_topics(kafka_brokers, [f"{prefix}.customer.events.v1"])
