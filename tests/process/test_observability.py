"""What an operator sees (issue 10): /metrics counts exactly the calls and events a scenario
made, the folds' lag returns to 0, every call has one access log line, and no log line holds
personal data (names, e-mails, phones) at any level.

On both engines: crm-server on its embedded log, and crm-command + crm-projector on Kafka (the
command side's metrics on crm-command, the query side's on crm-projector). Each process serves
/metrics on a port of its own (--metrics-listen 127.0.0.1:0; the port is in its log)."""

from __future__ import annotations

import json

import grpc
import pytest

import crmtest
from crmtest import spb

pytestmark = pytest.mark.engines("embedded", "kafka")

CUSTOMERS = 6
REGISTERED = "crm.events.v1.CustomerRegistered"


def _processes(server):
    """(the process that takes commands, the one that answers queries, all of them)."""
    if hasattr(server, "commander"):
        return server.commander, server.projector, [server.commander, server.projector]
    return server, server, [server]


def _handled(metrics: crmtest.Metrics, method: str, code: str) -> float:
    return metrics.value("grpc_server_handled_total", grpc_method=method, grpc_code=code)


def _log_lines(process) -> list[dict]:
    lines = []
    for line in process.log_path.read_text().splitlines():
        if not line or line.startswith("====="):  # the test harness's own start marker
            continue
        lines.append(json.loads(line))
    return lines


def test_metrics_and_logs_tell_what_happened_and_nothing_personal(make_server):
    # Debug level: personal data must not appear at any level.
    server = make_server(args=("--metrics-listen", "127.0.0.1:0", "--log-level", "debug"))
    commander, projector, processes = _processes(server)
    before_c, before_q = commander.metrics(), projector.metrics()

    # The scenario, counted here.
    personal: list[str] = []
    request_ids: list[str] = []
    tokens: list[str] = []
    names: list[str] = []
    for i in range(CUSTOMERS):
        display = f"Zhang Wei{i}x"
        email = f"zhang.wei{i}@example.com"
        phone = f"+86 138 0013 80{i:02d}"
        personal += [display, email, phone.replace(" ", ""), "138001380"]
        request_id = crmtest.new_request_id()
        request_ids.append(request_id)
        answer = server.command.RegisterCustomer(spb.RegisterCustomerRequest(
            customer=crmtest.make_customer(display_name=display, emails=[email], phones=[phone]),
            request_id=request_id))
        tokens.append(answer.consistency_token)
        names.append(answer.customer.name)
    # One refused (no display name): INVALID_ARGUMENT, and nothing appended.
    crmtest.expect_error(grpc.StatusCode.INVALID_ARGUMENT, server.command.RegisterCustomer,
                         spb.RegisterCustomerRequest(
                             customer=crmtest.make_customer(display_name="",
                                                            emails=["li.na@example.com"]),
                             request_id=crmtest.new_request_id()))
    personal.append("li.na@example.com")
    token = crmtest.merge_tokens(*tokens)
    for name in names:
        server.query.GetCustomer(spb.GetCustomerRequest(name=name, consistency_token=token))
    crmtest.expect_error(grpc.StatusCode.NOT_FOUND, server.query.GetCustomer,
                         spb.GetCustomerRequest(name="customers/no-such-customer",
                                                consistency_token=token))

    after_c = commander.metrics()
    assert _handled(after_c, "RegisterCustomer", "OK") - _handled(
        before_c, "RegisterCustomer", "OK") == CUSTOMERS
    assert _handled(after_c, "RegisterCustomer", "INVALID_ARGUMENT") - _handled(
        before_c, "RegisterCustomer", "INVALID_ARGUMENT") == 1
    count = "grpc_server_handling_seconds_count"
    assert after_c.value(count, grpc_method="RegisterCustomer") - before_c.value(
        count, grpc_method="RegisterCustomer") == CUSTOMERS + 1
    assert after_c.value("crm_events_appended_total", type=REGISTERED) - before_c.value(
        "crm_events_appended_total", type=REGISTERED) == CUSTOMERS
    # Every appended event went through a log write.
    appended = after_c.value("crm_events_appended_total") - before_c.value(
        "crm_events_appended_total")
    written = after_c.value("crm_log_write_records_sum") - before_c.value(
        "crm_log_write_records_sum")
    assert written == appended >= CUSTOMERS

    after_q = projector.metrics()
    assert _handled(after_q, "GetCustomer", "OK") - _handled(
        before_q, "GetCustomer", "OK") == CUSTOMERS
    assert _handled(after_q, "GetCustomer", "NOT_FOUND") - _handled(
        before_q, "GetCustomer", "NOT_FOUND") == 1

    # Lag returns to 0 on every fold of every process, which is ready.
    for p in processes:
        def caught_up(p=p):
            m = p.metrics()
            lags = m.series("crm_fold_lag_offsets") + m.series("crm_fold_lag_seconds")
            return m if lags and all(v == 0 for _, v in lags) else None
        m = crmtest.wait_for(f"{p.name} lag 0 in /metrics", caught_up, timeout_s=30)
        assert m.value("crm_ready") == 1
        assert m.series("crm_fold_applied_offset")
        assert m.value("process_resident_memory_bytes") > 0
        assert m.value("process_cpu_seconds_total") > 0
        assert m.series("crm_store_disk_bytes")
        assert all(v >= 0 for _, v in m.series("crm_fold_dead_letters"))

    # One access line per call, with the method, code, latency, peer and request id.
    calls = [line for p in processes for line in _log_lines(p) if line["msg"] == "call"]
    registers = [c for c in calls if c["method"].endswith("/RegisterCustomer")]
    assert len(registers) == CUSTOMERS + 1, registers
    assert sorted(c["code"] for c in registers) == ["INVALID_ARGUMENT"] + ["OK"] * CUSTOMERS
    assert set(request_ids) <= {c["request_id"] for c in registers}
    for c in registers:
        assert c["ms"] >= 0 and c["peer"].startswith("ipv4:127.0.0.1:"), c
    gets = [c for c in calls if c["method"] == "/crm.v1.CustomerQueryService/GetCustomer"]
    assert len(gets) == CUSTOMERS + 1

    # No personal data anywhere in any process's log, at debug level.
    for p in processes:
        text = p.log_path.read_text()
        leaked = [v for v in personal if v in text]
        assert not leaked, f"{p.name}'s log holds personal data: {leaked}"


def test_the_access_log_can_be_turned_off(make_server):
    server = make_server(args=("--access-log", "false"))
    crmtest.register(server)
    _, _, processes = _processes(server)
    for p in processes:
        assert not [line for line in _log_lines(p) if line["msg"] == "call"]
