"""MergeCustomers on both engines (proto/crm/v1/README.md, "Merging customers"): a dry run moves
nothing; a merge moves interactions, complaints, purchases, tags and e-mails (the merged
customer's address is taken by the survivor), a retry with the same request_id answers the same,
a merge into itself, into a merged customer or of a missing customer is refused clearly, a merge
racing commands on both customers ends consistent, and the views answer the same after a
`--rebuild` restart.
"""

from __future__ import annotations

import pytest

import crmtest
import orgtest
from crmtest import (assert_error_info, assert_violation, expect_error, grpc, new_request_id,
                     purchase, spb)

from crm.v1 import complaint_pb2 as kpb  # noqa: E402
from crm.v1 import complaint_service_pb2 as kspb  # noqa: E402
from crm.v1 import complaint_service_pb2_grpc as ksgrpc  # noqa: E402
from crm.v1 import interaction_pb2 as ipb  # noqa: E402
from crm.v1 import interaction_service_pb2 as ispb  # noqa: E402
from crm.v1 import interaction_service_pb2_grpc as isgrpc  # noqa: E402
from crm.v1 import segment_service_pb2 as sgpb  # noqa: E402
from crm.v1 import segment_service_pb2_grpc as sggrpc  # noqa: E402

pytestmark = pytest.mark.engines("embedded", "kafka")


class World(crmtest.Session):
    def customer(self, cid: str, **fields) -> str:
        return self.write(crmtest.register(self.server, customer_id=cid, **fields)).customer.name

    def tag(self, name: str, tag: str):
        return self.write(self.cmd.TagCustomer(spb.TagCustomerRequest(
            name=name, tag=tag, request_id=new_request_id())))

    def buy(self, name: str, amount: int, currency: str = "CNY"):
        return self.write(self.cmd.RecordPurchase(spb.RecordPurchaseRequest(
            name=name, purchase=purchase(amount, currency), request_id=new_request_id())))

    def interaction(self, parent: str):
        interaction = ipb.Interaction(channel=ipb.PHONE, direction=ipb.INBOUND, staff_id="s-1",
                                      summary="Asked about the order")
        interaction.occurred_at.GetCurrentTime()
        return self.write(isgrpc.InteractionCommandServiceStub(self.server.channel).LogInteraction(
            ispb.LogInteractionRequest(parent=parent, request_id=new_request_id(),
                                       interaction=interaction)))

    def complaint(self, parent: str):
        return self.write(ksgrpc.ComplaintCommandServiceStub(self.server.channel).FileComplaint(
            kspb.FileComplaintRequest(
                parent=parent, request_id=new_request_id(),
                complaint=kpb.Complaint(channel=ipb.PHONE, category=kpb.PRODUCT_QUALITY,
                                        severity=kpb.MINOR, description="The kettle leaks"))))

    def merge(self, survivor: str, merged: str, request_id: str | None = None, **fields):
        return self.cmd.MergeCustomers(spb.MergeCustomersRequest(
            survivor=survivor, merged=merged,
            request_id=new_request_id() if request_id is None else request_id, **fields))

    def sizes(self):
        return sggrpc.SegmentServiceStub(self.server.query_channel).GetSegmentSizes(
            sgpb.GetSegmentSizesRequest(consistency_token=self.covering()))


@pytest.fixture(scope="module")
def world(tmp_path_factory, engine, request):
    from conftest import _Factory  # pylint: disable=import-outside-toplevel

    factory = _Factory(tmp_path_factory.mktemp(f"merge-{engine}"), engine, request)
    server = factory()
    w = World(server)
    w.token = orgtest.add_account_managers(server, "s-1")
    yield w
    factory.stop_all()


def _pair(w: World, prefix: str):
    """A survivor with a tag, a purchase and one e-mail; a duplicate with its own e-mail, a phone,
    a region, tags, two purchases, an interaction and a complaint."""
    survivor = w.customer(f"{prefix}-s", display_name="Ada Lovelace",
                          emails=[f"{prefix}-ada@example.com"], region="")
    merged = w.customer(f"{prefix}-m", display_name="A. Lovelace",
                        emails=[f"{prefix}-ada.l@example.com"], phones=["+44 20 7946 0000"],
                        region="London", industry="Computing", external_id=f"{prefix}-ERP-7")
    w.tag(survivor, "vip")
    w.tag(merged, "vip")
    w.tag(merged, "newsletter")
    w.buy(survivor, 1000)
    w.buy(merged, 2500)
    w.buy(merged, 700, "USD")
    w.interaction(merged)
    w.complaint(merged)
    return survivor, merged


def test_a_dry_run_moves_nothing(world):
    w = world
    survivor, merged = _pair(w, "dry")
    before = (w.get(survivor), w.get(merged))
    resp = w.merge(survivor, merged, validate_only=True)
    assert resp.validate_only and resp.appended_event_count == 0
    assert resp.consistency_token  # the survivor's last event's: what the answer shows
    m = resp.summary
    assert (m.interaction_count, m.complaint_count, m.purchase_count) == (1, 1, 2)
    assert list(m.tags) == ["newsletter"]
    assert list(m.emails) == ["dry-ada.l@example.com"]
    assert list(m.phones) == ["+442079460000"]
    assert list(m.filled_fields) == ["region", "industry", "external_id"]
    # The survivor as the merge would leave it; nothing recorded.
    assert resp.customer.name == survivor and resp.customer.version == before[0].version + 1
    assert list(resp.customer.emails) == ["dry-ada@example.com", "dry-ada.l@example.com"]
    assert (w.get(survivor), w.get(merged)) == before
    assert not before[1].merged_into
    # A dry run records no request id: the same id then merges for real.
    rid = new_request_id()
    w.merge(survivor, merged, request_id=rid, validate_only=True)
    assert w.write(w.merge(survivor, merged, request_id=rid)).appended_event_count == 2


def test_a_merge_moves_everything_and_redirects(world):
    w = world
    survivor, merged = _pair(w, "mv")
    sizes_before = w.sizes().customers
    rid = new_request_id()
    resp = w.write(w.merge(survivor, merged, request_id=rid))
    assert resp.appended_event_count == 2 and not resp.validate_only
    s = resp.customer
    assert s.name == survivor
    assert s.tags == ["newsletter", "vip"]
    assert list(s.emails) == ["mv-ada@example.com", "mv-ada.l@example.com"]
    assert list(s.phones) == ["+442079460000"]
    assert (s.display_name, s.region, s.industry) == ("Ada Lovelace", "London", "Computing")
    assert s.external_id == "mv-ERP-7"  # the survivor had none: it takes the merged one's
    assert s.value.purchase_count == 3
    assert {(t.currency_code, t.total_minor, t.purchase_count) for t in s.value.totals} == \
        {("CNY", 3500, 2), ("USD", 700, 1)}
    assert [m.name for m in s.merged_customers] == [merged]
    summary = resp.summary
    assert (summary.interaction_count, summary.complaint_count, summary.purchase_count) == (1, 1, 2)

    # The views: the survivor as answered; the merged name reads as the survivor.
    got = w.get(survivor)
    assert got.emails == s.emails and got.tags == s.tags and got.value == s.value
    assert w.get(merged).name == survivor
    names = [c.name for c in crmtest.list_all(w.server, consistency_token=w.covering())]
    assert survivor in names and merged not in names
    found = w.server.query.FindCustomers(spb.FindCustomersRequest(
        email="mv-ada.l@example.com", consistency_token=w.covering()))
    assert [c.name for c in found.customers] == [survivor]
    assert w.sizes().customers == sizes_before - 1

    # History kept: the merged customer's own events, then its CustomerMergedInto; the survivor's
    # CustomerMerged names it.
    merged_history = crmtest.history(w.server, merged, consistency_token=w.covering())
    assert merged_history[-1].WhichOneof("payload") == "customer_merged_into"
    assert merged_history[-1].customer_merged_into.survivor_id == "mv-s"
    assert merged_history[-1].request_id == rid
    survivor_history = crmtest.history(w.server, survivor, consistency_token=w.covering())
    last = survivor_history[-1]
    assert last.WhichOneof("payload") == "customer_merged"
    assert last.customer_merged.merged_customer_id == "mv-m"
    assert last.causation_id == merged_history[-1].causation_id
    # The timelines link each other: the merge's entry names the other customer.
    timeline = isgrpc.InteractionQueryServiceStub(w.server.query_channel)
    for name, other in ((survivor, merged), (merged, survivor)):
        entries = timeline.GetCustomerTimeline(ispb.GetCustomerTimelineRequest(
            parent=name, consistency_token=w.covering(), kinds=[ispb.TIMELINE_PROFILE])).entries
        linked = [e for e in entries if e.event.WhichOneof("payload") in
                  ("customer_merged", "customer_merged_into")]
        assert [e.resource for e in linked] == [other]
    # The merged customer's interactions and complaints stay under its name.
    assert len(timeline.ListInteractions(ispb.ListInteractionsRequest(
        parent=merged, consistency_token=w.covering())).interactions) == 1

    # The e-mail moved: registering it again is refused as the survivor's.
    d = expect_error(grpc.StatusCode.ALREADY_EXISTS, crmtest.register, w.server,
                     customer_id="mv-x", display_name="X", emails=["mv-ada.l@example.com"])
    info = assert_error_info(d)
    assert info.reason == "EMAIL_TAKEN" and info.metadata["existing_customer"] == survivor

    # So did the external id: found as the survivor's, and taken.
    found = w.server.query.FindCustomers(spb.FindCustomersRequest(
        external_id="mv-ERP-7", consistency_token=w.covering()))
    assert [c.name for c in found.customers] == [survivor]
    d = expect_error(grpc.StatusCode.ALREADY_EXISTS, crmtest.register, w.server,
                     customer_id="mv-y", display_name="Y", external_id="mv-ERP-7")
    info = assert_error_info(d)
    assert info.reason == "EXTERNAL_ID_TAKEN" and info.metadata["existing_customer"] == survivor

    # Commands on the merged customer are refused, naming the survivor.
    d = expect_error(grpc.StatusCode.FAILED_PRECONDITION, w.tag, merged, "late")
    info = assert_error_info(d)
    assert info.reason == "CUSTOMER_MERGED" and info.metadata["survivor"] == survivor
    d = expect_error(grpc.StatusCode.FAILED_PRECONDITION, w.interaction, merged)
    assert assert_error_info(d).reason == "CUSTOMER_MERGED"
    d = expect_error(grpc.StatusCode.FAILED_PRECONDITION, w.complaint, merged)
    assert assert_error_info(d).reason == "CUSTOMER_MERGED"

    # The same request id answers the same, and appends nothing.
    again = w.merge(survivor, merged, request_id=rid)
    assert again.summary == resp.summary and again.customer.name == survivor
    assert crmtest.history(w.server, survivor, consistency_token=w.covering()) == survivor_history
    # Another request id: the merge is done already.
    d = expect_error(grpc.StatusCode.FAILED_PRECONDITION, w.merge, survivor, merged)
    assert assert_error_info(d).reason == "ALREADY_MERGED"


def test_bad_merges_are_refused_clearly(world):
    w = world
    a = w.customer("bad-a", display_name="A")
    b = w.customer("bad-b", display_name="B")
    c = w.customer("bad-c", display_name="C")
    d = expect_error(grpc.StatusCode.INVALID_ARGUMENT, w.merge, a, a)
    assert_violation(d, "merged")
    d = expect_error(grpc.StatusCode.INVALID_ARGUMENT, w.merge, "customers/", "nope")
    assert {field for field, _ in d.violations} >= {"survivor", "merged"}
    d = expect_error(grpc.StatusCode.NOT_FOUND, w.merge, a, "customers/bad-missing")
    assert "customers/bad-missing" in d.message
    d = expect_error(grpc.StatusCode.NOT_FOUND, w.merge, "customers/bad-missing", a)
    assert "customers/bad-missing" in d.message
    d = expect_error(grpc.StatusCode.ABORTED, w.merge, a, b, merged_etag="v99")
    w.write(w.merge(a, b))
    # Into a merged customer, or a merged customer into another: refused, naming its survivor.
    for survivor, merged in ((b, c), (c, b)):
        d = expect_error(grpc.StatusCode.FAILED_PRECONDITION, w.merge, survivor, merged)
        info = assert_error_info(d)
        assert info.reason == "CUSTOMER_MERGED" and info.metadata["survivor"] == a


def test_a_merge_racing_commands_on_both_customers(world):
    """Threads tag and buy on both customers while the merge runs: every command accepted shows
    on the survivor; those on the merged customer after the merge are refused."""
    w = world
    survivor = w.customer("race-s", display_name="S")
    merged = w.customer("race-m", display_name="M")
    race = crmtest.MergeRace(lambda: w.write(w.merge(survivor, merged)),
                             [(w.tag, survivor, "s"), (w.tag, merged, "m")], count=25).run()
    assert race.answer.appended_event_count == 2
    w.token = crmtest.merge_tokens(w.token, *race.tokens)
    got = w.get(survivor)
    # Every accepted tag is on the survivor (the merged customer's through the merge).
    assert {tag for _, tag in race.accepted} <= set(got.tags)
    # The merged customer's: those before the merge moved, the rest were refused.
    merged_tags = race.assert_merged_tags_split(merged, "m")
    merged_events = crmtest.history(w.server, merged, consistency_token=w.covering())
    assert merged_events[-1].WhichOneof("payload") == "customer_merged_into"
    assert {e.customer_tagged.tag for e in merged_events
            if e.WhichOneof("payload") == "customer_tagged"} == merged_tags
    assert w.get(merged).name == survivor


def test_crmctl_merge_dry_run_then_merge(world):
    w = world
    survivor, merged = _pair(w, "ctl")
    target = w.server.commander if hasattr(w.server, "commander") else w.server

    def ctl(*args: str, output: str = "table"):
        return crmtest.crmctl("--server", target.address, *crmtest.crmctl_args(target),
                              "--output", output, "customer", "merge", *args)

    out = ctl(survivor, merged, "--dry-run", output="json")
    assert out.returncode == 0, out.stderr
    assert '"validate_only":true' in out.stdout.replace(" ", "")
    assert not w.get(merged).merged_into and w.get(merged).name == merged
    out = ctl("ctl-s", "ctl-m")
    assert out.returncode == 0, out.stderr
    assert "merged customers/ctl-m into customers/ctl-s" in out.stdout
    # Run again: the same derived request id answers the same.
    again = ctl("ctl-s", "ctl-m")
    assert again.returncode == 0 and again.stdout == out.stdout
    w.token = crmtest.covering_token(w.server, w.token)
    assert w.get(merged).name == survivor


def _answers(w: World):
    token = w.covering()
    customers = crmtest.list_all(w.server, consistency_token=token)
    out = {c.name: (c.SerializeToString(deterministic=True),
                    [e.SerializeToString(deterministic=True)
                     for e in crmtest.history(w.server, c.name, consistency_token=token)])
           for c in customers}
    for name in ("customers/mv-m", "customers/race-m", "customers/bad-b"):
        out[f"get {name}"] = w.get(name).SerializeToString(deterministic=True)
    sizes = w.sizes()
    out["sizes"] = sizes.SerializeToString(deterministic=True)
    return out


def test_the_same_answers_after_a_rebuild(world):
    """Last in this module: restarts the server."""
    w = world
    w.token = crmtest.covering_token(w.server, w.token)
    before = _answers(w)
    w.server.restart("--rebuild")
    assert _answers(w) == before
