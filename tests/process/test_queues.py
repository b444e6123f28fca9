"""Service by value tier and work queues (proto/crm/v1/README.md "SLA policy and deadlines" and
"Work queues"), end to end on both engines:
  - a VIP customer's complaint gets tighter deadlines than an ordinary customer's of the same
    severity; the tier is the customer's at filing time;
  - deadlines are facts: a restart with another --sla-policy changes only new complaints' ones;
  - OrgQueryService.ListWorkItems: an agent's, a team's and a department's queue by priority then
    due time, pages, items moving on reassignment, escalation, resolution, closing and a completed
    follow-up; who may ask for which queue (PERMISSION_DENIED otherwise); bad input;
  - the same answers after --rebuild.
Callers carry tokens of the test's own identity provider (staff ids as in docs/security.md)."""

from __future__ import annotations

import grpc
import pytest

import orgtest
from crmtest import expect_error, assert_error_info, new_request_id, purchase, register
from test_auth import Caller, _auth_args, _start, idp  # noqa: F401 (fixture)

from crm.v1 import complaint_pb2 as kpb  # noqa: E402
from crm.v1 import complaint_query_service_pb2 as kqpb  # noqa: E402
from crm.v1 import complaint_query_service_pb2_grpc as kqgrpc  # noqa: E402
from crm.v1 import complaint_service_pb2 as kspb  # noqa: E402
from crm.v1 import complaint_service_pb2_grpc as ksgrpc  # noqa: E402
from crm.v1 import customer_pb2 as cpb  # noqa: E402
from crm.v1 import customer_service_pb2 as spb  # noqa: E402
from crm.v1 import interaction_pb2 as ipb  # noqa: E402
from crm.v1 import interaction_service_pb2 as ispb  # noqa: E402
from crm.v1 import interaction_service_pb2_grpc as isgrpc  # noqa: E402
from crm.v1 import org_pb2 as opb  # noqa: E402
from crm.v1 import org_service_pb2 as ospb  # noqa: E402
from crm.v1 import org_service_pb2_grpc as osgrpc  # noqa: E402

pytestmark = pytest.mark.engines("embedded", "kafka")

HOUR = 3600
# A second team in the customer-service department, with an agent of its own, and a manager of
# the department below director level (orgtest's MANAGER is SENIOR: a director, who reaches all).
WEST_AGENT = "agent-wu"
DEPT_MANAGER = "mgr-zhou"


class World:
    """The server as each caller sees it; callers are made again after a restart (new ports)."""

    def __init__(self, server, idp, auth_args):
        self.server = server
        self.idp = idp
        self.auth_args = auth_args
        self.connect()

    def connect(self):
        idp = self.idp
        self.admin = Caller(self.server, idp.token("rsa-1", "admin", scope="crm.admin"))
        self.staff = {sid: Caller(self.server, idp.token("rsa-1", sid, crm_staff_id=sid,
                                                         scope=None))
                      for sid in (orgtest.AGENT, orgtest.AGENT2, orgtest.SUPERVISOR,
                                  DEPT_MANAGER, WEST_AGENT)}

    def restart(self, *extra: str, command_only: bool = False):
        """Restarts the server (on Kafka both processes, or crm-command alone) with `extra`."""
        if not hasattr(self.server, "commander"):  # one process (the embedded engine)
            self.server.restart(*self.auth_args, *extra)
        elif command_only:
            self.server.commander.restart(*extra)
        else:
            self.server.restart(*extra)
        self.connect()

    # -- commands, as the admin ----------------------------------------------------------------

    def customer(self, customer_id: str, spent_minor: int | None) -> str:
        """A customer; spent_minor: one purchase of that much (1,000,000 or more: VIP), None:
        no purchase (POTENTIAL_VALUE)."""
        name = register(self.admin, customer_id=customer_id).customer.name
        if spent_minor is not None:
            self.admin.command.RecordPurchase(spb.RecordPurchaseRequest(
                name=name, purchase=purchase(spent_minor), request_id=new_request_id()))
        return name

    def complaints(self):
        return ksgrpc.ComplaintCommandServiceStub(self.admin.channel)

    def file(self, parent: str, severity: int) -> kpb.Complaint:
        r = self.complaints().FileComplaint(kspb.FileComplaintRequest(
            parent=parent, request_id=new_request_id(),
            complaint=kpb.Complaint(channel=ipb.PHONE, category=kpb.PRODUCT_QUALITY,
                                    severity=severity, description="The kettle leaks")))
        self.token = r.consistency_token
        return r.complaint

    def step(self, method: str, name: str, **fields) -> kpb.Complaint:
        request_class = getattr(kspb, {"AcknowledgeComplaint": "AcknowledgeComplaintRequest",
                                       "AssignComplaint": "AssignComplaintRequest",
                                       "EscalateComplaint": "EscalateComplaintRequest",
                                       "StartInvestigation": "StartInvestigationRequest",
                                       "ResolveComplaint": "ResolveComplaintRequest",
                                       "RecordFollowUpVisit": "RecordFollowUpVisitRequest",
                                       "CloseComplaint": "CloseComplaintRequest"}[method])
        r = getattr(self.complaints(), method)(request_class(
            name=name, request_id=new_request_id(), **fields))
        self.token = r.consistency_token
        return r.complaint

    def assigned(self, parent: str, severity: int, assignee: str) -> kpb.Complaint:
        name = self.file(parent, severity).name
        self.step("AcknowledgeComplaint", name)
        return self.step("AssignComplaint", name, assignee=assignee)

    def follow_up(self, parent: str, staff_id: str, due_in_s: int) -> ipb.Interaction:
        interaction = ipb.Interaction(channel=ipb.PHONE, direction=ipb.OUTBOUND, staff_id=staff_id,
                                      summary="Called about the order")
        interaction.occurred_at.GetCurrentTime()
        interaction.follow_up_due_time.GetCurrentTime()
        interaction.follow_up_due_time.seconds += due_in_s
        r = isgrpc.InteractionCommandServiceStub(self.admin.channel).LogInteraction(
            ispb.LogInteractionRequest(parent=parent, request_id=new_request_id(),
                                       interaction=interaction))
        self.token = r.consistency_token
        return r.interaction

    # -- queries -------------------------------------------------------------------------------

    def queue_page(self, caller, parent: str, page_size: int = 0, page_token: str = ""):
        return osgrpc.OrgQueryServiceStub(caller.query_channel).ListWorkItems(
            ospb.ListWorkItemsRequest(parent=parent, page_size=page_size, page_token=page_token,
                                      consistency_token=self.token))

    def queue(self, caller, parent: str, page_size: int = 0) -> list[ospb.WorkItem]:
        """The whole queue, following the pages."""
        items, token = [], ""
        while True:
            page = self.queue_page(caller, parent, page_size, token)
            items.extend(page.work_items)
            assert page_size == 0 or len(page.work_items) <= page_size
            token = page.next_page_token
            if not token:
                return items

    def get(self, name: str) -> kpb.Complaint:
        return kqgrpc.ComplaintQueryServiceStub(self.admin.query_channel).GetComplaint(
            kqpb.GetComplaintRequest(name=name, consistency_token=self.token))


def _world(make_server, idp) -> World:
    auth = _auth_args(idp.jwks_path)
    world = World(_start(make_server, auth), idp, auth)
    org = osgrpc.OrgServiceStub(world.admin.channel)
    orgtest.make_org(world.admin)
    org.CreateTeam(ospb.CreateTeamRequest(
        team_id="cs-west", request_id=new_request_id(),
        team=opb.Team(display_name="West", department="departments/cs")))
    orgtest.add_staff(world.admin, WEST_AGENT, opb.SERVICE_AGENT, opb.FRONT_LINE,
                      department="departments/cs", team="teams/cs-west",
                      manager=orgtest.MANAGER)
    orgtest.add_staff(world.admin, DEPT_MANAGER, opb.MANAGER, opb.MIDDLE,
                      department="departments/cs", manager=orgtest.MANAGER)
    return world


def _deadlines(c: kpb.Complaint) -> tuple[int, int]:
    """(response, resolution) deadline in seconds after filing."""
    return (c.response_deadline.due_time.seconds - c.create_time.seconds,
            c.resolution_deadline.due_time.seconds - c.create_time.seconds)


def test_vip_deadlines_and_policy_changes_keep_filed_deadlines(make_server, idp):
    w = _world(make_server, idp)
    vip = w.customer("vip-1", 1_000_000)  # 10,000.00 spent: HIGH_VALUE
    ordinary = w.customer("ord-1", 1_000)
    potential = w.customer("pot-1", None)

    filed = {parent: w.file(parent, kpb.SEVERE) for parent in (vip, ordinary, potential)}
    # The same severity, by the customer's tier when filed (defaults: VIP half).
    assert filed[vip].customer_tier == cpb.HIGH_VALUE
    assert _deadlines(filed[vip]) == (2 * HOUR, 12 * HOUR)
    assert filed[ordinary].customer_tier == cpb.ORDINARY
    assert _deadlines(filed[ordinary]) == (4 * HOUR, 24 * HOUR)
    assert filed[potential].customer_tier == cpb.POTENTIAL_VALUE
    assert _deadlines(filed[potential]) == (4 * HOUR, 24 * HOUR)
    general = w.file(vip, kpb.GENERAL)
    assert _deadlines(general) == (12 * HOUR, 36 * HOUR)

    # The tier at filing time: a customer who becomes VIP later keeps the earlier deadlines.
    w.admin.command.RecordPurchase(spb.RecordPurchaseRequest(
        name=ordinary, purchase=purchase(2_000_000), request_id=new_request_id()))
    assert w.get(filed[ordinary].name) == filed[ordinary]
    upgraded = w.file(ordinary, kpb.SEVERE)
    assert upgraded.customer_tier == cpb.HIGH_VALUE
    assert _deadlines(upgraded) == (2 * HOUR, 12 * HOUR)

    # Another policy from the next start: filed complaints keep theirs, new ones get the new.
    before = {c.name: w.get(c.name) for c in [*filed.values(), general, upgraded]}
    w.restart("--sla-policy", "severe=3h/20h,vip.severe=1h/6h", command_only=True)
    for name, complaint in before.items():
        assert w.get(name) == complaint, name
    assert _deadlines(w.file(vip, kpb.SEVERE)) == (1 * HOUR, 6 * HOUR)
    assert _deadlines(w.file(potential, kpb.SEVERE)) == (3 * HOUR, 20 * HOUR)
    assert _deadlines(w.file(vip, kpb.GENERAL)) == (12 * HOUR, 36 * HOUR)  # vip.general: half

    # A rebuild of the views from the log shows the same deadlines.
    w.restart("--rebuild")
    for name, complaint in before.items():
        assert w.get(name) == complaint, name


def test_work_queues_by_priority_scope_and_moves(make_server, idp):
    w = _world(make_server, idp)
    vip = w.customer("vip-1", 1_000_000)
    ordinary = w.customer("ord-1", 1_000)
    agent, agent2 = orgtest.AGENT, orgtest.AGENT2

    # Acknowledged and assigned: each is due at its resolution deadline.
    a = w.assigned(ordinary, kpb.GENERAL, agent)   # priority 3, due in 72 h
    b = w.assigned(vip, kpb.GENERAL, agent)        # priority 2, due in 36 h (VIP)
    c = w.assigned(ordinary, kpb.SEVERE, agent)    # priority 2, due in 24 h
    d = w.assigned(vip, kpb.MINOR, agent2)         # priority 3, due in 84 h (VIP)
    e = w.assigned(ordinary, kpb.GENERAL, WEST_AGENT)  # priority 3, due in 72 h, after a
    f = w.follow_up(ordinary, agent, 1 * HOUR)     # priority 4
    g = w.follow_up(vip, agent, 2 * HOUR)          # priority 3 (VIP), due before a
    # Not in any queue: filed, not assigned.
    w.file(vip, kpb.SEVERE)

    def rows(items):
        return [(i.resource, i.priority) for i in items]

    mine = w.queue(w.staff[agent], f"staff/{agent}")
    assert rows(mine) == [(c.name, 2), (b.name, 2), (g.name, 3), (a.name, 3), (f.name, 4)]
    assert [i.kind for i in mine] == [ospb.WORK_ITEM_COMPLAINT] * 2 + [
        ospb.WORK_ITEM_FOLLOW_UP, ospb.WORK_ITEM_COMPLAINT, ospb.WORK_ITEM_FOLLOW_UP]
    assert mine[0].complaint.assignee.staff_id == agent
    assert mine[0].due_time == c.resolution_deadline.due_time
    assert mine[2].interaction.customer_tier == cpb.HIGH_VALUE
    assert mine[2].due_time == g.follow_up_due_time
    assert not any(i.overdue for i in mine)
    # Pages of one give the same queue.
    assert rows(w.queue(w.staff[agent], f"staff/{agent}", page_size=1)) == rows(mine)

    team = [(c.name, 2), (b.name, 2), (g.name, 3), (a.name, 3), (d.name, 3), (f.name, 4)]
    assert rows(w.queue(w.staff[orgtest.SUPERVISOR], "teams/cs-east")) == team
    assert rows(w.queue(w.staff[orgtest.SUPERVISOR], f"staff/{agent2}")) == [(d.name, 3)]
    department = w.queue(w.staff[DEPT_MANAGER], "departments/cs", page_size=2)
    assert rows(department) == team[:4] + [(e.name, 3)] + team[4:]
    assert rows(w.queue(w.staff[DEPT_MANAGER], "teams/cs-west")) == [(e.name, 3)]

    # Out of reach: another person's, another team's, a department's queue; an unknown team.
    denied = [(agent, f"staff/{agent2}"), (agent, "teams/cs-east"), (agent, "departments/cs"),
              (WEST_AGENT, f"staff/{agent}"), (orgtest.SUPERVISOR, "teams/cs-west"),
              (orgtest.SUPERVISOR, f"staff/{WEST_AGENT}"), (orgtest.SUPERVISOR, "departments/cs"),
              (orgtest.SUPERVISOR, "teams/no-such-team"), (DEPT_MANAGER, "departments/sales")]
    for caller, parent in denied:
        err = expect_error(grpc.StatusCode.PERMISSION_DENIED, w.queue_page, w.staff[caller],
                           parent)
        assert assert_error_info(err).reason == "ACCESS_DENIED", (caller, parent)

    # Bad input.
    for parent in ["", "customers/ord-1", "staff/", "teams/Not An Id", "departments/a/b"]:
        err = expect_error(grpc.StatusCode.INVALID_ARGUMENT, w.queue_page, w.admin, parent)
        assert err.fields == ["parent"], parent
    err = expect_error(grpc.StatusCode.INVALID_ARGUMENT, w.queue_page, w.admin,
                       f"staff/{agent}", -1)
    assert err.fields == ["page_size"]
    first = w.queue_page(w.admin, f"staff/{agent}", 1)
    err = expect_error(grpc.StatusCode.INVALID_ARGUMENT, w.queue_page, w.admin, "teams/cs-east",
                       1, first.next_page_token)
    assert err.fields == ["page_token"]
    err = expect_error(grpc.StatusCode.INVALID_ARGUMENT, w.queue_page, w.admin, "teams/cs-east",
                       1, "bm90IGEgdG9rZW4")
    assert err.fields == ["page_token"]
    err = expect_error(grpc.StatusCode.NOT_FOUND, w.queue_page, w.admin, "teams/no-such-team")
    assert assert_error_info(err).reason == "TEAM_NOT_FOUND"
    assert not w.queue(w.admin, "staff/nobody")

    # Moves: b reassigned to agent2; c escalated to the supervisor (in both queues; the team's
    # lists it once); a resolved (stays, undated: last of its priority) then closed (gone); the
    # follow-up f done (gone).
    w.step("AssignComplaint", b.name, assignee=agent2)
    w.step("EscalateComplaint", c.name, reason="customer calls every hour")
    w.step("StartInvestigation", a.name)
    resolved = w.step("ResolveComplaint", a.name, resolution="Replaced",
                      root_cause=kpb.PRODUCT_DEFECT)
    mine = w.queue(w.staff[agent], f"staff/{agent}")
    assert rows(mine) == [(c.name, 2), (g.name, 3), (a.name, 3), (f.name, 4)]
    assert not mine[2].HasField("due_time") and resolved.status == kpb.RESOLVED
    assert rows(w.queue(w.staff[orgtest.SUPERVISOR], f"staff/{orgtest.SUPERVISOR}")) == [
        (c.name, 2)]
    assert rows(w.queue(w.staff[agent2], f"staff/{agent2}")) == [(b.name, 2), (d.name, 3)]
    team_now = rows(w.queue(w.staff[orgtest.SUPERVISOR], "teams/cs-east"))
    assert team_now == [(c.name, 2), (b.name, 2), (g.name, 3), (d.name, 3), (a.name, 3),
                        (f.name, 4)]
    w.step("RecordFollowUpVisit", a.name, visit=kpb.FollowUpVisit(satisfied=True, csat=5))
    w.step("CloseComplaint", a.name)
    r = isgrpc.InteractionCommandServiceStub(w.admin.channel).CompleteFollowUp(
        ispb.CompleteFollowUpRequest(name=f.name, note="called back",
                                     request_id=new_request_id()))
    w.token = r.consistency_token
    assert rows(w.queue(w.staff[agent], f"staff/{agent}")) == [(c.name, 2), (g.name, 3)]

    # The same answers after a rebuild of the views from the log.
    parents = [f"staff/{agent}", f"staff/{agent2}", f"staff/{orgtest.SUPERVISOR}",
               "teams/cs-east", "teams/cs-west", "departments/cs"]
    before = {p: [i.SerializeToString(deterministic=True) for i in w.queue(w.admin, p)]
              for p in parents}
    w.restart("--rebuild")
    after = {p: [i.SerializeToString(deterministic=True) for i in w.queue(w.admin, p)]
             for p in parents}
    assert after == before
