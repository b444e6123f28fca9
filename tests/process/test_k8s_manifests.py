"""The Kubernetes manifests (deploy/k8s) against the binaries, so that the two cannot drift.

Every overlay in deploy/k8s/overlays is rendered with kustomize (KUSTOMIZE, default
.cache/bin/kustomize, installed by scripts/install-deps.sh). Each container of each workload is
resolved to the binary it runs (its `command`, else the image's entrypoint crm-server) and the
environment it gets: its envFrom ConfigMaps and env entries, from the same rendering, with the
pod-index label of the downward API taken as 0 (the first replica). scripts/check-k8s.sh checks
the same renderings against the Kubernetes schemas and checkov.

What is checked, and the limits:
  - names: every CRM_* variable is one the binary lists in its --help as "(Env:CRM_...)", and
    every --flag in command/args is one of its options. CLI11 ignores variables it does not know,
    so a misspelt or removed one would otherwise be dropped silently. Variables without the
    CRM_ prefix are not checked.
  - values, as CLI11 parses them: the binary runs with exactly that environment (nothing else
    CRM_*) and --help. CLI11 converts and checks every value (type, range, choice) before it
    prints the help, so a bad one exits non-zero. Values the program checks only after parsing
    (log level, SLA policy and scan interval, the replica layout) are left to the next check.
  - values, by starting: the binary starts with that environment and must serve (health
    SERVING), then exit 0 on SIGTERM. Flags (which win over variables) replace only what points
    at the cluster: --data-dir (a temporary one), --listen 127.0.0.1:0 and --port-file, and on
    Kafka --kafka-brokers (the test broker), --kafka-topic-prefix (a topic of the test's own) and
    --kafka-replication-factor 1 (there is one test broker). Kafka containers need the broker at
    CRM_KAFKA_BROKERS (skipped without, failed when CI=true). The peers' names (CRM_PEERS) are
    not resolved: a replica dials a peer only to forward a command, and none is sent.
  - layout (no binary): crm-command's CRM_PEERS names its StatefulSet's pods in ordinal order
    under the governing headless Service, one per replica, and CRM_KAFKA_WRITERS is at least
    the replica count; the replica index comes from the pod-index label; CRM_DATA_DIR is on a
    writable volume (the root filesystem is read-only); the gRPC port of CRM_LISTEN is the one
    the probes, the container port and the Services use; terminationGracePeriodSeconds covers
    the preStop pause, the drain (CRM_SHUTDOWN_GRACE_SECONDS) and 10 s to close; the metrics
    port of CRM_METRICS_LISTEN, when set, is the container port `metrics`; a PodMonitor, when
    the overlay has one, selects every workload's pods on a port they have and that serves
    metrics; the NetworkPolicies let the pods reach their brokers and peers; the image tag is
    the CMake project version; a Strimzi KafkaTopic is the topic the CRM would create, and a
    Strimzi Kafka is where CRM_KAFKA_BROKERS points.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

import crmtest
import kafkatest

ROOT = crmtest.ROOT
OVERLAYS_DIR = ROOT / "deploy" / "k8s" / "overlays"
KUSTOMIZE = Path(os.environ.get("KUSTOMIZE", ROOT / ".cache" / "bin" / "kustomize"))
OVERLAYS = sorted(p.name for p in OVERLAYS_DIR.iterdir() if (p / "kustomization.yaml").is_file())
IMAGE_ENTRYPOINT = "crm-server"  # the Dockerfile's ENTRYPOINT
DEFAULT_ENGINE = {"crm-server": "embedded", "crm-command": "kafka", "crm-projector": "kafka"}
POD_INDEX = "metadata.labels['apps.kubernetes.io/pod-index']"
# Seconds the process needs after the drain to close its stores and Kafka clients.
CLOSE_MARGIN_S = 10


def _binary_path(name: str) -> Path:
    # Looked up at call time: conftest may have replaced them with copies (use_binary_copies).
    return {"crm-server": crmtest.SERVER_BIN, "crm-command": crmtest.COMMAND_BIN,
            "crm-projector": crmtest.PROJECTOR_BIN}[name]


# ---------------------------------------------------------------------------------------------
# Rendering and resolving.


@functools.cache
def render(overlay: str) -> tuple[dict, ...]:
    if not KUSTOMIZE.exists():
        pytest.fail(f"{KUSTOMIZE} not found: run scripts/install-deps.sh", pytrace=False)
    out = subprocess.run([str(KUSTOMIZE), "build", str(OVERLAYS_DIR / overlay)],
                         capture_output=True, text=True, check=False)
    assert out.returncode == 0, f"kustomize build {overlay}: {out.stderr}"
    return tuple(d for d in yaml.safe_load_all(out.stdout) if d)


def _pod_spec(doc: dict) -> dict | None:
    spec = doc.get("spec", {})
    if doc["kind"] == "CronJob":
        spec = spec.get("jobTemplate", {}).get("spec", {})
    return spec.get("template", {}).get("spec")


@dataclass
class Container:
    overlay: str
    workload: dict        # the StatefulSet (or other pod-owning object)
    spec: dict            # the container
    binary: str           # crm-server, crm-command or crm-projector
    args: list[str]       # command[1:] + args
    env: dict[str, str]   # as the container sees it (CRM_* and others)

    @property
    def id(self) -> str:
        return f"{self.overlay}/{self.workload['metadata']['name']}/{self.spec['name']}"

    @property
    def engine(self) -> str:
        return self.env.get("CRM_ENGINE", DEFAULT_ENGINE[self.binary])

    @property
    def pod(self) -> dict:
        return _pod_spec(self.workload)


def _env_of(container: dict, docs: tuple[dict, ...], where: str) -> dict[str, str]:
    maps = {d["metadata"]["name"]: d.get("data", {}) for d in docs if d["kind"] == "ConfigMap"}
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):  # first; env entries win over them
        ref = source.get("configMapRef")
        assert ref is not None, f"{where}: envFrom {source}: only ConfigMaps are understood here"
        assert ref["name"] in maps, f"{where}: ConfigMap {ref['name']} is not in the overlay"
        env.update({source.get("prefix", "") + k: str(v) for k, v in maps[ref["name"]].items()})
    for entry in container.get("env", []):
        name, source = entry["name"], entry.get("valueFrom")
        if source is None:
            env[name] = str(entry.get("value", ""))
        elif "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            env[name] = str(maps[ref["name"]][ref["key"]])
        elif source.get("fieldRef", {}).get("fieldPath") == POD_INDEX:
            env[name] = "0"
        else:
            raise AssertionError(f"{where}: {name}: valueFrom {source} is not understood here")
    return env


@functools.cache
def containers(overlay: str) -> tuple[Container, ...]:
    docs = render(overlay)
    found = []
    for doc in docs:
        pod = _pod_spec(doc)
        if pod is None:
            continue
        for c in pod.get("initContainers", []) + pod.get("containers", []):
            where = f"{overlay}/{doc['metadata']['name']}/{c['name']}"
            command = list(c.get("command") or [IMAGE_ENTRYPOINT])
            binary = os.path.basename(command[0])
            assert binary in DEFAULT_ENGINE, f"{where}: runs {command[0]}, not a CRM binary"
            found.append(Container(overlay, doc, c, binary, command[1:] + list(c.get("args", [])),
                                   _env_of(c, docs, where)))
    assert found, f"overlay {overlay} has no container"
    return tuple(found)


@functools.cache
def help_of(binary: str) -> tuple[frozenset[str], frozenset[str]]:
    """The (CRM_* variables, --options) the binary's --help lists."""
    out = subprocess.run([str(_binary_path(binary)), "--help"], capture_output=True, text=True,
                         env=_clean_env({}), timeout=30, check=False)
    assert out.returncode == 0, f"{binary} --help exited {out.returncode}: {out.stderr}"
    envs = frozenset(re.findall(r"\(Env:(CRM_[A-Z0-9_]+)\)", out.stdout))
    options = frozenset(re.findall(r"^\s+(?:-\w,)?(--[a-z0-9][a-z0-9-]*)", out.stdout, re.M))
    assert envs and options, f"no (Env:...) or --option in {binary} --help:\n{out.stdout}"
    return envs, options


def _clean_env(env: dict[str, str]) -> dict[str, str]:
    """This process's environment without any CRM_* variable, plus `env`."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith("CRM_")}, **env}


def _flags(args: list[str]) -> list[str]:
    return [a.split("=", 1)[0] for a in args if a.startswith("--")]


def _port(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


# ---------------------------------------------------------------------------------------------
# The binaries accept what the manifests set.


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_binaries_know_every_variable_and_flag(overlay):
    problems = []
    for c in containers(overlay):
        envs, options = help_of(c.binary)
        problems += [f"{c.id}: {c.binary} has no variable {n}"
                     for n in sorted(c.env) if n.startswith("CRM_") and n not in envs]
        problems += [f"{c.id}: {c.binary} has no option {f}"
                     for f in _flags(c.args) if f not in options]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_binaries_parse_every_value(overlay):
    for c in containers(overlay):
        out = subprocess.run([str(_binary_path(c.binary)), *c.args, "--help"], capture_output=True,
                             text=True, env=_clean_env(c.env), timeout=30, check=False)
        assert out.returncode == 0, (
            f"{c.id}: {c.binary} refuses the manifest's configuration (exit {out.returncode}):\n"
            f"{out.stderr}\nenvironment: {c.env}\nargs: {c.args}")


def _start_cases():
    """(overlay, container index) of every container, Kafka ones marked `kafka`. Rendered at
    collection: a missing kustomize fails the collection with install-deps' name in it."""
    cases = []
    for overlay in OVERLAYS:
        for i, c in enumerate(containers(overlay)):
            marks = [pytest.mark.kafka] if c.engine == "kafka" else []
            cases.append(pytest.param(overlay, i, id=c.id, marks=marks))
    return cases


@pytest.mark.parametrize("overlay,index", _start_cases())
def test_binary_serves_with_the_manifest_configuration(overlay, index, tmp_path, monkeypatch,
                                                       request):
    c = containers(overlay)[index]
    overrides = ["--data-dir", str(tmp_path / "data"), "--listen", "127.0.0.1:0",
                 "--port-file", str(tmp_path / "server" / "port")]
    brokers = topic = None
    if c.engine == "kafka":
        brokers = request.getfixturevalue("kafka_brokers")  # skips or fails without a broker
        prefix = crmtest.topic_prefix_for(f"k8s-{c.id}")
        topic = f"{prefix}.customer.events.v1"
        overrides += ["--kafka-brokers", brokers, "--kafka-topic-prefix", prefix,
                      "--kafka-replication-factor", "1"]
    for name in [n for n in os.environ if n.startswith("CRM_")]:
        monkeypatch.delenv(name)
    for name, value in c.env.items():
        monkeypatch.setenv(name, value)
    # Server puts its own --data-dir/--listen/--port-file first; the manifest's args come after
    # them, so the overrides are repeated last (the last occurrence of a flag wins). The
    # manifest's own configuration, not the suite's TLS and authentication (CRM_TEST_SECURE).
    server = crmtest.Server(tmp_path / "server", data_dir=tmp_path / "data",
                            binary=_binary_path(c.binary), base_args=c.args + overrides,
                            tls=False, auth=False)
    try:
        try:
            server.start()
        except (RuntimeError, TimeoutError) as e:
            raise AssertionError(f"{c.id}: {e}\n{server.log_tail()}") from e
        assert server.stop(check=False) == 0, f"{c.id}: exit after SIGTERM\n{server.log_tail()}"
    finally:
        if server.running:
            server.kill()
        if topic is not None:
            kafkatest.delete_topics(brokers, [topic])


# ---------------------------------------------------------------------------------------------
# The layout holds together.


def _objects(overlay: str, kind: str) -> list[dict]:
    return [d for d in render(overlay) if d["kind"] == kind]


def _selects(selector: dict, labels: dict) -> bool:
    assert not selector.get("matchExpressions"), "matchExpressions are not understood here"
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def _egress_allows(overlay: str, pod_labels: dict, port: int, to_labels: dict | None) -> bool:
    """Whether the NetworkPolicies of the overlay let a pod with `pod_labels` connect to `port`
    (on a pod with `to_labels`, or anywhere outside the overlay's pods when None)."""
    policies = [p for p in _objects(overlay, "NetworkPolicy")
                if _selects(p["spec"]["podSelector"], pod_labels)
                and "Egress" in p["spec"].get("policyTypes", [])]
    if not policies:
        return True
    for p in policies:
        for rule in p["spec"].get("egress") or []:
            if rule.get("ports") and all(r.get("port") != port for r in rule["ports"]):
                continue
            peers = rule.get("to") or []
            if not peers:
                return True
            for peer in peers:
                if "ipBlock" in peer and to_labels is None:
                    return True
                if "podSelector" in peer and to_labels is not None and \
                        _selects(peer["podSelector"], to_labels):
                    return True
    return False


def _project_version() -> str:
    text = (ROOT / "CMakeLists.txt").read_text()
    return re.search(r"project\(\s*crm\s+VERSION\s+([0-9.]+)", text).group(1)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_layout_holds_together(overlay):
    problems = []
    services = {s["metadata"]["name"]: s for s in _objects(overlay, "Service")}
    for c in containers(overlay):
        w, pod, spec, env = c.workload, c.pod, c.spec, c.env
        name = w["metadata"]["name"]
        pod_labels = w["spec"]["template"]["metadata"]["labels"]

        # The image: pinned to this version.
        tag = spec["image"].rsplit(":", 1)[-1] if ":" in spec["image"].split("/")[-1] else ""
        if "@sha256:" not in spec["image"] and tag != _project_version():
            problems.append(f"{c.id}: image {spec['image']}, expected tag {_project_version()}")

        # The data directory on a writable volume.
        data_dir = env.get("CRM_DATA_DIR", "")
        writable = [m["mountPath"] for m in spec.get("volumeMounts", []) if not m.get("readOnly")]
        if not data_dir.startswith("/") or not any(
                data_dir == m or data_dir.startswith(m.rstrip("/") + "/") for m in writable):
            problems.append(f"{c.id}: CRM_DATA_DIR {data_dir!r} is not on a writable volume "
                            f"({writable}); the root filesystem is read-only")

        # One gRPC port everywhere.
        port = _port(env.get("CRM_LISTEN", "0.0.0.0:50051"))
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            got = spec.get(probe, {}).get("grpc", {}).get("port")
            if got != port:
                problems.append(f"{c.id}: {probe} grpc port {got}, CRM_LISTEN port {port}")
        named = {p.get("name"): p["containerPort"] for p in spec.get("ports", [])}
        if named.get("grpc") != port:
            problems.append(f"{c.id}: container port grpc {named.get('grpc')}, expected {port}")
        if "CRM_METRICS_LISTEN" in env and named.get("metrics") != _port(env["CRM_METRICS_LISTEN"]):
            problems.append(f"{c.id}: container port metrics {named.get('metrics')}, "
                            f"CRM_METRICS_LISTEN {env['CRM_METRICS_LISTEN']}")
        # Scraped (components/monitoring): a PodMonitor selects the pod, on a port it has, and
        # something listens there.
        monitors = _objects(overlay, "PodMonitor")
        scraping = [m for m in monitors if _selects(m["spec"]["selector"], pod_labels)]
        if monitors and not scraping:
            problems.append(f"{c.id}: no PodMonitor selects its pods ({pod_labels})")
        for m in scraping:
            for ep in m["spec"].get("podMetricsEndpoints", []):
                if ep.get("port") not in named:
                    problems.append(f"{c.id}: PodMonitor {m['metadata']['name']} scrapes port "
                                    f"{ep.get('port')!r}, the container has {sorted(named)}")
                elif "CRM_METRICS_LISTEN" not in env:
                    problems.append(f"{c.id}: scraped by PodMonitor {m['metadata']['name']} "
                                    "but CRM_METRICS_LISTEN is not set")
        for s in services.values():
            if _selects({"matchLabels": s["spec"].get("selector", {})}, pod_labels):
                for p in s["spec"]["ports"]:
                    if p.get("targetPort") not in ("grpc", port):
                        problems.append(f"{c.id}: Service {s['metadata']['name']} targets "
                                        f"{p.get('targetPort')}, not grpc")

        # Time to stop: preStop pause + drain + closing, before the kubelet kills.
        grace = pod.get("terminationGracePeriodSeconds", 30)
        pre_stop = spec.get("lifecycle", {}).get("preStop", {})
        pause = int(pre_stop.get("sleep", {}).get("seconds", 0))
        if pre_stop.get("exec"):
            cmd = pre_stop["exec"]["command"]
            assert cmd[0] == "sleep" and len(cmd) == 2, f"{c.id}: preStop {cmd} not understood"
            pause = int(cmd[1])
        drain = int(env.get("CRM_SHUTDOWN_GRACE_SECONDS", "20"))
        if grace < pause + drain + CLOSE_MARGIN_S:
            problems.append(f"{c.id}: terminationGracePeriodSeconds {grace} < preStop {pause} s "
                            f"+ drain {drain} s + {CLOSE_MARGIN_S} s to close")

        if c.engine == "kafka":
            for broker in env.get("CRM_KAFKA_BROKERS", "127.0.0.1:9092").split(","):
                if not _egress_allows(overlay, pod_labels, _port(broker), None):
                    problems.append(f"{c.id}: NetworkPolicy egress blocks broker {broker}")

        if c.binary == "crm-command":
            replicas = w["spec"].get("replicas", 1)
            peers = [p for p in env.get("CRM_PEERS", "").split(",") if p]
            headless = w["spec"].get("serviceName", "")
            expected = [f"{name}-{i}.{headless}:{port}" for i in range(replicas)]
            if replicas > 1 and peers != expected:
                problems.append(f"{c.id}: CRM_PEERS {peers}, expected {expected} "
                                f"({replicas} replicas under Service {headless})")
            svc = services.get(headless)
            if replicas > 1 and (svc is None or svc["spec"].get("clusterIP") != "None"):
                problems.append(f"{c.id}: no headless Service {headless}")
            partitions = int(env.get("CRM_KAFKA_PARTITIONS", "6"))
            writers = int(env.get("CRM_KAFKA_WRITERS", "1")) or partitions
            if writers < replicas:
                problems.append(f"{c.id}: CRM_KAFKA_WRITERS {writers} < {replicas} replicas")
            index = [e for e in spec.get("env", []) if e["name"] == "CRM_REPLICA_INDEX"]
            if replicas > 1 and (not index or index[0].get("valueFrom", {}).get(
                    "fieldRef", {}).get("fieldPath") != POD_INDEX):
                problems.append(f"{c.id}: CRM_REPLICA_INDEX does not come from {POD_INDEX}")
            if replicas > 1 and not _egress_allows(overlay, pod_labels, port, pod_labels):
                problems.append(f"{c.id}: NetworkPolicy egress blocks the peers on {port}")

    # Strimzi: the topics the CRM would create (events, audit of reads), the brokers.
    kafka_envs = [c.env for c in containers(overlay) if c.engine == "kafka"]
    topics = _objects(overlay, "KafkaTopic")
    for env in kafka_envs if topics else []:
        prefix = env.get("CRM_KAFKA_TOPIC_PREFIX", "crm")
        names = {f"{prefix}.customer.events.v1", f"{prefix}.audit.v1"}
        if {t["spec"].get("topicName") for t in topics} != names:
            problems.append(f"{overlay}: KafkaTopics {[t['spec'].get('topicName') for t in topics]}"
                            f", the CRM's topics {sorted(names)}")
        for topic in topics:
            want = {"partitions": int(env.get("CRM_KAFKA_PARTITIONS", "6")),
                    "replicas": int(env.get("CRM_KAFKA_REPLICATION_FACTOR", "1"))}
            got = {k: topic["spec"].get(k) for k in want}
            if got != want:
                problems.append(f"{overlay}: KafkaTopic {topic['spec'].get('topicName')} {got}, "
                                f"the CRM's configuration {want}")
    for kafka in _objects(overlay, "Kafka"):
        plain = [li["port"] for li in kafka["spec"]["kafka"]["listeners"] if not li.get("tls")]
        want = [f"{kafka['metadata']['name']}-kafka-bootstrap:{p}" for p in plain]
        for env in kafka_envs:
            if env.get("CRM_KAFKA_BROKERS") not in want:
                problems.append(f"{overlay}: CRM_KAFKA_BROKERS {env.get('CRM_KAFKA_BROKERS')}, "
                                f"Strimzi's bootstrap is {want}")
    assert not problems, "\n".join(problems)
