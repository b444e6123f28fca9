"""Fixtures of the process-level tests: crm processes on pytest temporary directories.

Engines. A test that uses `server`, `make_server` or `module_server` runs once per engine:
  - "embedded": one crm-server on its embedded log (a `crmtest.Server`);
  - "kafka": crm-command and crm-projector as separate processes on a topic of their own on the
    broker at CRM_KAFKA_BROKERS (a `crmtest.Cluster`, same interface for tests);
  - "kafka-server" (only where a test asks for it with the `engines` marker): crm-server
    --engine kafka, the whole thing in one process on a topic of its own (`crmtest.KafkaServer`).
The engine is a module-scoped parameter (test ids end in [embedded] / [kafka]); Kafka runs carry
the `kafka` marker, so `-m kafka` / `-m "not kafka"` select them. `@pytest.mark.engines("embedded")`
on a test or module limits it to the engines named.

Without CRM_KAFKA_BROKERS, Kafka tests are skipped, or fail when CI=true. A broker that is named
but does not answer fails them.

A test that fails gets the log (stdout and stderr of every start) of each process it used
attached to its report.

The run starts copies of the binaries taken when it begins (crmtest.use_binary_copies), so a
build relinking them meanwhile does not disturb it; CRM_TEST_COPY_BINARIES=0 turns that off.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

import crmtest  # also puts the generated stubs (<build>/py) on sys.path
import kafkatest

ENGINES = ("embedded", "kafka")


def pytest_configure(config):
    if os.environ.get("CRM_TEST_COPY_BINARIES", "1") != "0":
        # The whole run uses the binaries as they are now, whatever a build does meanwhile.
        config.crm_binaries_dir = Path(tempfile.mkdtemp(prefix="crm-test-bins-"))
        crmtest.use_binary_copies(config.crm_binaries_dir)
    config.addinivalue_line("markers", "kafka: runs on the Kafka broker at CRM_KAFKA_BROKERS")
    config.addinivalue_line(
        "markers", "engines(*names): the engines (embedded, kafka) a server test runs on")
    config.addinivalue_line(
        "markers", "broker_outage: stops the shared Kafka broker; runs after every other test")


def pytest_unconfigure(config):
    if getattr(config, "crm_binaries_dir", None) is not None:
        shutil.rmtree(config.crm_binaries_dir, ignore_errors=True)


def pytest_generate_tests(metafunc):
    if "engine" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("engines")
    engines = marker.args if marker else ENGINES
    if tuple(engines) == ("embedded",):
        return  # the `engine` fixture's default; test ids stay as they were
    metafunc.parametrize(
        "engine",
        [pytest.param(e, id=e, marks=[pytest.mark.kafka] if e != "embedded" else [])
         for e in engines],
        scope="module")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session, config, items):
    # Tests that stop the broker go last, so that nothing else runs in (or right after) an outage.
    items.sort(key=lambda item: item.get_closest_marker("broker_outage") is not None)


@pytest.fixture(scope="module")
def engine() -> str:
    """The engine of a test not parametrized over engines (see pytest_generate_tests)."""
    return "embedded"


@pytest.fixture(scope="session")
def kafka_brokers() -> str:
    """The broker's bootstrap address; skips (locally) or fails (CI=true) without one."""
    brokers = kafkatest.brokers_from_env()
    if not brokers:
        message = ("no Kafka broker: CRM_KAFKA_BROKERS is not set (scripts/test.sh starts one; "
                   "or scripts/kafka/start.sh and export CRM_KAFKA_BROKERS=127.0.0.1:19092)")
        if kafkatest.in_ci():
            pytest.fail(message + " [CI=true: Kafka tests must run]", pytrace=False)
        pytest.skip(message)
    try:
        kafkatest.check_reachable(brokers)
    except Exception as e:  # pylint: disable=broad-except
        pytest.fail(f"Kafka broker {brokers} (CRM_KAFKA_BROKERS) not reachable: {e}",
                    pytrace=False)
    return brokers


def _processes_of(item) -> list:
    found = []
    for value in getattr(item, "funcargs", {}).values():
        candidates = [value] + list(getattr(value, "servers", []))
        for c in list(candidates):
            candidates += list(getattr(c, "servers", []))
        for s in candidates:
            if isinstance(s, crmtest.Server) and all(s is not f for f in found):
                found.append(s)
    return found


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        item.crm_failed = True  # the fixtures keep this test's Kafka topics for a look
    if report.failed and report.when in ("setup", "call"):
        for s in _processes_of(item):
            report.sections.append((f"{s.name} log {s.log_path}", s.log_tail()))


class _Factory:
    """make_server(name="server", data_dir=None, start=True, args=(), **kafka_options)
    -> Server, Cluster or KafkaServer.

    On "kafka" every call makes a Cluster on a topic of its own (prefix from the test's name).
    """

    def __init__(self, base, engine: str, request):
        self.base = base
        self.engine = engine
        self.request = request
        self.servers: list = []  # Server or Cluster

    def __call__(self, name: str = "server", data_dir=None, start: bool = True, args=(),
                 **kafka_options):
        """kafka_options (Kafka engines only): e.g. provision_partitions=3, or brokers="..." (a
        broker of the test's own instead of CRM_KAFKA_BROKERS; "kafka" engine only)."""
        if self.engine == "embedded":
            assert not kafka_options, f"{kafka_options} need a Kafka engine"
            s = crmtest.Server(self.base / name, data_dir=data_dir)
        elif self.engine == "kafka":
            assert data_dir is None, "a Cluster has a data dir per process"
            brokers = kafka_options.pop("brokers", None) or self.request.getfixturevalue(
                "kafka_brokers")
            s = crmtest.Cluster(self.base / name, brokers,
                                crmtest.topic_prefix_for(f"{self.request.node.name}-{name}"),
                                **kafka_options)
        elif self.engine == "kafka-server":
            assert data_dir is None
            brokers = self.request.getfixturevalue("kafka_brokers")
            s = crmtest.KafkaServer(self.base / name, brokers,
                                    crmtest.topic_prefix_for(f"{self.request.node.name}-{name}"),
                                    **kafka_options)
        else:
            raise ValueError(f"unknown engine {self.engine!r}")
        self.servers.append(s)
        if start:
            s.start(*args)
        return s

    def stop_all(self, keep_topics: bool = False) -> None:
        """SIGTERMs every process still running; each must exit 0. Deletes the test's topics
        unless `keep_topics` (a failed test: they are named in its output)."""
        error = None
        for s in self.servers:
            for p in getattr(s, "servers", [s]):
                if p.running:
                    try:
                        p.stop()
                    except BaseException as e:  # stop the others, then report
                        error = error or e
                        print(f"\n----- {p.name} log {p.log_path} -----\n{p.log_tail()}")
        clusters = [s for s in self.servers if hasattr(s, "topic")]
        if clusters and keep_topics:
            print(f"\nkept Kafka topics: {[(c.topic, c.audit_topic) for c in clusters]}")
        elif clusters:
            kafkatest.delete_topics(clusters[0].brokers,
                                    [t for c in clusters for t in (c.topic, c.audit_topic)])
        if error is not None:
            raise error


@pytest.fixture
def make_server(tmp_path, engine, request):
    """Factory of servers (or clusters, on Kafka) in this test's tmp_path; stopped (and checked)
    at the end."""
    factory = _Factory(tmp_path, engine, request)
    yield factory
    factory.stop_all(keep_topics=getattr(request.node, "crm_failed", False))


@pytest.fixture
def server(make_server):
    """A started crm-server (or crm-command + crm-projector on Kafka) on empty data."""
    return make_server()


@pytest.fixture(scope="module")
def module_server(tmp_path_factory, engine, request):
    """One started server (or cluster) shared by the tests of a module (for read-mostly tests)."""
    factory = _Factory(tmp_path_factory.mktemp(f"module-{engine}"), engine, request)
    factory()
    yield factory.servers[0]
    factory.stop_all()


@pytest.fixture(scope="module")
def module_auth_server(tmp_path_factory, engine, request):
    """One started server (or cluster) with token authentication on, shared by the tests of a
    module: yields (server, idp), idp the tests' own identity provider (test_auth.py) with one
    published RSA key "rsa-1" to sign tokens with. Kept topics when a test failed."""
    from test_auth import IdentityProvider, _auth_args  # pylint: disable=import-outside-toplevel

    idp = IdentityProvider(tmp_path_factory.mktemp(f"idp-{engine}"))
    idp.new_key("rsa-1", "RSA")
    idp.publish("rsa-1")
    factory = _Factory(tmp_path_factory.mktemp(f"auth-{engine}"), engine, request)
    args = _auth_args(idp.jwks_path)
    server = factory(args=args) if engine == "embedded" else factory(extra_args=args)
    yield server, idp
    factory.stop_all(keep_topics=getattr(request.node, "crm_failed", False))
