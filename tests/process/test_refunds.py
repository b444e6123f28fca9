"""Refunds of purchases and archiving of customers on both engines, from outside
(proto/crm/v1/README.md "Purchase ids and refunds" and "Archiving"; docs/analytics.md "Sales",
"Repeat purchases", "Customer value").

Refunds: purchase ids are generated and unique per customer; a partial refund, then the rest;
every refusal (unknown purchase, another currency, before the purchase, more than is left, twice);
the customer's value figures and tier net of refunds; the owner's sales net in the refund's window
and the all-time repeat-purchase figures without the purchase wholly refunded; GetCustomerValue;
the timeline in both languages; a retry answers the first answer; the same answers after a
--rebuild restart.

Archiving: an archived customer refuses commands and new interactions, complaints and surveys, is
left out of lists and searches unless show_archived, still reads by name, and takes commands
again once unarchived.
"""

from __future__ import annotations

import datetime

import pytest

import crmtest
import orgtest
from test_crmctl import command_process, ctl_json, query_process
from crmtest import (assert_violation, command_stub, expect_error, grpc, new_request_id, purchase,
                     query_stub, register, spb)

from crm.v1 import analytics_service_pb2 as anpb  # noqa: E402
from crm.v1 import analytics_service_pb2_grpc as angrpc  # noqa: E402
from crm.v1 import complaint_pb2 as kpb  # noqa: E402
from crm.v1 import complaint_service_pb2 as kspb  # noqa: E402
from crm.v1 import complaint_service_pb2_grpc as ksgrpc  # noqa: E402
from crm.v1 import customer_pb2 as cpb  # noqa: E402
from crm.v1 import interaction_pb2 as ipb  # noqa: E402
from crm.v1 import interaction_service_pb2 as ispb  # noqa: E402
from crm.v1 import interaction_service_pb2_grpc as isgrpc  # noqa: E402
from crm.v1 import segment_service_pb2 as sgpb  # noqa: E402
from crm.v1 import segment_service_pb2_grpc as sggrpc  # noqa: E402
from crm.v1 import survey_pb2 as svpb  # noqa: E402
from crm.v1 import survey_service_pb2 as svspb  # noqa: E402
from crm.v1 import survey_service_pb2_grpc as svgrpc  # noqa: E402

pytestmark = pytest.mark.engines("embedded", "kafka")


class World(crmtest.Session):
    def buy(self, name: str, amount: int, purchase_id: str = "", currency: str = "CNY",
            product: str = "widget", request_id: str | None = None):
        return self.write(self.cmd.RecordPurchase(spb.RecordPurchaseRequest(
            name=name, purchase=purchase(amount, currency, product, purchase_id),
            request_id=new_request_id() if request_id is None else request_id)))

    def refund(self, name: str, purchase_id: str, amount: int | None = None, currency="CNY",
               request_id: str | None = None, **fields):
        request = spb.RefundPurchaseRequest(
            name=name, purchase_id=purchase_id, reason="returned",
            request_id=new_request_id() if request_id is None else request_id, **fields)
        if amount is not None:
            request.amount.CopyFrom(cpb.Money(currency_code=currency, amount_minor=amount))
        return self.write(self.cmd.RefundPurchase(request))

    def sales(self, staff_id: str) -> anpb.SalesStats:
        return query_stub(self.server, angrpc.AnalyticsServiceStub).GetSalesStats(
            anpb.GetSalesStatsRequest(scope=anpb.StaffScope(staff_id=staff_id),
                                      consistency_token=self.covering()))

    def retention(self) -> anpb.Retention:
        return query_stub(self.server, angrpc.AnalyticsServiceStub).GetRetention(
            anpb.GetRetentionRequest(consistency_token=self.covering()))

    def value(self, name: str) -> sgpb.CustomerValue:
        return query_stub(self.server, sggrpc.SegmentServiceStub).GetCustomerValue(
            sgpb.GetCustomerValueRequest(name=name, consistency_token=self.covering()))


def _start(make_server) -> World:
    w = World(make_server())
    orgtest.make_org(w.server)
    return w


def _reason(d) -> str:
    return crmtest.assert_error_info(d).reason


def _answers(w: World, names: list[str]) -> dict:
    out = {"sales": w.sales(orgtest.ACCOUNT_MANAGER).SerializeToString(deterministic=True),
           "retention": w.retention().SerializeToString(deterministic=True)}
    token = w.covering()
    for name in names:
        out[name] = w.get(name).SerializeToString(deterministic=True)
        value = w.value(name)
        value.ClearField("as_of")
        value.ClearField("rfm")  # recency moves with the clock
        out[f"value {name}"] = value.SerializeToString(deterministic=True)
        out[f"history {name}"] = [e.SerializeToString(deterministic=True)
                                  for e in crmtest.history(w.server, name, consistency_token=token)]
    return out


def test_refunds_end_to_end(make_server):
    w = _start(make_server)
    name = w.write(register(w.server, customer_id="rf-ann")).customer.name
    w.write(w.cmd.AssignOwner(spb.AssignOwnerRequest(
        name=name, owner=orgtest.ACCOUNT_MANAGER, request_id=new_request_id())))

    # Ids: the caller's, or generated (derived from the request id); unique per customer.
    w.buy(name, 600_000, "order-1")
    rid = new_request_id()
    w.buy(name, 500_000, request_id=rid)
    w.buy(name, 1_000, "order-3", currency="USD", product="gadget")
    history = crmtest.history(w.server, name, consistency_token=w.covering())
    ids = [e.purchase_recorded.purchase.purchase_id for e in history
           if e.HasField("purchase_recorded")]
    assert ids[0] == "order-1" and ids[2] == "order-3"
    generated = ids[1]
    assert len(generated) == 36, generated  # a UUID
    d = expect_error(grpc.StatusCode.ALREADY_EXISTS, w.buy, name, 5, "order-1")
    assert _reason(d) == "PURCHASE_EXISTS"
    customer = w.get(name)
    assert customer.value_tier == cpb.HIGH_VALUE  # 1,100,000 fen in CNY
    assert customer.value.purchase_count == 3

    # A partial refund, then the rest; a retry answers the first answer.
    rid = new_request_id()
    first = w.refund(name, "order-1", 200_000, request_id=rid)
    assert first.appended_event_count == 1
    cny = {t.currency_code: t for t in first.customer.value.totals}["CNY"]
    assert (cny.total_minor, cny.refunded_minor, cny.purchase_count) == (900_000, 200_000, 2)
    assert first.customer.value_tier == cpb.ORDINARY  # under 1,000,000 now
    again = w.cmd.RefundPurchase(spb.RefundPurchaseRequest(
        name=name, purchase_id="order-1", reason="returned", request_id=rid,
        amount=cpb.Money(currency_code="CNY", amount_minor=200_000)))
    assert again.customer == first.customer and again.appended_event_count == 1
    rest = w.refund(name, "order-1")  # all that is left
    cny = {t.currency_code: t for t in rest.customer.value.totals}["CNY"]
    assert (cny.total_minor, cny.refunded_minor, cny.purchase_count) == (500_000, 600_000, 1)
    assert rest.customer.value.purchase_count == 2

    # Refusals.
    d = expect_error(grpc.StatusCode.FAILED_PRECONDITION, w.refund, name, "order-1", 1)
    assert _reason(d) == "PURCHASE_ALREADY_REFUNDED"
    d = expect_error(grpc.StatusCode.FAILED_PRECONDITION, w.refund, name, generated, 500_001)
    assert _reason(d) == "REFUND_EXCEEDS_PURCHASE"
    assert d.error_info.metadata["refundable_minor"] == "500000"
    d = expect_error(grpc.StatusCode.NOT_FOUND, w.refund, name, "no-such-order")
    assert _reason(d) == "PURCHASE_NOT_FOUND"
    d = expect_error(grpc.StatusCode.INVALID_ARGUMENT, w.refund, name, "order-3", 10, "CNY")
    assert_violation(d, "amount.currency_code")
    early = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=2)
    request = spb.RefundPurchaseRequest(name=name, purchase_id="order-3",
                                        request_id=new_request_id())
    request.refunded_at.FromDatetime(early)
    d = expect_error(grpc.StatusCode.INVALID_ARGUMENT, w.cmd.RefundPurchase, request)
    assert_violation(d, "refunded_at")
    for bad, field in ((dict(purchase_id=""), "purchase_id"),
                       (dict(purchase_id="x", amount=cpb.Money(currency_code="CNY",
                                                               amount_minor=-5)),
                        "amount.amount_minor")):
        d = expect_error(grpc.StatusCode.INVALID_ARGUMENT, w.cmd.RefundPurchase,
                         spb.RefundPurchaseRequest(name=name, request_id=new_request_id(), **bad))
        assert_violation(d, field)

    # The owner's sales are net: order-1 (600,000) came and went, a partial refund of the USD
    # one leaves 400 of it (made with crmctl: run twice, it refunds once).
    for _ in range(2):
        [answer] = ctl_json(command_process(w.server), "customer", "refund", name, "order-3",
                            "--amount-minor", "600", "--currency", "USD", "--reason", "dented")
    usd = {t["currency_code"]: t for t in answer["customer"]["value"]["totals"]}["USD"]
    assert (usd["total_minor"], usd["refunded_minor"]) == ("400", "600")
    w.token = crmtest.merge_tokens(w.token, answer["consistency_token"])
    sales = w.sales(orgtest.ACCOUNT_MANAGER)
    by_currency = {t.currency_code: (t.total_minor, t.purchase_count) for t in sales.amounts}
    assert by_currency == {"CNY": (500_000, 1), "USD": (400, 1)}
    assert sales.purchase_count == 2
    # Repeat purchases: three purchases, one wholly refunded: still a repeat customer (two left).
    retention = w.retention()
    assert (retention.purchasing_customers, retention.repeat_customers) == (1, 1)
    w.refund(name, generated)
    retention = w.retention()
    assert (retention.purchasing_customers, retention.repeat_customers) == (1, 0)
    value = w.value(name)
    assert value.lifetime_value.purchase_count == 1
    cny = {t.currency_code: t for t in value.lifetime_value.totals}["CNY"]
    assert (cny.total_minor, cny.refunded_minor, cny.purchase_count) == (0, 1_100_000, 0)
    assert value.main_currency == "USD"
    assert value.value_tier == cpb.ORDINARY

    # The timeline tells it, in both languages.
    timeline = query_stub(w.server, isgrpc.InteractionQueryServiceStub)
    for language, word in (("en", "Refund of purchase order-1"), ("zh", "退款（购买 order-1")):
        entries = timeline.GetCustomerTimeline(ispb.GetCustomerTimelineRequest(
            parent=name, consistency_token=w.covering(), language_code=language)).entries
        assert any(word in e.summary for e in entries), [e.summary for e in entries]

    # The same answers after a refold from the start of the log.
    before = _answers(w, [name])
    w.server.restart("--rebuild")
    assert _answers(w, [name]) == before


def test_a_merge_moves_purchases_to_the_survivor(make_server):
    w = _start(make_server)
    survivor = w.write(register(w.server, customer_id="mv-s")).customer.name
    dup = w.write(register(w.server, customer_id="mv-d")).customer.name
    w.buy(survivor, 1_000, "o-1")
    w.buy(dup, 2_000, "o-2")
    w.buy(dup, 500, "o-1")  # the same order number as the survivor's own
    retention = w.retention()
    assert (retention.purchasing_customers, retention.repeat_customers) == (2, 1)

    w.write(w.cmd.MergeCustomers(spb.MergeCustomersRequest(
        survivor=survivor, merged=dup, request_id=new_request_id())))
    history = crmtest.history(w.server, survivor, consistency_token=w.covering())
    [merged] = [e.customer_merged for e in history if e.HasField("customer_merged")]
    assert [p.purchase.purchase_id for p in merged.merged_purchases] == ["o-1", "o-2"]
    assert merged.purchases_moved
    # One customer with three purchases now.
    retention = w.retention()
    assert (retention.purchasing_customers, retention.repeat_customers) == (1, 1)
    assert w.get(survivor).value.purchase_count == 3

    # The survivor refunds the merged customer's purchase by its id; "o-1" is its own.
    after = w.refund(survivor, "o-2")
    assert after.customer.value.totals[0].total_minor == 1_500
    after = w.refund(survivor, "o-1")
    assert after.customer.value.totals[0].total_minor == 500
    assert after.customer.value.purchase_count == 1
    d = expect_error(grpc.StatusCode.FAILED_PRECONDITION, w.refund, survivor, "o-1")
    assert _reason(d) == "PURCHASE_ALREADY_REFUNDED"
    retention = w.retention()
    assert (retention.purchasing_customers, retention.repeat_customers) == (1, 0)

    before = _answers(w, [survivor, dup])
    w.server.restart("--rebuild")
    assert _answers(w, [survivor, dup]) == before


def test_archiving(make_server):
    w = _start(make_server)
    name = w.write(register(w.server, customer_id="ar-bob",
                            display_name="Bob Archive")).customer.name
    other = w.write(register(w.server, customer_id="ar-cat",
                             display_name="Bob Active")).customer.name
    archived = w.write(w.cmd.ArchiveCustomer(spb.ArchiveCustomerRequest(
        name=name, reason="no longer a client", request_id=new_request_id())))
    assert archived.appended_event_count == 1 and archived.customer.HasField("archive_time")
    again = w.write(w.cmd.ArchiveCustomer(spb.ArchiveCustomerRequest(
        name=name, request_id=new_request_id())))
    assert again.appended_event_count == 0

    def refused(d):
        info = crmtest.assert_error_info(d)
        assert info.reason == "CUSTOMER_ARCHIVED" and info.metadata["customer"] == name, d

    refused(expect_error(grpc.StatusCode.FAILED_PRECONDITION, w.cmd.TagCustomer,
                         spb.TagCustomerRequest(name=name, tag="vip",
                                                request_id=new_request_id())))
    refused(expect_error(grpc.StatusCode.FAILED_PRECONDITION, w.buy, name, 100))
    refused(expect_error(grpc.StatusCode.FAILED_PRECONDITION, w.cmd.MergeCustomers,
                         spb.MergeCustomersRequest(survivor=other, merged=name,
                                                   request_id=new_request_id())))
    interaction = ipb.Interaction(channel=ipb.PHONE, direction=ipb.OUTBOUND,
                                  staff_id=orgtest.AGENT, summary="Called")
    interaction.occurred_at.GetCurrentTime()
    interactions = command_stub(w.server, isgrpc.InteractionCommandServiceStub)
    refused(expect_error(grpc.StatusCode.FAILED_PRECONDITION, interactions.LogInteraction,
                         ispb.LogInteractionRequest(parent=name, interaction=interaction,
                                                    request_id=new_request_id())))
    refused(expect_error(grpc.StatusCode.FAILED_PRECONDITION,
                         command_stub(w.server, ksgrpc.ComplaintCommandServiceStub).FileComplaint,
                         kspb.FileComplaintRequest(
                             parent=name, request_id=new_request_id(),
                             complaint=kpb.Complaint(channel=ipb.PHONE, category=kpb.LOGISTICS,
                                                     severity=kpb.MINOR, description="late"))))
    refused(expect_error(grpc.StatusCode.FAILED_PRECONDITION,
                         command_stub(w.server, svgrpc.SurveyCommandServiceStub).SendSurvey,
                         svspb.SendSurveyRequest(
                             parent=name, request_id=new_request_id(),
                             survey=svpb.Survey(channel=svpb.SURVEY_CHANNEL_EMAIL,
                                                staff_id=orgtest.AGENT))))

    # Left out of lists and searches unless asked for; read by name as ever.
    token = w.covering()
    listed = [c.name for c in crmtest.list_all(w.server, consistency_token=token)]
    assert name not in listed and other in listed
    listed = [c.name for c in crmtest.list_all(w.server, consistency_token=token,
                                                show_archived=True)]
    assert name in listed and other in listed
    if not hasattr(w.server, "projector"):  # crmctl lists from the views it reaches
        rows = ctl_json(query_process(w.server), "customer", "list", "--archived")
        assert name in [r["name"] for r in rows]
        rows = ctl_json(query_process(w.server), "customer", "list")
        assert name not in [r["name"] for r in rows]
    search = w.server.query.SearchCustomers
    found = search(spb.SearchCustomersRequest(query="bob", consistency_token=token)).customers
    assert [c.name for c in found] == [other]
    found = search(spb.SearchCustomersRequest(query="bob", show_archived=True,
                                              consistency_token=token)).customers
    assert sorted(c.name for c in found) == sorted([name, other])
    assert w.get(name).archive_time == archived.customer.archive_time

    [back] = ctl_json(command_process(w.server), "customer", "unarchive", name, "--reason",
                      "signed again")
    assert back["appended_event_count"] == 1 and "archive_time" not in back["customer"]
    w.token = crmtest.merge_tokens(w.token, back["consistency_token"])
    w.write(w.cmd.TagCustomer(spb.TagCustomerRequest(name=name, tag="vip",
                                                     request_id=new_request_id())))
    history = crmtest.history(w.server, name, consistency_token=w.covering())
    assert [e.event_type for e in history][-3:] == [
        "crm.events.v1.CustomerArchived", "crm.events.v1.CustomerUnarchived",
        "crm.events.v1.CustomerTagged"]
    assert history[-3].customer_archived.reason == "no longer a client"
