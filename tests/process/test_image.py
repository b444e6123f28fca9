"""The container image, built and run for real: podman, not a Docker engine (docs/image.md).

scripts/image.sh builds the Dockerfile (quick when nothing changed: podman's layer cache, and the
compiles hit the host's ccache), then this test runs crm-server in the image on the host network,
on a free port, with a named data volume, as an operator would:
  - a customer registered over gRPC and read back;
  - the image's health client: grpc-health-probe inside the container, and the image's
    HEALTHCHECK (podman healthcheck run);
  - `podman stop` (SIGTERM) ends it with exit code 0, and everything it logged is JSON lines;
  - crmctl in the image verifies the stopped server's volume;
  - a second container on the same volume still has the customer.
It prints the image's size (no threshold).

Skipped without podman, except under CI=true, where it fails: the test command installs podman
(scripts/install-deps.sh). Env: CRM_IMAGE (default crm:dev); CRM_IMAGE_BUILT=1 skips the build
(scripts/image.sh --test has just built it).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import uuid

import pytest

import crmtest
import kafkatest
from crmtest import grpc, sgrpc, spb
from grpc_health.v1 import health_pb2, health_pb2_grpc

IMAGE = os.environ.get("CRM_IMAGE", "crm:dev")
IMAGE_SH = crmtest.ROOT / "scripts" / "image.sh"
# A cold build (no layers, empty ccache) took 13 minutes on two cores; after scripts/build.sh,
# whose objects are ccache hits, and with podman's layer cache, seconds to a few minutes.
BUILD_TIMEOUT_S = 3600
PODMAN_TIMEOUT_S = 120


def podman(*args: str, timeout_s: float = PODMAN_TIMEOUT_S) -> subprocess.CompletedProcess:
    """podman with this machine's global options (scripts/image.sh podman ...); never raises on
    a non-zero exit."""
    return subprocess.run([str(IMAGE_SH), "podman", *args], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout_s, check=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def report(config, line: str) -> None:
    """A line on the terminal even when pytest captures output (-q in scripts/test.sh)."""
    capture = config.pluginmanager.get_plugin("capturemanager")
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if capture is None or reporter is None:
        print(line)
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line(line)


@pytest.fixture(scope="module")
def image(pytestconfig) -> str:
    """The image, built by scripts/image.sh unless CRM_IMAGE_BUILT=1; its build log goes to
    <build>/test-logs/image-build.log."""
    if shutil.which("podman") is None:
        message = "no podman (scripts/install-deps.sh installs it)"
        if kafkatest.in_ci():
            pytest.fail(message + " [CI=true: the image test must run]", pytrace=False)
        pytest.skip(message)
    if os.environ.get("CRM_IMAGE_BUILT") != "1":
        log_path = crmtest.BUILD_DIR / "test-logs" / "image-build.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        start = time.monotonic()
        with open(log_path, "w", encoding="utf-8") as log:
            proc = subprocess.run([str(IMAGE_SH), "build"], stdin=subprocess.DEVNULL, stdout=log,
                                  stderr=subprocess.STDOUT, env={**os.environ, "CRM_IMAGE": IMAGE},
                                  timeout=BUILD_TIMEOUT_S, check=False)
        if proc.returncode != 0:
            text = log_path.read_text(errors="replace")
            pytest.fail(f"scripts/image.sh failed ({proc.returncode}), log {log_path}:\n"
                        f"{text[-20000:]}", pytrace=False)
        report(pytestconfig, f"\nimage {IMAGE} built in {time.monotonic() - start:.0f} s "
                             f"(log {log_path})")
    size = podman("image", "inspect", "--format", "{{.Size}}", IMAGE)
    assert size.returncode == 0, f"no image {IMAGE}: {size.stderr}"
    report(pytestconfig, f"image {IMAGE}: {int(size.stdout.strip()) / 1e6:.1f} MB")
    return IMAGE


@pytest.fixture
def volume():
    name = f"crm-test-{uuid.uuid4().hex[:12]}"
    created = podman("volume", "create", name)
    assert created.returncode == 0, created.stderr
    yield name
    podman("volume", "rm", "--force", name)


class Container:
    """One crm-server container of the image on the host network, listening on 127.0.0.1:port,
    with `volume` at /var/lib/crm."""

    def __init__(self, image: str, volume: str, port: int):
        self.image = image
        self.volume = volume
        self.port = port
        self.name = f"crm-test-{uuid.uuid4().hex[:12]}"
        self.channel: grpc.Channel | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def state(self, field: str) -> str:
        out = podman("inspect", "--format", "{{.State." + field + "}}", self.name)
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()

    def logs(self) -> str:
        out = podman("logs", self.name)
        return out.stdout + out.stderr

    def start(self) -> "Container":
        """Runs it detached and waits until health says SERVING."""
        proc = subprocess.run(
            [str(IMAGE_SH), "run", "--detach", "--name", self.name,
             "--env", f"CRM_LISTEN={self.address}", "--volume", f"{self.volume}:/var/lib/crm",
             self.image],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=PODMAN_TIMEOUT_S,
            check=False)
        assert proc.returncode == 0, f"podman run failed: {proc.stderr}"
        self.channel = grpc.insecure_channel(self.address)
        health = health_pb2_grpc.HealthStub(self.channel)
        deadline = time.monotonic() + crmtest.START_TIMEOUT_S
        last = None
        while True:
            try:
                answer = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=1.0)
                if answer.status == health_pb2.HealthCheckResponse.SERVING:
                    return self
                last = answer.status
            except grpc.RpcError as err:
                last = err.code()
            if self.state("Running") != "true":
                pytest.fail(f"container exited with {self.state('ExitCode')} before serving:\n"
                            f"{self.logs()}", pytrace=False)
            if time.monotonic() > deadline:
                pytest.fail(f"health not SERVING after {crmtest.START_TIMEOUT_S} s (last: {last})"
                            f":\n{self.logs()}", pytrace=False)
            time.sleep(0.1)

    def stop(self) -> int:
        """podman stop: SIGTERM (the image's STOPSIGNAL), SIGKILL after 30 s. Returns the exit
        code."""
        if self.channel is not None:
            self.channel.close()
            self.channel = None
        out = podman("stop", "--time", "30", self.name)
        assert out.returncode == 0, out.stderr
        return int(self.state("ExitCode"))

    def remove(self) -> None:
        if self.channel is not None:
            self.channel.close()
        podman("rm", "--force", "--time", "0", self.name)


def test_image_serves_stops_cleanly_and_keeps_its_data(image, volume):
    port = free_port()
    containers = []

    def run() -> Container:
        c = Container(image, volume, port)
        containers.append(c)
        return c.start()

    try:
        first = run()
        command = sgrpc.CustomerCommandServiceStub(first.channel)
        query = sgrpc.CustomerQueryServiceStub(first.channel)
        registered = command.RegisterCustomer(spb.RegisterCustomerRequest(
            customer_id="image-001", request_id=crmtest.new_request_id(),
            customer=crmtest.make_customer(display_name="Image Test Ltd")),
            timeout=crmtest.RPC_TIMEOUT_S)
        got = query.GetCustomer(spb.GetCustomerRequest(
            name="customers/image-001", consistency_token=registered.consistency_token),
            timeout=crmtest.RPC_TIMEOUT_S)
        assert got.display_name == "Image Test Ltd"

        # The health client in the image, as a HEALTHCHECK or an exec probe would run it.
        for service in ("", "liveness"):
            probe = podman("exec", first.name, "grpc-health-probe", f"-addr={first.address}",
                           f"-service={service}")
            assert probe.returncode == 0, f"probe of {service!r}: {probe.stdout}{probe.stderr}"
            assert "SERVING" in probe.stdout + probe.stderr
        # The image's HEALTHCHECK (its port comes from CRM_LISTEN).
        check = podman("healthcheck", "run", first.name)
        assert check.returncode == 0, f"HEALTHCHECK: {check.stdout}{check.stderr}"

        rc = first.stop()
        logs = first.logs()
        assert rc == 0, f"exit code {rc} after podman stop (SIGTERM); log:\n{logs}"
        lines = [line for line in logs.splitlines() if line.strip()]
        assert lines, "the container logged nothing"
        for line in lines:
            try:
                assert isinstance(json.loads(line), dict), line
            except json.JSONDecodeError:
                pytest.fail(f"not a JSON line: {line!r}", pytrace=False)

        # The operator's offline tool in the image, on the stopped server's volume.
        verify = subprocess.run(
            [str(IMAGE_SH), "run", "--rm", "--volume", f"{volume}:/var/lib/crm",
             "--entrypoint", "crmctl", image, "verify", "--data-dir", "/var/lib/crm"],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=PODMAN_TIMEOUT_S,
            check=False)
        assert verify.returncode == 0, f"crmctl verify: {verify.stdout}{verify.stderr}"

        # A new container on the same volume: the data outlived the first one.
        second = run()
        query = sgrpc.CustomerQueryServiceStub(second.channel)
        got = query.GetCustomer(spb.GetCustomerRequest(name="customers/image-001"),
                                timeout=crmtest.RPC_TIMEOUT_S)
        assert got.display_name == "Image Test Ltd"
        rc = second.stop()
        assert rc == 0, f"exit code {rc} after podman stop; log:\n{second.logs()}"
    finally:
        for c in containers:
            c.remove()
