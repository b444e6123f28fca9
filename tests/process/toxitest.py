"""Network faults between the crm processes and a Kafka broker: toxiproxy on loopback.

A `ProxiedBroker` is a Kafka broker of the test's own (scripts/kafka/start.sh on a temp data dir
and free ports) with two client listeners:
  - PLAINTEXT (`direct`): the test's own reads of the topic and the broker's internal traffic;
  - PROXIED, whose advertised address is a toxiproxy proxy in front of it (`proxied`): the crm
    processes bootstrap there, and since the broker's metadata names the proxy, every connection
    they make to the broker goes through it. (A proxy in front of the ordinary listener would
    only carry the bootstrap: clients then connect to the advertised address, around the proxy.)
The proxy's toxics (latency, reset_peer, timeout, ...) are driven through toxiproxy's HTTP API.

toxiproxy-server comes from the Go module proxy into .cache/bin (scripts/install-deps.sh);
CRM_TOXIPROXY_SERVER names another binary. Not thread-safe: drive it from the test's thread.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import kafkatest
from crmtest import ROOT


def server_binary() -> Path:
    return Path(os.environ.get("CRM_TOXIPROXY_SERVER", ROOT / ".cache" / "bin" /
                               "toxiproxy-server"))


def missing_tools() -> str:
    """Why a ProxiedBroker cannot run here, or "" when it can."""
    if not os.access(server_binary(), os.X_OK):
        return f"no toxiproxy-server at {server_binary()} (scripts/install-deps.sh installs it)"
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "no java for a Kafka broker of the test's own"
    return ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Toxiproxy:
    """A toxiproxy-server process on 127.0.0.1 and its HTTP API."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.api = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(workdir) / "toxiproxy.log"
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [str(server_binary()), "-host", "127.0.0.1", "-port", str(self.port)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while True:
            try:
                self._call("GET", "/version")
                return
            except OSError:
                assert self.proc.poll() is None, f"toxiproxy-server exited: {self.log_tail()}"
                assert time.monotonic() < deadline, "toxiproxy-server does not answer"
                time.sleep(0.05)

    def _call(self, method: str, path: str, body: dict | None = None):
        req = urllib.request.Request(self.api + path, method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                text = resp.read()
        except urllib.error.HTTPError as e:
            raise AssertionError(f"toxiproxy {method} {path}: {e.code} {e.read()!r}") from e
        return json.loads(text) if text.strip() else None

    def create_proxy(self, name: str, listen: str, upstream: str) -> None:
        self._call("POST", "/proxies", {"name": name, "listen": listen, "upstream": upstream,
                                        "enabled": True})

    def set_enabled(self, proxy: str, enabled: bool) -> None:
        """Disabled: every connection through the proxy is closed and new ones are refused."""
        self._call("POST", f"/proxies/{proxy}", {"enabled": enabled})

    def add_toxic(self, proxy: str, name: str, kind: str, stream: str, **attributes) -> None:
        """stream: "upstream" (client to broker) or "downstream" (broker to client)."""
        self._call("POST", f"/proxies/{proxy}/toxics",
                   {"name": name, "type": kind, "stream": stream, "toxicity": 1.0,
                    "attributes": attributes})

    def toxics(self, proxy: str) -> list[str]:
        return [t["name"] for t in self._call("GET", f"/proxies/{proxy}/toxics")]

    def remove_toxic(self, proxy: str, name: str) -> None:
        self._call("DELETE", f"/proxies/{proxy}/toxics/{name}")

    def reset(self) -> None:
        """Every proxy enabled, every toxic removed."""
        self._call("POST", "/reset")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log_tail(self, max_chars: int = 10000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-max_chars:]
        except FileNotFoundError:
            return "(no toxiproxy log)"


class ProxiedBroker:
    """A Kafka broker of the test's own behind a toxiproxy proxy named `proxy` (see the module
    docstring). `direct` and `proxied` are bootstrap addresses; faults are toxics on `proxy`."""

    proxy = "kafka"

    def __init__(self, workdir: Path):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.toxiproxy = Toxiproxy(self.workdir)
        proxy_port, proxied_port = free_port(), free_port()
        self.proxied = f"127.0.0.1:{proxy_port}"
        self.env = {
            "KAFKA_DATA_DIR": str(self.workdir / "kafka"),
            "KAFKA_PORT": str(free_port()),
            "KAFKA_CONTROLLER_PORT": str(free_port()),
            "KAFKA_PROXIED_PORT": str(proxied_port),
            "KAFKA_PROXY_ADDRESS": self.proxied,
        }
        self.direct = ""
        try:
            self.toxiproxy.create_proxy(self.proxy, self.proxied, f"127.0.0.1:{proxied_port}")
            self.direct = kafkatest.start_broker(env=self.env, fresh=True)
            kafkatest.check_reachable(self.proxied)
        except BaseException:
            self.stop()
            raise

    def add_toxic(self, name: str, kind: str, stream: str = "downstream", **attributes) -> None:
        self.toxiproxy.add_toxic(self.proxy, name, kind, stream, **attributes)

    def remove_toxic(self, name: str) -> None:
        self.toxiproxy.remove_toxic(self.proxy, name)

    def set_enabled(self, enabled: bool) -> None:
        self.toxiproxy.set_enabled(self.proxy, enabled)

    def heal(self) -> None:
        """Removes every fault."""
        self.toxiproxy.reset()

    def stop(self) -> None:
        try:
            if self.direct:
                kafkatest.stop_broker(env=self.env)
        finally:
            self.toxiproxy.stop()

    def log_tail(self) -> str:
        return (f"----- toxiproxy\n{self.toxiproxy.log_tail()}\n----- broker\n"
                f"{kafkatest.broker_log_tail(8000, Path(self.env['KAFKA_DATA_DIR']))}")
