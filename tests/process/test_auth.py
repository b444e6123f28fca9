"""Authentication and limits (docs/security.md): bearer tokens (JWT) checked on every call, the
actor of every event is the token's subject, keys rotate on disk without a restart, and a caller
over its rate limit is refused while others go on.

The tests are the identity provider: they make RSA and EC keys with `cryptography`, publish the
public ones as a JWKS (or a PEM) file the server reads, and mint tokens with PyJWT; the attacks
(`alg: none`, HS256 keyed with the public key) are written by hand, as an attacker would.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib
import json
import os
import socket
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

import crmtest
import kafkatest
import orgtest
from crmtest import (assert_error_info, command_stub, error_details, expect_error, grpc,
                     new_request_id, purchase, query_stub, spb)
from crm.events.v1 import envelope_pb2  # noqa: E402
from crm.v1 import complaint_pb2 as kpb  # noqa: E402
from crm.v1 import complaint_query_service_pb2 as kqpb  # noqa: E402
from crm.v1 import complaint_query_service_pb2_grpc as kqgrpc  # noqa: E402
from crm.v1 import complaint_service_pb2 as kspb  # noqa: E402
from crm.v1 import complaint_service_pb2_grpc as ksgrpc  # noqa: E402
from crm.v1 import customer_pb2 as cpb  # noqa: E402
from crm.v1 import interaction_pb2 as ipb  # noqa: E402
from crm.v1 import interaction_service_pb2 as ispb  # noqa: E402
from crm.v1 import interaction_service_pb2_grpc as isgrpc  # noqa: E402
from google.rpc import error_details_pb2  # noqa: E402
from grpc_health.v1 import health_pb2  # noqa: E402
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc  # noqa: E402

# Embedded only, but for the actor test (both engines) and the replicas test (Kafka).
pytestmark = pytest.mark.engines("embedded")

ISSUER = "https://idp.crm-test.example"
AUDIENCE = "crm"
ALICE = "alice@crm-test.example"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


class IdentityProvider:
    """Signing keys by kid, the key file the server reads, and tokens."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.keys: dict[str, object] = {}  # kid -> private key
        self.jwks_path = directory / "jwks.json"

    def new_key(self, kid: str, kind: str = "RSA"):
        key = (rsa.generate_private_key(public_exponent=65537, key_size=2048) if kind == "RSA"
               else ec.generate_private_key(ec.SECP256R1()))
        self.keys[kid] = key
        return key

    @staticmethod
    def alg(key) -> str:
        return "RS256" if isinstance(key, rsa.RSAPrivateKey) else "ES256"

    def publish(self, *kids: str) -> Path:
        """Writes the JWKS with the public keys `kids`, as a rotation does: a new file renamed
        into place."""
        keys = []
        for kid in kids:
            key = self.keys[kid]
            algorithm = jwt.algorithms.RSAAlgorithm if self.alg(key) == "RS256" else \
                jwt.algorithms.ECAlgorithm
            jwk = json.loads(algorithm.to_jwk(key.public_key()))
            jwk.update(kid=kid, use="sig", alg=self.alg(key))
            keys.append(jwk)
        tmp = self.jwks_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"keys": keys}))
        os.replace(tmp, self.jwks_path)
        return self.jwks_path

    def public_pem(self, kid: str) -> bytes:
        return self.keys[kid].public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def claims(self, subject: str = ALICE, **overrides) -> dict:
        now = int(time.time())
        # scope crm.admin: these tests are about who the caller is, so by default the caller
        # may call everything (authorization: test_authz.py); scope=None drops it.
        claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": subject, "iat": now, "nbf": now,
                  "exp": now + 3600, "scope": "crm.admin"}
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def token(self, kid: str, subject: str = ALICE, signer=None, header_kid=True,
              **overrides) -> str:
        key = signer or self.keys[kid]
        headers = {"kid": kid} if header_kid else {}
        return jwt.encode(self.claims(subject, **overrides), key, algorithm=self.alg(key),
                          headers=headers)


def hs256_token(secret: bytes, claims: dict, kid: str) -> str:
    """The algorithm confusion attack: HS256 "signed" with bytes everyone has."""
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    payload = _b64(json.dumps(claims).encode())
    mac = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(mac)}"


def unsigned_token(claims: dict, kid: str) -> str:
    header = _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": kid}).encode())
    return f"{header}.{_b64(json.dumps(claims).encode())}."


class _Metadata(grpc.UnaryUnaryClientInterceptor, grpc.StreamUnaryClientInterceptor,
                grpc.UnaryStreamClientInterceptor):
    def __init__(self, pairs):
        self._pairs = list(pairs)

    def intercept_unary_unary(self, continuation, details, request):
        metadata = list(details.metadata or []) + self._pairs
        return continuation(details._replace(metadata=metadata), request)

    def intercept_stream_unary(self, continuation, details, request_iterator):
        metadata = list(details.metadata or []) + self._pairs
        return continuation(details._replace(metadata=metadata), request_iterator)

    def intercept_unary_stream(self, continuation, details, request):
        metadata = list(details.metadata or []) + self._pairs
        return continuation(details._replace(metadata=metadata), request)


def _address(server, side: str) -> str:
    """The address of the process of `server` that serves commands or queries."""
    return getattr(server, "commander" if side == "command" else "projector", server).address


class Caller:
    """A server as one caller sees it: every call carries its token (if any) and, to show that it
    changes nothing, a forged x-crm-actor; nothing else (not the suite's token under
    CRM_TEST_SECURE=1, whose TLS it does use when the server has it). Has what crmtest and orgtest helpers use of a Server (channel,
    query_channel, command, query)."""

    def __init__(self, server, token: str | None, forged_actor: str = "mallory"):
        pairs = [("x-crm-actor", forged_actor)] if forged_actor else []
        if token is not None:
            pairs.append(("authorization", f"Bearer {token}"))
        self.channel = grpc.intercept_channel(
            crmtest.plain_channel(_address(server, "command")), _Metadata(pairs))
        self.query_channel = grpc.intercept_channel(
            crmtest.plain_channel(_address(server, "query")), _Metadata(pairs))
        self.command = crmtest.sgrpc.CustomerCommandServiceStub(self.channel)
        self.query = crmtest.sgrpc.CustomerQueryServiceStub(self.query_channel)


def _auth_args(keys_file: Path, *extra: str) -> list[str]:
    return ["--auth-issuer", ISSUER, "--auth-audience", AUDIENCE, "--auth-keys", str(keys_file),
            "--metrics-listen", "127.0.0.1:0", *extra]


def _start(make_server, args):
    if make_server.engine == "embedded":
        return make_server(args=args)
    return make_server(extra_args=args)


def _writer(server):
    """The process that appends (crm-server, or crm-command on Kafka)."""
    return getattr(server, "commander", server)


def _appended(server) -> float:
    return _writer(server).metrics().value("crm_events_appended_total")


def _reason(d) -> str:
    return assert_error_info(d).reason


def _retry_info(d) -> error_details_pb2.RetryInfo:
    infos = [a for a in d.status.details if a.Is(error_details_pb2.RetryInfo.DESCRIPTOR)]
    assert len(infos) == 1, f"no google.rpc.RetryInfo: {d}"
    info = error_details_pb2.RetryInfo()
    infos[0].Unpack(info)
    return info


@pytest.fixture
def idp(tmp_path) -> IdentityProvider:
    provider = IdentityProvider(tmp_path)
    provider.new_key("rsa-1", "RSA")
    provider.new_key("ec-1", "EC")
    provider.publish("rsa-1", "ec-1")
    return provider


# ---------------------------------------------------------------------------------------------


def test_bad_tokens_are_unauthenticated_and_append_nothing(make_server, idp):
    server = _start(make_server, _auth_args(idp.jwks_path))
    outsider = IdentityProvider(idp.directory)  # keys the server does not know
    outsider.new_key("rsa-1", "RSA")
    now = int(time.time())
    cases = {
        # name: (token or None, expected reason)
        "missing": (None, "TOKEN_MISSING"),
        "expired": (idp.token("rsa-1", exp=now - 300, iat=now - 4000, nbf=now - 4000),
                    "TOKEN_EXPIRED"),
        "not-yet-valid": (idp.token("ec-1", nbf=now + 600), "TOKEN_INVALID"),
        "other-issuer": (idp.token("rsa-1", iss="https://evil.example"), "TOKEN_INVALID"),
        "other-audience": (idp.token("ec-1", aud="billing"), "TOKEN_INVALID"),
        "badly-signed": (idp.token("rsa-1", signer=outsider.keys["rsa-1"]), "TOKEN_INVALID"),
        "unknown-kid": (idp.token("rsa-9", signer=outsider.keys["rsa-1"]), "TOKEN_INVALID"),
        "alg-none": (unsigned_token(idp.claims(), "rsa-1"), "TOKEN_INVALID"),
        "hs256-public-pem": (hs256_token(idp.public_pem("rsa-1"), idp.claims(), "rsa-1"),
                             "TOKEN_INVALID"),
        "hs256-public-jwk": (hs256_token(idp.jwks_path.read_bytes(), idp.claims(), "rsa-1"),
                             "TOKEN_INVALID"),
        "garbage": ("not-a-token", "TOKEN_INVALID"),
    }
    before = _appended(server)
    for name, (token, reason) in cases.items():
        caller = Caller(server, token)
        d = expect_error(grpc.StatusCode.UNAUTHENTICATED, crmtest.register, caller,
                         customer_id=f"denied-{name}")
        assert _reason(d) == reason, f"{name}: {d}"
        # Queries are refused the same way.
        d = expect_error(grpc.StatusCode.UNAUTHENTICATED, caller.query.GetCustomer,
                         spb.GetCustomerRequest(name="customers/anything"))
        assert _reason(d) == reason, f"{name}: {d}"
    # Nothing was appended, and nothing of it is to be seen.
    alice = Caller(server, idp.token("rsa-1"))
    token = crmtest.register(alice, customer_id="allowed").consistency_token
    assert _appended(server) == before + 1
    for name in cases:
        expect_error(grpc.StatusCode.NOT_FOUND, alice.query.GetCustomer,
                     spb.GetCustomerRequest(name=f"customers/denied-{name}",
                                            consistency_token=token))
    # A scheme other than Bearer, and a token in the wrong metadata key.
    for pairs in ([("authorization", f"Basic {_b64(b'alice:secret')}")],
                  [("authorization", idp.token("rsa-1"))],
                  [("x-access-token", idp.token("rsa-1"))]):
        stub = crmtest.sgrpc.CustomerQueryServiceStub(grpc.intercept_channel(
            crmtest.plain_channel(_address(server, "query")), _Metadata(pairs)))
        d = expect_error(grpc.StatusCode.UNAUTHENTICATED, stub.ListCustomers,
                         spb.ListCustomersRequest())
        assert _reason(d) in ("TOKEN_INVALID", "TOKEN_MISSING")


def test_every_method_is_gated_but_health_and_reflection_stay_open(make_server, idp):
    server = _start(make_server, _auth_args(idp.jwks_path))
    # Probes need no token.
    assert server.health.Check(health_pb2.HealthCheckRequest(service="")).status == \
        health_pb2.HealthCheckResponse.SERVING
    reflection = reflection_pb2_grpc.ServerReflectionStub(server.channel)
    answers = list(reflection.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")])))
    services = [s.name for s in answers[0].list_services_response.service]
    assert "crm.v1.CustomerCommandService" in services
    # Every method of every other service answers UNAUTHENTICATED without a token, before its
    # request is even parsed (the bytes sent here are not a valid message of any type).
    for path in sorted((crmtest.PY_OUT / "crm").rglob("*_pb2.py")):
        importlib.import_module(".".join(path.relative_to(crmtest.PY_OUT).with_suffix("").parts))
    from google.protobuf import descriptor_pool  # pylint: disable=import-outside-toplevel
    pool = descriptor_pool.Default()
    channel = crmtest.plain_channel(server.address)
    checked = 0
    for name in services:
        if name.startswith("grpc."):
            continue
        for method in pool.FindServiceByName(name).methods:
            call = channel.unary_unary(f"/{name}/{method.name}",
                                              request_serializer=lambda b: b,
                                              response_deserializer=lambda b: b)
            d = expect_error(grpc.StatusCode.UNAUTHENTICATED, call, b"\xff\xff\xff")
            assert _reason(d) == "TOKEN_MISSING", f"{name}/{method.name}: {d}"
            checked += 1
    assert checked > 50, f"only {checked} methods found"


@pytest.mark.engines("embedded", "kafka")
def test_the_actor_of_every_event_is_the_tokens_subject(make_server, idp):
    server = _start(make_server, _auth_args(idp.jwks_path))
    # Every call of the scenario sends a forged x-crm-actor along with the token.
    alice = Caller(server, idp.token("ec-1"), forged_actor="mallory")
    orgtest.make_org(alice)
    customer = crmtest.register(alice, customer_id="actor-1", emails=["ada@example.com"]).customer
    alice.command.TagCustomer(spb.TagCustomerRequest(name=customer.name, tag="vip",
                                           request_id=new_request_id()))
    alice.command.ChangeLifecycleStage(spb.ChangeLifecycleStageRequest(
        name=customer.name, lifecycle_stage=cpb.FIRST_CONTACT, request_id=new_request_id()))
    alice.command.RecordPurchase(spb.RecordPurchaseRequest(
        name=customer.name, purchase=purchase(12_000), request_id=new_request_id()))
    interactions = command_stub(alice, isgrpc.InteractionCommandServiceStub)
    interaction = ipb.Interaction(channel=ipb.PHONE, direction=ipb.INBOUND,
                                  staff_id=orgtest.AGENT, summary="asked for a quote")
    interaction.occurred_at.GetCurrentTime()
    interaction.occurred_at.seconds -= 60
    interactions.LogInteraction(ispb.LogInteractionRequest(
        parent=customer.name, interaction=interaction, request_id=new_request_id()))
    complaints = command_stub(alice, ksgrpc.ComplaintCommandServiceStub)
    filed = complaints.FileComplaint(kspb.FileComplaintRequest(
        parent=customer.name, request_id=new_request_id(),
        complaint=kpb.Complaint(channel=ipb.PHONE, category=kpb.PRODUCT_QUALITY,
                                severity=kpb.GENERAL, description="The kettle leaks")))
    last = complaints.AcknowledgeComplaint(kspb.AcknowledgeComplaintRequest(
        name=filed.complaint.name, responder=orgtest.AGENT, request_id=new_request_id()))
    token = crmtest.covering_token(server, last.consistency_token)

    history = crmtest.history(alice, customer.name, consistency_token=token)
    timeline = query_stub(alice, isgrpc.InteractionQueryServiceStub).GetCustomerTimeline(
        ispb.GetCustomerTimelineRequest(parent=customer.name, consistency_token=token,
                                        page_size=1000))
    complaint_history = query_stub(alice, kqgrpc.ComplaintQueryServiceStub).GetComplaintHistory(
        kqpb.GetComplaintHistoryRequest(name=filed.complaint.name, consistency_token=token))
    events = (list(history) + [e.event for e in timeline.entries] +
              list(complaint_history.events))
    assert len(history) >= 4 and len(complaint_history.events) == 2 and timeline.entries
    assert {e.actor for e in events} == {ALICE}, [(e.event_type, e.actor) for e in events]

    if make_server.engine == "kafka":
        # Every event in the topic, organisation and e-mail reservations included, read as a BI
        # consumer reads it.
        actors = {envelope_pb2.EventEnvelope.FromString(r.value).actor
                  for r in kafkatest.read_topic(server.brokers, server.topic)}
        assert actors == {ALICE}


def test_crmctl_sends_its_token(make_server, idp):
    server = _start(make_server, _auth_args(idp.publish("rsa-1")))
    address = ["--server", _writer(server).address, "--timeout", "5",
               *crmtest.crmctl_args(_writer(server), token=False)]
    refused = crmtest.crmctl("status", *address)
    assert refused.returncode == 1 and "UNAUTHENTICATED" in refused.stderr, refused
    token_file = idp.directory / "token"
    token_file.write_text(idp.token("rsa-1") + "\n")
    ok = crmtest.crmctl("status", *address, "--token-file", str(token_file))
    assert ok.returncode == 0, ok.stderr


def test_without_authentication_the_header_names_the_actor(tmp_path):
    """Development mode (no --auth-*), the default: as before, x-crm-actor is the actor."""
    server = crmtest.Server(tmp_path / "dev", auth=False).start()
    try:
        caller = Caller(server, None, forged_actor="dev-bob")
        customer = crmtest.register(caller, customer_id="dev-1").customer
        token = caller.command.TagCustomer(spb.TagCustomerRequest(
            name=customer.name, tag="t", request_id=new_request_id())).consistency_token
        events = crmtest.history(caller, customer.name, consistency_token=token)
        assert [e.actor for e in events] == ["dev-bob", "dev-bob"]
        assert "authentication off" in server.log_path.read_text()
    finally:
        server.stop()


def test_key_rotation_on_disk_without_a_restart(make_server, idp):
    server = _start(make_server, _auth_args(idp.publish("rsa-1")))
    idp.new_key("ec-2", "EC")
    old = Caller(server, idp.token("rsa-1"))
    new = Caller(server, idp.token("ec-2"))
    crmtest.register(old, customer_id="rot-old-1")
    d = expect_error(grpc.StatusCode.UNAUTHENTICATED, crmtest.register, new,
                     customer_id="rot-new-0")
    assert _reason(d) == "TOKEN_INVALID"

    # The new key is published beside the old one: accepted within the reload interval (2 s).
    idp.publish("rsa-1", "ec-2")

    def accepted(caller, customer_id):
        try:
            crmtest.register(caller, customer_id=customer_id)
            return True
        except grpc.RpcError as err:
            assert err.code() == grpc.StatusCode.UNAUTHENTICATED, error_details(err)
            return False

    crmtest.wait_for("the new key", lambda: accepted(new, f"rot-new-{time.monotonic_ns()}"),
                     timeout_s=30)
    # The old key still works while it is listed.
    crmtest.register(old, customer_id="rot-old-2")

    # The old key is withdrawn: its tokens stop working, the new ones go on.
    idp.publish("ec-2")
    crmtest.wait_for("the old key withdrawn",
                     lambda: not accepted(old, f"rot-old-{time.monotonic_ns()}"), timeout_s=30)
    crmtest.register(new, customer_id="rot-new-2")
    assert "auth keys reloaded" in _writer(server).log_path.read_text()


def test_rate_limit_per_principal_with_retry_info(make_server, idp):
    # An EC key in PEM form this time, and a small rate: 2 calls a second, bursts of 3.
    pem = idp.directory / "key.pem"
    pem.write_bytes(idp.public_pem("ec-1"))
    server = make_server(args=_auth_args(pem, "--rate-limit-per-principal", "2/s",
                                         "--rate-limit-burst", "3"))
    alice = Caller(server, idp.token("ec-1", subject="alice"), forged_actor="")
    bob = Caller(server, idp.token("ec-1", subject="bob"), forged_actor="")
    refused = None
    for _ in range(100):
        try:
            alice.query.ListCustomers(spb.ListCustomersRequest())
        except grpc.RpcError as err:
            refused = err
            break
    assert refused is not None, "alice was never limited"
    d = error_details(refused)
    assert d.code == grpc.StatusCode.RESOURCE_EXHAUSTED, d
    assert _reason(d) == "RATE_LIMITED"
    assert d.error_info.metadata["limit"] == "2/s"
    retry = _retry_info(d)
    delay_s = retry.retry_delay.seconds + retry.retry_delay.nanos / 1e9
    assert 0 < delay_s <= 0.5, retry
    # Bob goes on; so does a query of health.
    bob.query.ListCustomers(spb.ListCustomersRequest())
    crmtest.register(bob, customer_id="bob-1")
    assert server.health.Check(health_pb2.HealthCheckRequest(service="")).status == \
        health_pb2.HealthCheckResponse.SERVING

    # Alice is let in again once she waits.
    def admitted():
        try:
            alice.query.ListCustomers(spb.ListCustomersRequest())
            return True
        except grpc.RpcError as err:
            assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            return False

    crmtest.wait_for("alice admitted again", admitted, timeout_s=10)


def test_bad_authentication_configuration_stops_the_start(tmp_path, idp):
    bad = tmp_path / "private.pem"
    bad.write_bytes(idp.keys["rsa-1"].private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    for i, (args, message) in enumerate([
        (["--auth-issuer", ISSUER], "go together"),
        (["--auth-issuer", ISSUER, "--auth-audience", AUDIENCE, "--auth-keys",
          str(tmp_path / "missing.json")], "--auth-keys"),
        (["--auth-issuer", ISSUER, "--auth-audience", AUDIENCE, "--auth-keys", str(bad)],
         "private key"),
        (["--rate-limit-per-principal", "lots"], "--rate-limit-per-principal"),
    ]):
        s = crmtest.Server(tmp_path / f"bad-{i}", auth=False)
        s.spawn(*args)
        assert s.wait_exit(timeout_s=30) != 0, args
        assert message in s.log_path.read_text(), s.log_tail()
        assert not (s.data_dir / "log").exists(), "opened the log before checking the flags"


# ---------------------------------------------------------------------------------------------
# Two crm-command replicas: a command forwarded to the replica that writes its customer carries
# the caller's token, and so do the e-mail claims one replica makes at another.


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.kafka
def test_forwarded_commands_are_authenticated_again_at_the_owner(tmp_path, kafka_brokers, idp):
    prefix = crmtest.topic_prefix_for("auth-replicas")
    peers = [f"127.0.0.1:{_free_port()}", f"127.0.0.1:{_free_port()}"]
    replicas = []
    try:
        for i in range(2):
            args = ["--engine", "kafka", "--kafka-brokers", kafka_brokers,
                    "--kafka-topic-prefix", prefix, "--replica-index", str(i),
                    "--peers", ",".join(peers), "--kafka-writers", "0", "--listen", peers[i],
                    *_auth_args(idp.jwks_path)]
            replicas.append(crmtest.Server(tmp_path / f"command-{i}", binary=crmtest.COMMAND_BIN,
                                           base_args=args).start())
        alice = Caller(replicas[0], idp.token("rsa-1"))
        anonymous = Caller(replicas[0], None)
        # Enough customers that both replicas own some, each with an e-mail whose reservation
        # may live on the other replica.
        for i in range(24):
            crmtest.register(alice, customer_id=f"fwd-{i}", emails=[f"fwd-{i}@example.com"])
            d = expect_error(grpc.StatusCode.UNAUTHENTICATED, crmtest.register, anonymous,
                             customer_id=f"anon-{i}")
            assert _reason(d) == "TOKEN_MISSING"
        # Replica 1 served commands forwarded by replica 0 and e-mail claims it made there: each
        # authenticated again with alice's token (access log lines).
        log1 = replicas[1].log_path.read_text()
        assert log1.count('RegisterCustomer","code":"OK"') > 0, "nothing forwarded to replica 1"
        assert log1.count('ClaimEmail","code":"OK"') > 0, "no e-mail claimed at replica 1"
        assert "UNAUTHENTICATED" not in log1
        records = kafkatest.read_topic(kafka_brokers, f"{prefix}.customer.events.v1")
        events = [envelope_pb2.EventEnvelope.FromString(r.value) for r in records]
        assert {e.customer_id for e in events if e.customer_id} == {f"fwd-{i}" for i in range(24)}
        assert {e.actor for e in events} == {ALICE}
    finally:
        for s in replicas:
            if s.running:
                s.stop(check=False)
        kafkatest.delete_topics(kafka_brokers, [f"{prefix}.customer.events.v1"])
