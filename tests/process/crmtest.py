"""Helpers of the process-level tests: the crm-server process, its gRPC stubs, error details.

The tests drive the real binary (build/apps/crm_server/crm-server) from outside, over gRPC, as a
client would. Python stubs are generated from proto/ into <build>/py by scripts/test.sh (or, when
missing or stale, by ensure_stubs() below), and that folder is put on sys.path.

On Kafka (engine "kafka") the same tests run against a `Cluster`: crm-command and crm-projector as
two processes on one topic of the broker named by CRM_KAFKA_BROKERS (see kafkatest.py).

Env: CRM_BUILD_DIR (default build, relative to the repo root), CRM_SERVER_BIN (default
<build>/apps/crm_server/crm-server), CRM_COMMAND_BIN, CRM_PROJECTOR_BIN (default
<build>/apps/crm_command/crm-command, <build>/apps/crm_projector/crm-projector),
CRM_TEST_LOG_LEVEL (passed as --log-level when set). The suite starts copies of the binaries made
when it begins (see use_binary_copies; CRM_TEST_COPY_BINARIES=0 starts them in place).
CRM_TEST_SECURE=1 (the default of scripts/test.sh) runs the suite with security on (see
suite_tls, suite_auth): every process gets TLS on its gRPC port with a certificate of a test CA
(and that CA for client certificates, so crm-command replicas forward over mutual TLS) and the
--auth-* flags of a test identity provider; every channel verifies the CA and sends its token.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

ROOT = Path(__file__).resolve().parents[2]
BUILD_DIR = Path(os.environ.get("CRM_BUILD_DIR", "build"))
if not BUILD_DIR.is_absolute():
    BUILD_DIR = ROOT / BUILD_DIR
PY_OUT = BUILD_DIR / "py"
PROTO_DIR = ROOT / "proto"
SERVER_BIN = Path(os.environ.get("CRM_SERVER_BIN", BUILD_DIR / "apps" / "crm_server" / "crm-server"))
COMMAND_BIN = Path(os.environ.get("CRM_COMMAND_BIN",
                                  BUILD_DIR / "apps" / "crm_command" / "crm-command"))
PROJECTOR_BIN = Path(os.environ.get("CRM_PROJECTOR_BIN",
                                    BUILD_DIR / "apps" / "crm_projector" / "crm-projector"))
CRMCTL_BIN = BUILD_DIR / "apps" / "crmctl" / "crmctl"



def use_binary_copies(dest: Path) -> list[Path]:
    """Copies the binaries into `dest` and makes the tests start the copies.

    So that a build relinking <build>/apps/* while the suite runs (someone building in the same
    tree) neither makes a start fail (the file being written is not executable) nor mixes two
    versions of the code in one run. Returns the copies made.
    """
    global SERVER_BIN, COMMAND_BIN, PROJECTOR_BIN  # pylint: disable=global-statement
    dest.mkdir(parents=True, exist_ok=True)
    copies = []

    def copy(src: Path) -> Path:
        if not src.exists():
            return src  # a start fails later, naming the missing binary
        target = dest / src.name
        shutil.copy2(src, target)
        copies.append(target)
        return target

    SERVER_BIN, COMMAND_BIN, PROJECTOR_BIN = (copy(SERVER_BIN), copy(COMMAND_BIN),
                                              copy(PROJECTOR_BIN))
    return copies


# Security for the whole suite (CRM_TEST_SECURE=1; scripts/test.sh sets it unless told
# CRM_TEST_SECURE=0): TLS from a test CA (suite_tls) and authentication by a test identity provider
# (suite_auth), both made once per run. A Server started by the suite gets both unless it says
# `tls=False` / `auth=False`; tests that are about transport or authentication (test_tls.py,
# test_auth.py, test_authz.py) bring their own CAs, identity providers and tokens.
if "CRM_TEST_AUTH" in os.environ:
    raise RuntimeError("CRM_TEST_AUTH is gone: CRM_TEST_SECURE=1 runs the suite with TLS and "
                       "authentication on, CRM_TEST_SECURE=0 without (tests/process/README.md)")
TEST_SECURE = os.environ.get("CRM_TEST_SECURE", "0") == "1"
TEST_AUTH_SUBJECT = "crm-test"


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


class Pki:
    """A CA and certificates it signed, as PEM files in `root` (made with the openssl command)."""

    def __init__(self, root: Path, name: str = "ca"):
        self.root = root
        self.name = name
        root.mkdir(parents=True, exist_ok=True)
        self.ca = root / f"{name}.pem"
        self.ca_key = root / f"{name}.key"
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", str(self.ca_key), "-out", str(self.ca), "-days", "2",
                 "-subj", f"/CN=CRM test {name}", cwd=root)

    def issue(self, stem: str, cn: str, serial: int, sans: str,
              usage: str = "serverAuth,clientAuth") -> tuple[Path, Path]:
        """A certificate and key signed by this CA: (cert, key) as <stem>.pem and <stem>.key."""
        key, csr, ext = (self.root / f"{stem}.key", self.root / f"{stem}.csr",
                         self.root / f"{stem}.ext")
        cert = self.root / f"{stem}.pem"
        _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={cn}", cwd=self.root)
        ext.write_text(f"subjectAltName={sans}\nextendedKeyUsage={usage}\n")
        _openssl("x509", "-req", "-in", str(csr), "-CA", str(self.ca), "-CAkey", str(self.ca_key),
                 "-set_serial", str(serial), "-days", "2", "-extfile", str(ext), "-out", str(cert),
                 cwd=self.root)
        return cert, key


def _suite_dir() -> Path:
    """A directory for the run's CA and identity provider, removed when the run ends."""
    global _suite_directory  # pylint: disable=global-statement
    if _suite_directory is None:
        import atexit  # pylint: disable=import-outside-toplevel
        import tempfile  # pylint: disable=import-outside-toplevel
        _suite_directory = Path(tempfile.mkdtemp(prefix="crm-test-secure-"))
        atexit.register(shutil.rmtree, _suite_directory, True)
    return _suite_directory


_suite_directory: Path | None = None
_suite_pki: Pki | None = None
_suite_auth: tuple[list[str], str, Path] | None = None
# Addresses of the processes running with the suite's TLS (see Server): channels and crmctl
# invocations that name only an address use TLS towards these.
_tls_addresses: set[str] = set()
SUITE_SPIFFE = "spiffe://crm-test/ns/crm/sa/crm"


def suite_tls() -> Pki:
    """The suite's CA, with `server` = (cert, key): one certificate for every process (IP
    127.0.0.1 and localhost, a SPIFFE URI SAN), usable as server and as client certificate (a
    crm-command replica presents it when it forwards to another)."""
    global _suite_pki  # pylint: disable=global-statement
    if _suite_pki is None:
        pki = Pki(_suite_dir() / "pki", "suite-ca")
        pki.server = pki.issue("server", "crm-test-server", 1,
                               f"IP:127.0.0.1,DNS:localhost,URI:{SUITE_SPIFFE}")
        _suite_pki = pki
    return _suite_pki


def suite_tls_args() -> list[str]:
    """The flags that give a process the suite's TLS: its certificate, and the CA for client
    certificates (optional ones: the tests' clients have none; crm-command replicas do)."""
    pki = suite_tls()
    return ["--tls-cert", str(pki.server[0]), "--tls-key", str(pki.server[1]),
            "--tls-client-ca", str(pki.ca)]


def suite_credentials() -> grpc.ChannelCredentials:
    """Channel credentials that trust the suite's CA (no client certificate)."""
    return grpc.ssl_channel_credentials(root_certificates=suite_tls().ca.read_bytes())


def suite_auth() -> tuple[list[str], str]:
    """(server flags, bearer token) of the suite's identity provider: an EC P-256 key, its public
    half as a JWKS file, and a token for the subject "crm-test" with the scope crm.admin, valid
    for the run. A flag given twice keeps its last value, so a test's own --auth-* flags win."""
    global _suite_auth  # pylint: disable=global-statement
    if _suite_auth is None:
        import json  # pylint: disable=import-outside-toplevel

        import jwt  # pylint: disable=import-outside-toplevel
        from cryptography.hazmat.primitives.asymmetric import ec  # pylint: disable=import-outside-toplevel

        key = ec.generate_private_key(ec.SECP256R1())
        directory = _suite_dir()
        jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
        jwk.update(kid="suite", use="sig", alg="ES256")
        keys = directory / "jwks.json"
        keys.write_text(json.dumps({"keys": [jwk]}))
        now = int(time.time())
        # crm.admin: the suite's scenarios may call everything (test_authz.py is about who may
        # call what).
        token = jwt.encode({"iss": "https://idp.crm-test.example", "aud": "crm",
                            "sub": TEST_AUTH_SUBJECT, "iat": now, "exp": now + 12 * 3600,
                            "scope": "crm.admin"},
                           key, algorithm="ES256", headers={"kid": "suite"})
        token_file = directory / "token"
        token_file.write_text(token + "\n")
        _suite_auth = (["--auth-issuer", "https://idp.crm-test.example", "--auth-audience", "crm",
                        "--auth-keys", str(keys)], token, token_file)
    return _suite_auth[0], _suite_auth[1]


def suite_actor() -> str:
    """The actor of the events the suite's own clients' commands append: the token's subject
    with security on; without it the clients send no x-crm-actor, so "anonymous"."""
    return TEST_AUTH_SUBJECT if TEST_SECURE else "anonymous"


def _address_of(target) -> str:
    return target if isinstance(target, str) else target.address


def uses_suite_tls(target) -> bool:
    """Whether the process at `target` (a Server, or its address) has the suite's TLS."""
    if isinstance(target, Server):
        return target.tls
    return _address_of(target) in _tls_addresses


def crmctl_args(target, token: bool = True) -> list[str]:
    """The flags crmctl needs to reach the process at `target` (a Server or its address) as the
    suite's clients do: --tls-ca when it has the suite's TLS, and with `token` the suite's
    --token-file when the suite's authentication is on."""
    args = []
    if uses_suite_tls(target):
        args += ["--tls-ca", str(suite_tls().ca)]
    if token and TEST_SECURE:
        suite_auth()
        args += ["--token-file", str(_suite_auth[2])]
    return args


# Deadline of one RPC made by the tests, unless a call passes its own.
RPC_TIMEOUT_S = 15.0
# How long a server gets to start serving, and to exit after SIGTERM.
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0


def ensure_stubs() -> None:
    """Generates the Python stubs into PY_OUT unless they are there and newer than every .proto."""
    protos = sorted(PROTO_DIR.rglob("*.proto"))
    marker = PY_OUT / "crm" / "v1" / "customer_service_pb2_grpc.py"
    newest = max(p.stat().st_mtime for p in protos)
    if not (marker.exists() and marker.stat().st_mtime >= newest):
        import grpc_tools  # pylint: disable=import-outside-toplevel
        from grpc_tools import protoc  # pylint: disable=import-outside-toplevel

        well_known = Path(grpc_tools.__file__).parent / "_proto"  # google/protobuf/*.proto
        PY_OUT.mkdir(parents=True, exist_ok=True)
        args = ["protoc", f"-I{PROTO_DIR}", f"-I{well_known}", f"--python_out={PY_OUT}",
                f"--grpc_python_out={PY_OUT}"]
        args += [str(p.relative_to(PROTO_DIR)) for p in protos]
        if protoc.main(args) != 0:
            raise RuntimeError(f"protoc failed for {PROTO_DIR}")
    if str(PY_OUT) not in sys.path:
        sys.path.insert(0, str(PY_OUT))


ensure_stubs()

import grpc  # noqa: E402
from grpc_health.v1 import health_pb2, health_pb2_grpc  # noqa: E402

from crm.v1 import customer_pb2 as cpb  # noqa: E402
from crm.v1 import customer_service_pb2 as spb  # noqa: E402
from crm.v1 import customer_service_pb2_grpc as sgrpc  # noqa: E402
from google.rpc import error_details_pb2, status_pb2  # noqa: E402

__all__ = ["cpb", "spb", "sgrpc", "grpc"]


# ---------------------------------------------------------------------------------------------
# Errors: the grpc status code plus the google.rpc details in the grpc-status-details-bin trailer.


@dataclass
class ErrorDetails:
    code: grpc.StatusCode
    message: str
    status: status_pb2.Status | None = None
    # (field, description) of every google.rpc.BadRequest field violation.
    violations: list[tuple[str, str]] = field(default_factory=list)
    error_info: error_details_pb2.ErrorInfo | None = None

    @property
    def fields(self) -> list[str]:
        return [f for f, _ in self.violations]

    def __str__(self) -> str:
        info = None
        if self.error_info is not None:
            info = (self.error_info.reason, self.error_info.domain, dict(self.error_info.metadata))
        return (f"{self.code.name}: {self.message!r} violations={self.violations} "
                f"error_info={info}")


def error_details(err: grpc.RpcError) -> ErrorDetails:
    """Extracts code, message, BadRequest and ErrorInfo from a failed call."""
    details = ErrorDetails(code=err.code(), message=err.details() or "")
    for key, value in err.trailing_metadata() or ():
        if key != "grpc-status-details-bin":
            continue
        st = status_pb2.Status.FromString(value)
        details.status = st
        for any_msg in st.details:
            if any_msg.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                br = error_details_pb2.BadRequest()
                any_msg.Unpack(br)
                details.violations += [(v.field, v.description) for v in br.field_violations]
            elif any_msg.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                any_msg.Unpack(info)
                details.error_info = info
    return details


def expect_error(code: grpc.StatusCode, fn: Callable, *args, **kwargs) -> ErrorDetails:
    """Calls fn, which must fail with `code`; returns the error's details."""
    try:
        answer = fn(*args, **kwargs)
    except grpc.RpcError as err:
        d = error_details(err)
        assert d.code == code, f"expected {code.name}, got {d}"
        return d
    raise AssertionError(f"expected {code.name}, but the call succeeded: {answer}")


def assert_violation(d: ErrorDetails, expected_field: str, *, prefix: bool = False) -> None:
    """Asserts a BadRequest field violation names `expected_field` (or starts with it)."""
    assert d.status is not None, f"no grpc-status-details-bin trailer: {d}"
    if prefix:
        ok = any(f == expected_field or f.startswith(expected_field + ".")
                 or f.startswith(expected_field + "[") for f in d.fields)
    else:
        ok = expected_field in d.fields
    assert ok, f"no field violation for {expected_field!r}: {d}"


def assert_error_info(d: ErrorDetails) -> error_details_pb2.ErrorInfo:
    assert d.error_info is not None, f"no google.rpc.ErrorInfo: {d}"
    assert d.error_info.domain == "crm.v1", f"ErrorInfo domain: {d}"
    assert d.error_info.reason, f"ErrorInfo without reason: {d}"
    return d.error_info


def raw_channel(target, options=None) -> grpc.Channel:
    """A grpc channel to `target` (a Server, or an address) over the transport it serves: the
    Server's own credentials, TLS with the suite's CA towards a process with the suite's TLS,
    else plaintext. No interceptors, no token."""
    address = _address_of(target)
    credentials = (target.channel_credentials if isinstance(target, Server)
                   else suite_credentials() if address in _tls_addresses else None)
    if credentials is not None:
        return grpc.secure_channel(address, credentials, options=options)
    return grpc.insecure_channel(address, options=options)


def plain_channel(target) -> grpc.Channel:
    """A channel to `target` (a Server, or an address) with the suite's default deadline and no
    token of the suite (for tests that choose what each call carries); TLS when the process has
    the suite's (see raw_channel)."""
    return grpc.intercept_channel(raw_channel(target), _DefaultTimeout(RPC_TIMEOUT_S))


# ---------------------------------------------------------------------------------------------
# The server process.


class _BearerToken(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor,
                   grpc.StreamUnaryClientInterceptor):
    """Sends `token` with every call that has no authorization metadata of its own."""

    def __init__(self, token: str):
        self._pair = ("authorization", f"Bearer {token}")

    def _add(self, details):
        metadata = list(details.metadata or [])
        if not any(k == "authorization" for k, _ in metadata):
            details = details._replace(metadata=metadata + [self._pair])
        return details

    def intercept_unary_unary(self, continuation, client_call_details, request):
        return continuation(self._add(client_call_details), request)

    def intercept_unary_stream(self, continuation, client_call_details, request):
        return continuation(self._add(client_call_details), request)

    def intercept_stream_unary(self, continuation, client_call_details, request_iterator):
        return continuation(self._add(client_call_details), request_iterator)


class _DefaultTimeout(grpc.UnaryUnaryClientInterceptor):
    """Gives every call a deadline so that a hung server fails a test instead of hanging it."""

    def __init__(self, timeout_s: float):
        self._timeout_s = timeout_s

    def intercept_unary_unary(self, continuation, client_call_details, request):
        if client_call_details.timeout is None:
            client_call_details = client_call_details._replace(timeout=self._timeout_s)
        return continuation(client_call_details, request)


class Server:
    """One crm-server process on a data directory; can be stopped, killed and started again.

    `binary` and `base_args` make it another binary of the same command line (crm-command,
    crm-projector, or crm-server on Kafka): `base_args` go before the extra arguments of each start.
    `credentials` (grpc.ssl_channel_credentials) make its channel TLS (a server started with
    --tls-cert flags of the test's own); the default is the suite's transport: plaintext, or
    with CRM_TEST_SECURE=1 TLS from the suite's CA.
    Not thread-safe itself; its stubs are (grpc channels may be shared by threads).
    """

    def __init__(self, workdir: Path, data_dir: Path | None = None, binary: Path | None = None,
                 base_args: Sequence[str] = (),
                 credentials: grpc.ChannelCredentials | None = None, auth: bool = True,
                 tls: bool = True):
        """With CRM_TEST_SECURE=1, `auth`: start with the suite's --auth-* flags and send its
        token (see suite_auth); `tls`: start with the suite's TLS (see suite_tls_args) and
        connect with TLS (not with `credentials` of the test's own). False for a test that wants
        that off (a test of plaintext defaults, or of its own identity provider)."""
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.data_dir = Path(data_dir) if data_dir else self.workdir / "data"
        self.binary = Path(binary) if binary else SERVER_BIN
        self.name = self.binary.name
        self.base_args = list(base_args)
        self.credentials = credentials
        self.auth = auth and TEST_SECURE
        self.tls = tls and TEST_SECURE and credentials is None
        self.port_file = self.workdir / "port"
        self.log_path = self.workdir / "server.log"
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None
        self.channel: grpc.Channel | None = None
        self.command: sgrpc.CustomerCommandServiceStub | None = None
        self.query: sgrpc.CustomerQueryServiceStub | None = None
        self.health: health_pb2_grpc.HealthStub | None = None
        self.starts = 0
        self.last_exit_code: int | None = None

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, *extra_args: str, timeout_s: float = START_TIMEOUT_S) -> "Server":
        """Launches the process and waits until it serves (health SERVING)."""
        self.spawn(*extra_args)
        try:
            self._wait_port(timeout_s)
            self._connect()
            self._wait_serving(timeout_s)
        except BaseException:
            if self.proc is not None and self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self._disconnect()
            self.proc = None
            raise
        return self

    def spawn(self, *extra_args: str) -> "Server":
        """Launches the process without waiting for it (e.g. to kill it during start-up)."""
        assert self.proc is None, f"{self.name} already running"
        if not self.binary.exists():
            raise FileNotFoundError(
                f"binary {self.binary} not found: build first (scripts/build.sh)")
        if self.port_file.exists():
            self.port_file.unlink()
        args = [str(self.binary), "--data-dir", str(self.data_dir), "--listen", "127.0.0.1:0",
                "--port-file", str(self.port_file)]
        if os.environ.get("CRM_TEST_LOG_LEVEL"):
            args += ["--log-level", os.environ["CRM_TEST_LOG_LEVEL"]]
        if self.tls:
            args += suite_tls_args()
        if self.auth:
            args += suite_auth()[0]
        args += self.base_args + list(extra_args)
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(f"\n===== start #{self.starts}: {' '.join(args)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, cwd=self.workdir)
        return self

    def _wait_port(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            rc = self.proc.poll()
            if rc is not None:
                raise RuntimeError(
                    f"{self.name} exited with {rc} before serving; see {self.log_path}")
            try:
                text = self.port_file.read_text().strip()
                if text.isdigit() and int(text) > 0:
                    self.port = int(text)
                    if self.tls:
                        _tls_addresses.add(self.address)
                    else:
                        _tls_addresses.discard(self.address)
                    return
            except FileNotFoundError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"no port in {self.port_file} after {timeout_s}s")
            time.sleep(0.02)

    def _connect(self) -> None:
        options = [
            ("grpc.max_send_message_length", 8 << 20),
            ("grpc.max_receive_message_length", 64 << 20),
            ("grpc.enable_retries", 0),
        ]
        raw = raw_channel(self, options=options)
        self._raw_channel = raw
        interceptors = [_DefaultTimeout(RPC_TIMEOUT_S)]
        if self.auth:
            interceptors.append(_BearerToken(suite_auth()[1]))
        self.channel = grpc.intercept_channel(raw, *interceptors)
        self.command = sgrpc.CustomerCommandServiceStub(self.channel)
        self.query = sgrpc.CustomerQueryServiceStub(self.channel)
        self.health = health_pb2_grpc.HealthStub(self.channel)

    def _disconnect(self) -> None:
        if getattr(self, "_raw_channel", None) is not None and self.channel is not None:
            self._raw_channel.close()
        self.channel = self.command = self.query = self.health = None

    def _wait_serving(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        last = None
        while True:
            rc = self.proc.poll()
            if rc is not None:
                raise RuntimeError(
                    f"{self.name} exited with {rc} before serving; see {self.log_path}")
            try:
                answer = self.health.Check(health_pb2.HealthCheckRequest(service=""), timeout=1.0)
                if answer.status == health_pb2.HealthCheckResponse.SERVING:
                    return
                last = answer.status
            except grpc.RpcError as err:
                last = err.code()
            if time.monotonic() > deadline:
                raise TimeoutError(f"health not SERVING after {timeout_s}s (last: {last})")
            time.sleep(0.02)

    @property
    def channel_credentials(self) -> grpc.ChannelCredentials | None:
        """What a client connects with: the test's own credentials, the suite's TLS, or None
        (plaintext)."""
        if self.credentials is not None:
            return self.credentials
        return suite_credentials() if self.tls else None

    @property
    def query_channel(self):
        """The channel of the query services (the same process here; crm-projector on Kafka)."""
        return self.channel

    def metrics_port(self) -> int:
        """The port of /metrics, as the process logged it (started with --metrics-listen)."""
        ports = re.findall(r"serving metrics on port (\d+)", self.log_path.read_text())
        assert ports, f"{self.name} serves no metrics (no --metrics-listen?)"
        return int(ports[-1])

    def metrics(self) -> "Metrics":
        """The process's /metrics, parsed."""
        import urllib.request  # pylint: disable=import-outside-toplevel
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port()}/metrics",
                                    timeout=10) as answer:
            assert answer.status == 200
            return Metrics(answer.read().decode())

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def signal_term(self) -> None:
        """Sends SIGTERM without waiting."""
        self.proc.send_signal(signal.SIGTERM)

    def wait_exit(self, timeout_s: float = STOP_TIMEOUT_S) -> int:
        try:
            rc = self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
            self._disconnect()
            raise AssertionError(f"{self.name} did not exit within {timeout_s}s of SIGTERM")
        self.proc = None
        self._disconnect()
        self.last_exit_code = rc
        return rc

    def stop(self, timeout_s: float = STOP_TIMEOUT_S, check: bool = True) -> int:
        """SIGTERM, wait for the exit; asserts exit code 0 when `check`."""
        assert self.proc is not None, f"{self.name} not running"
        self.signal_term()
        rc = self.wait_exit(timeout_s)
        if check:
            assert rc == 0, f"{self.name} exited with {rc} after SIGTERM (expected 0)"
        return rc

    def kill(self) -> None:
        """kill -9, wait for the process to be gone."""
        assert self.proc is not None, f"{self.name} not running"
        self.proc.kill()
        self.proc.wait()
        self.last_exit_code = self.proc.returncode
        self.proc = None
        self._disconnect()

    def restart(self, *extra_args: str) -> "Server":
        if self.running:
            self.stop()
        return self.start(*extra_args)

    def log_tail(self, max_chars: int = 30000) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no server log)"
        return text if len(text) <= max_chars else "...\n" + text[-max_chars:]


# ---------------------------------------------------------------------------------------------
# The same services on Kafka, as separate processes.


class Cluster:
    """crm-command and crm-projector as two processes on one Kafka topic: what a Server is on the
    embedded engine, with the same interface for tests.

    `command` is crm-command's stub, `query` crm-projector's, `channel` and `health` crm-command's.
    start() starts whichever of the two is not running (crm-command first: it creates the topic),
    stop() / kill() / restart() act on both; `commander` and `projector` (each a Server) act on
    one. A "--rebuild" given to start() or restart() goes to crm-projector only.
    Each process has its own data dir. The topic is "<topic_prefix>.customer.events.v1".

    crm-command creates the topic (with its default of 6 partitions) when it first starts. With
    `provision_partitions` the test creates it beforehand with that many partitions
    (confluent-kafka Admin API) and waits until every partition has a leader, as when operators
    provision topics.
    """

    engine = "kafka"

    def __init__(self, workdir: Path, brokers: str, topic_prefix: str,
                 extra_args: Sequence[str] = (), provision_partitions: int = 0,
                 command_args: Sequence[str] = ()):
        """`extra_args` go to both processes, `command_args` to crm-command only."""
        self.workdir = Path(workdir)
        self.brokers = brokers
        self.topic_prefix = topic_prefix
        self.topic = f"{topic_prefix}.customer.events.v1"
        self.audit_topic = f"{topic_prefix}.audit.v1"  # the audit of reads
        if provision_partitions:
            import kafkatest  # pylint: disable=import-outside-toplevel
            kafkatest.create_topic(brokers, self.topic, provision_partitions)
        self.kafka_args = ["--engine", "kafka", "--kafka-brokers", brokers,
                           "--kafka-topic-prefix", topic_prefix] + list(extra_args)
        self.commander = Server(self.workdir / "command", binary=COMMAND_BIN,
                                base_args=self.kafka_args + list(command_args))
        self.projector = Server(self.workdir / "projector", binary=PROJECTOR_BIN,
                                base_args=self.kafka_args)
        self.extra_projectors: list[Server] = []
        self.last_exit_code: int | None = None

    @property
    def servers(self) -> list[Server]:
        """Every process of the cluster (for logs and clean-up)."""
        return [self.commander, self.projector] + self.extra_projectors

    # -- what tests use of a Server ---------------------------------------------------------

    @property
    def command(self):
        return self.commander.command

    @property
    def query(self):
        return self.projector.query

    @property
    def channel(self):
        return self.commander.channel

    @property
    def health(self):
        return self.commander.health

    @property
    def query_channel(self):
        return self.projector.channel

    @property
    def running(self) -> bool:
        return self.commander.running and self.projector.running

    def start(self, *extra_args: str, timeout_s: float = START_TIMEOUT_S) -> "Cluster":
        if not self.commander.running:
            self.commander.start(*[a for a in extra_args if a != "--rebuild"],
                                 timeout_s=timeout_s)
        if not self.projector.running:
            self.projector.start(*extra_args, timeout_s=timeout_s)
        return self

    def stop(self, timeout_s: float = STOP_TIMEOUT_S, check: bool = True) -> int:
        """SIGTERMs every running process (projectors first); asserts each exits 0 when `check`."""
        rcs = [s.stop(timeout_s, check) for s in reversed(self.servers) if s.running]
        self.last_exit_code = next((rc for rc in rcs if rc != 0), 0)
        return self.last_exit_code

    def kill(self) -> None:
        """kill -9 of every running process."""
        for s in self.servers:
            if s.running:
                s.kill()

    def restart(self, *extra_args: str) -> "Cluster":
        self.stop()
        return self.start(*extra_args)

    def signal_term(self) -> None:
        for s in self.servers:
            if s.running:
                s.signal_term()

    def wait_exit(self, timeout_s: float = STOP_TIMEOUT_S) -> int:
        rcs = [s.wait_exit(timeout_s) for s in self.servers if s.proc is not None]
        self.last_exit_code = next((rc for rc in rcs if rc != 0), 0)
        return self.last_exit_code

    def log_tail(self, max_chars: int = 30000) -> str:
        return "\n".join(f"----- {s.name} {s.log_path}\n{s.log_tail(max_chars // 2)}"
                         for s in self.servers)

    # -- Kafka only -------------------------------------------------------------------------

    def new_projector(self, name: str, *extra_args: str) -> Server:
        """Starts another crm-projector on the topic with a new, empty data dir (a fresh fold)."""
        p = Server(self.workdir / name, binary=PROJECTOR_BIN, base_args=self.kafka_args)
        self.extra_projectors.append(p)
        return p.start(*extra_args)

    def end_token(self) -> str:
        """A consistency token covering every record in the topic now (read with a Kafka client)."""
        import kafkatest  # pylint: disable=import-outside-toplevel
        return kafkatest.end_token(self.brokers, self.topic)


def command_stub(server, stub_class):
    """A stub of a command service (crm.v1.*CommandService, OrgService commands) on `server`."""
    return stub_class(server.channel)


def query_stub(server, stub_class):
    """A stub of a query service on `server` (crm-projector's on Kafka)."""
    return stub_class(server.query_channel)


def topic_prefix_for(name: str) -> str:
    """A topic prefix of its own for a test (Kafka topic names: [a-zA-Z0-9._-], up to 249)."""
    slug = re.sub(r"[^a-zA-Z0-9-]+", "-", name).strip("-")[:60]
    return f"ct-{slug}-{uuid.uuid4().hex[:8]}"


def merge_tokens(*tokens: str) -> str:
    """One consistency token that waits for all of `tokens` (per partition, the highest offset).

    Tests only: clients treat tokens as opaque. On the embedded log (one partition) a later
    command's token covers every earlier one; on Kafka a token names only the partitions of its
    customer, so waiting for many commands at once needs this. The encoding is the one of
    common/eventlog/consistency_token.h: base64url without padding of "p:o;p:o...".
    """
    merged: dict[int, int] = {}
    for token in tokens:
        if not token:
            continue
        plain = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        for entry in plain.split(";"):
            p, o = (int(x) for x in entry.split(":"))
            merged[p] = max(merged.get(p, -1), o)
    return encode_token(merged)


def encode_token(positions: dict[int, int]) -> str:
    plain = ";".join(f"{p}:{o}" for p, o in sorted(positions.items()))
    return base64.urlsafe_b64encode(plain.encode()).decode().rstrip("=")


def covering_token(server, *tokens: str) -> str:
    """A token covering `tokens` and, on Kafka, every record in the topic now.

    On the embedded log only the tokens count: pass the token of a command made after all the
    writes to cover.
    """
    if hasattr(server, "end_token"):
        tokens = tokens + (server.end_token(),)
    return merge_tokens(*tokens)


class KafkaServer(Server):
    """crm-server --engine kafka: the whole thing in one process on a Kafka topic."""

    engine = "kafka-server"

    def __init__(self, workdir: Path, brokers: str, topic_prefix: str,
                 extra_args: Sequence[str] = (), provision_partitions: int = 0):
        self.brokers = brokers
        self.topic_prefix = topic_prefix
        self.topic = f"{topic_prefix}.customer.events.v1"
        self.audit_topic = f"{topic_prefix}.audit.v1"  # the audit of reads
        if provision_partitions:  # as in Cluster
            import kafkatest  # pylint: disable=import-outside-toplevel
            kafkatest.create_topic(brokers, self.topic, provision_partitions)
        super().__init__(workdir, base_args=["--engine", "kafka", "--kafka-brokers", brokers,
                                             "--kafka-topic-prefix", topic_prefix,
                                             *extra_args])

    def end_token(self) -> str:
        import kafkatest  # pylint: disable=import-outside-toplevel
        return kafkatest.end_token(self.brokers, self.topic)


# ---------------------------------------------------------------------------------------------
# Request builders and read helpers.


class Metrics:
    """Samples of a Prometheus text exposition: value(name, **labels) sums the samples of
    `name` whose labels include `labels`."""

    _LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
    _LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')

    def __init__(self, text: str):
        self.text = text
        self.samples: list[tuple[str, dict, float]] = []
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            m = self._LINE.match(line)
            assert m, f"not an exposition line: {line!r}"
            labels = dict(self._LABEL.findall(m.group(2) or ""))
            self.samples.append((m.group(1), labels, float(m.group(3))))

    def value(self, name: str, **labels) -> float:
        return sum(v for n, ls, v in self.samples
                   if n == name and all(ls.get(k) == str(x) for k, x in labels.items()))

    def series(self, name: str) -> list[tuple[dict, float]]:
        return [(ls, v) for n, ls, v in self.samples if n == name]


def new_request_id() -> str:
    return str(uuid.uuid4())


def customer_id_of(name: str) -> str:
    assert name.startswith("customers/"), name
    return name[len("customers/"):]


def make_customer(display_name: str = "Ada Lovelace", kind: int = cpb.PERSON,
                  emails: Sequence[str] = (), phones: Sequence[str] = (), **fields) -> cpb.Customer:
    return cpb.Customer(display_name=display_name, kind=kind, emails=list(emails),
                        phones=list(phones), **fields)


def register(server: Server, customer_id: str = "", request_id: str | None = None,
             **customer_fields) -> spb.CustomerCommandResponse:
    req = spb.RegisterCustomerRequest(
        customer_id=customer_id, customer=make_customer(**customer_fields),
        request_id=new_request_id() if request_id is None else request_id)
    return server.command.RegisterCustomer(req)


class Session:
    """Commands against one server that remember what they wrote: `token` covers every answer
    passed to write(), so reads with covering() see all of them (read-your-writes)."""

    def __init__(self, server):
        self.server = server
        self.token = ""

    def write(self, resp):
        self.token = merge_tokens(self.token, resp.consistency_token)
        return resp

    @property
    def cmd(self):
        return self.server.command

    def covering(self) -> str:
        return covering_token(self.server, self.token)

    def get(self, name: str) -> cpb.Customer:
        return self.server.query.GetCustomer(spb.GetCustomerRequest(
            name=name, consistency_token=self.covering()))


def list_all(server: Server, page_size: int = 500, consistency_token: str = "",
             **filters) -> list[cpb.Customer]:
    """Every customer matching the filters, following the pages; asserts no name repeats."""
    out: list[cpb.Customer] = []
    token = ""
    pages = 0
    while True:
        resp = server.query.ListCustomers(spb.ListCustomersRequest(
            page_size=page_size, page_token=token, consistency_token=consistency_token,
            **filters))
        out.extend(resp.customers)
        pages += 1
        assert len(resp.customers) <= max(page_size, 1) or page_size == 0
        token = resp.next_page_token
        if not token:
            break
        assert pages < 100000, "page tokens never end"
    names = [c.name for c in out]
    assert len(names) == len(set(names)), "a customer appeared on two pages"
    return out


def history(server: Server, name: str, consistency_token: str = "", page_size: int = 1000):
    """All events of one customer, oldest first."""
    out = []
    token = ""
    while True:
        resp = server.query.GetCustomerHistory(spb.GetCustomerHistoryRequest(
            name=name, page_size=page_size, page_token=token,
            consistency_token=consistency_token))
        out.extend(resp.events)
        token = resp.next_page_token
        if not token:
            return out


def snapshot(server: Server, consistency_token: str = "") -> dict:
    """Everything the queries show: each customer and its history, keyed by name."""
    snap = {}
    for c in list_all(server, consistency_token=consistency_token):
        events = history(server, c.name, consistency_token=consistency_token)
        snap[c.name] = (c.SerializeToString(deterministic=True),
                        [e.SerializeToString(deterministic=True) for e in events])
    return snap


def describe_snapshot_diff(a: dict, b: dict, limit: int = 5) -> str:
    lines = []
    only_a = sorted(set(a) - set(b))
    only_b = sorted(set(b) - set(a))
    if only_a:
        lines.append(f"only before: {only_a[:limit]} ({len(only_a)})")
    if only_b:
        lines.append(f"only after: {only_b[:limit]} ({len(only_b)})")
    differing = [k for k in sorted(set(a) & set(b)) if a[k] != b[k]]
    for k in differing[:limit]:
        ca, cb = cpb.Customer.FromString(a[k][0]), cpb.Customer.FromString(b[k][0])
        if ca != cb:
            lines.append(f"{k}: customer differs:\n--- before\n{ca}--- after\n{cb}")
        else:
            lines.append(f"{k}: history differs ({len(a[k][1])} vs {len(b[k][1])} events)")
    if differing:
        lines.append(f"{len(differing)} customers differ")
    return "\n".join(lines)


def purchase(amount_minor: int, currency_code: str = "CNY", product: str = "widget",
             purchase_id: str = "") -> cpb.Purchase:
    """A purchase made now."""
    p = cpb.Purchase(amount=cpb.Money(currency_code=currency_code, amount_minor=amount_minor),
                     product=product, purchase_id=purchase_id)
    p.purchased_at.GetCurrentTime()
    return p


def damage_largest_table(store_dir: Path) -> Path:
    """Flips one byte a third into the largest table file of the (stopped) RocksDB store in
    `store_dir`, as bit rot would; returns that file."""
    tables = sorted(Path(store_dir).glob("*.sst"), key=lambda p: p.stat().st_size)
    assert tables, f"no table file in {store_dir}"
    table = tables[-1]
    offset = table.stat().st_size // 3
    with open(table, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0xFF]))
    return table


class MergeRace:
    """A merge racing tags on both of its customers: one thread per (tag, customer, label) tags
    the customer `count` times ("<label>-<i>") while `merge()` runs. Each tag is accepted or, on
    the merged customer once merged, refused FAILED_PRECONDITION CUSTOMER_MERGED (anything else
    fails the test). After run(): `answer` (the merge's), `accepted` [(customer, tag)], `refused`
    [tag] and `tokens` (of every answer)."""

    def __init__(self, merge: Callable, taggers: list[tuple[Callable, str, str]],
                 count: int = 20):
        self.merge, self.taggers, self.count = merge, taggers, count
        self.answer = None
        self.accepted: list[tuple[str, str]] = []
        self.refused: list[str] = []
        self.tokens: list[str] = []
        self.errors: list[BaseException] = []
        self._lock = threading.Lock()

    def _hammer(self, start: threading.Barrier, tag: Callable, name: str, label: str) -> None:
        start.wait()
        for i in range(self.count):
            value = f"{label}-{i}"
            try:
                token = tag(name, value).consistency_token
                with self._lock:
                    self.accepted.append((name, value))
                    self.tokens.append(token)
            except grpc.RpcError as err:
                with self._lock:
                    if err.code() == grpc.StatusCode.FAILED_PRECONDITION and \
                            error_details(err).error_info.reason == "CUSTOMER_MERGED":
                        self.refused.append(value)
                    else:
                        self.errors.append(err)

    def run(self) -> "MergeRace":
        start = threading.Barrier(len(self.taggers) + 1)
        threads = [threading.Thread(target=self._hammer, args=(start, *t)) for t in self.taggers]
        for t in threads:
            t.start()
        start.wait()
        self.answer = self.merge()
        for t in threads:
            t.join()
        assert not self.errors, self.errors[0]
        self.tokens.append(self.answer.consistency_token)
        return self

    def assert_merged_tags_split(self, merged: str, label: str) -> set[str]:
        """The merged customer's tags: those accepted (before the merge) and those refused
        (after) are disjoint and together every one sent. Returns the accepted ones."""
        moved = {tag for name, tag in self.accepted if name == merged}
        assert moved | set(self.refused) == {f"{label}-{i}" for i in range(self.count)}
        assert moved.isdisjoint(self.refused)
        return moved


def crmctl(*args: str) -> subprocess.CompletedProcess:
    """Runs crmctl (offline tools; the server must be stopped) and returns its result."""
    return subprocess.run([str(CRMCTL_BIN), *args], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=120, check=False)


def wait_for(what: str, probe: Callable, timeout_s: float = 60.0, interval_s: float = 0.05):
    """Polls `probe` until it returns a truthy value, which is returned; fails after timeout_s.
    For conditions driven by the server's own clock (e.g. complaint deadlines), not for ordering
    our own writes (use consistency tokens for those)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(interval_s)
