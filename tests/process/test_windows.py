"""Report windows and time zones (docs/analytics.md "Time windows"), end to end on both engines:
  - sales in a month of Asia/Kolkata (+05:30) are the purchases between that month's local
    midnights, not the UTC month's, with their Kolkata day, week and month buckets; per product;
    repeat purchases in the window;
  - complaint counts in a window with their day, ISO week and month buckets in the zone; SLA
    outcomes by due time; conversion time between stages;
  - an unknown time zone and a window end off a quarter hour are INVALID_ARGUMENT naming the field;
  - the same answers after the views are rebuilt (--rebuild).
"""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest

from crmtest import (assert_violation, command_stub, expect_error, grpc, merge_tokens,
                     new_request_id, query_stub)

from crm.v1 import analytics_service_pb2 as apb  # noqa: E402
from crm.v1 import analytics_service_pb2_grpc as agrpc  # noqa: E402
from crm.v1 import complaint_pb2 as kpb  # noqa: E402
from crm.v1 import complaint_service_pb2 as kspb  # noqa: E402
from crm.v1 import complaint_service_pb2_grpc as ksgrpc  # noqa: E402
from crm.v1 import customer_pb2 as cpb  # noqa: E402
from crm.v1 import customer_service_pb2 as spb  # noqa: E402
from crm.v1 import interaction_pb2 as ipb  # noqa: E402

pytestmark = pytest.mark.engines("embedded", "kafka")

UTC = datetime.timezone.utc
IST = ZoneInfo("Asia/Kolkata")


def utc(*args) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=UTC)


def interval(start: datetime.datetime | None, end: datetime.datetime | None) -> apb.TimeInterval:
    out = apb.TimeInterval()
    if start is not None:
        out.start_time.FromDatetime(start)
    if end is not None:
        out.end_time.FromDatetime(end)
    return out


# March 2025 in Kolkata: from 2025-03-01 00:00 IST (2025-02-28T18:30Z) to 2025-04-01 00:00 IST.
MARCH_IST = (datetime.datetime(2025, 3, 1, tzinfo=IST), datetime.datetime(2025, 4, 1, tzinfo=IST))
MARCH_UTC = (utc(2025, 3, 1), utc(2025, 4, 1))
# (customer, purchased at, amount, product): each amount a power of two, so a sum names its
# purchases.
PURCHASES = [
    ("w-a", utc(2025, 2, 28, 18, 15), 100, "widget"),    # Feb 28 23:45 IST: February both ways
    ("w-a", utc(2025, 2, 28, 18, 45), 200, "widget"),    # Mar 1 00:15 IST: March in Kolkata only
    ("w-a", utc(2025, 3, 20, 10, 0), 400, "widget"),     # March both ways
    ("w-b", utc(2025, 3, 31, 18, 29), 800, "服务套餐"),  # Mar 31 23:59 IST: March both ways
    ("w-b", utc(2025, 3, 31, 18, 31), 1600, "widget"),   # Apr 1 00:01 IST: March in UTC only
]


class World:
    def __init__(self, server):
        self.server = server
        self.tokens: list[str] = []

    @property
    def analytics(self):
        return query_stub(self.server, agrpc.AnalyticsServiceStub)

    def token(self) -> str:
        return merge_tokens(*self.tokens)

    def done(self, resp):
        self.tokens.append(resp.consistency_token)
        return resp

    def register(self, cid: str) -> None:
        self.done(self.server.command.RegisterCustomer(spb.RegisterCustomerRequest(
            customer_id=cid, request_id=new_request_id(),
            customer=cpb.Customer(display_name=f"Customer {cid}", kind=cpb.PERSON))))

    def buy(self, cid: str, at: datetime.datetime, amount: int, product: str) -> None:
        p = cpb.Purchase(amount=cpb.Money(currency_code="CNY", amount_minor=amount),
                         product=product)
        p.purchased_at.FromDatetime(at)
        self.done(self.server.command.RecordPurchase(spb.RecordPurchaseRequest(
            name=f"customers/{cid}", purchase=p, request_id=new_request_id())))

    def move(self, cid: str, stage: int) -> cpb.Customer:
        return self.done(self.server.command.ChangeLifecycleStage(spb.ChangeLifecycleStageRequest(
            name=f"customers/{cid}", lifecycle_stage=stage, reason="test",
            request_id=new_request_id()))).customer

    def file(self, cid: str) -> kpb.Complaint:
        stub = command_stub(self.server, ksgrpc.ComplaintCommandServiceStub)
        return self.done(stub.FileComplaint(kspb.FileComplaintRequest(
            parent=f"customers/{cid}", request_id=new_request_id(),
            complaint=kpb.Complaint(channel=ipb.PHONE, category=kpb.PRODUCT_QUALITY,
                                    severity=kpb.GENERAL,
                                    description="It broke")))).complaint

    def answers(self, now: datetime.datetime) -> dict:
        """Every windowed figure the test looks at, by name."""
        a, token = self.analytics, self.token()
        today = (now - datetime.timedelta(days=1), now + datetime.timedelta(days=1))
        week = (now - datetime.timedelta(days=1), now + datetime.timedelta(days=7))
        return {
            "sales ist": a.GetSalesStats(apb.GetSalesStatsRequest(
                interval=interval(*MARCH_IST), time_zone="Asia/Kolkata", with_buckets=True,
                consistency_token=token)),
            "sales utc": a.GetSalesStats(apb.GetSalesStatsRequest(
                interval=interval(*MARCH_UTC), consistency_token=token)),
            "sales ist product": a.GetSalesStats(apb.GetSalesStatsRequest(
                interval=interval(*MARCH_IST), product="服务套餐", consistency_token=token)),
            "sales all": a.GetSalesStats(apb.GetSalesStatsRequest(consistency_token=token)),
            "retention ist": a.GetRetention(apb.GetRetentionRequest(
                interval=interval(*MARCH_IST), consistency_token=token)),
            "complaints today": a.GetComplaintStats(apb.GetComplaintStatsRequest(
                interval=interval(*today), time_zone="Asia/Kolkata", consistency_token=token)),
            "complaints march": a.GetComplaintStats(apb.GetComplaintStatsRequest(
                interval=interval(*MARCH_IST), time_zone="Asia/Kolkata",
                consistency_token=token)),
            "sla week": a.GetSlaCompliance(apb.GetSlaComplianceRequest(
                interval=interval(*week), consistency_token=token)),
            "conversion today": a.GetConversionTime(apb.GetConversionTimeRequest(
                from_stage=cpb.POTENTIAL, to_stage=cpb.NEED_CONFIRMED,
                interval=interval(*today), consistency_token=token)),
            "kpis march": a.GetStaffKpis(apb.GetStaffKpisRequest(
                interval=interval(*MARCH_IST), consistency_token=token)),
        }


def quarter_hour(t: datetime.datetime) -> datetime.datetime:
    return t.replace(minute=t.minute - t.minute % 15, second=0, microsecond=0)


def test_windowed_reports_zone_errors_and_rebuild(make_server):
    server = make_server()
    w = World(server)
    for cid in ("w-a", "w-b"):
        w.register(cid)
    for cid, at, amount, product in PURCHASES:
        w.buy(cid, at, amount, product)
    w.move("w-a", cpb.FIRST_CONTACT)
    moved = w.move("w-a", cpb.NEED_CONFIRMED)
    complaint = w.file("w-b")
    now = quarter_hour(datetime.datetime.now(UTC))

    got = w.answers(now)

    # Sales: the Kolkata month holds 200 + 400 + 800, the UTC month 400 + 800 + 1600.
    ist = got["sales ist"]
    assert (ist.purchase_count, [(t.currency_code, t.total_minor) for t in ist.amounts]) == (
        3, [("CNY", 1400)])
    assert [(p.product, p.purchase_count) for p in ist.products] == [("widget", 2), ("服务套餐", 1)]
    # ...in three Kolkata days of one Kolkata month.
    assert [(b.bucket, b.purchase_count) for b in ist.days] == [
        ("2025-03-01", 1), ("2025-03-20", 1), ("2025-03-31", 1)]
    assert [(b.bucket, b.amounts[0].total_minor) for b in ist.months] == [("2025-03", 1400)]
    assert ist.months[0].start_time.ToDatetime(tzinfo=UTC) == MARCH_IST[0]
    assert [b.bucket for b in ist.weeks] == ["2025-W09", "2025-W12", "2025-W14"]
    assert [(t.currency_code, t.total_minor) for t in got["sales utc"].amounts] == [("CNY", 2800)]
    assert got["sales ist product"].purchase_count == 1
    assert got["sales ist product"].amounts[0].total_minor == 800
    assert got["sales all"].purchase_count == 5
    assert got["sales all"].amounts[0].total_minor == 3100
    # Repeat purchases in the Kolkata March: w-a bought twice, w-b once.
    r = got["retention ist"]
    assert (r.purchasing_customers, r.repeat_customers, r.repeat_purchase_rate) == (2, 1, 0.5)

    # The complaint filed now, in today's Kolkata day, week and month; none in March 2025.
    filed = complaint.create_time.ToDatetime(tzinfo=UTC).astimezone(IST)
    today = got["complaints today"]
    assert today.total == 1 and today.window_total == 1
    assert [b.bucket for b in today.days] == [filed.date().isoformat()]
    iso = filed.isocalendar()
    assert [b.bucket for b in today.weeks] == [f"{iso[0]:04d}-W{iso[1]:02d}"]
    assert [b.bucket for b in today.months] == [f"{filed.year:04d}-{filed.month:02d}"]
    local_midnight = datetime.datetime(filed.year, filed.month, filed.day, tzinfo=IST)
    assert today.days[0].start_time.ToDatetime(tzinfo=UTC) == local_midnight
    assert got["complaints march"].total == 0 and not got["complaints march"].days
    # Its two deadlines are due within the week, neither met nor breached yet.
    assert got["sla week"].overall.pending == 2

    # POTENTIAL (registration) -> NEED_CONFIRMED, one move today.
    conv = got["conversion today"].durations
    assert conv.count == 1 and conv.median == conv.p90 == conv.mean
    assert moved.lifecycle_stage == cpb.NEED_CONFIRMED
    assert got["kpis march"].complaints_assigned == 0

    # Bad input names the field.
    a = w.analytics
    d = expect_error(grpc.StatusCode.INVALID_ARGUMENT, a.GetSlaCompliance,
                     apb.GetSlaComplianceRequest(time_zone="Mars/Olympus_Mons"))
    assert_violation(d, "time_zone")
    d = expect_error(grpc.StatusCode.INVALID_ARGUMENT, a.GetSalesStats,
                     apb.GetSalesStatsRequest(interval=interval(
                         utc(2025, 3, 1, 0, 10), utc(2025, 4, 1))))
    assert_violation(d, "interval.start_time")
    d = expect_error(grpc.StatusCode.INVALID_ARGUMENT, a.GetRetention,
                     apb.GetRetentionRequest(interval=interval(utc(2025, 4, 1), utc(2025, 3, 1))))
    assert_violation(d, "interval.end_time")

    # The same answers from views rebuilt from the log.
    server.stop()
    server.start("--rebuild")
    assert w.answers(now) == got
