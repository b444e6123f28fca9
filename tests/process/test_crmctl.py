"""crmctl against running processes: crm-server on its embedded log, and crm-command +
crm-projector on Kafka (each asked on its own: crmctl talks to one process).

After a scenario (three customers, a tag, a complaint filed and acknowledged): `status` shows the
process's role, partitions and folds, with every partition applied up to the log's end (lag 0);
`events` lists the scenario's events decoded, filtered by customer, type and time, and follows
new ones; `customer get/list/find` and `complaint history` show what the scenario created;
there are no dead letters; `rebuild` of a view returns and the view answers the same afterwards,
while the command state refuses an online rebuild. On Kafka an undecodable record written to the
topic from outside becomes a dead letter of every fold: listed, shown with its raw value, and a
retry answers FAILED_PRECONDITION (DEAD_LETTER_STILL_FAILS). Exit codes: 0, 1 for a server's
error (code, message and reason on stderr), 2 for usage and connection errors.
"""

from __future__ import annotations

import base64
import json
import queue
import subprocess
import threading

import pytest

import crmtest
from crmtest import covering_token, new_request_id, register, wait_for

from crm.v1 import complaint_pb2 as kpb  # noqa: E402
from crm.v1 import complaint_service_pb2 as kspb  # noqa: E402
from crm.v1 import complaint_service_pb2_grpc as ksgrpc  # noqa: E402
from crm.v1 import customer_service_pb2 as spb  # noqa: E402
from crm.v1 import interaction_pb2 as ipb  # noqa: E402

# A prefix of this module's own, so that ids never meet another module's on a shared topic.
ACME = "ctl-acme"
BOB = "ctl-bob"
CAROL = "ctl-carol"
COMPLAINT = f"customers/{ACME}/complaints/ctl-c1"
VIEW_FOLDS = {"customer-views", "complaint-views", "interaction-views", "org-views", "analytics",
              "segments", "survey-views", "notification-views"}


def query_process(server):
    """The process that answers queries: crm-projector on Kafka, else the server itself."""
    return getattr(server, "projector", server)


def command_process(server):
    """The process that takes commands: crm-command on Kafka, else the server itself."""
    return getattr(server, "commander", server)


def processes(server) -> list:
    return [command_process(server)] + ([server.projector] if hasattr(server, "projector") else [])


def ctl(process, *args: str, output: str = "json", timeout_s: float = 120.0):
    """Runs crmctl against `process` (with the suite's TLS and token flags when security is on);
    returns the CompletedProcess."""
    return subprocess.run([str(crmtest.CRMCTL_BIN), "--server", process.address,
                           *crmtest.crmctl_args(process), "--output", output, *args],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout_s, check=False)


def ctl_json(process, *args: str) -> list[dict]:
    """crmctl with JSON output, which must succeed: its objects (one a line)."""
    r = ctl(process, *args)
    assert r.returncode == 0, f"crmctl {' '.join(args)}: rc {r.returncode}\n{r.stderr}"
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def scenario(module_server):
    """The scenario, applied by every process; returns the server."""
    server = module_server
    register(server, customer_id=ACME, display_name="ACME Ltd", kind=crmtest.cpb.COMPANY,
             emails=["sales@acme.example.com"], phones=["+86 138 0013 8000"])
    register(server, customer_id=BOB, display_name="Bob Builder", emails=["bob@example.com"])
    register(server, customer_id=CAROL, display_name="Carol", emails=["carol@example.com"])
    server.command.TagCustomer(spb.TagCustomerRequest(name=f"customers/{ACME}", tag="vip",
                                                      request_id=new_request_id()))
    complaints = ksgrpc.ComplaintCommandServiceStub(server.channel)
    complaints.FileComplaint(kspb.FileComplaintRequest(
        parent=f"customers/{ACME}", complaint_id="ctl-c1", request_id=new_request_id(),
        complaint=kpb.Complaint(channel=ipb.PHONE, category=kpb.PRODUCT_QUALITY,
                                severity=kpb.GENERAL, description="The kettle leaks")))
    last = complaints.AcknowledgeComplaint(kspb.AcknowledgeComplaintRequest(
        name=COMPLAINT, request_id=new_request_id()))
    # The views have everything (read-your-writes on the query side).
    server.query.GetCustomer(spb.GetCustomerRequest(
        name=f"customers/{ACME}", consistency_token=covering_token(server,
                                                                   last.consistency_token)))
    return server


def _lag_zero(status: dict) -> bool:
    return all(int(p.get("lag_offsets", 0)) == 0 and
               int(p["end_offset"]) == int(p.get("applied_offset", 0)) + 1
               for store in status["stores"] for p in store["partitions"])


def test_status_shows_roles_positions_and_lag_zero(scenario):
    server = scenario
    for process in processes(server):
        # The command state catches up with the log by itself (Kafka: its reader passes the
        # transaction markers): poll until every partition is applied to the end.
        status = wait_for(f"{process.name} at the log's end",
                          lambda p=process: (lambda s: s if _lag_zero(s) else None)(
                              ctl_json(p, "status")[0]))
        stores = {s["name"]: s for s in status["stores"]}
        partitions = int(status["partition_count"])
        assert status["read_partitions"] == list(range(partitions))
        assert status["version"]
        assert status["start_time"]
        if process.name == "crm-server":
            assert status["roles"] == ["command", "query"]
            assert status["engine"] == "embedded" and status["log"] == "embedded"
            assert set(stores) == {"views", "command-state"}
            assert status["written_partitions"] == [0]
        elif process.name == "crm-command":
            assert status["roles"] == ["command"]
            assert status["engine"] == "kafka" and status["log"] == server.topic
            assert set(stores) == {"command-state"}
            assert status["written_partitions"] == list(range(partitions))  # the one replica
        else:
            assert process.name == "crm-projector"
            assert status["roles"] == ["query"]
            assert set(stores) == {"views"}
            assert status["written_partitions"] == []
        if "views" in stores:
            assert {f["name"] for f in stores["views"]["folds"]} == VIEW_FOLDS
        for store in stores.values():
            ends = {int(p.get("partition", 0)): int(p["end_offset"]) for p in store["partitions"]}
            assert sum(ends.values()) >= 7  # at least the scenario's events
            for fold in store["folds"]:
                assert not fold.get("refolding", False), fold
                assert int(fold.get("dead_letters", 0)) == 0, fold
                applied = {int(a.get("partition", 0)): int(a.get("offset", 0))
                           for a in fold["applied"]}
                # Each fold has applied every record (transaction markers aside).
                for p, end in ends.items():
                    assert applied[p] <= end - 1 and applied[p] >= 0 or end == 0, (fold, p)
        assert {"service": "", "status": "SERVING"} in [
            {"service": h.get("service", ""), "status": h["status"]} for h in status["health"]]
        table = ctl(process, "status", output="table")
        assert table.returncode == 0, table.stderr
        assert "LAG" in table.stdout and status["binary"] in table.stdout


def test_events_lists_the_scenario_decoded_and_filtered(scenario):
    server = scenario
    process = query_process(server)
    events = ctl_json(process, "events")
    mine = [e for e in events if e["key"] in (ACME, BOB, CAROL)]
    types = [e["event"]["event_type"].rsplit(".", 1)[-1] for e in mine]
    assert sorted(types) == sorted(["CustomerRegistered"] * 3 + [
        "CustomerTagged", "ComplaintFiled", "ComplaintAcknowledged"])
    for e in events:
        assert "event" in e, f"undecodable: {e}"
        assert e["event"]["event_id"]

    acme = ctl_json(process, "events", "--customer", ACME)
    assert [e["event"]["event_type"].rsplit(".", 1)[-1] for e in acme] == [
        "CustomerRegistered", "CustomerTagged", "ComplaintFiled", "ComplaintAcknowledged"]
    assert all(e["key"] == ACME and e["event"]["customer_id"] == ACME for e in acme)
    # Per partition in offset order; one customer is one partition.
    assert len({e["partition"] for e in acme}) == 1
    assert [e["offset"] for e in acme] == sorted(e["offset"] for e in acme)

    tagged = ctl_json(process, "events", "--type", "CustomerTagged")
    assert [(e["key"], e["event"]["customer_tagged"]["tag"]) for e in tagged
            if e["key"] in (ACME, BOB, CAROL)] == [(ACME, "vip")]
    two = ctl_json(process, "events", "--customer", ACME, "--type", "CustomerTagged", "--type",
                   "ComplaintFiled")
    assert [e["event"]["event_type"].rsplit(".", 1)[-1] for e in two] == [
        "CustomerTagged", "ComplaintFiled"]
    full_name = ctl_json(process, "events", "--customer", BOB, "--type",
                         "crm.events.v1.CustomerRegistered")
    assert [e["event"]["customer_registered"]["profile"]["display_name"] for e in full_name] == [
        "Bob Builder"]
    assert ctl_json(process, "events", "--since", "2999-01-01T00:00:00Z") == []
    assert len(ctl_json(process, "events", "--since", "1h", "--customer", ACME)) == 4
    assert ctl_json(process, "events", "--until", "1h", "--customer", ACME) == []
    assert len(ctl_json(process, "events", "--limit", "2")) == 2

    table = ctl(process, "events", "--customer", ACME, output="table")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert len(lines) == 4
    assert "CustomerTagged" in lines[1] and '"vip"' in lines[1] and ACME in lines[1]

    # The command process reads the same log.
    assert ctl_json(command_process(server), "events", "--customer", ACME) == acme


def test_events_follow_prints_new_events(scenario):
    server = scenario
    proc = subprocess.Popen(
        [str(crmtest.CRMCTL_BIN), "--server", query_process(server).address,
         *crmtest.crmctl_args(query_process(server)), "--output", "json", "events", "--follow", "--from-end", "--customer", BOB, "--poll-interval", "0.1"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(l) for l in proc.stdout], daemon=True).start()
    try:
        # Nothing old is printed; the tag below is (the follower may start before or after it,
        # so tag until one shows up: each tag is a new event).
        got = None
        for i in range(50):
            server.command.TagCustomer(spb.TagCustomerRequest(
                name=f"customers/{BOB}", tag=f"followed-{i}", request_id=new_request_id()))
            try:
                got = json.loads(lines.get(timeout=2))
                break
            except queue.Empty:
                assert proc.poll() is None, proc.stderr.read()
        assert got is not None, "crmctl events --follow printed nothing"
        assert got["key"] == BOB
        assert got["event"]["customer_tagged"]["tag"].startswith("followed-")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_customer_and_complaint_queries(scenario):
    process = query_process(scenario)
    acme = ctl_json(process, "customer", "get", ACME)[0]
    assert acme["name"] == f"customers/{ACME}"
    assert acme["display_name"] == "ACME Ltd"
    assert acme["tags"] == ["vip"]
    assert ctl_json(process, "customer", "get", f"customers/{BOB}")[0]["display_name"] == (
        "Bob Builder")

    names = {c["name"] for c in ctl_json(process, "customer", "list")}
    assert {f"customers/{c}" for c in (ACME, BOB, CAROL)} <= names
    assert [c["name"] for c in ctl_json(process, "customer", "list", "--tag", "vip")] == [
        f"customers/{ACME}"]
    assert len(ctl_json(process, "customer", "list", "--limit", "2")) == 2
    assert f"customers/{ACME}" in {c["name"] for c in ctl_json(
        process, "customer", "list", "--stage", "potential")}
    by_email = ctl_json(process, "customer", "find", "--email", "sales@acme.example.com")
    assert [c["name"] for c in by_email] == [f"customers/{ACME}"]
    by_phone = ctl_json(process, "customer", "find", "--phone", "+86 138 0013 8000")
    assert [c["name"] for c in by_phone] == [f"customers/{ACME}"]
    # Search: a name prefix (without case), filters, name order.
    assert [c["name"] for c in ctl_json(process, "customer", "search", "acme")] == [
        f"customers/{ACME}"]
    assert [c["name"] for c in ctl_json(process, "customer", "search", "--kind", "person")] == [
        f"customers/{BOB}", f"customers/{CAROL}"]
    assert [c["name"] for c in ctl_json(process, "customer", "search", "A", "--tag", "vip",
                                        "--kind", "company", "--stage", "potential")] == [
        f"customers/{ACME}"]
    assert ctl_json(process, "customer", "search", "bob", "--tag", "vip") == []
    assert len(ctl_json(process, "customer", "search", "--limit", "2")) == 2

    history = ctl_json(process, "complaint", "history", COMPLAINT)
    assert [e["event_type"].rsplit(".", 1)[-1] for e in history] == [
        "ComplaintFiled", "ComplaintAcknowledged"]
    assert ctl_json(process, "complaint", "history", f"{ACME}/ctl-c1") == history
    complaint = ctl_json(process, "complaint", "get", COMPLAINT)[0]
    assert complaint["status"] == "ACKNOWLEDGED"

    table = ctl(process, "customer", "get", ACME, output="table")
    assert table.returncode == 0 and "display_name:" in table.stdout and "ACME Ltd" in table.stdout
    table = ctl(process, "complaint", "history", COMPLAINT, output="table")
    assert table.returncode == 0
    assert "ComplaintFiled" in table.stdout and "ComplaintAcknowledged" in table.stdout


def test_exit_codes(scenario):
    process = query_process(scenario)
    missing = ctl(process, "customer", "get", "ctl-nobody")
    assert missing.returncode == 1
    assert "NOT_FOUND" in missing.stderr and "CUSTOMER_NOT_FOUND" in missing.stderr
    bad = ctl(process, "dead-letters", "show", "not-a-name")
    assert bad.returncode == 1 and "INVALID_ARGUMENT" in bad.stderr
    usage = ctl(process, "customer", "find")
    assert usage.returncode == 2
    usage = ctl(process, "customer", "search", "--kind", "robot")
    assert usage.returncode == 2 and "--kind robot" in usage.stderr
    usage = ctl(process, "events", "--since", "yesterday-ish")
    assert usage.returncode == 2
    unknown = ctl(process, "no-such-command")
    assert unknown.returncode == 2
    # Nothing listens on port 1.
    down = subprocess.run([str(crmtest.CRMCTL_BIN), "--server", "127.0.0.1:1", "--timeout", "1",
                           "status"], capture_output=True, text=True, timeout=60, check=False)
    assert down.returncode == 2 and "cannot connect" in down.stderr


def test_no_dead_letters(scenario):
    for process in processes(scenario):
        assert ctl_json(process, "dead-letters", "list") == []
        table = ctl(process, "dead-letters", "list", output="table")
        assert table.returncode == 0 and "no dead letters" in table.stdout


def test_rebuild_of_a_view_answers_the_same_afterwards(scenario):
    server = scenario
    process = query_process(server)
    before = (ctl_json(process, "customer", "list"),
              ctl_json(process, "complaint", "history", COMPLAINT),
              ctl_json(process, "customer", "get", ACME))
    rebuilt = ctl_json(process, "rebuild", "--fold", "customer-views", "--wait")
    assert rebuilt[0]["folds"] == [{"name": "customer-views", "store": "views", "started": True}]
    status = ctl_json(process, "status")[0]
    views = next(s for s in status["stores"] if s["name"] == "views")
    assert not any(f.get("refolding") for f in views["folds"])
    after = (ctl_json(process, "customer", "list"),
             ctl_json(process, "complaint", "history", COMPLAINT),
             ctl_json(process, "customer", "get", ACME))
    assert after == before

    # Every view at once, in table mode.
    table = ctl(process, "rebuild", "--store", "views", "--wait", output="table")
    assert table.returncode == 0, table.stderr
    assert "rebuild started" in table.stdout and "serving again" in table.stdout
    assert (ctl_json(process, "customer", "list"),
            ctl_json(process, "complaint", "history", COMPLAINT),
            ctl_json(process, "customer", "get", ACME)) == before

    # The command state is read by commands that cannot wait for a rebuild.
    refused = ctl(command_process(server), "rebuild", "--fold", "command-state")
    assert refused.returncode == 1
    assert "FAILED_PRECONDITION" in refused.stderr
    assert "ONLINE_REBUILD_NOT_SUPPORTED" in refused.stderr
    missing = ctl(process, "rebuild", "--fold", "no-such-fold")
    assert missing.returncode == 1 and "FOLD_NOT_FOUND" in missing.stderr


def test_an_undecodable_record_becomes_a_dead_letter(scenario):
    server = scenario
    if not hasattr(server, "topic"):
        pytest.skip("only the Kafka topic can be written from outside the server")
    from confluent_kafka import Producer  # pylint: disable=import-outside-toplevel

    junk = b"\xff\xfe this is not an EventEnvelope"
    # The Java client's partitioner, as the CRM's: the record lands in the partition of its key.
    producer = Producer({"bootstrap.servers": server.brokers, "partitioner": "murmur2_random"})
    producer.produce(server.topic, key=b"ctl-junk", value=junk,
                     headers=[("event-type", b"crm.events.v1.CustomerRegistered")])
    assert producer.flush(30) == 0

    for process in processes(server):
        folds = ({"command-state"} if process.name == "crm-command" else VIEW_FOLDS)
        letters = wait_for(f"dead letters of {process.name}",
                           lambda p=process, n=len(folds): (
                               lambda d: d if len(d) >= n else None)(
                                   ctl_json(p, "dead-letters", "list")))
        assert {d["fold"] for d in letters} == folds
        assert [d["fold"] for d in letters] == sorted(d["fold"] for d in letters)
        for d in letters:
            assert d["key"] == "ctl-junk"
            assert d["event_type"] == "crm.events.v1.CustomerRegistered"
            assert d["error"]
            assert d["name"] == f"folds/{d['fold']}/deadLetters/{d['partition']}-{d['offset']}"
        name = letters[0]["name"]
        shown = ctl_json(process, "dead-letters", "show", name)[0]
        assert base64.b64decode(shown["value"]) == junk
        assert {"name": "event-type",
                "value": base64.b64encode(b"crm.events.v1.CustomerRegistered").decode()} in (
                    shown["headers"])
        table = ctl(process, "dead-letters", "show", name, output="table")
        assert table.returncode == 0 and "ctl-junk" in table.stdout
        retried = ctl(process, "dead-letters", "retry", name)
        assert retried.returncode == 1
        assert "FAILED_PRECONDITION" in retried.stderr
        assert "DEAD_LETTER_STILL_FAILS" in retried.stderr
        assert len(ctl_json(process, "dead-letters", "list")) == len(letters)  # still there
        status = ctl_json(process, "status")[0]
        for store in status["stores"]:
            for fold in store["folds"]:
                assert int(fold["dead_letters"]) == 1, fold
                assert int(fold["dead_letters_since_start"]) == 1, fold
        # The events listing shows the record, undecoded.
        raw = [e for e in ctl_json(process, "events", "--customer", "ctl-junk")]
        assert [base64.b64decode(e["value_base64"]) for e in raw] == [junk]

    # Everything else still answers.
    assert ctl_json(query_process(server), "customer", "get", ACME)[0]["display_name"] == (
        "ACME Ltd")
