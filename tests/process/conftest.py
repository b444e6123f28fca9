"""Fixtures of the process-level tests: crm-server processes on pytest temporary directories.

A test that fails gets the log (stdout and stderr of every start) of each server it used attached
to its report.
"""

from __future__ import annotations

import pytest

import crmtest  # also puts the generated stubs (<build>/py) on sys.path


def _servers_of(item) -> list:
    found = []
    for value in getattr(item, "funcargs", {}).values():
        for s in [value] + list(getattr(value, "servers", [])):
            if isinstance(s, crmtest.Server) and all(s is not f for f in found):
                found.append(s)
    return found


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and report.when in ("setup", "call"):
        for s in _servers_of(item):
            report.sections.append((f"crm-server log {s.log_path}", s.log_tail()))


class _Factory:
    """make_server(name="server", data_dir=None, start=True, args=()) -> Server."""

    def __init__(self, base):
        self.base = base
        self.servers: list[crmtest.Server] = []

    def __call__(self, name: str = "server", data_dir=None, start: bool = True, args=()):
        s = crmtest.Server(self.base / name, data_dir=data_dir)
        self.servers.append(s)
        if start:
            s.start(*args)
        return s

    def stop_all(self) -> None:
        """SIGTERMs every server still running; each must exit 0."""
        error = None
        for s in self.servers:
            if s.running:
                try:
                    s.stop()
                except BaseException as e:  # stop the others, then report
                    error = error or e
                    print(f"\n----- crm-server log {s.log_path} -----\n{s.log_tail()}")
        if error is not None:
            raise error


@pytest.fixture
def make_server(tmp_path):
    """Factory of servers in this test's tmp_path; stopped (and checked) at the end."""
    factory = _Factory(tmp_path)
    yield factory
    factory.stop_all()


@pytest.fixture
def server(make_server) -> crmtest.Server:
    """A started crm-server on an empty data directory."""
    return make_server()


@pytest.fixture(scope="module")
def module_server(tmp_path_factory):
    """One started crm-server shared by the tests of a module (for read-mostly tests)."""
    factory = _Factory(tmp_path_factory.mktemp("module"))
    factory()
    yield factory.servers[0]
    factory.stop_all()
