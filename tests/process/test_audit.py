"""The audit of reads (docs/security.md, "Audit of reads"): who read or exported which customer's
personal data, when and through which method, in an append-only log of its own, queried with
AdminService.ListAuditRecords and `crmctl audit`.

A scenario with authentication on (tokens of the tests' own identity provider, as test_auth.py):
an admin registers three customers (commands: not reads); alice reads one customer and lists all
three; bob reads another, fails to read one that does not exist, lists an empty page, exports one
customer's raw events (ListEvents) and takes a backup. The audit then holds exactly alice's two
reads and bob's three, with the customers each answer carried, and nothing for the failed call,
the empty page, the commands or the audit queries themselves; the filters select by customer
(a backup's "*" matches every customer), subject and method; it survives a restart. On Kafka the
records are in their own topic ("<prefix>.audit.v1"), decoded there as crm.admin.v1.AuditRecord,
and the event topic holds events only.
"""

from __future__ import annotations

import json
import subprocess

import pytest

import crmtest
import kafkatest
from crmtest import expect_error, grpc, spb
from test_auth import Caller, _auth_args, _start, idp  # noqa: F401 (fixture)

from crm.admin.v1 import admin_service_pb2 as apb  # noqa: E402
from crm.admin.v1 import admin_service_pb2_grpc as agrpc  # noqa: E402
from crm.admin.v1 import audit_pb2  # noqa: E402
from crm.admin.v1 import backup_service_pb2 as bpb  # noqa: E402
from crm.admin.v1 import backup_service_pb2_grpc as bgrpc  # noqa: E402
from crm.events.v1 import envelope_pb2  # noqa: E402

ADMIN = "auditor@crm-test.example"
ALICE = "alice@crm-test.example"
BOB = "bob@crm-test.example"
C1, C2, C3 = "audit-c1", "audit-c2", "audit-c3"

GET = "/crm.v1.CustomerQueryService/GetCustomer"
LIST = "/crm.v1.CustomerQueryService/ListCustomers"
EVENTS = "/crm.admin.v1.AdminService/ListEvents"
BACKUP = "/crm.admin.v1.BackupService/CreateBackup"


def _query_process(server):
    return getattr(server, "projector", server)


def _admin(caller) -> agrpc.AdminServiceStub:
    return agrpc.AdminServiceStub(caller.query_channel)


def _records(caller, **filters) -> list[audit_pb2.AuditRecord]:
    """Every audit record matching the filters, following the pages."""
    out = []
    token = ""
    while True:
        page = _admin(caller).ListAuditRecords(apb.ListAuditRecordsRequest(
            page_token=token, page_size=2, **filters), timeout=30)
        out.extend(page.audit_records)
        token = page.next_page_token
        if not token:
            return out


def _facts(records) -> list[tuple[str, str, tuple[str, ...]]]:
    """(subject, method, customers) of each record, sorted (on Kafka records of two subjects
    are in two partitions: no order between them)."""
    return sorted((r.subject, r.method, tuple(r.customers)) for r in records)


def _scenario(server, idp):
    admin = Caller(server, idp.token("rsa-1", subject=ADMIN))
    alice = Caller(server, idp.token("rsa-1", subject=ALICE))
    bob = Caller(server, idp.token("ec-1", subject=BOB))
    token = ""
    for cid in (C1, C2, C3):
        token = crmtest.register(admin, customer_id=cid, display_name=f"Customer {cid}",
                                 emails=[f"{cid}@example.com"]).consistency_token
    assert _records(admin) == [], "commands are not reads"

    got = alice.query.GetCustomer(spb.GetCustomerRequest(name=f"customers/{C1}",
                                                        consistency_token=token))
    assert got.name == f"customers/{C1}"
    listed = alice.query.ListCustomers(spb.ListCustomersRequest(consistency_token=token))
    listed_names = [c.name for c in listed.customers]
    assert sorted(listed_names) == [f"customers/{c}" for c in (C1, C2, C3)]

    bob.query.GetCustomer(spb.GetCustomerRequest(name=f"customers/{C2}", consistency_token=token))
    # Failed and empty answers read nothing.
    expect_error(grpc.StatusCode.NOT_FOUND, bob.query.GetCustomer,
                 spb.GetCustomerRequest(name="customers/audit-nobody", consistency_token=token))
    empty = bob.query.ListCustomers(spb.ListCustomersRequest(tag="no-such-tag",
                                                            consistency_token=token))
    assert not empty.customers
    # Exports: one customer's raw events, and a backup of everything.
    events = _admin(bob).ListEvents(apb.ListEventsRequest(customer_id=C3))
    assert events.events
    bgrpc.BackupServiceStub(bob.query_channel).CreateBackup(bpb.CreateBackupRequest())

    expected = sorted([
        (ALICE, GET, (f"customers/{C1}",)),
        (ALICE, LIST, tuple(listed_names)),  # every customer on the page, in its order
        (BOB, GET, (f"customers/{C2}",)),
        (BOB, EVENTS, (f"customers/{C3}",)),
        (BOB, BACKUP, ("*",)),
    ])
    return admin, expected


def _check_audit(admin, expected) -> list[audit_pb2.AuditRecord]:
    records = _records(admin)
    assert _facts(records) == expected
    for r in records:
        assert r.principal_kind == "service", r  # tokens without crm_staff_id
        assert r.record_time.seconds > 0, r
        assert r.server in ("crm-server", "crm-projector"), r  # where the reads were served
    # Filters.
    assert _facts(_records(admin, subject=BOB)) == [e for e in expected if e[0] == BOB]
    assert _facts(_records(admin, method="GetCustomer")) == [e for e in expected if e[1] == GET]
    assert _facts(_records(admin, method=EVENTS)) == [e for e in expected if e[1] == EVENTS]
    assert _facts(_records(admin, customer=f"customers/{C2}")) == [
        e for e in expected if f"customers/{C2}" in e[2] or e[2] == ("*",)]
    times = sorted(r.record_time.seconds for r in records)
    after_all = times[-1] + 1
    assert _records(admin, start_time={"seconds": after_all}) == []
    assert len(_records(admin, end_time={"seconds": after_all})) == len(expected)
    d = expect_error(grpc.StatusCode.INVALID_ARGUMENT, _admin(admin).ListAuditRecords,
                     apb.ListAuditRecordsRequest(customer=C1))  # not a resource name
    crmtest.assert_violation(d, "customer")
    return records


def test_the_audit_says_who_read_which_customer_through_which_method(make_server, idp, tmp_path):
    auth_args = _auth_args(idp.jwks_path)
    server = _start(make_server, auth_args)
    admin, expected = _scenario(server, idp)
    records = _check_audit(admin, expected)

    # crmctl audit, as an admin would ask.
    token_file = tmp_path / "admin.token"
    token_file.write_text(idp.token("rsa-1", subject=ADMIN))
    ctl = subprocess.run(
        [str(crmtest.CRMCTL_BIN), "--server", _query_process(server).address,
         *crmtest.crmctl_args(_query_process(server), token=False), "--token-file",
         str(token_file), "--output", "json", "audit", "--customer", C1],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, check=False)
    assert ctl.returncode == 0, ctl.stderr
    lines = [json.loads(line) for line in ctl.stdout.splitlines() if line.strip()]
    assert sorted((r["subject"], r["method"]) for r in lines) == sorted(
        [(ALICE, GET), (ALICE, LIST), (BOB, BACKUP)])
    table = subprocess.run(
        [str(crmtest.CRMCTL_BIN), "--server", _query_process(server).address,
         *crmtest.crmctl_args(_query_process(server), token=False), "--token-file",
         str(token_file), "audit", "--subject", BOB, "--method", "GetCustomer"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, check=False)
    assert table.returncode == 0, table.stderr
    assert len(table.stdout.splitlines()) == 1 and f"customers/{C2}" in table.stdout, table.stdout

    # The metric counts what was recorded.
    assert _query_process(server).metrics().value("crm_audit_records_total") >= len(expected)
    assert _query_process(server).metrics().value("crm_audit_write_failures_total") == 0

    # It survives a restart, unchanged.
    # With the same authentication (on the embedded engine it is of the start, not the Server;
    # on Kafka the flags are given again, the same).
    server.restart(*auth_args)
    admin = Caller(server, idp.token("rsa-1", subject=ADMIN))  # the new port
    assert _records(admin) == records

    if getattr(server, "engine", "embedded") != "embedded":
        # Its own topic, keyed by subject; the event topic holds events only.
        in_topic = kafkatest.read_topic(server.brokers, server.audit_topic)
        decoded = []
        for r in in_topic:
            assert r.header("record-type") == "crm.admin.v1.AuditRecord"
            a = audit_pb2.AuditRecord()
            a.ParseFromString(r.value)
            assert r.key.decode() == a.subject
            decoded.append(a)
        assert _facts(decoded) == expected
        for r in kafkatest.read_topic(server.brokers, server.topic):
            assert r.header("record-type") is None, r
            env = envelope_pb2.EventEnvelope()
            env.ParseFromString(r.value)
            assert env.event_type.startswith("crm."), r
        # crm-command answers no query, but it serves the exports: audited there too.
        bob = Caller(server, idp.token("ec-1", subject=BOB))
        assert agrpc.AdminServiceStub(bob.channel).ListEvents(
            apb.ListEventsRequest(customer_id=C1)).events
        by_command = [r for r in _records(admin, subject=BOB, method=EVENTS)
                      if r.server == "crm-command"]
        assert [list(r.customers) for r in by_command] == [[f"customers/{C1}"]]
    else:
        # Beside the event log, in its store; the event log itself holds no audit record.
        assert not (server.data_dir / "audit").exists()
        events = agrpc.AdminServiceStub(admin.query_channel).ListEvents(
            apb.ListEventsRequest(page_size=1000)).events
        assert events and all(e.event_type.startswith("crm.events.") for e in events), events


@pytest.mark.engines("embedded")
def test_without_authentication_the_actor_header_names_the_reader(tmp_path):
    """Development: the subject is the unverified x-crm-actor, and says so. Without the suite's
    authentication (CRM_TEST_SECURE=1), whatever the mode of the run."""
    server = crmtest.Server(tmp_path / "dev", auth=False).start("--metrics-listen", "127.0.0.1:0")
    try:
        token = crmtest.register(server, customer_id="audit-dev").consistency_token
        reader = Caller(server, None, forged_actor="dev-carol")
        reader.query.GetCustomer(spb.GetCustomerRequest(name="customers/audit-dev",
                                                        consistency_token=token))
        records = _records(reader)
        assert [(r.subject, r.principal_kind, r.method, list(r.customers)) for r in records] == [
            ("dev-carol", "unauthenticated", GET, ["customers/audit-dev"])]
    finally:
        server.stop()
