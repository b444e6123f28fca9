"""The CRM's derived views over the wire, on the embedded engine and on Kafka: interactions (the
customer's unified timeline, follow-ups due and overdue), the org chart with live workload (tree,
Graphviz DOT, Mermaid), analytics (AnalyticsService) and segments (SegmentService); and every one
of those answers the same after a rebuild of the views from zero.

Each test drives the real server through a `World`: it sends the commands and keeps a plain
Python model of what it did (a ledger). The expected figures are recomputed from that ledger with
the definitions of docs/analytics.md and proto/crm/v1/README.md, independently of the server's
folds, and compared with the query answers (read-your-writes through the merged consistency
tokens of every write, never a sleep).
"""

from __future__ import annotations

import datetime
import math
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import grpc

import orgtest
from crmtest import (assert_violation, command_stub, covering_token, expect_error, merge_tokens,
                     new_request_id, query_stub, wait_for)

from google.protobuf import duration_pb2, field_mask_pb2, json_format, timestamp_pb2  # noqa: E402
from crm.v1 import analytics_service_pb2 as apb  # noqa: E402
from crm.v1 import analytics_service_pb2_grpc as agrpc  # noqa: E402
from crm.v1 import complaint_pb2 as kpb  # noqa: E402
from crm.v1 import complaint_query_service_pb2 as kqpb  # noqa: E402
from crm.v1 import complaint_query_service_pb2_grpc as kqgrpc  # noqa: E402
from crm.v1 import complaint_service_pb2 as kspb  # noqa: E402
from crm.v1 import complaint_service_pb2_grpc as ksgrpc  # noqa: E402
from crm.v1 import customer_pb2 as cpb  # noqa: E402
from crm.v1 import customer_service_pb2 as spb  # noqa: E402
from crm.v1 import customer_service_pb2_grpc as sgrpc  # noqa: E402
from crm.v1 import interaction_pb2 as ipb  # noqa: E402
from crm.v1 import interaction_service_pb2 as ispb  # noqa: E402
from crm.v1 import interaction_service_pb2_grpc as isgrpc  # noqa: E402
from crm.v1 import org_service_pb2 as ospb  # noqa: E402
from crm.v1 import org_service_pb2_grpc as osgrpc  # noqa: E402
from crm.v1 import segment_service_pb2 as sgpb  # noqa: E402
from crm.v1 import segment_service_pb2_grpc as sggrpc  # noqa: E402

SECOND = 10**9
HOUR = 3600 * SECOND
DAY = 24 * HOUR

# Where orgtest.make_org places each person: staff id -> (team, department). The events stamp
# these refs; the org does not change during the tests.
ORG = {
    orgtest.MANAGER: ("", "departments/cs"),
    orgtest.SUPERVISOR: ("teams/cs-east", "departments/cs"),
    orgtest.AGENT: ("teams/cs-east", "departments/cs"),
    orgtest.AGENT2: ("teams/cs-east", "departments/cs"),
    orgtest.ACCOUNT_MANAGER: ("", "departments/sales"),
}
SCOPES = ([apb.StaffScope()] + [apb.StaffScope(staff_id=s) for s in sorted(ORG)]
          + [apb.StaffScope(team="teams/cs-east"), apb.StaffScope(department="departments/cs"),
             apb.StaffScope(department="departments/sales")])

KNOWN_CHANNELS = [v.number for v in ipb.Channel.DESCRIPTOR.values if v.number != 0]
KNOWN_CATEGORIES = [v.number for v in kpb.ComplaintCategory.DESCRIPTOR.values if v.number != 0]
KNOWN_SEVERITIES = [kpb.MINOR, kpb.GENERAL, kpb.SEVERE]
KNOWN_STATUSES = [v.number for v in kpb.ComplaintStatus.DESCRIPTOR.values if v.number != 0]
KNOWN_STAGES = [v.number for v in cpb.LifecycleStage.DESCRIPTOR.values if v.number != 0]
# Minor complaints get a one-second response deadline (so that the watcher records a breach in a
# test), resolution one hour; the other severities keep the default policy (hours to days). The
# scenarios acknowledge every other minor complaint right after filing it.
SLA_ARGS = ("--sla-policy", "minor=1s/1h", "--sla-scan-interval", "100ms")
FORWARD_PATH = [cpb.POTENTIAL, cpb.FIRST_CONTACT, cpb.NEED_CONFIRMED, cpb.PURCHASE_DECISION,
                cpb.AFTER_SALES, cpb.LOYAL]


# ---------------------------------------------------------------------------------------------
# Times and message comparison.


def ns(ts: timestamp_pb2.Timestamp) -> int:
    return ts.seconds * SECOND + ts.nanos


def ts(nanos: int) -> timestamp_pb2.Timestamp:
    return timestamp_pb2.Timestamp(seconds=nanos // SECOND, nanos=nanos % SECOND)


def dur_ns(nanos: int) -> duration_pb2.Duration:
    assert nanos >= 0
    return duration_pb2.Duration(seconds=nanos // SECOND, nanos=nanos % SECOND)


def millis_between(start: int, end: int) -> int:
    """docs/analytics.md: durations truncated to the millisecond, 0 if the end is not after."""
    return 0 if end <= start else (end - start) // 10**6


def whole_seconds_now() -> int:
    return (time.time_ns() // SECOND) * SECOND


def _strip(x):
    if isinstance(x, dict):
        out = {k: _strip(v) for k, v in x.items()}
        return {k: v for k, v in out.items() if v not in ({}, [], "0s")}
    if isinstance(x, list):
        return [_strip(v) for v in x]
    return x


def plain(msg) -> dict:
    """A message as a dict for comparison: enum names, defaults left out, an empty (or zero
    Duration) sub-message the same as an unset one."""
    return _strip(json_format.MessageToDict(msg, preserving_proto_field_name=True))


def assert_same(actual, expected, what: str = "") -> None:
    assert plain(actual) == plain(expected), what


def event_type(envelope) -> str:
    return envelope.event_type.rsplit(".", 1)[-1]


# ---------------------------------------------------------------------------------------------
# The ledger: what the test did, as plain data.


@dataclass
class CustomerModel:
    cid: str
    stage: int
    stage_start: int
    owner: str = ""
    version: int = 1
    # (currency, amount_minor, purchased_at ns)
    purchases: list = field(default_factory=list)
    tier: int = cpb.POTENTIAL_VALUE
    # (time ns, from tier, to tier)
    tier_changes: list = field(default_factory=list)


@dataclass
class Move:
    cid: str
    time: int
    from_stage: int
    to_stage: int
    stay_ms: int


@dataclass
class ComplaintModel:
    name: str
    cid: str
    channel: int
    category: int
    severity: int
    filed: int
    status: int = kpb.FILED
    assignee: str = ""
    response_due: int = 0
    ack: int | None = None
    response_breached: bool = False
    # Resolution deadlines, one per round: [due ns, met ns or None, breached]
    rounds: list = field(default_factory=list)
    first_resolved: int | None = None


@dataclass
class InteractionModel:
    name: str
    cid: str
    channel: int
    direction: int
    staff: str
    occurred: int
    due: int | None = None
    complete: bool = False


class World:
    """Sends commands to `server` and records them; computes what the views must answer."""

    def __init__(self, server):
        self.server = server
        self.tokens: list[str] = []
        self.customers: dict[str, CustomerModel] = {}
        self.moves: list[Move] = []
        self.complaints: dict[str, ComplaintModel] = {}
        self.interactions: dict[str, InteractionModel] = {}
        # cid -> [(time ns, TimelineEntryKind, resource, event type)]
        self.timeline: dict[str, list] = defaultdict(list)
        # Events crediting people: (kind, staff id) for ComplaintAssigned / ComplaintResolved.
        self.assigned: list[str] = []
        self.resolved: list[str] = []  # resolver staff ids
        self.root_causes: list[int] = []
        self.breaches: list[str] = []  # ComplaintSlaBreached.assignee staff ids ("" = none)
        self.seen_events: set[str] = set()  # ids of the events record_watcher_events took in
        self.visits: list[tuple[int, bool, str]] = []  # (csat, satisfied, resolver)

    # -- stubs (made per call: a restart gives the server new channels) ---------------------

    @property
    def customer_cmd(self):
        return command_stub(self.server, sgrpc.CustomerCommandServiceStub)

    @property
    def complaint_cmd(self):
        return command_stub(self.server, ksgrpc.ComplaintCommandServiceStub)

    @property
    def interaction_cmd(self):
        return command_stub(self.server, isgrpc.InteractionCommandServiceStub)

    @property
    def interaction_q(self):
        return query_stub(self.server, isgrpc.InteractionQueryServiceStub)

    @property
    def complaint_q(self):
        return query_stub(self.server, kqgrpc.ComplaintQueryServiceStub)

    @property
    def org_q(self):
        return query_stub(self.server, osgrpc.OrgQueryServiceStub)

    @property
    def analytics(self):
        return query_stub(self.server, agrpc.AnalyticsServiceStub)

    @property
    def segments(self):
        return query_stub(self.server, sggrpc.SegmentServiceStub)

    def token(self) -> str:
        """Covers every write so far (on Kafka a token names only its own partition)."""
        return merge_tokens(*self.tokens)

    def _done(self, resp):
        self.tokens.append(resp.consistency_token)
        return resp

    def _entry(self, cid: str, when: int, kind: int, resource: str, etype: str) -> None:
        self.timeline[cid].append((when, kind, resource, etype))

    # -- org ---------------------------------------------------------------------------------

    def make_org(self) -> None:
        self.tokens.append(orgtest.make_org(self.server))

    # -- customers ---------------------------------------------------------------------------

    def register(self, cid: str, stage: int = 0) -> cpb.Customer:
        c = self._done(self.customer_cmd.RegisterCustomer(spb.RegisterCustomerRequest(
            customer_id=cid, request_id=new_request_id(),
            customer=cpb.Customer(display_name=f"Customer {cid}", kind=cpb.PERSON,
                                  lifecycle_stage=stage)))).customer
        t = ns(c.create_time)
        self.customers[cid] = CustomerModel(
            cid, stage or cpb.POTENTIAL, t,
            tier_changes=[(t, cpb.VALUE_TIER_UNSPECIFIED, cpb.POTENTIAL_VALUE)])
        self._entry(cid, t, ispb.TIMELINE_PROFILE, c.name, "CustomerRegistered")
        return c

    def update_region(self, cid: str, region: str) -> cpb.Customer:
        c = self._done(self.customer_cmd.UpdateCustomer(spb.UpdateCustomerRequest(
            customer=cpb.Customer(name=f"customers/{cid}", region=region),
            update_mask=field_mask_pb2.FieldMask(paths=["region"]),
            request_id=new_request_id()))).customer
        self.customers[cid].version += 1
        self._entry(cid, ns(c.update_time), ispb.TIMELINE_PROFILE, c.name,
                    "CustomerProfileUpdated")
        return c

    def change_stage(self, cid: str, to: int) -> cpb.Customer:
        m = self.customers[cid]
        c = self._done(self.customer_cmd.ChangeLifecycleStage(spb.ChangeLifecycleStageRequest(
            name=f"customers/{cid}", lifecycle_stage=to, reason="test",
            request_id=new_request_id()))).customer
        assert c.lifecycle_stage == to
        t = ns(c.update_time)
        self.moves.append(Move(cid, t, m.stage, to, millis_between(m.stage_start, t)))
        m.stage, m.stage_start = to, t
        m.version += 1
        self._entry(cid, t, ispb.TIMELINE_PROFILE, c.name, "LifecycleStageChanged")
        return c

    def assign_owner(self, cid: str, owner: str) -> cpb.Customer:
        c = self._done(self.customer_cmd.AssignOwner(spb.AssignOwnerRequest(
            name=f"customers/{cid}", owner=owner, request_id=new_request_id()))).customer
        assert c.owner == owner
        assert (c.team, c.department) == ORG[owner]  # from the org, not from the caller
        self.customers[cid].owner = owner
        self.customers[cid].version += 1
        self._entry(cid, ns(c.update_time), ispb.TIMELINE_PROFILE, c.name, "OwnerAssigned")
        return c

    def purchase(self, cid: str, amount_minor: int, at: int, currency: str = "CNY",
                 product: str = "Kettle") -> cpb.Customer:
        m = self.customers[cid]
        c = self._done(self.customer_cmd.RecordPurchase(spb.RecordPurchaseRequest(
            name=f"customers/{cid}", request_id=new_request_id(),
            purchase=cpb.Purchase(amount=cpb.Money(currency_code=currency,
                                                   amount_minor=amount_minor),
                                  product=product, purchased_at=ts(at))))).customer
        m.purchases.append((currency, amount_minor, at))
        m.version += 1
        # proto/crm/v1/README.md, "Value tier rules".
        totals = Counter()
        for cur, amount, _ in m.purchases:
            totals[cur] += amount
        tier = (cpb.HIGH_VALUE if len(m.purchases) >= 10 or max(totals.values()) >= 1_000_000
                else cpb.ORDINARY)
        if tier != m.tier:
            m.tier_changes.append((at, m.tier, tier))
            m.tier = tier
        assert c.value_tier == m.tier
        self._entry(cid, at, ispb.TIMELINE_PURCHASE, c.name, "PurchaseRecorded")
        return c

    # -- interactions ------------------------------------------------------------------------

    def log(self, cid: str, channel: int, direction: int, staff: str, at: int,
            due: int | None = None, complaint: str = "", summary: str = "Talked",
            outcome: str = "") -> ipb.Interaction:
        i = ipb.Interaction(channel=channel, direction=direction, staff_id=staff,
                            occurred_at=ts(at), summary=summary, outcome=outcome,
                            complaint=complaint)
        if due is not None:
            i.follow_up_due_time.CopyFrom(ts(due))
        got = self._done(self.interaction_cmd.LogInteraction(ispb.LogInteractionRequest(
            parent=f"customers/{cid}", interaction=i, request_id=new_request_id()))).interaction
        assert got.name.startswith(f"customers/{cid}/interactions/")
        assert (got.channel, got.direction, got.staff_id, got.complaint) == (
            channel, direction, staff, complaint)
        assert ns(got.occurred_at) == at and got.version == 1
        self.interactions[got.name] = InteractionModel(got.name, cid, channel, direction, staff,
                                                       at, due)
        self._entry(cid, at, ispb.TIMELINE_INTERACTION, got.name, "InteractionLogged")
        return got

    def complete_follow_up(self, name: str, note: str = "Called back") -> ipb.Interaction:
        got = self._done(self.interaction_cmd.CompleteFollowUp(ispb.CompleteFollowUpRequest(
            name=name, note=note, request_id=new_request_id()))).interaction
        assert got.HasField("follow_up_complete_time") and got.follow_up_note == note
        m = self.interactions[name]
        m.complete = True
        self._entry(m.cid, ns(got.update_time), ispb.TIMELINE_FOLLOW_UP, name, "FollowUpCompleted")
        return got

    # -- complaints --------------------------------------------------------------------------

    def file(self, cid: str, channel: int, category: int, severity: int,
             description: str = "It broke") -> str:
        c = self._done(self.complaint_cmd.FileComplaint(kspb.FileComplaintRequest(
            parent=f"customers/{cid}", request_id=new_request_id(),
            complaint=kpb.Complaint(channel=channel, category=category, severity=severity,
                                    description=description)))).complaint
        m = ComplaintModel(c.name, cid, channel, category, severity, ns(c.create_time),
                           response_due=ns(c.response_deadline.due_time),
                           rounds=[[ns(c.resolution_deadline.due_time), None, False]])
        self.complaints[c.name] = m
        self._entry(cid, m.filed, ispb.TIMELINE_COMPLAINT, c.name, "ComplaintFiled")
        return c.name

    def _step(self, method, request, etype: str) -> kpb.Complaint:
        c = self._done(method(request)).complaint
        m = self.complaints[c.name]
        assert c.status == self._status_after(m, etype), (c.name, etype)
        when = ns(c.follow_up.visit_time) if etype == "ComplaintFollowUpVisitRecorded" else ns(
            c.update_time)
        self._entry(m.cid, when, ispb.TIMELINE_COMPLAINT, c.name, etype)
        return c

    @staticmethod
    def _status_after(m: ComplaintModel, etype: str) -> int:
        """docs/analytics.md "statuses" (which is also the complaint's own status)."""
        return {
            "ComplaintAcknowledged": kpb.ACKNOWLEDGED,
            "ComplaintAssigned": (kpb.ASSIGNED if m.status in (kpb.FILED, kpb.ACKNOWLEDGED,
                                                                kpb.REOPENED) else m.status),
            "ComplaintInvestigationStarted": kpb.INVESTIGATING,
            "ComplaintResolved": kpb.RESOLVED,
            "ComplaintFollowUpVisitRecorded": kpb.FOLLOWED_UP,
            "ComplaintClosed": kpb.CLOSED,
            "ComplaintReopened": kpb.REOPENED,
        }[etype]

    def ack(self, name: str, responder: str = "") -> None:
        m = self.complaints[name]
        c = self._step(self.complaint_cmd.AcknowledgeComplaint, kspb.AcknowledgeComplaintRequest(
            name=name, request_id=new_request_id(), responder=responder), "ComplaintAcknowledged")
        m.status = kpb.ACKNOWLEDGED
        m.ack = ns(c.update_time)
        assert ns(c.response_deadline.met_time) == m.ack

    def assign(self, name: str, staff: str) -> None:
        m = self.complaints[name]
        c = self._step(self.complaint_cmd.AssignComplaint, kspb.AssignComplaintRequest(
            name=name, request_id=new_request_id(), assignee=staff), "ComplaintAssigned")
        m.status = c.status
        m.assignee = staff
        self.assigned.append(staff)

    def investigate(self, name: str) -> None:
        self._step(self.complaint_cmd.StartInvestigation, kspb.StartInvestigationRequest(
            name=name, request_id=new_request_id()), "ComplaintInvestigationStarted")
        self.complaints[name].status = kpb.INVESTIGATING

    def resolve(self, name: str, root_cause: int) -> None:
        m = self.complaints[name]
        c = self._step(self.complaint_cmd.ResolveComplaint, kspb.ResolveComplaintRequest(
            name=name, request_id=new_request_id(), resolution="Fixed", root_cause=root_cause),
            "ComplaintResolved")
        m.status = kpb.RESOLVED
        t = ns(c.update_time)
        if m.rounds[-1][1] is None:
            m.rounds[-1][1] = t
        if m.first_resolved is None:
            m.first_resolved = t
        self.resolved.append(m.assignee)
        self.root_causes.append(root_cause)

    def visit(self, name: str, csat: int, satisfied: bool) -> None:
        m = self.complaints[name]
        self._step(self.complaint_cmd.RecordFollowUpVisit, kspb.RecordFollowUpVisitRequest(
            name=name, request_id=new_request_id(),
            visit=kpb.FollowUpVisit(satisfied=satisfied, csat=csat, comment="visited")),
            "ComplaintFollowUpVisitRecorded")
        m.status = kpb.FOLLOWED_UP
        self.visits.append((csat, satisfied, m.assignee))  # the resolver: the assignee

    def close(self, name: str) -> None:
        self._step(self.complaint_cmd.CloseComplaint, kspb.CloseComplaintRequest(
            name=name, request_id=new_request_id()), "ComplaintClosed")
        self.complaints[name].status = kpb.CLOSED

    def reopen(self, name: str) -> None:
        m = self.complaints[name]
        c = self._step(self.complaint_cmd.ReopenComplaint, kspb.ReopenComplaintRequest(
            name=name, request_id=new_request_id(), reason="still broken"), "ComplaintReopened")
        m.status = kpb.REOPENED
        m.rounds.append([ns(c.resolution_deadline.due_time), None, False])

    def record_watcher_events(self, name: str) -> list:
        """Adds the breaches of `name` (ComplaintSlaBreached, with the watcher's automatic
        ComplaintEscalated; times of the server's choosing) to the ledger, from the complaint's
        history; returns the ones not seen before. Breaches come before the step that meets the
        deadline (which our token covers). Only the breach scenario lets a deadline pass; on a
        very slow machine another minor complaint's one-second response deadline might too, and
        this keeps the ledger right then as well."""
        m = self.complaints[name]
        history = self.complaint_q.GetComplaintHistory(kqpb.GetComplaintHistoryRequest(
            name=name, page_size=1000, consistency_token=self.token()))
        found = []
        for e in history.events:
            if not (e.HasField("complaint_sla_breached") or e.HasField("complaint_escalated")):
                continue
            if e.HasField("complaint_escalated") and not e.complaint_escalated.automatic:
                continue
            if e.event_id in self.seen_events:
                continue
            self.seen_events.add(e.event_id)
            found.append(e)
            self._entry(m.cid, ns(e.occurred_at), ispb.TIMELINE_COMPLAINT, name, event_type(e))
            if e.HasField("complaint_sla_breached"):
                b = e.complaint_sla_breached
                self.breaches.append(b.assignee.staff_id)
                if b.kind == kpb.RESPONSE:
                    assert ns(b.due_time) == m.response_due
                    m.response_breached = True
                else:
                    rnd = next(r for r in m.rounds if r[0] == ns(b.due_time))
                    rnd[2] = True
        return found

    def record_all_watcher_events(self) -> None:
        for name in self.complaints:
            self.record_watcher_events(name)

    def full_flow(self, name: str, staff: str, root_cause: int, csat: int,
                  close: bool = True) -> None:
        self.ack(name, staff)
        self.assign(name, staff)
        self.investigate(name)
        self.resolve(name, root_cause)
        self.visit(name, csat, satisfied=csat >= 3)
        if close:
            self.close(name)

    # =========================================================================================
    # What the views must answer, from the ledger.

    # -- interactions ------------------------------------------------------------------------

    def expected_timeline(self, cid: str) -> list:
        return sorted(self.timeline[cid], key=lambda e: -e[0])

    def read_timeline(self, cid: str, page_size: int = 1000, kinds=(), language: str = "") -> list:
        entries, token, pages = [], "", 0
        while True:
            resp = self.interaction_q.GetCustomerTimeline(ispb.GetCustomerTimelineRequest(
                parent=f"customers/{cid}", page_size=page_size, page_token=token,
                consistency_token=self.token(), kinds=list(kinds), language_code=language))
            assert resp.language_code == ("zh" if language.startswith("zh") else "en")
            assert len(resp.entries) <= page_size
            entries.extend(resp.entries)
            pages += 1
            token = resp.next_page_token
            if not token:
                return entries
            assert pages < 1000

    def check_timeline(self, cid: str) -> list:
        self.record_all_watcher_events()
        entries = self.read_timeline(cid)
        got = [(ns(e.time), e.kind, e.resource, event_type(e.event)) for e in entries]
        assert _time_groups(got) == _time_groups(self.expected_timeline(cid)), cid
        for e in entries:
            assert e.event.customer_id == cid and ns(e.event.occurred_at) == ns(e.time)
            assert e.summary
        return entries

    def expected_follow_ups(self, staff: str, now: int, overdue_only: bool = False) -> list:
        open_ = [i for i in self.interactions.values()
                 if i.staff == staff and i.due is not None and not i.complete
                 and (not overdue_only or i.due < now)]
        return [(i.name, i.due < now) for i in sorted(open_, key=lambda i: (i.due, i.name))]

    def read_follow_ups(self, staff: str, page_size: int = 0, **filters):
        out, token = [], ""
        while True:
            resp = self.interaction_q.ListFollowUps(ispb.ListFollowUpsRequest(
                staff_id=staff, page_size=page_size, page_token=token,
                consistency_token=self.token(), **filters))
            out.extend(resp.follow_ups)
            token = resp.next_page_token
            if not token:
                return out, ns(resp.now)

    def check_follow_ups(self, staff: str) -> None:
        before = time.time_ns()
        got, now = self.read_follow_ups(staff)
        assert before - 5 * SECOND <= now <= time.time_ns() + 5 * SECOND
        assert [(f.interaction.name, f.overdue) for f in got] == self.expected_follow_ups(
            staff, now), staff
        got, now = self.read_follow_ups(staff, overdue_only=True)
        assert [(f.interaction.name, f.overdue) for f in got] == self.expected_follow_ups(
            staff, now, overdue_only=True), staff

    def expected_interaction_stats(self) -> apb.InteractionStats:
        by = Counter((i.channel, i.direction) for i in self.interactions.values())
        out = apb.InteractionStats(total=len(self.interactions))
        for ch in KNOWN_CHANNELS:
            c = out.channels.add(channel=ch, count=by[(ch, ipb.INBOUND)] + by[(ch, ipb.OUTBOUND)])
            for d in (ipb.INBOUND, ipb.OUTBOUND):
                c.directions.add(direction=d, count=by[(ch, d)])
        for d in (ipb.INBOUND, ipb.OUTBOUND):
            out.directions.add(direction=d,
                               count=sum(n for (_, dd), n in by.items() if dd == d))
        return out

    # -- complaints --------------------------------------------------------------------------

    def expected_complaint_stats(self) -> apb.ComplaintStats:
        cs = list(self.complaints.values())
        out = apb.ComplaintStats(total=len(cs))
        for v in KNOWN_CATEGORIES:
            out.categories.add(category=v, count=sum(c.category == v for c in cs))
        for v in KNOWN_SEVERITIES:
            out.severities.add(severity=v, count=sum(c.severity == v for c in cs))
        for v in KNOWN_STATUSES:
            out.statuses.add(status=v, count=sum(c.status == v for c in cs))
        for v in KNOWN_CHANNELS:
            out.channels.add(channel=v, count=sum(c.channel == v for c in cs))
        days, months = Counter(), Counter()
        for c in cs:
            d = datetime.datetime.fromtimestamp(c.filed / SECOND, tz=datetime.timezone.utc)
            days[d.date()] += 1
            months[(d.year, d.month)] += 1
        for day in sorted(days):
            start = datetime.datetime(day.year, day.month, day.day, tzinfo=datetime.timezone.utc)
            out.days.add(bucket=day.isoformat(), count=days[day],
                         start_time=ts(int(start.timestamp()) * SECOND))
        for (y, mo) in sorted(months):
            start = datetime.datetime(y, mo, 1, tzinfo=datetime.timezone.utc)
            out.months.add(bucket=f"{y:04d}-{mo:02d}", count=months[(y, mo)],
                           start_time=ts(int(start.timestamp()) * SECOND))
        out.window_total = sum(days.values())
        return out

    def expected_sla(self) -> apb.SlaCompliance:
        # (kind, severity) -> Counter of outcomes (docs/analytics.md, SLA compliance).
        outcomes = defaultdict(Counter)

        def outcome(due: int, met: int | None, breached: bool) -> str:
            if breached:
                return "breached"
            if met is None:
                return "pending"
            return "met" if met <= due else "late"

        for c in self.complaints.values():
            outcomes[(kpb.RESPONSE, c.severity)][outcome(c.response_due, c.ack,
                                                         c.response_breached)] += 1
            for due, met, breached in c.rounds:
                outcomes[(kpb.RESOLUTION, c.severity)][outcome(due, met, breached)] += 1

        def fill(msg, counts):
            msg.met, msg.late, msg.pending = counts["met"], counts["late"], counts["pending"]
            msg.breached = counts["breached"]
            decided = msg.met + msg.breached + msg.late
            msg.compliance_rate = msg.met / decided if decided else 0.0

        out = apb.SlaCompliance()
        fill(out.overall, sum(outcomes.values(), Counter()))
        for kind in (kpb.RESPONSE, kpb.RESOLUTION):
            fill(out.by_kind.add(kind=kind).outcomes,
                 sum((v for (k, _), v in outcomes.items() if k == kind), Counter()))
        for sev in KNOWN_SEVERITIES:
            fill(out.by_severity.add(severity=sev).outcomes,
                 sum((v for (_, s), v in outcomes.items() if s == sev), Counter()))
        return out

    def expected_response_times(self, severity: int) -> apb.ResponseTimes:
        cs = [c for c in self.complaints.values() if severity in (0, c.severity)]
        out = apb.ResponseTimes(severity=severity)
        _durations(out.first_response,
                   [millis_between(c.filed, c.ack) for c in cs if c.ack is not None])
        _durations(out.resolution, [millis_between(c.filed, c.first_resolved) for c in cs
                                    if c.first_resolved is not None])
        return out

    def expected_root_causes(self) -> apb.RootCauseRanking:
        counts = Counter(self.root_causes)
        out = apb.RootCauseRanking(total_resolutions=len(self.root_causes))
        for cause, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            out.root_causes.add(root_cause=cause, count=n, share=n / len(self.root_causes))
        return out

    @staticmethod
    def in_scope(staff: str, scope: apb.StaffScope) -> bool:
        which = scope.WhichOneof("scope")
        if which is None:
            return True
        if not staff:
            return False
        team, department = ORG[staff]
        return {"staff_id": staff, "team": team, "department": department}[which] == getattr(
            scope, which)

    def expected_satisfaction(self, scope: apb.StaffScope) -> apb.Satisfaction:
        visits = [(csat, sat) for csat, sat, who in self.visits if self.in_scope(who, scope)]
        scores = [csat for csat, _ in visits if 1 <= csat <= 5]
        out = apb.Satisfaction(scope=scope, count=len(scores),
                               average=sum(scores) / len(scores) if scores else 0.0,
                               satisfied_count=sum(sat for _, sat in visits))
        for score in range(1, 6):
            out.distribution.add(score=score, count=scores.count(score))
        return out

    def expected_kpis(self, scope: apb.StaffScope) -> apb.StaffKpis:
        out = apb.StaffKpis(
            scope=scope,
            complaints_assigned=sum(self.in_scope(s, scope) for s in self.assigned),
            complaints_resolved=sum(self.in_scope(s, scope) for s in self.resolved),
            sla_breaches=sum(self.in_scope(s, scope) for s in self.breaches),
            interactions_logged=sum(self.in_scope(i.staff, scope)
                                    for i in self.interactions.values()))
        out.satisfaction.CopyFrom(self.expected_satisfaction(scope))
        return out

    def check_analytics(self) -> None:
        self.record_all_watcher_events()
        a, token = self.analytics, self.token()
        assert_same(a.GetComplaintStats(apb.GetComplaintStatsRequest(consistency_token=token)),
                    self.expected_complaint_stats(), "complaint stats")
        assert_same(a.GetSlaCompliance(apb.GetSlaComplianceRequest(consistency_token=token)),
                    self.expected_sla(), "SLA compliance")
        for sev in [0] + KNOWN_SEVERITIES:
            assert_same(a.GetResponseTimes(apb.GetResponseTimesRequest(
                severity=sev, consistency_token=token)), self.expected_response_times(sev),
                f"response times, severity {sev}")
        assert_same(a.GetInteractionStats(apb.GetInteractionStatsRequest(consistency_token=token)),
                    self.expected_interaction_stats(), "interaction stats")
        assert_same(a.GetRootCauses(apb.GetRootCausesRequest(consistency_token=token)),
                    self.expected_root_causes(), "root causes")
        for scope in SCOPES:
            assert_same(a.GetSatisfaction(apb.GetSatisfactionRequest(
                scope=scope, consistency_token=token)), self.expected_satisfaction(scope),
                f"satisfaction of {scope}")
            assert_same(a.GetStaffKpis(apb.GetStaffKpisRequest(
                scope=scope, consistency_token=token)), self.expected_kpis(scope),
                f"KPIs of {scope}")

    # -- segments ----------------------------------------------------------------------------

    def expected_value(self, cid: str, as_of: int) -> sgpb.CustomerValue:
        m = self.customers[cid]
        out = sgpb.CustomerValue(name=f"customers/{cid}", value_tier=m.tier,
                                 lifecycle_stage=m.stage, stage_start_time=ts(m.stage_start),
                                 as_of=ts(as_of))
        for when, a, b in m.tier_changes:
            out.tier_changes.add(change_time=ts(when), from_tier=a, to_tier=b)
        if not m.purchases:
            out.rfm.cell = "000"
            return out
        totals, counts = Counter(), Counter()
        for cur, amount, _ in m.purchases:
            totals[cur] += amount
            counts[cur] += 1
        for cur in sorted(totals):
            out.lifetime_value.totals.add(currency_code=cur, total_minor=totals[cur],
                                          purchase_count=counts[cur])
        out.lifetime_value.purchase_count = len(m.purchases)
        last = max(at for _, _, at in m.purchases)
        out.lifetime_value.last_purchase_time.CopyFrom(ts(last))
        main = sorted(totals, key=lambda c: (-counts[c], -totals[c], c))[0]
        out.main_currency = main
        days = (as_of - last) // DAY if as_of > last else 0
        r = _score(days, [30, 90, 180, 365], lambda v, b: v <= b)
        f = _score(len(m.purchases), [20, 10, 5, 2], lambda v, b: v >= b)
        mo = _score(totals[main], [1_000_000, 500_000, 100_000, 10_000], lambda v, b: v >= b)
        out.rfm.CopyFrom(sgpb.RfmScores(recency=r, frequency=f, monetary=mo,
                                        cell=f"{r}{f}{mo}", days_since_last_purchase=days))
        return out

    def check_value(self, cid: str, as_of: int) -> sgpb.CustomerValue:
        got = self.segments.GetCustomerValue(sgpb.GetCustomerValueRequest(
            name=f"customers/{cid}", as_of=ts(as_of), consistency_token=self.token()))
        # `version`: the customer's aggregate version the figures include (at most the
        # customer's; events the figures ignore, e.g. OwnerAssigned, may come after it).
        assert 0 < got.version <= self.customers[cid].version, (cid, got.version)
        expected = self.expected_value(cid, as_of)
        expected.version = got.version
        assert_same(got, expected, f"value of {cid}")
        return got

    def expected_segment_sizes(self) -> sgpb.SegmentSizes:
        cs = list(self.customers.values())
        out = sgpb.SegmentSizes(customers=len(cs))
        for tier in (cpb.HIGH_VALUE, cpb.ORDINARY, cpb.POTENTIAL_VALUE):
            out.value_tiers.add(value_tier=tier, customers=sum(c.tier == tier for c in cs))
        for stage in KNOWN_STAGES:
            out.lifecycle_stages.add(lifecycle_stage=stage,
                                     customers=sum(c.stage == stage for c in cs))
        return out

    def expected_funnel(self, start: int | None = None,
                        end: int | None = None) -> sgpb.LifecycleFunnel:
        out = sgpb.LifecycleFunnel()
        for stage in KNOWN_STAGES:
            out.current_stages.add(lifecycle_stage=stage, customers=sum(
                c.stage == stage for c in self.customers.values()))
        if start is not None:
            out.start_time.CopyFrom(ts(start))
        if end is not None:
            out.end_time.CopyFrom(ts(end))
        moves = [m for m in self.moves
                 if (start is None or m.time >= start) and (end is None or m.time < end)]
        out.transition_count = len(moves)
        pairs = Counter((m.from_stage, m.to_stage) for m in moves)
        for (a, b), n in sorted(pairs.items()):
            out.transitions.add(from_stage=a, to_stage=b, count=n)
        for a, b in zip(FORWARD_PATH, FORWARD_PATH[1:]):
            exits = sum(m.from_stage == a for m in moves)
            converted = pairs[(a, b)]
            out.conversions.add(from_stage=a, to_stage=b, exits=exits, converted=converted,
                                rate=converted / exits if exits else 0.0)
        for stage in KNOWN_STAGES:
            stays = sorted(m.stay_ms for m in moves if m.from_stage == stage)
            if stays:
                out.time_in_stage.add(stage=stage, stays=len(stays),
                                      median=dur_ns(stays[math.ceil(len(stays) / 2) - 1] * 10**6))
        return out

    def check_segments(self, as_of: int) -> None:
        token = self.token()
        for cid in self.customers:
            self.check_value(cid, as_of)
        assert_same(self.segments.GetSegmentSizes(sgpb.GetSegmentSizesRequest(
            consistency_token=token)), self.expected_segment_sizes(), "segment sizes")
        assert_same(self.segments.GetLifecycleFunnel(sgpb.GetLifecycleFunnelRequest(
            consistency_token=token)), self.expected_funnel(), "funnel, no window")
        if self.moves:
            # A window starting at the middle move (inclusive) and ending at the last (exclusive).
            times = sorted(m.time for m in self.moves)
            start, end = times[len(times) // 2], times[-1]
            assert_same(self.segments.GetLifecycleFunnel(sgpb.GetLifecycleFunnelRequest(
                start_time=ts(start), end_time=ts(end), consistency_token=token)),
                self.expected_funnel(start, end), "funnel in a window")

    # -- org chart ---------------------------------------------------------------------------

    def expected_workloads(self, as_of: int) -> dict:
        """staff id ("" = no assignee) -> Workload, as proto/crm/v1/README.md defines it."""
        w = defaultdict(ospb.Workload)
        for c in self.customers.values():
            if c.owner:
                w[c.owner].customers_owned += 1
        for c in self.complaints.values():
            if c.status == kpb.CLOSED:
                continue
            w[c.assignee].open_complaints += 1
            due, met, breached = c.rounds[-1]
            # Open, not resolved in this round, and a breach recorded (a response breach counts
            # until a reopening starts a new round) or a pending deadline passed.
            response_breached = c.response_breached and len(c.rounds) == 1
            if met is None and (breached or response_breached or due < as_of
                                or (c.ack is None and c.response_due < as_of)):
                w[c.assignee].overdue_complaints += 1
        for i in self.interactions.values():
            if i.due is not None and not i.complete and i.due < as_of:
                w[i.staff].overdue_follow_ups += 1
        for x in w.values():
            x.overdue_items = x.overdue_complaints + x.overdue_follow_ups
        return w

    def expected_chart_tree(self, as_of: int) -> tuple:
        """(departments, reporting lines, total, unattributed) in the shape of chart_tree()."""
        w = self.expected_workloads(as_of)

        def total(ids):
            s = ospb.Workload()
            for i in ids:
                for f in ("customers_owned", "open_complaints", "overdue_items",
                          "overdue_complaints", "overdue_follow_ups"):
                    setattr(s, f, getattr(s, f) + getattr(w[i], f))
            return plain(s)

        reports = defaultdict(list)
        managers = {orgtest.SUPERVISOR: orgtest.MANAGER, orgtest.AGENT: orgtest.SUPERVISOR,
                    orgtest.AGENT2: orgtest.SUPERVISOR}
        for s, m in managers.items():
            reports[m].append(s)

        def people(ids):
            return [(i, plain(w[i]), sorted(reports[i])) for i in sorted(ids)]

        east = [s for s, (team, _) in ORG.items() if team == "teams/cs-east"]
        cs_loose = [s for s, (team, d) in ORG.items() if d == "departments/cs" and not team]
        sales = [s for s, (_, d) in ORG.items() if d == "departments/sales"]
        departments = [
            ("departments/cs", total(east + cs_loose),
             [("teams/cs-east", total(east), people(east))], people(cs_loose)),
            ("departments/sales", total(sales), [], people(sales)),
        ]
        lines = sorted(managers.items())
        return departments, lines, total(ORG), total([""])

    def read_chart(self, **request) -> ospb.OrgChart:
        return self.org_q.GetOrgChart(ospb.GetOrgChartRequest(consistency_token=self.token(),
                                                              **request))

    def check_org_chart(self) -> ospb.OrgChart:
        self.record_all_watcher_events()
        before = time.time_ns()
        chart = self.read_chart()
        as_of = ns(chart.as_of)
        assert before - 5 * SECOND <= as_of <= time.time_ns() + 5 * SECOND
        assert chart_tree(chart) == self.expected_chart_tree(as_of)
        return chart

    def check_all(self, as_of: int) -> None:
        self.record_all_watcher_events()
        for cid in self.customers:
            self.check_timeline(cid)
        for staff in ORG:
            self.check_follow_ups(staff)
        self.check_analytics()
        self.check_segments(as_of)
        self.check_org_chart()


def chart_tree(chart: ospb.OrgChart) -> tuple:
    """The chart reduced to ids, workloads and direct reports."""

    def people(nodes):
        return [(n.staff.name.removeprefix("staff/"), plain(n.workload), list(n.direct_reports))
                for n in nodes]

    departments = [(d.department.name, plain(d.workload),
                    [(t.team.name, plain(t.workload), people(t.staff)) for t in d.teams],
                    people(d.staff)) for d in chart.departments]
    lines = [(x.staff_id, x.manager) for x in chart.reporting_lines]
    return departments, lines, plain(chart.total), plain(chart.unattributed)


def _time_groups(entries: list) -> list:
    """Entries grouped by time, newest first; order within a time is the server's choice (event
    id order), so each group is compared as a sorted list."""
    groups = defaultdict(list)
    for e in entries:
        groups[e[0]].append(e)
    order = []
    for e in entries:
        if not order or order[-1] != e[0]:
            order.append(e[0])
    assert order == sorted(set(order), reverse=True), "timeline not newest first"
    return [(t, sorted(groups[t])) for t in order]


def _score(value: int, bounds: list, holds) -> int:
    """docs/analytics.md RFM table: 5 if the first bound holds, ... 2 for the fourth, else 1."""
    for score, bound in zip((5, 4, 3, 2), bounds):
        if holds(value, bound):
            return score
    return 1


def _durations(msg: apb.DurationStats, millis: list) -> None:
    msg.count = len(millis)
    if not millis:
        return
    total_ns = sum(millis) * 10**6
    msg.total.CopyFrom(dur_ns(total_ns))
    msg.mean.CopyFrom(dur_ns(total_ns // len(millis)))
    msg.p90.CopyFrom(dur_ns(sorted(millis)[math.ceil(0.9 * len(millis)) - 1] * 10**6))


# ---------------------------------------------------------------------------------------------
# Scenarios (each asserts as it goes; the rebuild test runs them all on one server).


def interactions_scenario(w: World, cid: str = "tl-ada") -> dict:
    """A customer with interactions in every channel, follow-ups past and future, one linked to
    a complaint, a profile change, a lifecycle move and two purchases; then the views."""
    t0 = whole_seconds_now()
    w.register(cid)
    w.update_region(cid, "East")
    w.purchase(cid, 12_000, at=t0 - 10 * DAY, product="Kettle")
    complaint = w.file(cid, ipb.PHONE, kpb.PRODUCT_QUALITY, kpb.GENERAL)
    w.ack(complaint, orgtest.AGENT)
    overdue = w.log(cid, ipb.PHONE, ipb.INBOUND, orgtest.AGENT, at=t0 - 3 * DAY,
                    due=t0 - 2 * DAY, summary="Asked for a refund", outcome="Promised a call")
    future = w.log(cid, ipb.EMAIL, ipb.OUTBOUND, orgtest.ACCOUNT_MANAGER, at=t0 - DAY,
                   due=t0 + 2 * DAY, summary="Sent the catalogue")
    linked = w.log(cid, ipb.ONLINE_CHAT, ipb.INBOUND, orgtest.AGENT, at=t0 - 2 * HOUR,
                   due=t0 + DAY, complaint=complaint, summary="Chased the complaint")
    no_follow_up = w.log(cid, ipb.VISIT, ipb.OUTBOUND, orgtest.ACCOUNT_MANAGER,
                         at=t0 - 5 * DAY, summary="Visited the shop")
    w.log(cid, ipb.SMS, ipb.OUTBOUND, orgtest.AGENT2, at=t0 - 4 * DAY, summary="Reminder")
    w.log(cid, ipb.SOCIAL_MEDIA, ipb.INBOUND, orgtest.AGENT2, at=t0 - 6 * DAY, summary="A post")
    w.log(cid, ipb.OFFLINE_EVENT, ipb.INBOUND, orgtest.MANAGER, at=t0 - 7 * DAY,
          summary="Met at the fair")
    w.change_stage(cid, cpb.FIRST_CONTACT)
    w.purchase(cid, 8_800, at=t0 - HOUR, product="Filter")
    token = w.token()
    iq = w.interaction_q

    assert linked.complaint == complaint
    got = iq.GetInteraction(ispb.GetInteractionRequest(name=linked.name, consistency_token=token))
    assert got == linked

    # A customer's interactions: newest occurred_at first, paged, filtered by channel.
    listed, page_token = [], ""
    while True:
        resp = iq.ListInteractions(ispb.ListInteractionsRequest(
            parent=f"customers/{cid}", page_size=3, page_token=page_token,
            consistency_token=token))
        assert len(resp.interactions) <= 3
        listed += [i.name for i in resp.interactions]
        page_token = resp.next_page_token
        if not page_token:
            break
    mine = [i for i in w.interactions.values() if i.cid == cid]
    assert listed == [i.name for i in sorted(mine, key=lambda i: -i.occurred)]
    by_channel = iq.ListInteractions(ispb.ListInteractionsRequest(
        parent=f"customers/{cid}", channel=ipb.EMAIL, consistency_token=token))
    assert [i.name for i in by_channel.interactions] == [future.name]

    # The unified timeline: everything in business-time order, newest first, and paged.
    entries = w.check_timeline(cid)
    kinds = Counter(e.kind for e in entries)
    assert kinds == {ispb.TIMELINE_INTERACTION: 7, ispb.TIMELINE_COMPLAINT: 2,
                     ispb.TIMELINE_PROFILE: 3, ispb.TIMELINE_PURCHASE: 2}
    assert entries[-1].kind == ispb.TIMELINE_PURCHASE  # the oldest: ten days ago
    assert entries[-1].event.purchase_recorded.purchase.product == "Kettle"
    paged = w.read_timeline(cid, page_size=4)
    assert [e.SerializeToString(deterministic=True) for e in paged] == [
        e.SerializeToString(deterministic=True) for e in entries]
    only = w.read_timeline(cid, page_size=2, kinds=[ispb.TIMELINE_COMPLAINT,
                                                    ispb.TIMELINE_PURCHASE])
    assert [e.event.event_id for e in only] == [
        e.event.event_id for e in entries
        if e.kind in (ispb.TIMELINE_COMPLAINT, ispb.TIMELINE_PURCHASE)]
    summaries = {e.resource: e.summary for e in entries if e.kind == ispb.TIMELINE_INTERACTION}
    assert summaries[overdue.name] == (
        f"Phone call (inbound) by {orgtest.AGENT}: Asked for a refund; outcome: Promised a call; "
        f"follow-up due {ts(t0 - 2 * DAY).ToJsonString()}")
    # The same entries in Chinese, written when read: same events, other text.
    chinese = w.read_timeline(cid, language="zh-CN")
    assert [e.event for e in chinese] == [e.event for e in entries]
    zh = {e.resource: e.summary for e in chinese if e.kind == ispb.TIMELINE_INTERACTION}
    assert zh[overdue.name] == (
        f"{orgtest.AGENT} 电话（呼入）：Asked for a refund；结果：Promised a call；"
        f"跟进期限 {ts(t0 - 2 * DAY).ToJsonString()}")
    assert [e.summary for e in w.read_timeline(cid, language="fr")] == [
        e.summary for e in entries], "another language: English"
    d = expect_error(grpc.StatusCode.INVALID_ARGUMENT, w.interaction_q.GetCustomerTimeline,
                     ispb.GetCustomerTimelineRequest(parent=f"customers/{cid}",
                                                     language_code="not a tag"))
    assert_violation(d, "language_code")

    # Follow-ups per staff member: earliest due first, the past one overdue at once.
    fus, now = w.read_follow_ups(orgtest.AGENT)
    assert [(f.interaction.name, f.overdue) for f in fus] == [(overdue.name, True),
                                                             (linked.name, False)]
    fus, _ = w.read_follow_ups(orgtest.AGENT, page_size=1)
    assert [f.interaction.name for f in fus] == [overdue.name, linked.name]
    fus, _ = w.read_follow_ups(orgtest.AGENT, overdue_only=True)
    assert [f.interaction.name for f in fus] == [overdue.name]
    fus, _ = w.read_follow_ups(orgtest.AGENT, due_before=ts(t0 + 2 * DAY))
    assert [f.interaction.name for f in fus] == [overdue.name, linked.name]
    fus, _ = w.read_follow_ups(orgtest.AGENT, due_before=ts(t0))
    assert [f.interaction.name for f in fus] == [overdue.name]
    fus, _ = w.read_follow_ups(orgtest.ACCOUNT_MANAGER)
    assert [(f.interaction.name, f.overdue) for f in fus] == [(future.name, False)]
    fus, _ = w.read_follow_ups(orgtest.ACCOUNT_MANAGER, overdue_only=True)
    assert not fus
    fus, _ = w.read_follow_ups(orgtest.AGENT2)
    assert not fus

    # Completing a follow-up takes it off the list and puts it on the timeline.
    done = w.complete_follow_up(overdue.name, note="Refund agreed")
    assert done.version == 2
    fus, _ = w.read_follow_ups(orgtest.AGENT)
    assert [(f.interaction.name, f.overdue) for f in fus] == [(linked.name, False)]
    fus, _ = w.read_follow_ups(orgtest.AGENT, overdue_only=True)
    assert not fus
    entries = w.check_timeline(cid)
    assert (entries[0].kind, entries[0].resource) == (ispb.TIMELINE_FOLLOW_UP, overdue.name)

    # Errors.
    ic = w.interaction_cmd
    d = expect_error(grpc.StatusCode.FAILED_PRECONDITION, ic.CompleteFollowUp,
                     ispb.CompleteFollowUpRequest(name=overdue.name, request_id=new_request_id()))
    assert d.error_info is not None and d.error_info.reason == "FOLLOW_UP_ALREADY_COMPLETE", d
    d = expect_error(grpc.StatusCode.FAILED_PRECONDITION, ic.CompleteFollowUp,
                     ispb.CompleteFollowUpRequest(name=no_follow_up.name,
                                                  request_id=new_request_id()))
    assert d.error_info is not None and d.error_info.reason == "NO_FOLLOW_UP", d

    def log(**fields):
        i = ipb.Interaction(channel=ipb.PHONE, direction=ipb.INBOUND, staff_id=orgtest.AGENT,
                            occurred_at=ts(t0), summary="x")
        for k, v in fields.items():
            setattr(i, k, v)
        return ic.LogInteraction(ispb.LogInteractionRequest(
            parent=f"customers/{cid}", interaction=i, request_id=new_request_id()))

    d = expect_error(grpc.StatusCode.NOT_FOUND, log, staff_id="nobody")
    assert d.error_info is not None and d.error_info.reason == "STAFF_NOT_FOUND", d
    assert "nobody" in d.message
    assert_violation(expect_error(grpc.StatusCode.INVALID_ARGUMENT, log, channel=0),
                     "interaction.channel")
    assert_violation(expect_error(grpc.StatusCode.INVALID_ARGUMENT, log, channel=42),
                     "interaction.channel")
    assert_violation(expect_error(grpc.StatusCode.INVALID_ARGUMENT, log, direction=0),
                     "interaction.direction")
    expect_error(grpc.StatusCode.NOT_FOUND, log, complaint=f"customers/{cid}/complaints/nope")
    expect_error(grpc.StatusCode.NOT_FOUND, ic.LogInteraction, ispb.LogInteractionRequest(
        parent="customers/nobody-here", request_id=new_request_id(),
        interaction=ipb.Interaction(channel=ipb.PHONE, direction=ipb.INBOUND,
                                    staff_id=orgtest.AGENT, occurred_at=ts(t0), summary="x")))
    # None of those appended anything.
    w.check_timeline(cid)
    return {"t0": t0, "overdue": overdue.name, "linked": linked.name, "complaint": complaint}


def org_scenario(w: World, prefix: str = "oc") -> dict:
    """Owners and complaint assignees; a follow-up overdue for agent-chen."""
    a, b, c, d = (f"{prefix}-{x}" for x in "abcd")
    for cid in (a, b, c, d):
        w.register(cid)
    for cid in (a, b, c):
        w.assign_owner(cid, orgtest.ACCOUNT_MANAGER)
    w.assign_owner(c, orgtest.SUPERVISOR)  # moves one customer from am-sun to sup-zhao

    # Only staff whose role owns customers; unknown staff are NOT_FOUND. Nothing is appended.
    cc = w.customer_cmd
    err = expect_error(grpc.StatusCode.FAILED_PRECONDITION, cc.AssignOwner,
                       spb.AssignOwnerRequest(name=f"customers/{d}", owner=orgtest.AGENT,
                                              request_id=new_request_id()))
    assert "SERVICE_AGENT" in err.message, err
    expect_error(grpc.StatusCode.NOT_FOUND, cc.AssignOwner, spb.AssignOwnerRequest(
        name=f"customers/{d}", owner="nobody", request_id=new_request_id()))

    k1 = w.file(a, ipb.PHONE, kpb.PRODUCT_QUALITY, kpb.GENERAL)
    w.ack(k1, orgtest.AGENT)
    w.assign(k1, orgtest.AGENT)
    k2 = w.file(b, ipb.EMAIL, kpb.BILLING, kpb.MINOR)
    w.ack(k2)
    w.assign(k2, orgtest.AGENT)
    w.investigate(k2)
    w.resolve(k2, kpb.BILLING_ERROR)  # resolved: still open until closed
    k3 = w.file(b, ipb.SMS, kpb.LOGISTICS, kpb.MINOR)
    w.full_flow(k3, orgtest.AGENT, kpb.DELIVERY_DELAY, csat=4)  # closed: not open
    k4 = w.file(d, ipb.VISIT, kpb.SERVICE_ATTITUDE, kpb.SEVERE)
    w.ack(k4)
    w.assign(k4, orgtest.AGENT2)
    w.file(d, ipb.ONLINE_CHAT, kpb.OTHER_CATEGORY, kpb.GENERAL)  # nobody holds it
    t0 = whole_seconds_now()
    w.log(a, ipb.PHONE, ipb.OUTBOUND, orgtest.AGENT2, at=t0 - DAY, due=t0 - HOUR)
    w.log(a, ipb.PHONE, ipb.OUTBOUND, orgtest.AGENT2, at=t0 - DAY, due=t0 + DAY)
    chart = w.check_org_chart()
    return {"chart": chart}


def analytics_scenario(w: World, prefix: str = "an") -> dict:
    """Six complaints across categories, severities and channels, resolved, visited, one
    reopened, one reassigned; interactions; purchases; lifecycle moves."""
    t0 = whole_seconds_now()
    c1, c2, c3, c4 = (f"{prefix}-{x}" for x in (1, 2, 3, 4))
    w.register(c1)
    w.register(c2)
    w.register(c3, stage=cpb.NEED_CONFIRMED)
    w.register(c4)

    k1 = w.file(c1, ipb.PHONE, kpb.PRODUCT_QUALITY, kpb.SEVERE)
    w.full_flow(k1, orgtest.AGENT, kpb.PRODUCT_DEFECT, csat=5)
    k2 = w.file(c1, ipb.EMAIL, kpb.LOGISTICS, kpb.GENERAL)
    w.ack(k2, orgtest.AGENT2)
    w.assign(k2, orgtest.AGENT2)
    w.investigate(k2)
    w.resolve(k2, kpb.DELIVERY_DELAY)
    w.visit(k2, csat=2, satisfied=False)
    w.reopen(k2)
    w.assign(k2, orgtest.AGENT)
    w.investigate(k2)
    w.resolve(k2, kpb.DELIVERY_DELAY)
    w.visit(k2, csat=4, satisfied=True)
    w.close(k2)
    k3 = w.file(c2, ipb.ONLINE_CHAT, kpb.BILLING, kpb.MINOR)
    w.full_flow(k3, orgtest.AGENT2, kpb.BILLING_ERROR, csat=3, close=False)
    k4 = w.file(c2, ipb.SOCIAL_MEDIA, kpb.SERVICE_ATTITUDE, kpb.GENERAL)
    w.ack(k4)
    w.assign(k4, orgtest.AGENT)
    w.assign(k4, orgtest.SUPERVISOR)  # reassigned before the investigation
    w.investigate(k4)
    w.resolve(k4, kpb.STAFF_BEHAVIOUR)
    k5 = w.file(c3, ipb.PHONE, kpb.PRODUCT_QUALITY, kpb.MINOR)
    w.ack(k5, orgtest.AGENT)
    w.assign(k5, orgtest.AGENT)
    w.file(c3, ipb.SMS, kpb.OTHER_CATEGORY, kpb.SEVERE)

    w.log(c1, ipb.PHONE, ipb.INBOUND, orgtest.AGENT, at=t0 - DAY)
    w.log(c1, ipb.PHONE, ipb.OUTBOUND, orgtest.AGENT, at=t0 - 2 * DAY)
    w.log(c2, ipb.EMAIL, ipb.INBOUND, orgtest.AGENT2, at=t0 - 3 * DAY)
    w.log(c4, ipb.VISIT, ipb.OUTBOUND, orgtest.ACCOUNT_MANAGER, at=t0 - 4 * DAY)
    w.log(c4, ipb.SMS, ipb.OUTBOUND, orgtest.SUPERVISOR, at=t0 - 5 * DAY)

    # c1: ordinary, then high value (one currency reaches 1,000,000); a USD purchase too.
    w.purchase(c1, 30_000, at=t0 - 100 * DAY, currency="USD")
    w.purchase(c1, 50_000, at=t0 - 40 * DAY)
    w.purchase(c1, 1_000_000, at=t0 - 20 * DAY)
    w.purchase(c2, 5_000, at=t0 - 200 * DAY)
    w.purchase(c4, 60_000, at=t0 - 95 * DAY, currency="EUR")
    w.purchase(c4, 60_000, at=t0 - 60 * DAY, currency="EUR")

    for stage in (cpb.FIRST_CONTACT, cpb.NEED_CONFIRMED, cpb.PURCHASE_DECISION,
                  cpb.AFTER_SALES):
        w.change_stage(c1, stage)
    w.change_stage(c2, cpb.FIRST_CONTACT)
    w.change_stage(c2, cpb.CHURNED)
    w.change_stage(c2, cpb.FIRST_CONTACT)  # win-back
    w.change_stage(c3, cpb.FIRST_CONTACT)  # back from NEED_CONFIRMED
    w.change_stage(c4, cpb.FIRST_CONTACT)
    w.change_stage(c4, cpb.NEED_CONFIRMED)
    return {"t0": t0, "customers": (c1, c2, c3, c4), "complaints": (k1, k2, k3, k4, k5)}


def breach_scenario(w: World, cid: str = "br-1") -> str:
    """A minor complaint nobody answers within its one-second response deadline (needs
    SLA_ARGS): the watcher records the breach and an automatic escalation; the late
    acknowledgement keeps it breached; assigned to agent-li, it is overdue in the org chart."""
    w.register(cid)
    name = w.file(cid, ipb.SMS, kpb.BILLING, kpb.MINOR)
    m = w.complaints[name]
    assert m.response_due - m.filed == SECOND

    # Driven by the server's clock: poll (the token covers the filing, not what the watcher
    # appends later).
    filed_token = w.token()

    def breached():
        c = w.complaint_q.GetComplaint(kqpb.GetComplaintRequest(
            name=name, consistency_token=filed_token))
        return c.response_deadline.breached and c.escalation_level == 1

    wait_for("the watcher's response breach", breached, timeout_s=60)
    w.ack(name, orgtest.AGENT)  # late
    w.assign(name, orgtest.AGENT)
    found = w.record_watcher_events(name)
    assert [event_type(e) for e in found] == ["ComplaintSlaBreached", "ComplaintEscalated"]
    breach, escalation = found
    assert breach.actor == "crm/sla-watcher"
    assert ns(breach.occurred_at) == m.response_due
    assert not breach.complaint_sla_breached.assignee.staff_id  # nobody held it yet
    assert escalation.complaint_escalated.automatic
    assert not escalation.complaint_escalated.to.staff_id  # no holder: nobody to escalate to
    c = w.complaint_q.GetComplaint(kqpb.GetComplaintRequest(name=name,
                                                            consistency_token=w.token()))
    assert c.response_deadline.breached and c.response_deadline.HasField("met_time")
    return name


def _start_with_sla(make_server):
    """A server whose command side runs with SLA_ARGS (crm-command's flags on Kafka)."""
    if make_server.engine == "kafka":
        return make_server(command_args=SLA_ARGS)
    return make_server(args=SLA_ARGS)


def _rebuild(server) -> None:
    """Restarts with the views rebuilt from zero: crm-server --rebuild, or on Kafka crm-command
    (keeping its SLA flags) and crm-projector --rebuild."""
    if getattr(server, "engine", "embedded") == "kafka":
        server.restart("--rebuild")
    else:
        server.restart("--rebuild", *SLA_ARGS)


# ---------------------------------------------------------------------------------------------
# Tests.


def test_interactions_timeline_and_follow_ups(server):
    w = World(server)
    w.make_org()
    interactions_scenario(w)
    for staff in ORG:
        w.check_follow_ups(staff)
    assert_same(w.analytics.GetInteractionStats(apb.GetInteractionStatsRequest(
        consistency_token=w.token())), w.expected_interaction_stats())


def test_org_chart_with_workload_and_renderings(server):
    w = World(server)
    w.make_org()
    chart = org_scenario(w)["chart"]

    # The figures, spelled out (also checked against the ledger in org_scenario).
    def node(staff_id):
        for d in chart.departments:
            for n in list(d.staff) + [n for t in d.teams for n in t.staff]:
                if n.staff.name == f"staff/{staff_id}":
                    return n
        raise AssertionError(f"{staff_id} not in the chart")

    assert node(orgtest.ACCOUNT_MANAGER).workload.customers_owned == 2
    assert node(orgtest.SUPERVISOR).workload.customers_owned == 1
    assert node(orgtest.AGENT).workload.open_complaints == 2
    chen = node(orgtest.AGENT2).workload
    assert (chen.open_complaints, chen.overdue_follow_ups, chen.overdue_items) == (1, 1, 1)
    cs, sales = chart.departments
    assert [t.team.name for t in cs.teams] == ["teams/cs-east"]
    east = cs.teams[0]
    assert [n.staff.name for n in east.staff] == ["staff/agent-chen", "staff/agent-li",
                                                  "staff/sup-zhao"]
    assert [n.staff.name for n in cs.staff] == ["staff/mgr-wang"]
    assert [n.staff.name for n in sales.staff] == ["staff/am-sun"]
    assert (east.workload.customers_owned, east.workload.open_complaints,
            east.workload.overdue_items) == (1, 3, 1)
    assert cs.workload == east.workload  # mgr-wang holds nothing
    assert sales.workload.customers_owned == 2
    assert (chart.total.customers_owned, chart.total.open_complaints) == (3, 3)
    assert chart.unattributed.open_complaints == 1  # the complaint nobody was assigned
    assert list(node(orgtest.SUPERVISOR).direct_reports) == [orgtest.AGENT2, orgtest.AGENT]
    assert list(node(orgtest.MANAGER).direct_reports) == [orgtest.SUPERVISOR]

    # DOT: a cluster per department and team, a box per person, dashed edges to the manager.
    dot = chart.dot.splitlines()
    assert dot[0] == "digraph org {" and dot[-1] == "}"
    assert '  subgraph "cluster_departments/cs" {' in dot
    assert ('    label="Customer service [CUSTOMER_SERVICE]\\n'
            'customers 1, open complaints 3, overdue 1";') in dot
    assert '    subgraph "cluster_teams/cs-east" {' in dot
    assert '      label="East\\ncustomers 1, open complaints 3, overdue 1";' in dot
    assert ('      "staff/agent-li" [label="Agent Li (agent-li)\\nSERVICE_AGENT, FRONT_LINE\\n'
            'customers 0, open complaints 2, overdue 0"];') in dot
    assert ('    "staff/am-sun" [label="Am Sun (am-sun)\\nACCOUNT_MANAGER, FRONT_LINE\\n'
            'customers 2, open complaints 0, overdue 0"];') in dot
    assert '  "staff/agent-li" -> "staff/sup-zhao" [style=dashed, label="reports to"];' in dot
    assert '  "staff/sup-zhao" -> "staff/mgr-wang" [style=dashed, label="reports to"];' in dot
    assert sum("->" in line for line in dot) == 3

    # Mermaid: subgraphs per department and team, a node per person, dotted arrows.
    mermaid = chart.mermaid.splitlines()
    assert mermaid[0] == "flowchart TB"
    assert ('  subgraph d_cs["Customer service [CUSTOMER_SERVICE]<br/>'
            'customers 1, open complaints 3, overdue 1"]') in mermaid
    assert '    subgraph t_cs_east["East<br/>customers 1, open complaints 3, overdue 1"]' in mermaid
    assert ('      s_agent_chen["Agent Chen (agent-chen)<br/>SERVICE_AGENT, FRONT_LINE<br/>'
            'customers 0, open complaints 1, overdue 1"]') in mermaid
    assert ('    s_mgr_wang["Mgr Wang (mgr-wang)<br/>MANAGER, SENIOR<br/>'
            'customers 0, open complaints 0, overdue 0"]') in mermaid
    assert '  s_agent_chen -.->|reports to| s_sup_zhao' in mermaid
    assert '  s_sup_zhao -.->|reports to| s_mgr_wang' in mermaid
    assert sum("-.->" in line for line in mermaid) == 3
    assert sum(line.strip() == "end" for line in mermaid) == 3  # 2 departments + 1 team

    # One rendering only; one department only.
    only_dot = w.read_chart(format=ospb.ORG_CHART_DOT)
    assert only_dot.dot == chart.dot and not only_dot.mermaid and not only_dot.departments
    assert only_dot.total == chart.total
    only_mermaid = w.read_chart(format=ospb.ORG_CHART_MERMAID)
    assert only_mermaid.mermaid == chart.mermaid and not only_mermaid.dot
    data = w.read_chart(format=ospb.ORG_CHART_DATA)
    assert not data.dot and not data.mermaid
    assert chart_tree(data) == chart_tree(chart)
    sales_only = w.read_chart(department="departments/sales")
    assert [d.department.name for d in sales_only.departments] == ["departments/sales"]
    assert sales_only.total == sales.workload
    assert not sales_only.reporting_lines
    assert "cluster_departments/cs" not in sales_only.dot


def test_analytics_and_segments(server):
    w = World(server)
    w.make_org()
    s = analytics_scenario(w)
    t0 = s["t0"]
    c1, c2, c3, c4 = s["customers"]
    w.check_analytics()
    w.check_segments(as_of=t0)

    # A few figures spelled out (the ledger computes all of them).
    token = w.token()
    a = w.analytics
    stats = a.GetComplaintStats(apb.GetComplaintStatsRequest(consistency_token=token))
    assert stats.total == 6
    assert {x.category: x.count for x in stats.categories} == {
        kpb.PRODUCT_QUALITY: 2, kpb.SERVICE_ATTITUDE: 1, kpb.LOGISTICS: 1, kpb.BILLING: 1,
        kpb.OTHER_CATEGORY: 1}
    assert {x.status: x.count for x in stats.statuses if x.count} == {
        kpb.CLOSED: 2, kpb.FOLLOWED_UP: 1, kpb.RESOLVED: 1, kpb.ASSIGNED: 1, kpb.FILED: 1}
    assert {x.severity: x.count for x in stats.severities} == {
        kpb.MINOR: 2, kpb.GENERAL: 2, kpb.SEVERE: 2}
    assert {x.channel: x.count for x in stats.channels if x.count} == {
        ipb.PHONE: 2, ipb.EMAIL: 1, ipb.ONLINE_CHAT: 1, ipb.SOCIAL_MEDIA: 1, ipb.SMS: 1}
    # A window after the last filing day: no buckets, the other breakdowns unchanged.
    late = a.GetComplaintStats(apb.GetComplaintStatsRequest(
        start_time=ts(t0 + 3 * DAY), consistency_token=token))
    assert (late.window_total, list(late.days), list(late.months)) == (0, [], [])
    assert late.total == 6 and list(late.categories) == list(stats.categories)
    causes = a.GetRootCauses(apb.GetRootCausesRequest(consistency_token=token))
    assert [(x.root_cause, x.count) for x in causes.root_causes] == [
        (kpb.DELIVERY_DELAY, 2), (kpb.PRODUCT_DEFECT, 1), (kpb.STAFF_BEHAVIOUR, 1),
        (kpb.BILLING_ERROR, 1)]
    li = a.GetStaffKpis(apb.GetStaffKpisRequest(scope=apb.StaffScope(staff_id=orgtest.AGENT),
                                                consistency_token=token))
    assert (li.complaints_assigned, li.complaints_resolved, li.interactions_logged) == (4, 2, 2)
    assert (li.satisfaction.count, li.satisfaction.average) == (2, 4.5)
    team = a.GetSatisfaction(apb.GetSatisfactionRequest(
        scope=apb.StaffScope(team="teams/cs-east"), consistency_token=token))
    assert (team.count, team.average, team.satisfied_count) == (4, 3.5, 3)
    sales = a.GetStaffKpis(apb.GetStaffKpisRequest(
        scope=apb.StaffScope(department="departments/sales"), consistency_token=token))
    assert (sales.complaints_assigned, sales.interactions_logged) == (0, 1)
    times = a.GetResponseTimes(apb.GetResponseTimesRequest(consistency_token=token))
    assert (times.first_response.count, times.resolution.count) == (5, 4)
    sla = a.GetSlaCompliance(apb.GetSlaComplianceRequest(consistency_token=token))
    assert (sla.overall.met, sla.overall.pending, sla.overall.compliance_rate) == (10, 3, 1.0)

    v1 = w.segments.GetCustomerValue(sgpb.GetCustomerValueRequest(
        name=f"customers/{c1}", as_of=ts(t0), consistency_token=token))
    assert v1.value_tier == cpb.HIGH_VALUE and v1.rfm.cell == "525" and v1.main_currency == "CNY"
    assert [(x.from_tier, x.to_tier) for x in v1.tier_changes] == [
        (cpb.VALUE_TIER_UNSPECIFIED, cpb.POTENTIAL_VALUE), (cpb.POTENTIAL_VALUE, cpb.ORDINARY),
        (cpb.ORDINARY, cpb.HIGH_VALUE)]
    for cid, cell in ((c2, "211"), (c3, "000"), (c4, "423")):
        assert w.segments.GetCustomerValue(sgpb.GetCustomerValueRequest(
            name=f"customers/{cid}", as_of=ts(t0), consistency_token=token)).rfm.cell == cell
    sizes = w.segments.GetSegmentSizes(sgpb.GetSegmentSizesRequest(consistency_token=token))
    assert sizes.customers == 4
    assert [(x.value_tier, x.customers) for x in sizes.value_tiers] == [
        (cpb.HIGH_VALUE, 1), (cpb.ORDINARY, 2), (cpb.POTENTIAL_VALUE, 1)]
    funnel = w.segments.GetLifecycleFunnel(sgpb.GetLifecycleFunnelRequest(
        consistency_token=token))
    assert funnel.transition_count == 10
    assert {x.lifecycle_stage: x.customers for x in funnel.current_stages if x.customers} == {
        cpb.AFTER_SALES: 1, cpb.FIRST_CONTACT: 2, cpb.NEED_CONFIRMED: 1}
    first = funnel.conversions[1]  # FIRST_CONTACT -> NEED_CONFIRMED
    assert (first.exits, first.converted) == (3, 2)
    expect_error(grpc.StatusCode.NOT_FOUND, w.segments.GetCustomerValue,
                 sgpb.GetCustomerValueRequest(name="customers/nobody-here",
                                              consistency_token=token))


def test_sla_breach_in_the_figures(make_server):
    server = _start_with_sla(make_server)
    w = World(server)
    w.make_org()
    name = breach_scenario(w)
    w.check_all(as_of=whole_seconds_now())

    token = w.token()
    sla = w.analytics.GetSlaCompliance(apb.GetSlaComplianceRequest(consistency_token=token))
    assert (sla.overall.breached, sla.overall.met, sla.overall.late, sla.overall.pending) == (
        1, 0, 0, 1)
    assert sla.overall.compliance_rate == 0.0
    everyone = w.analytics.GetStaffKpis(apb.GetStaffKpisRequest(consistency_token=token))
    assert everyone.sla_breaches == 1  # unassigned when breached: counted for everyone only
    li = w.analytics.GetStaffKpis(apb.GetStaffKpisRequest(
        scope=apb.StaffScope(staff_id=orgtest.AGENT), consistency_token=token))
    assert (li.sla_breaches, li.complaints_assigned) == (0, 1)
    times = w.analytics.GetResponseTimes(apb.GetResponseTimesRequest(
        severity=kpb.MINOR, consistency_token=token))
    assert times.first_response.count == 1
    assert times.first_response.total.seconds >= 1  # acknowledged after the breach
    chart = w.read_chart()
    east = chart.departments[0].teams[0]
    li_node = next(n for n in east.staff if n.staff.name == f"staff/{orgtest.AGENT}")
    assert (li_node.workload.open_complaints, li_node.workload.overdue_complaints,
            li_node.workload.overdue_items) == (1, 1, 1)
    assert "customers 0, open complaints 1, overdue 1" in chart.dot
    timeline = w.read_timeline("br-1", kinds=[ispb.TIMELINE_COMPLAINT])
    assert [event_type(e.event) for e in reversed(timeline)] == [
        "ComplaintFiled", "ComplaintSlaBreached", "ComplaintEscalated", "ComplaintAcknowledged",
        "ComplaintAssigned"]
    assert all(e.resource == name for e in timeline)


def _snapshot(w: World, as_of: int) -> dict:
    """Every answer of the views, serialized; server-clock fields (as_of, now) cleared."""
    token = covering_token(w.server, w.token())
    snap = {}

    def put(key, msg):
        snap[key] = msg.SerializeToString(deterministic=True)

    a, sg, iq, kq = w.analytics, w.segments, w.interaction_q, w.complaint_q
    put("complaint-stats", a.GetComplaintStats(apb.GetComplaintStatsRequest(
        consistency_token=token)))
    put("sla", a.GetSlaCompliance(apb.GetSlaComplianceRequest(consistency_token=token)))
    for sev in [0] + KNOWN_SEVERITIES:
        put(f"times-{sev}", a.GetResponseTimes(apb.GetResponseTimesRequest(
            severity=sev, consistency_token=token)))
    put("interactions", a.GetInteractionStats(apb.GetInteractionStatsRequest(
        consistency_token=token)))
    put("root-causes", a.GetRootCauses(apb.GetRootCausesRequest(consistency_token=token)))
    for scope in SCOPES:
        key = scope.SerializeToString(deterministic=True)
        put(f"csat-{key}", a.GetSatisfaction(apb.GetSatisfactionRequest(
            scope=scope, consistency_token=token)))
        put(f"kpis-{key}", a.GetStaffKpis(apb.GetStaffKpisRequest(
            scope=scope, consistency_token=token)))
    for cid in w.customers:
        put(f"value-{cid}", sg.GetCustomerValue(sgpb.GetCustomerValueRequest(
            name=f"customers/{cid}", as_of=ts(as_of), consistency_token=token)))
        timeline = iq.GetCustomerTimeline(ispb.GetCustomerTimelineRequest(
            parent=f"customers/{cid}", page_size=1000, consistency_token=token))
        assert not timeline.next_page_token
        put(f"timeline-{cid}", timeline)
        put(f"interactions-{cid}", iq.ListInteractions(ispb.ListInteractionsRequest(
            parent=f"customers/{cid}", page_size=1000, consistency_token=token)))
    for name in w.complaints:
        put(f"complaint-{name}", kq.GetComplaint(kqpb.GetComplaintRequest(
            name=name, consistency_token=token)))
    put("sizes", sg.GetSegmentSizes(sgpb.GetSegmentSizesRequest(consistency_token=token)))
    put("funnel", sg.GetLifecycleFunnel(sgpb.GetLifecycleFunnelRequest(consistency_token=token)))
    for staff in ORG:
        fus = iq.ListFollowUps(ispb.ListFollowUpsRequest(staff_id=staff, page_size=1000,
                                                         consistency_token=token))
        fus.ClearField("now")
        put(f"follow-ups-{staff}", fus)
    chart = w.org_q.GetOrgChart(ospb.GetOrgChartRequest(consistency_token=token))
    chart.ClearField("as_of")
    put("org-chart", chart)
    return snap


def test_every_view_is_the_same_after_a_rebuild(make_server):
    """Every scenario on one server, every answer checked against the ledger; then the views
    are rebuilt from zero (embedded: crm-server --rebuild; Kafka: crm-projector --rebuild) and
    every answer is byte for byte the same, and still the ledger's."""
    server = _start_with_sla(make_server)
    w = World(server)
    w.make_org()
    interactions_scenario(w, cid="rb-timeline")
    org_scenario(w, prefix="rb-oc")
    t0 = analytics_scenario(w, prefix="rb-an")["t0"]
    breach_scenario(w, cid="rb-breach")
    w.check_all(as_of=t0)
    before = _snapshot(w, as_of=t0)

    _rebuild(server)
    after = _snapshot(w, as_of=t0)
    assert sorted(after) == sorted(before)
    differing = [k for k in before if before[k] != after[k]]
    assert not differing, f"answers that changed with the rebuild: {differing}"
    w.check_all(as_of=t0)
