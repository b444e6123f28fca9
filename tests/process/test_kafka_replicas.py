"""Two crm-command replicas on one topic: one writer per customer.

The partitions are divided among transactional writers (one per partition by default; fewer with
--kafka-writers, each transaction then spanning its writer's partitions); each replica runs the
writers w with w % replicas == its index and forwards commands for other customers to the replica
that runs their writer. These tests
race both replicas on the same customers and check the topic itself (read with an outside
client): no customer ever has two events with the same version. A second process started with an
existing replica's index (a zombie left behind by a restart) fences the first one.
"""

from __future__ import annotations

import collections
import socket
import subprocess
import threading

import pytest

import crmtest
import kafkatest
from crm.events.v1 import envelope_pb2  # noqa: E402  (stubs are on the path once crmtest is in)
from crmtest import cpb, grpc, spb

pytestmark = [pytest.mark.kafka]

TAGS_PER_THREAD = 40
THREADS = 8
CUSTOMERS = 24


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _replica(workdir, brokers, prefix, index, peers, writers=0) -> crmtest.Server:
    args = ["--engine", "kafka", "--kafka-brokers", brokers, "--kafka-topic-prefix", prefix,
            "--replica-index", str(index), "--peers", ",".join(peers),
            "--kafka-writers", str(writers),
            # A later --listen wins: replicas need the fixed addresses their peers know.
            "--listen", peers[index]]
    return crmtest.Server(workdir, binary=crmtest.COMMAND_BIN, base_args=args)


def _versions_by_customer(brokers: str, topic: str) -> dict[str, list[int]]:
    out: dict[str, list[int]] = collections.defaultdict(list)
    for record in kafkatest.read_topic(brokers, topic):
        event = envelope_pb2.EventEnvelope.FromString(record.value)
        if event.aggregate.startswith(("emailReservations/", "externalIdReservations/")):
            assert record.key.decode() == event.aggregate  # claims: keyed by aggregate
            continue
        assert record.key.decode() == event.customer_id
        out[event.customer_id].append(event.aggregate_version)
    return out


def _start_replicas(tmp_path, kafka_brokers, writers=0):
    prefix = crmtest.topic_prefix_for("replicas")
    peers = [f"127.0.0.1:{_free_port()}", f"127.0.0.1:{_free_port()}"]
    started = []
    try:
        for i in range(2):
            started.append(_replica(tmp_path / f"command-{i}", kafka_brokers, prefix, i,
                                    peers, writers).start())
        yield prefix, peers, started
    finally:
        for s in started:
            if s.running:
                s.stop(check=False)


@pytest.fixture
def replicas(tmp_path, kafka_brokers):
    yield from _start_replicas(tmp_path, kafka_brokers)


@pytest.fixture
def replicas_three_writers(tmp_path, kafka_brokers):
    # 6 partitions, 3 writers (p % 3), 2 replicas (w % 2): replica 0 writes partitions 0, 3, 2
    # and 5, replica 1 writes 1 and 4 -- not p % 2, so a router that ignored the writers would
    # send commands to a replica that cannot write them.
    yield from _start_replicas(tmp_path, kafka_brokers, writers=3)


def test_two_replicas_racing_on_the_same_customers_never_share_a_version(replicas,
                                                                         kafka_brokers):
    _race_and_check_versions(replicas, kafka_brokers)


def test_with_fewer_writers_than_partitions_each_customer_still_has_one_writer(
        replicas_three_writers, kafka_brokers):
    _race_and_check_versions(replicas_three_writers, kafka_brokers)


def _race_and_check_versions(replicas, kafka_brokers) -> None:
    prefix, _, (r0, r1) = replicas
    ids = [f"race-{i}" for i in range(CUSTOMERS)]
    for i, cid in enumerate(ids):
        crmtest.register((r0, r1)[i % 2], customer_id=cid)

    acked: dict[str, int] = collections.defaultdict(int)
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(t: int) -> None:
        try:
            for n in range(TAGS_PER_THREAD):
                cid = ids[(n + t) % len(ids)]
                replica = (r0, r1)[(n + t) % 2]
                replica.command.TagCustomer(spb.TagCustomerRequest(
                    name=f"customers/{cid}", tag=f"t{t}-{n}"))
                with lock:
                    acked[cid] += 1
        except BaseException as e:  # pylint: disable=broad-except
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]

    versions = _versions_by_customer(kafka_brokers, f"{prefix}.customer.events.v1")
    assert sorted(versions) == sorted(ids)
    for cid in ids:
        got = versions[cid]
        assert len(got) == len(set(got)), f"{cid}: a version appears twice: {got}"
        assert got == list(range(1, len(got) + 1)), f"{cid}: versions {got}"
        assert len(got) == 1 + acked[cid], cid


def test_a_second_process_with_the_same_index_fences_the_first(replicas, tmp_path,
                                                               kafka_brokers):
    prefix, peers, (r0, r1) = replicas
    ids = [f"fence-{i}" for i in range(CUSTOMERS)]
    for cid in ids:
        crmtest.register(r1, customer_id=cid)
    # A new process claims index 0 (as a restarted pod would while the old one lingers); its
    # transactional producers fence r0's.
    zombie_peers = [f"127.0.0.1:{_free_port()}", peers[1]]
    new0 = _replica(tmp_path / "command-0-new", kafka_brokers, prefix, 0, zombie_peers).start()
    try:
        outcomes = collections.Counter()
        for cid in ids:
            try:
                r0.command.TagCustomer(spb.TagCustomerRequest(name=f"customers/{cid}",
                                                              tag="via-old"))
                outcomes["old ok"] += 1
            except grpc.RpcError as e:
                assert e.code() == grpc.StatusCode.UNAVAILABLE, e
                outcomes["old fenced"] += 1
            new0.command.TagCustomer(spb.TagCustomerRequest(name=f"customers/{cid}",
                                                            tag="via-new"))
            outcomes["new ok"] += 1
        # The old process can no longer write index 0's partitions, but still forwards the rest.
        assert outcomes["old fenced"] > 0, outcomes
        assert outcomes["old ok"] > 0, outcomes
        assert outcomes["new ok"] == len(ids)
        versions = _versions_by_customer(kafka_brokers, f"{prefix}.customer.events.v1")
        for cid in ids:
            got = versions[cid]
            assert got == list(range(1, len(got) + 1)), f"{cid}: versions {got}"
    finally:
        new0.stop(check=False)


COLLIDING_CUSTOMERS = 200


def test_two_replicas_racing_to_register_colliding_emails_give_each_one_owner(
        replicas, tmp_path, kafka_brokers):
    """200 customers, registered in pairs that share an e-mail, each pair's two registrations sent
    at once to the two replicas (so most pairs are written by different replicas): every e-mail
    ends with exactly one owner, the other registration is refused with EMAIL_TAKEN, and
    FindCustomers (on a crm-projector of the same topic) finds the owner and only the owner."""
    prefix, _, (r0, r1) = replicas
    pairs = COLLIDING_CUSTOMERS // 2
    outcome: dict[str, str] = {}
    tokens: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def register(cid: str, email: str, replica) -> None:
        try:
            resp = crmtest.register(replica, customer_id=cid, emails=[email])
            with lock:
                outcome[cid] = "ok"
                tokens.append(resp.consistency_token)
        except grpc.RpcError as e:
            d = crmtest.error_details(e)
            with lock:
                if e.code() == grpc.StatusCode.ALREADY_EXISTS and d.error_info and \
                        d.error_info.reason == "EMAIL_TAKEN":
                    outcome[cid] = "taken"
                else:
                    errors.append(e)
        except BaseException as e:  # pylint: disable=broad-except
            errors.append(e)

    def pair(k: int) -> None:
        email = f"shared-{k}@example.com"
        a = threading.Thread(target=register, args=(f"col-{k}-a", email, r0))
        b = threading.Thread(target=register, args=(f"col-{k}-b", email, r1))
        a.start()
        b.start()
        a.join()
        b.join()

    batch = 16
    for start in range(0, pairs, batch):
        threads = [threading.Thread(target=pair, args=(k,))
                   for k in range(start, min(pairs, start + batch))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors, errors[0]

    owners: dict[str, str] = {}
    for k in range(pairs):
        got = sorted(outcome[f"col-{k}-{x}"] for x in "ab")
        assert got == ["ok", "taken"], f"shared-{k}: {got}"
        owners[f"shared-{k}@example.com"] = next(
            f"customers/col-{k}-{x}" for x in "ab" if outcome[f"col-{k}-{x}"] == "ok")

    projector = crmtest.Server(tmp_path / "projector", binary=crmtest.PROJECTOR_BIN,
                               base_args=["--engine", "kafka", "--kafka-brokers", kafka_brokers,
                                          "--kafka-topic-prefix", prefix]).start()
    try:
        token = crmtest.merge_tokens(*tokens)
        for email, owner in owners.items():
            found = projector.query.FindCustomers(spb.FindCustomersRequest(
                email=email, consistency_token=token))
            assert [c.name for c in found.customers] == [owner], email
    finally:
        projector.stop(check=False)


def test_an_import_through_either_replica_writes_each_row_on_the_replica_that_owns_it(
        replicas, kafka_brokers):
    """ImportCustomers runs each row's commands on the replica that writes the row's customer
    (most rows of one import belong to the other replica): every customer is registered once,
    with one writer, and the same import through the other replica finds every row by its
    external id or e-mail and changes nothing."""
    prefix, _, (r0, r1) = replicas
    rows = [spb.ImportCustomerRow(customer=cpb.Customer(
        display_name=f"Imported {i}", kind=cpb.PERSON, external_id=f"X-{i}",
        emails=[f"imported-{i}@example.com"] if i % 2 else [])) for i in range(24)]
    first = r0.command.ImportCustomers(
        iter([spb.ImportCustomersRequest(request_id=crmtest.new_request_id(), rows=rows)]),
        timeout=120)
    assert (first.created_count, first.failed_count) == (24, 0), first
    again = r1.command.ImportCustomers(iter([spb.ImportCustomersRequest(rows=rows)]),
                                       timeout=120)
    assert (again.unchanged_count, again.failed_count) == (24, 0), again
    assert [r.customer for r in again.results] == [r.customer for r in first.results]
    versions = _versions_by_customer(kafka_brokers, f"{prefix}.customer.events.v1")
    for r in first.results:
        assert versions[r.customer.split("/", 1)[1]] == [1], r.customer


def _replica_of(brokers: str, topic: str) -> dict[str, int]:
    """The replica writing each customer: its partition's writer (one per partition), w % 2."""
    return {record.key.decode(): record.partition % 2
            for record in kafkatest.read_topic(brokers, topic)
            if not record.key.decode().startswith(("emailReservations/", "externalIdReservations/"))}


def _tag(replica, name: str, tag: str):
    return replica.command.TagCustomer(spb.TagCustomerRequest(
        name=name, tag=tag, request_id=crmtest.new_request_id()))


def _merge(replica, survivor: str, merged: str, request_id: str = "", **fields):
    return replica.command.MergeCustomers(spb.MergeCustomersRequest(
        survivor=survivor, merged=merged, request_id=request_id or crmtest.new_request_id(),
        **fields))


def test_merges_of_customers_written_by_different_replicas(replicas, tmp_path, kafka_brokers):
    """MergeCustomers of two customers whose partitions two different replicas write (sent to
    either replica): the merged customer's writer records its half, the survivor's writer the
    other; the answer, retries, refusals (with their error details, as the merged customer's
    replica raised them), moved purchases and e-mails, and the views are those of a merge on one
    replica. A merge racing tags on both customers (through both replicas) moves every tag
    accepted before it and refuses those after."""
    prefix, _, (r0, r1) = replicas
    topic = f"{prefix}.customer.events.v1"
    tokens = []
    for i in range(16):
        tokens.append(crmtest.register(r0, customer_id=f"xr-{i}", display_name=f"Xr {i}",
                                       emails=[f"xr-{i}@example.com"]).consistency_token)
    writer = _replica_of(kafka_brokers, topic)
    by_replica = {0: [], 1: []}
    for i in range(16):
        by_replica[writer[f"xr-{i}"]].append(f"customers/xr-{i}")
    assert len(by_replica[0]) >= 3 and len(by_replica[1]) >= 3, by_replica
    (s0, m0, x0), (s1, m1, x1) = by_replica[0][:3], by_replica[1][:3]

    # Survivor on replica 0, merged on replica 1, sent to replica 1 (forwarded to replica 0).
    _tag(r1, m1, "vip")
    r1.command.RecordPurchase(spb.RecordPurchaseRequest(
        name=m1, purchase=crmtest.purchase(2500, purchase_id="xr-p1"),
        request_id=crmtest.new_request_id()))
    rid = crmtest.new_request_id()
    resp = _merge(r1, s0, m1, rid)
    assert resp.appended_event_count == 2
    s = resp.customer
    assert s.name == s0 and [m.name for m in s.merged_customers] == [m1]
    assert list(s.emails) == [f"{s0[10:]}@example.com", f"{m1[10:]}@example.com"]
    assert "vip" in s.tags and s.value.purchase_count == 1
    assert resp.summary.purchase_count == 1 and list(resp.summary.emails) == \
        [f"{m1[10:]}@example.com"]
    tokens.append(resp.consistency_token)
    # A retry (through either replica) answers the same and appends nothing.
    for replica in (r0, r1):
        again = _merge(replica, s0, m1, rid)
        assert (again.appended_event_count, again.summary) == (2, resp.summary)
    # Another request id: done already. A command on the merged customer: refused, naming the
    # survivor.
    d = crmtest.expect_error(grpc.StatusCode.FAILED_PRECONDITION, _merge, r0, s0, m1)
    assert crmtest.assert_error_info(d).reason == "ALREADY_MERGED"
    d = crmtest.expect_error(grpc.StatusCode.FAILED_PRECONDITION, _tag, r0, m1, "late")
    info = crmtest.assert_error_info(d)
    assert info.reason == "CUSTOMER_MERGED" and info.metadata["survivor"] == s0
    # The merged customer's purchase moved: the survivor refunds it by its id.
    refunded = r0.command.RefundPurchase(spb.RefundPurchaseRequest(
        name=s0, purchase_id="xr-p1", amount=cpb.Money(currency_code="CNY", amount_minor=500),
        request_id=crmtest.new_request_id()))
    assert refunded.customer.value.totals[0].refunded_minor == 500
    tokens.append(refunded.consistency_token)

    # Refusals decided on the merged customer's replica reach the caller as raised there.
    d = crmtest.expect_error(grpc.StatusCode.ABORTED, _merge, r0, s1, m0, merged_etag="v99")
    info = crmtest.assert_error_info(d)
    assert (info.metadata["customer"], info.metadata["current_etag"]) == (m0, "v1"), d
    r0.command.ArchiveCustomer(spb.ArchiveCustomerRequest(
        name=m0, reason="gone", request_id=crmtest.new_request_id()))
    d = crmtest.expect_error(grpc.StatusCode.FAILED_PRECONDITION, _merge, r0, s1, m0)
    assert crmtest.assert_error_info(d).reason == "CUSTOMER_ARCHIVED"
    # A dry run across replicas records nothing.
    dry = _merge(r0, s1, x0, validate_only=True)
    assert dry.validate_only and dry.appended_event_count == 0
    assert [m.name for m in dry.customer.merged_customers] == [x0]

    # The race: tags on both customers through both replicas while the merge runs.
    race = crmtest.MergeRace(lambda: _merge(r0, s1, x0),
                             [(lambda n, t: _tag(r0, n, t), s1, "s"),
                              (lambda n, t: _tag(r1, n, t), x0, "m")]).run()
    assert race.answer.appended_event_count == 2
    tokens += race.tokens
    race.assert_merged_tags_split(x0, "m")

    # The topic: every customer's versions without gaps or repeats; each merged customer ends
    # with CustomerMergedInto, its survivor's merge names it with the same causation id.
    versions = _versions_by_customer(kafka_brokers, topic)
    for cid, seen in versions.items():
        assert seen == list(range(1, len(seen) + 1)), (cid, seen)
    last: dict[str, envelope_pb2.EventEnvelope] = {}
    merges: dict[str, envelope_pb2.EventEnvelope] = {}
    for record in kafkatest.read_topic(kafka_brokers, topic):
        event = envelope_pb2.EventEnvelope.FromString(record.value)
        if event.aggregate.startswith("customers/") and "/" not in event.aggregate[10:]:
            last[event.aggregate] = event
            if event.WhichOneof("payload") == "customer_merged":
                merges[f"customers/{event.customer_merged.merged_customer_id}"] = event
    for survivor, merged in ((s0, m1), (s1, x0)):
        assert last[merged].WhichOneof("payload") == "customer_merged_into"
        assert merges[merged].aggregate == survivor
        assert merges[merged].causation_id == last[merged].causation_id

    # The views (a crm-projector of the topic): the survivor has every tag accepted, the merged
    # names read as their survivors, the moved e-mail finds the survivor.
    projector = crmtest.Server(tmp_path / "projector", binary=crmtest.PROJECTOR_BIN,
                               base_args=["--engine", "kafka", "--kafka-brokers", kafka_brokers,
                                          "--kafka-topic-prefix", prefix]).start()
    try:
        token = crmtest.merge_tokens(*tokens)
        got = projector.query.GetCustomer(spb.GetCustomerRequest(name=s1,
                                                                 consistency_token=token))
        assert {tag for _, tag in race.accepted} <= set(got.tags)
        for survivor, merged in ((s0, m1), (s1, x0)):
            assert projector.query.GetCustomer(spb.GetCustomerRequest(
                name=merged, consistency_token=token)).name == survivor
        found = projector.query.FindCustomers(spb.FindCustomersRequest(
            email=f"{m1[10:]}@example.com", consistency_token=token))
        assert [c.name for c in found.customers] == [s0]
    finally:
        projector.stop(check=False)


def test_a_cross_replica_merge_stopped_after_its_first_half_is_completed_by_the_next_call(
        replicas, kafka_brokers):
    """The survivor's replica stops right after the merged customer's replica recorded its half
    (here: that half requested directly, as the survivor's replica does): the merged customer
    already redirects, the survivor has not taken it. The retry with the same request id, through
    either replica, completes it (appending only the survivor's half) and answers as a retry."""
    from crm.internal.v1 import merge_service_pb2 as mspb  # pylint: disable=import-outside-toplevel
    from crm.internal.v1 import merge_service_pb2_grpc as msgrpc  # noqa: E501  pylint: disable=import-outside-toplevel
    prefix, _, (r0, r1) = replicas
    topic = f"{prefix}.customer.events.v1"
    for i in range(12):
        crmtest.register(r0, customer_id=f"half-{i}", display_name=f"Half {i}",
                         emails=[f"half-{i}@example.com"])
    writer = _replica_of(kafka_brokers, topic)
    survivor = next(f"customers/half-{i}" for i in range(12) if writer[f"half-{i}"] == 0)
    merged = next(f"customers/half-{i}" for i in range(12) if writer[f"half-{i}"] == 1)
    rid = crmtest.new_request_id()
    request = spb.MergeCustomersRequest(survivor=survivor, merged=merged, request_id=rid)
    half = msgrpc.CustomerMergeServiceStub(r0.channel).SealMergedCustomer(
        mspb.SealMergedCustomerRequest(merge=request))  # routed to the merged customer's writer
    assert half.appended_event_count == 1 and half.merged.merged_into == survivor
    d = crmtest.expect_error(grpc.StatusCode.FAILED_PRECONDITION, _tag, r1, merged, "late")
    assert crmtest.assert_error_info(d).reason == "CUSTOMER_MERGED"

    done = r1.command.MergeCustomers(request)  # forwarded to the survivor's replica
    assert done.appended_event_count == 2  # a retry: the count of the whole merge
    assert [m.name for m in done.customer.merged_customers] == [merged]
    assert list(done.customer.emails) == [f"{survivor[10:]}@example.com",
                                          f"{merged[10:]}@example.com"]
    assert r0.command.MergeCustomers(request).summary == done.summary
    events = [envelope_pb2.EventEnvelope.FromString(r.value)
              for r in kafkatest.read_topic(kafka_brokers, topic)]
    kinds = [(e.aggregate, e.WhichOneof("payload")) for e in events
             if e.WhichOneof("payload") in ("customer_merged", "customer_merged_into")]
    assert sorted(kinds) == sorted([(survivor, "customer_merged"),
                                    (merged, "customer_merged_into")])  # once each


def test_more_replicas_than_writers_is_refused_at_start(tmp_path, kafka_brokers):
    peers = [f"127.0.0.1:{_free_port()}", f"127.0.0.1:{_free_port()}"]
    proc = subprocess.run(
        [str(crmtest.COMMAND_BIN), "--engine", "kafka", "--kafka-brokers", kafka_brokers,
         "--kafka-topic-prefix", crmtest.topic_prefix_for("few-writers"), "--kafka-writers", "1",
         "--replica-index", "0", "--peers", ",".join(peers), "--listen", peers[0],
         "--data-dir", str(tmp_path / "data")],
        stdin=subprocess.DEVNULL, capture_output=True, timeout=60, check=False)
    assert proc.returncode != 0
    assert b"2 replicas but only 1 writers" in proc.stdout + proc.stderr
