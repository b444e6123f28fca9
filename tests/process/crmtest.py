"""Helpers of the process-level tests: the crm-server process, its gRPC stubs, error details.

The tests drive the real binary (build/apps/crm_server/crm-server) from outside, over gRPC, as a
client would. Python stubs are generated from proto/ into <build>/py by scripts/test.sh (or, when
missing or stale, by ensure_stubs() below), and that folder is put on sys.path.

Env: CRM_BUILD_DIR (default build, relative to the repo root), CRM_SERVER_BIN (default
<build>/apps/crm_server/crm-server), CRM_TEST_LOG_LEVEL (passed as --log-level when set).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
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


# ---------------------------------------------------------------------------------------------
# The server process.


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

    Not thread-safe itself; its stubs are (grpc channels may be shared by threads).
    """

    def __init__(self, workdir: Path, data_dir: Path | None = None):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.data_dir = Path(data_dir) if data_dir else self.workdir / "data"
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
        assert self.proc is None, "server already running"
        if not SERVER_BIN.exists():
            raise FileNotFoundError(
                f"server binary {SERVER_BIN} not found: build first (scripts/build.sh)")
        if self.port_file.exists():
            self.port_file.unlink()
        args = [str(SERVER_BIN), "--data-dir", str(self.data_dir), "--listen", "127.0.0.1:0",
                "--port-file", str(self.port_file)]
        if os.environ.get("CRM_TEST_LOG_LEVEL"):
            args += ["--log-level", os.environ["CRM_TEST_LOG_LEVEL"]]
        args += list(extra_args)
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(f"\n===== start #{self.starts}: {' '.join(args)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, cwd=self.workdir)
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

    def _wait_port(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            rc = self.proc.poll()
            if rc is not None:
                raise RuntimeError(f"crm-server exited with {rc} before serving; see {self.log_path}")
            try:
                text = self.port_file.read_text().strip()
                if text.isdigit() and int(text) > 0:
                    self.port = int(text)
                    return
            except FileNotFoundError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"no port in {self.port_file} after {timeout_s}s")
            time.sleep(0.02)

    def _connect(self) -> None:
        raw = grpc.insecure_channel(self.address, options=[
            ("grpc.max_send_message_length", 8 << 20),
            ("grpc.max_receive_message_length", 64 << 20),
            ("grpc.enable_retries", 0),
        ])
        self._raw_channel = raw
        self.channel = grpc.intercept_channel(raw, _DefaultTimeout(RPC_TIMEOUT_S))
        self.command = sgrpc.CustomerCommandServiceStub(self.channel)
        self.query = sgrpc.CustomerQueryServiceStub(self.channel)
        self.health = health_pb2_grpc.HealthStub(self.channel)

    def _disconnect(self) -> None:
        if self.channel is not None:
            self._raw_channel.close()
        self.channel = self.command = self.query = self.health = None

    def _wait_serving(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        last = None
        while True:
            rc = self.proc.poll()
            if rc is not None:
                raise RuntimeError(f"crm-server exited with {rc} before serving; see {self.log_path}")
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
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

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
            raise AssertionError(f"crm-server did not exit within {timeout_s}s of SIGTERM")
        self.proc = None
        self._disconnect()
        self.last_exit_code = rc
        return rc

    def stop(self, timeout_s: float = STOP_TIMEOUT_S, check: bool = True) -> int:
        """SIGTERM, wait for the exit; asserts exit code 0 when `check`."""
        assert self.proc is not None, "server not running"
        self.signal_term()
        rc = self.wait_exit(timeout_s)
        if check:
            assert rc == 0, f"crm-server exited with {rc} after SIGTERM (expected 0)"
        return rc

    def kill(self) -> None:
        """kill -9, wait for the process to be gone."""
        assert self.proc is not None, "server not running"
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
# Request builders and read helpers.


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
