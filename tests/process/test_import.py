"""Bulk import (CustomerCommandService.ImportCustomers, proto/crm/v1/README.md "Bulk import") on
both engines: good rows registered, bad rows (missing name, bad e-mail, an e-mail twice in one
import, a value tier, which is derived) reported with their reasons while the others land; a
re-run with a new request_id changes nothing (every row UNCHANGED, no new customer, no new event
on the log); a stream retried with its request_id answers exactly its first answer; matches by external id and by e-mail update only what differs;
crmctl import customers with a CSV file; the same views after --rebuild.

One server per engine for the module; the tests run in order and build on each other.
"""

from __future__ import annotations

import json

import pytest
from google.rpc import error_details_pb2

import crmtest
from crmtest import cpb, grpc, history, list_all, new_request_id, spb
from test_crmctl import command_process, ctl, ctl_json, query_process

pytestmark = pytest.mark.engines("embedded", "kafka")

TIMEOUT_S = 60.0


class World:
    def __init__(self, server, engine: str):
        self.server, self.engine = server, engine
        self.token = ""

    def seen(self, token: str) -> None:
        if token:
            self.token = crmtest.merge_tokens(self.token, token) if self.token else token

    def import_rows(self, rows, request_id: str = "", per_message: int = 2):
        """ImportCustomers with `rows` (ImportCustomerRow) in messages of `per_message` rows."""
        messages = [spb.ImportCustomersRequest(rows=rows[i:i + per_message])
                    for i in range(0, len(rows), per_message)] or [spb.ImportCustomersRequest()]
        messages[0].request_id = request_id
        resp = self.server.command.ImportCustomers(iter(messages), timeout=TIMEOUT_S)
        self.seen(resp.consistency_token)
        return resp

    def customers(self) -> list:
        return list_all(self.server, consistency_token=self.token)

    def find(self, **key) -> list:
        return list(self.server.query.FindCustomers(
            spb.FindCustomersRequest(consistency_token=self.token, **key)).customers)

    def log_size(self) -> int:
        """Events on the log (crmctl events on the process that writes)."""
        return len(ctl_json(command_process(self.server), "events"))


@pytest.fixture(scope="module")
def world(module_server, engine):
    return World(module_server, engine)


def row(n: int = 0, **customer) -> spb.ImportCustomerRow:
    return spb.ImportCustomerRow(row_number=n, customer=cpb.Customer(**customer))


ROWS = [
    row(display_name="Alpha Ltd", kind=cpb.COMPANY, external_id="E-1",
        emails=["Alpha@Import.Example"], tags=["vip", "VIP"], lifecycle_stage=cpb.FIRST_CONTACT,
        attributes={"source": "old-crm"}),
    row(display_name="Beta Chen", kind=cpb.PERSON, emails=["beta@import.example"],
        phones=["+86 138 0000 0001"]),
    row(display_name="", kind=cpb.PERSON, emails=["gamma@import.example"]),  # no name
    row(display_name="Delta", kind=cpb.PERSON, emails=["not-an-e-mail"]),  # bad e-mail
    row(display_name="Beta Again", kind=cpb.PERSON, emails=["BETA@import.example"]),  # twice
    row(display_name="Eta", kind=cpb.PERSON, value_tier=cpb.HIGH_VALUE),  # tier is derived
    row(display_name="华为技术 Zeta", kind=cpb.COMPANY, external_id="E-7"),
]
BAD = {3: ("INVALID_ARGUMENT", "customer.display_name"),
       4: ("INVALID_ARGUMENT", "customer.emails[0]"),
       5: ("ALREADY_EXISTS", "DUPLICATE_IN_IMPORT"),
       6: ("INVALID_ARGUMENT", "customer.value_tier")}


def check_failure(result, code: str, what: str) -> None:
    assert result.outcome == spb.FAILED, result
    assert result.error.code == getattr(grpc.StatusCode, code).value[0], result.error
    fields, reasons = [], []
    for any_ in result.error.details:
        bad = error_details_pb2.BadRequest()
        info = error_details_pb2.ErrorInfo()
        if any_.Unpack(bad):
            fields += [v.field for v in bad.field_violations]
        elif any_.Unpack(info):
            reasons.append(info.reason)
    assert what in fields + reasons, (what, fields, reasons, result.error.message)


def good_rows(resp, counts: tuple[int, int, int, int]) -> list:
    """Checks the counts (created, updated, unchanged, failed) and the failures of BAD; returns
    the other results."""
    assert (resp.created_count, resp.updated_count, resp.unchanged_count,
            resp.failed_count) == counts, resp
    for r in resp.results:
        if r.row_number in BAD:
            check_failure(r, *BAD[r.row_number])
    return [r for r in resp.results if r.row_number not in BAD]


def test_good_rows_land_and_bad_rows_say_why(world):
    w = world
    before = w.log_size()
    request_id = new_request_id()
    resp = w.import_rows(ROWS, request_id=request_id)
    assert [r.row_number for r in resp.results] == list(range(1, 8))
    for r in good_rows(resp, counts=(3, 0, 0, 4)):
        assert r.outcome == spb.CREATED and r.customer.startswith("customers/"), r
        assert not r.HasField("error")
    alpha = w.server.query.GetCustomer(spb.GetCustomerRequest(
        name=resp.results[0].customer, consistency_token=w.token))
    assert alpha.external_id == "E-1" and list(alpha.emails) == ["alpha@import.example"]
    assert list(alpha.tags) == ["vip"] and alpha.lifecycle_stage == cpb.FIRST_CONTACT
    assert dict(alpha.attributes) == {"source": "old-crm"}
    assert [c.name for c in w.find(external_id="E-1")] == [alpha.name]
    assert [c.name for c in w.find(email="beta@import.example")] == [resp.results[1].customer]
    assert {c.display_name for c in w.customers()} == {"Alpha Ltd", "Beta Chen", "华为技术 Zeta"}
    # Registered (1) + tagged (1) for Alpha, one event each for the others, plus the claims.
    assert sum(r.appended_event_count for r in resp.results) == 4
    events = w.log_size()
    assert events > before
    # A retry (the same request_id, the same rows, other message boundaries) answers exactly as
    # the first call did, failed rows included, and appends nothing.
    again = w.import_rows(ROWS, request_id=request_id, per_message=5)
    assert [str(r) for r in again.results] == [str(r) for r in resp.results]
    assert again == resp
    assert w.log_size() == events


def test_a_rerun_changes_nothing(world):
    w = world
    customers = w.customers()
    events = w.log_size()
    for request_id in (new_request_id(), ""):
        resp = w.import_rows(ROWS, request_id=request_id, per_message=3)
        for r in good_rows(resp, counts=(0, 0, 3, 4)):
            assert r.outcome == spb.UNCHANGED and r.appended_event_count == 0, r
    assert w.customers() == customers
    assert w.log_size() == events


def test_a_retried_stream_registers_rows_without_keys_once(world):
    """A row with neither external id nor e-mail has no natural key: the stream's request_id
    (and the row number) make its retry find the customer it registered."""
    w = world
    request_id = new_request_id()
    rows = [row(display_name="Theta No Keys", kind=cpb.PERSON, region="North")]
    first = w.import_rows(rows, request_id=request_id)
    assert first.results[0].outcome == spb.CREATED
    count = len(w.customers())
    again = w.import_rows(rows, request_id=request_id)
    assert again.results[0].outcome == spb.CREATED  # the first answer
    assert again.results[0].customer == first.results[0].customer
    assert len(w.customers()) == count


def test_matches_update_only_what_differs(world):
    w = world
    alpha = w.find(external_id="E-1")[0]
    beta = w.find(email="beta@import.example")[0]
    request_id = new_request_id()
    rows = [
        # By external id: a new name and region; the e-mail is as it was.
        row(10, display_name="Alpha Holdings", kind=cpb.COMPANY, external_id="E-1",
            emails=["alpha@import.example"], region="East China"),
        # By e-mail: gets an external id and a tag.
        row(11, display_name="Beta Chen", kind=cpb.PERSON, emails=["beta@import.example"],
            external_id="B-2", tags=["imported"]),
        # By external id: a new stage (a lifecycle move).
        row(12, display_name="华为技术 Zeta", kind=cpb.COMPANY, external_id="E-7",
            lifecycle_stage=cpb.FIRST_CONTACT),
    ]
    resp = w.import_rows(rows, request_id=request_id)
    assert [(r.row_number, r.outcome) for r in resp.results] == [
        (10, spb.UPDATED), (11, spb.UPDATED), (12, spb.UPDATED)], resp
    # Retried: each row's steps answer their first answers (the customers now match the rows, yet
    # the rows answer UPDATED with the first call's counts), and nothing is appended.
    events = w.log_size()
    assert w.import_rows(rows, request_id=request_id) == resp
    assert w.log_size() == events
    assert resp.results[0].customer == alpha.name and resp.results[1].customer == beta.name
    events = history(w.server, alpha.name, consistency_token=w.token)
    update = events[-1].customer_profile_updated
    assert list(update.changed_paths) == ["display_name", "region"]
    assert [c.name for c in w.find(external_id="B-2")] == [beta.name]
    got = w.server.query.GetCustomer(spb.GetCustomerRequest(name=beta.name,
                                                            consistency_token=w.token))
    assert got.external_id == "B-2" and list(got.tags) == ["imported"]
    assert list(got.phones) == ["+8613800000001"]  # an unset column changes nothing

    # An external id another customer holds: refused with UpdateCustomer's error.
    clash = w.import_rows([row(display_name="Beta Chen", kind=cpb.PERSON,
                               emails=["beta@import.example"], external_id="E-1")])
    # E-1 matches Alpha first: the row would give Alpha Beta's e-mail, which Beta holds.
    r = clash.results[0]
    assert r.outcome == spb.FAILED and r.customer == alpha.name
    check_failure(r, "ALREADY_EXISTS", "EMAIL_TAKEN")


def _csv(path, text: str):
    path.write_text(text, encoding="utf-8")
    return str(path)


CSV = (
    "External_ID,display_name,kind,emails,phones,region,tags,lifecycle_stage,value_tier,"
    "attr.legacy_segment\n"
    "C-1,Gamma Trading,company,gamma@csv.example,+86 139 0000 0002,South,vip;csv,,,A\n"
    "C-2,\"Kappa, Inc.\",COMPANY,kappa@csv.example; kappa2@csv.example,,\"North\nEast\",,"
    "first_contact,,\n"
    "C-3,,person,lambda@csv.example,,,,,,\n"
    "C-4,Mu,person,mu@csv.example,,,,,GOLD,\n"
    "C-5,Nu,robot,nu@csv.example,,,,,,\n"
)


def test_crmctl_imports_a_csv_file(world, tmp_path):
    w = world
    process = command_process(w.server)
    path = _csv(tmp_path / "customers.csv", CSV)
    events = w.log_size()
    r = ctl(process, "import", "customers", path)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)  # a row failed
    lines = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    results, summary = lines[:-1], lines[-1]
    assert [x["row_number"] for x in results] == ["2", "3", "5", "6", "7"]  # lines in the file
    outcomes = {x["row_number"]: x["outcome"] for x in results}
    assert outcomes == {"2": "CREATED", "3": "CREATED", "5": "FAILED", "6": "FAILED",
                        "7": "FAILED"}, results
    errors = {x["row_number"]: x["error"]["message"] for x in results if x["outcome"] == "FAILED"}
    assert "display_name" in errors["5"]
    assert "value_tier" in errors["6"] and "GOLD" in errors["6"]
    assert "kind" in errors["7"] and "robot" in errors["7"]
    assert (summary["created_count"], summary["failed_count"]) == (2, 3)
    w.seen(summary["consistency_token"])
    kappa = w.find(external_id="C-2")[0]
    assert kappa.display_name == "Kappa, Inc." and kappa.region == "North\nEast"
    assert list(kappa.emails) == ["kappa@csv.example", "kappa2@csv.example"]
    assert kappa.lifecycle_stage == cpb.FIRST_CONTACT
    gamma = w.find(email="gamma@csv.example")[0]
    assert list(gamma.tags) == ["csv", "vip"] and dict(gamma.attributes) == {
        "legacy_segment": "A"}
    assert w.log_size() > events

    # The same file again, as a table: a retry (the request id is the file's): the first
    # answers, nothing new. With a new request id, a re-run: every row that landed UNCHANGED.
    events = w.log_size()
    customers = w.customers()
    again = ctl(process, "import", "customers", path, output="table")
    assert again.returncode == 1
    assert "created 2, updated 0, unchanged 0, failed 3" in again.stdout, again.stdout
    rerun = ctl(process, "import", "customers", path, "--request-id", new_request_id(),
                output="table")
    assert rerun.returncode == 1
    assert "created 0, updated 0, unchanged 2, failed 3" in rerun.stdout, rerun.stdout
    assert w.log_size() == events and w.customers() == customers

    # A file that is not CSV of this shape: bad usage, nothing sent.
    bad = ctl(process, "import", "customers", _csv(tmp_path / "bad.csv", "name,colour\nx,y\n"))
    assert bad.returncode == 2 and "unknown column" in bad.stderr


def _views(w: World) -> dict:
    out = crmtest.snapshot(w.server, consistency_token=w.token)
    for key in ("E-1", "B-2", "E-7", "C-1", "C-2"):
        out["ext " + key] = [c.SerializeToString(deterministic=True)
                             for c in w.find(external_id=key)]
    return out


def test_the_same_views_after_a_rebuild(world):
    """Last in this module: restarts the server."""
    w = world
    before = _views(w)
    w.server.restart("--rebuild")
    after = _views(w)
    assert after == before, crmtest.describe_snapshot_diff(
        {k: v for k, v in before.items() if not k.startswith("ext ")},
        {k: v for k, v in after.items() if not k.startswith("ext ")})
