"""Authorization from the org chart (docs/security.md "Authorization"): the whole matrix.

Every RPC of every service, called by every kind of caller (agent, supervisor, manager, director,
admin, a BI service account with crm.read, an order system with crm.write, anonymous), on rows
held by the caller, by their team, and by another department. Each cell has one expected answer,
derived here from the rules as docs/security.md states them (not from the server's code):
  OK / OK:hidden (a list that answers but leaves the row out) / PERMISSION_DENIED /
  UNAUTHENTICATED, or for admin methods whose request is refused after authorization, that code.
The test counts the cells that answered otherwise; the count must be 0, and every method of
every service the server offers (read by reflection of the descriptors) must have its row.

The rows are made by the admin; every write cell gets rows of its own in the state its command
needs, so an allowed command answers OK.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field

import pytest

import crmtest
import orgtest
from crmtest import grpc, new_request_id, purchase
from test_auth import Caller, IdentityProvider, _auth_args, _start, idp  # noqa: F401 (fixture)

from crm.admin.v1 import admin_service_pb2 as apb  # noqa: E402
from crm.admin.v1 import admin_service_pb2_grpc as agrpc  # noqa: E402
from crm.admin.v1 import backup_service_pb2 as bpb  # noqa: E402
from crm.admin.v1 import backup_service_pb2_grpc as bgrpc  # noqa: E402
from crm.internal.v1 import merge_service_pb2 as mspb  # noqa: E402
from crm.internal.v1 import merge_service_pb2_grpc as msgrpc  # noqa: E402
from crm.internal.v1 import reservation_service_pb2 as rpb  # noqa: E402
from crm.internal.v1 import reservation_service_pb2_grpc as rgrpc  # noqa: E402
from crm.v1 import analytics_service_pb2 as anpb  # noqa: E402
from crm.v1 import analytics_service_pb2_grpc as angrpc  # noqa: E402
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
from crm.v1 import improvement_pb2 as impb  # noqa: E402
from crm.v1 import notification_service_pb2 as ntpb  # noqa: E402
from crm.v1 import notification_service_pb2_grpc as ntgrpc  # noqa: E402
from crm.v1 import org_pb2 as opb  # noqa: E402
from crm.v1 import org_service_pb2 as ospb  # noqa: E402
from crm.v1 import org_service_pb2_grpc as osgrpc  # noqa: E402
from crm.v1 import segment_service_pb2 as sgpb  # noqa: E402
from crm.v1 import segment_service_pb2_grpc as sggrpc  # noqa: E402
from crm.v1 import survey_pb2 as svpb  # noqa: E402
from crm.v1 import survey_service_pb2 as svspb  # noqa: E402
from crm.v1 import survey_service_pb2_grpc as svgrpc  # noqa: E402

pytestmark = pytest.mark.engines("embedded")

# The organisation: head office (director), department d1 with team t1 (supervisor, agent and
# the agent's teammate) under a manager, and department d2 with its own team.
DIRECTOR, MANAGER, SUPERVISOR, AGENT, MATE = "m-dir", "m-mgr", "m-sup", "m-agent", "m-mate"
OUTSIDER, OUT_SUPERVISOR, CEO = "m-out", "m-out-sup", "m-ceo"

STAFF_ROLES = {"agent": AGENT, "supervisor": SUPERVISOR, "manager": MANAGER, "director": DIRECTOR}
ROLES = ["agent", "supervisor", "manager", "director", "admin", "bi", "writer", "anonymous"]
COLUMNS = ["own", "team", "other"]
# How far each staff role reaches (docs/security.md): which columns' rows.
REACH = {"agent": {"own"}, "supervisor": {"own", "team"}, "manager": {"own", "team"},
         "director": set(COLUMNS)}


def holder_of(role: str, column: str) -> str:
    if column == "own":
        return STAFF_ROLES.get(role, AGENT)
    return MATE if column == "team" else OUTSIDER


def expected(role: str, cls: str, column: str, allowed: str = "OK") -> str:
    """The answer docs/security.md's matrix gives `role` for a method of class `cls` on a row of
    `column`. `allowed`: what an allowed call answers."""
    if role == "anonymous":
        return "UNAUTHENTICATED"
    if role == "admin":
        return allowed
    reaches = REACH.get(role, set(COLUMNS)) if role in STAFF_ROLES else set(COLUMNS)
    denied = "PERMISSION_DENIED"
    if cls == "import":  # a write whose rows out of reach fail inside the OK answer
        cls = "list" if role in STAFF_ROLES else "write"
    if cls == "admin":
        return denied
    if cls == "own":  # a staff member's own (notifications); a grant of everything: anyone's
        if role in STAFF_ROLES:
            return allowed if column == "own" or role == "director" else denied
        cls = "read"
    if role == "bi":
        return allowed if cls in ("org-read", "read", "list", "scoped-report", "org-report") \
            else denied
    if role == "writer":
        return allowed if cls in ("org-read", "write", "write-all", "create", "internal") \
            else denied
    # staff
    if cls in ("org-read", "create", "internal"):
        return allowed
    if cls in ("org-report", "write-all"):
        return allowed if role == "director" else denied
    if cls == "list":
        return allowed if column in reaches else "OK:hidden"
    return allowed if column in reaches else denied


@dataclass
class Method:
    cls: str            # the class of docs/security.md's table (plus "list" and "create")
    stub: type
    side: str           # "command" or "query"
    # (ctx, holder, caller_staff) -> request; ctx makes rows as the admin
    build: callable
    # list methods: (answer, ctx.rows) -> whether the holder's row is in the answer
    shows: callable | None = None
    allowed: str = "OK"
    # A server-streaming method: the cell reads its first message.
    stream: bool = False


class Rows:
    """Rows made by the admin for the cells."""

    def __init__(self, admin: Caller, server):
        self.admin = admin
        self.server = server
        self.cmd = sgrpc.CustomerCommandServiceStub(admin.channel)
        self.complaints = ksgrpc.ComplaintCommandServiceStub(admin.channel)
        self.interactions = isgrpc.InteractionCommandServiceStub(admin.channel)
        self.surveys = svgrpc.SurveyCommandServiceStub(admin.channel)
        self.token = ""

    def customer(self, owner: str) -> str:
        cid = "c-" + uuid.uuid4().hex[:12]
        self.cmd.RegisterCustomer(spb.RegisterCustomerRequest(
            customer_id=cid, request_id=new_request_id(),
            customer=cpb.Customer(display_name=f"Customer of {owner}", kind=cpb.PERSON,
                                  emails=[f"{cid}@example.com"])))
        r = self.cmd.AssignOwner(spb.AssignOwnerRequest(name=f"customers/{cid}", owner=owner,
                                                        request_id=new_request_id()))
        self.token = r.consistency_token
        return f"customers/{cid}"

    def purchased(self, owner: str) -> tuple[str, str]:
        """A customer of `owner` with one purchase: (customer name, purchase id)."""
        name = self.customer(owner)
        pid = "p-" + uuid.uuid4().hex[:12]
        r = self.cmd.RecordPurchase(spb.RecordPurchaseRequest(
            name=name, purchase=purchase(1000, purchase_id=pid), request_id=new_request_id()))
        self.token = r.consistency_token
        return name, pid

    def complaint(self, holder: str, stage: str = "ASSIGNED") -> str:
        """A complaint on a customer of `holder`, assigned to them, driven to `stage`."""
        parent = self.customer(holder)
        c = self.complaints
        r = c.FileComplaint(kspb.FileComplaintRequest(
            parent=parent, request_id=new_request_id(),
            complaint=kpb.Complaint(channel=ipb.PHONE, category=kpb.PRODUCT_QUALITY,
                                    severity=kpb.GENERAL, description="It broke")))
        name = r.complaint.name
        steps = ["FILED", "ACKNOWLEDGED", "ASSIGNED", "INVESTIGATING", "RESOLVED", "FOLLOWED_UP"]
        for step in steps[1:steps.index(stage) + 1]:
            if step == "ACKNOWLEDGED":
                r = c.AcknowledgeComplaint(kspb.AcknowledgeComplaintRequest(
                    name=name, request_id=new_request_id()))
            elif step == "ASSIGNED":
                r = c.AssignComplaint(kspb.AssignComplaintRequest(
                    name=name, assignee=holder, request_id=new_request_id()))
            elif step == "INVESTIGATING":
                r = c.StartInvestigation(kspb.StartInvestigationRequest(
                    name=name, request_id=new_request_id()))
            elif step == "RESOLVED":
                r = c.ResolveComplaint(kspb.ResolveComplaintRequest(
                    name=name, request_id=new_request_id(), resolution="Replaced it",
                    root_cause=kpb.PRODUCT_DEFECT))
            elif step == "FOLLOWED_UP":
                r = c.RecordFollowUpVisit(kspb.RecordFollowUpVisitRequest(
                    name=name, request_id=new_request_id(),
                    visit=kpb.FollowUpVisit(satisfied=False, csat=2)))
        self.token = r.consistency_token
        return name

    def interaction(self, holder: str) -> str:
        parent = self.customer(holder)
        due = crmtest.timestamp_in(3600) if hasattr(crmtest, "timestamp_in") else None
        interaction = ipb.Interaction(channel=ipb.PHONE, direction=ipb.OUTBOUND,
                                      staff_id=holder, summary="Called")
        interaction.occurred_at.GetCurrentTime()
        if due is not None:
            interaction.follow_up_due_time.CopyFrom(due)
        else:
            interaction.follow_up_due_time.GetCurrentTime()
            interaction.follow_up_due_time.seconds += 3600
        r = self.interactions.LogInteraction(ispb.LogInteractionRequest(
            parent=parent, request_id=new_request_id(), interaction=interaction))
        self.token = r.consistency_token
        return r.interaction.name


    def survey(self, holder: str) -> str:
        """A survey sent by `holder` to a customer of theirs."""
        r = self.surveys.SendSurvey(svspb.SendSurveyRequest(
            parent=self.customer(holder), request_id=new_request_id(),
            survey=svpb.Survey(channel=svpb.SURVEY_CHANNEL_EMAIL, staff_id=holder)))
        self.token = r.consistency_token
        return r.survey.name


def _uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def methods(rows: Rows) -> dict[str, Method]:
    """Every RPC: its class in the matrix and how a cell calls it."""
    m: dict[str, Method] = {}

    def add(service: str, name: str, method: Method):
        m[f"/{service}/{name}"] = method

    cust = "crm.v1.CustomerCommandService"
    add(cust, "RegisterCustomer", Method("create", sgrpc.CustomerCommandServiceStub, "command",
        lambda h, me: spb.RegisterCustomerRequest(
            request_id=new_request_id(),
            customer=cpb.Customer(display_name="New", kind=cpb.PERSON))))
    add(cust, "UpdateCustomer", Method("write", sgrpc.CustomerCommandServiceStub, "command",
        lambda h, me: spb.UpdateCustomerRequest(
            customer=cpb.Customer(name=rows.customer(h), region="East"),
            update_mask={"paths": ["region"]}, request_id=new_request_id())))
    add(cust, "ChangeLifecycleStage", Method("write", sgrpc.CustomerCommandServiceStub, "command",
        lambda h, me: spb.ChangeLifecycleStageRequest(
            name=rows.customer(h), lifecycle_stage=cpb.FIRST_CONTACT, request_id=new_request_id())))
    add(cust, "AssignOwner", Method("write", sgrpc.CustomerCommandServiceStub, "command",
        lambda h, me: spb.AssignOwnerRequest(name=rows.customer(h), owner=me or h,
                                             request_id=new_request_id())))
    # A write that leaves the row held by nobody: only callers reaching every row (docs/security.md
    # "Commands ... as the command leaves it").
    add(cust, "UnassignOwner", Method("write-all", sgrpc.CustomerCommandServiceStub, "command",
        lambda h, me: spb.UnassignOwnerRequest(name=rows.customer(h), request_id=new_request_id())))
    add(cust, "TagCustomer", Method("write", sgrpc.CustomerCommandServiceStub, "command",
        lambda h, me: spb.TagCustomerRequest(name=rows.customer(h), tag="vip",
                                             request_id=new_request_id())))
    add(cust, "UntagCustomer", Method("write", sgrpc.CustomerCommandServiceStub, "command",
        lambda h, me: spb.UntagCustomerRequest(name=rows.customer(h), tag="vip",
                                               request_id=new_request_id())))
    # Both customers held by the same holder: the caller must reach both.
    add(cust, "MergeCustomers", Method("write", sgrpc.CustomerCommandServiceStub, "command",
        lambda h, me: spb.MergeCustomersRequest(survivor=rows.customer(h), merged=rows.customer(h),
                                                request_id=new_request_id())))
    # A client stream of one message; the row matches the holder's customer by e-mail. Rows are
    # authorized one by one: a row out of reach fails inside an OK answer.
    add(cust, "ImportCustomers", Method(
        "import", sgrpc.CustomerCommandServiceStub, "command",
        lambda h, me: iter([spb.ImportCustomersRequest(request_id=new_request_id(), rows=[
            spb.ImportCustomerRow(customer=cpb.Customer(
                display_name=f"Customer of {h}", kind=cpb.PERSON,
                emails=[rows.shared[h]["email"]], tags=["imported"]))])]),
        shows=lambda answer, h: answer.results[0].outcome != spb.FAILED))
    add(cust, "RecordPurchase", Method("write", sgrpc.CustomerCommandServiceStub, "command",
        lambda h, me: spb.RecordPurchaseRequest(name=rows.customer(h), purchase=purchase(1000),
                                                request_id=new_request_id())))

    add(cust, "RefundPurchase", Method("write", sgrpc.CustomerCommandServiceStub, "command",
        lambda h, me: (lambda name, pid: spb.RefundPurchaseRequest(
            name=name, purchase_id=pid, request_id=new_request_id()))(*rows.purchased(h))))
    add(cust, "ArchiveCustomer", Method("write", sgrpc.CustomerCommandServiceStub, "command",
        lambda h, me: spb.ArchiveCustomerRequest(name=rows.customer(h),
                                                 request_id=new_request_id())))
    add(cust, "UnarchiveCustomer", Method("write", sgrpc.CustomerCommandServiceStub, "command",
        lambda h, me: spb.UnarchiveCustomerRequest(name=rows.customer(h),
                                                   request_id=new_request_id())))

    cq = "crm.v1.CustomerQueryService"
    add(cq, "GetCustomer", Method("read", sgrpc.CustomerQueryServiceStub, "query",
        lambda h, me: spb.GetCustomerRequest(name=rows.shared[h]["customer"])))
    add(cq, "ListCustomers", Method("list", sgrpc.CustomerQueryServiceStub, "query",
        lambda h, me: spb.ListCustomersRequest(owner=h, page_size=1000),
        shows=lambda a, h: rows.shared[h]["customer"] in [c.name for c in a.customers]))
    add(cq, "SearchCustomers", Method("list", sgrpc.CustomerQueryServiceStub, "query",
        lambda h, me: spb.SearchCustomersRequest(owner=h, page_size=1000),
        shows=lambda a, h: rows.shared[h]["customer"] in [c.name for c in a.customers]))
    add(cq, "FindCustomers", Method("list", sgrpc.CustomerQueryServiceStub, "query",
        lambda h, me: spb.FindCustomersRequest(email=rows.shared[h]["email"]),
        shows=lambda a, h: rows.shared[h]["customer"] in [c.name for c in a.customers]))
    add(cq, "GetCustomerHistory", Method("read", sgrpc.CustomerQueryServiceStub, "query",
        lambda h, me: spb.GetCustomerHistoryRequest(name=rows.shared[h]["customer"])))

    ic = "crm.v1.InteractionCommandService"
    add(ic, "LogInteraction", Method("write", isgrpc.InteractionCommandServiceStub, "command",
        lambda h, me: ispb.LogInteractionRequest(
            parent=rows.customer(h), request_id=new_request_id(),
            interaction=_interaction(me or h))))
    add(ic, "CompleteFollowUp", Method("write", isgrpc.InteractionCommandServiceStub, "command",
        lambda h, me: ispb.CompleteFollowUpRequest(name=rows.interaction(h), note="done",
                                                   request_id=new_request_id())))
    iq = "crm.v1.InteractionQueryService"
    add(iq, "GetInteraction", Method("read", isgrpc.InteractionQueryServiceStub, "query",
        lambda h, me: ispb.GetInteractionRequest(name=rows.shared[h]["interaction"])))
    add(iq, "ListInteractions", Method("read", isgrpc.InteractionQueryServiceStub, "query",
        lambda h, me: ispb.ListInteractionsRequest(
            parent=rows.shared[h]["interaction"].split("/interactions/")[0])))
    add(iq, "GetCustomerTimeline", Method("read", isgrpc.InteractionQueryServiceStub, "query",
        lambda h, me: ispb.GetCustomerTimelineRequest(
            parent=rows.shared[h]["interaction"].split("/interactions/")[0])))
    add(iq, "ListFollowUps", Method("read", isgrpc.InteractionQueryServiceStub, "query",
        lambda h, me: ispb.ListFollowUpsRequest(staff_id=h)))

    svc = "crm.v1.SurveyCommandService"
    add(svc, "SendSurvey", Method("write", svgrpc.SurveyCommandServiceStub, "command",
        lambda h, me: svspb.SendSurveyRequest(
            parent=rows.customer(h), request_id=new_request_id(),
            survey=svpb.Survey(channel=svpb.SURVEY_CHANNEL_CALL_BACK, staff_id=me or h))))
    add(svc, "RecordSurveyAnswer", Method("write", svgrpc.SurveyCommandServiceStub, "command",
        lambda h, me: svspb.RecordSurveyAnswerRequest(name=rows.survey(h), csat=4,
                                                      request_id=new_request_id())))
    svq = "crm.v1.SurveyQueryService"
    add(svq, "GetSurvey", Method("read", svgrpc.SurveyQueryServiceStub, "query",
        lambda h, me: svspb.GetSurveyRequest(name=rows.shared[h]["survey"])))
    add(svq, "ListSurveys", Method("read", svgrpc.SurveyQueryServiceStub, "query",
        lambda h, me: svspb.ListSurveysRequest(
            parent=rows.shared[h]["survey"].split("/surveys/")[0])))

    kc = "crm.v1.ComplaintCommandService"
    add(kc, "FileComplaint", Method("write", ksgrpc.ComplaintCommandServiceStub, "command",
        lambda h, me: kspb.FileComplaintRequest(
            parent=rows.customer(h), request_id=new_request_id(),
            complaint=kpb.Complaint(channel=ipb.PHONE, category=kpb.PRODUCT_QUALITY,
                                    severity=kpb.GENERAL, description="Broken"))))
    add(kc, "AcknowledgeComplaint", Method("write", ksgrpc.ComplaintCommandServiceStub, "command",
        lambda h, me: kspb.AcknowledgeComplaintRequest(name=rows.complaint(h, "FILED"),
                                                       request_id=new_request_id())))
    add(kc, "AssignComplaint", Method("write", ksgrpc.ComplaintCommandServiceStub, "command",
        lambda h, me: kspb.AssignComplaintRequest(name=rows.complaint(h, "ACKNOWLEDGED"),
                                                  assignee=me or h,
                                                  request_id=new_request_id())))
    add(kc, "StartInvestigation", Method("write", ksgrpc.ComplaintCommandServiceStub, "command",
        lambda h, me: kspb.StartInvestigationRequest(name=rows.complaint(h, "ASSIGNED"),
                                                     request_id=new_request_id())))
    add(kc, "ResolveComplaint", Method("write", ksgrpc.ComplaintCommandServiceStub, "command",
        lambda h, me: kspb.ResolveComplaintRequest(
            name=rows.complaint(h, "INVESTIGATING"), request_id=new_request_id(),
            resolution="Fixed", root_cause=kpb.PRODUCT_DEFECT)))
    add(kc, "RecordFollowUpVisit", Method("write", ksgrpc.ComplaintCommandServiceStub, "command",
        lambda h, me: kspb.RecordFollowUpVisitRequest(
            name=rows.complaint(h, "RESOLVED"), request_id=new_request_id(),
            visit=kpb.FollowUpVisit(satisfied=True, csat=5))))
    add(kc, "CloseComplaint", Method("write", ksgrpc.ComplaintCommandServiceStub, "command",
        lambda h, me: kspb.CloseComplaintRequest(name=rows.complaint(h, "FOLLOWED_UP"),
                                                 request_id=new_request_id())))
    add(kc, "ReopenComplaint", Method("write", ksgrpc.ComplaintCommandServiceStub, "command",
        lambda h, me: kspb.ReopenComplaintRequest(name=rows.complaint(h, "FOLLOWED_UP"),
                                                  reason="Still broken",
                                                  request_id=new_request_id())))
    add(kc, "EscalateComplaint", Method("write", ksgrpc.ComplaintCommandServiceStub, "command",
        lambda h, me: kspb.EscalateComplaintRequest(name=rows.complaint(h, "ASSIGNED"),
                                                    reason="Urgent",
                                                    request_id=new_request_id())))
    kq = "crm.v1.ComplaintQueryService"
    add(kq, "GetComplaint", Method("read", kqgrpc.ComplaintQueryServiceStub, "query",
        lambda h, me: kqpb.GetComplaintRequest(name=rows.shared[h]["complaint"])))
    add(kq, "GetComplaintHistory", Method("read", kqgrpc.ComplaintQueryServiceStub, "query",
        lambda h, me: kqpb.GetComplaintHistoryRequest(name=rows.shared[h]["complaint"])))
    add(kq, "ListComplaints", Method("list", kqgrpc.ComplaintQueryServiceStub, "query",
        lambda h, me: kqpb.ListComplaintsRequest(assignee=h, page_size=1000),
        shows=lambda a, h: rows.shared[h]["complaint"] in [c.name for c in a.complaints]))

    sg = "crm.v1.SegmentService"
    add(sg, "GetCustomerValue", Method("read", sggrpc.SegmentServiceStub, "query",
        lambda h, me: sgpb.GetCustomerValueRequest(name=rows.shared[h]["customer"])))
    add(sg, "GetSegmentSizes", Method("org-report", sggrpc.SegmentServiceStub, "query",
        lambda h, me: sgpb.GetSegmentSizesRequest()))
    add(sg, "GetLifecycleFunnel", Method("org-report", sggrpc.SegmentServiceStub, "query",
        lambda h, me: sgpb.GetLifecycleFunnelRequest()))

    an = "crm.v1.AnalyticsService"
    add(an, "GetSatisfaction", Method("scoped-report", angrpc.AnalyticsServiceStub, "query",
        lambda h, me: anpb.GetSatisfactionRequest(scope=anpb.StaffScope(staff_id=h))))
    add(an, "GetStaffKpis", Method("scoped-report", angrpc.AnalyticsServiceStub, "query",
        lambda h, me: anpb.GetStaffKpisRequest(scope=anpb.StaffScope(staff_id=h))))
    add(an, "GetSalesStats", Method("scoped-report", angrpc.AnalyticsServiceStub, "query",
        lambda h, me: anpb.GetSalesStatsRequest(scope=anpb.StaffScope(staff_id=h))))
    add(an, "GetConversionTime", Method("org-report", angrpc.AnalyticsServiceStub, "query",
        lambda h, me: anpb.GetConversionTimeRequest(from_stage=cpb.POTENTIAL,
                                                    to_stage=cpb.FIRST_CONTACT)))
    for name, request in [("GetComplaintStats", anpb.GetComplaintStatsRequest),
                          ("GetRetention", anpb.GetRetentionRequest),
                          ("GetSlaCompliance", anpb.GetSlaComplianceRequest),
                          ("GetResponseTimes", anpb.GetResponseTimesRequest),
                          ("GetInteractionStats", anpb.GetInteractionStatsRequest),
                          ("GetRootCauses", anpb.GetRootCausesRequest),
                          ("GetSurveyStats", anpb.GetSurveyStatsRequest)]:
        add(an, name, Method("org-report", angrpc.AnalyticsServiceStub, "query",
                             lambda h, me, request=request: request()))

    oc = "crm.v1.OrgService"
    add(oc, "CreateDepartment", Method("admin", osgrpc.OrgServiceStub, "command",
        lambda h, me: ospb.CreateDepartmentRequest(
            department_id=_uid("d"), request_id=new_request_id(),
            department=opb.Department(display_name="New", function=opb.SALES))))
    add(oc, "UpdateDepartment", Method("admin", osgrpc.OrgServiceStub, "command",
        lambda h, me: ospb.UpdateDepartmentRequest(
            department=opb.Department(name="departments/d2", display_name="Dept two"),
            update_mask={"paths": ["display_name"]}, request_id=new_request_id())))
    add(oc, "CreateTeam", Method("admin", osgrpc.OrgServiceStub, "command",
        lambda h, me: ospb.CreateTeamRequest(
            team_id=_uid("t"), request_id=new_request_id(),
            team=opb.Team(display_name="New", department="departments/d2"))))
    add(oc, "UpdateTeam", Method("admin", osgrpc.OrgServiceStub, "command",
        lambda h, me: ospb.UpdateTeamRequest(
            team=opb.Team(name="teams/t9", display_name="Team nine"),
            update_mask={"paths": ["display_name"]}, request_id=new_request_id())))
    add(oc, "AddStaff", Method("admin", osgrpc.OrgServiceStub, "command",
        lambda h, me: ospb.AddStaffRequest(
            staff_id=_uid("s"), request_id=new_request_id(),
            staff=opb.Staff(display_name="New", role=opb.SERVICE_AGENT, level=opb.FRONT_LINE,
                            department="departments/d2"))))
    add(oc, "UpdateStaff", Method("admin", osgrpc.OrgServiceStub, "command",
        lambda h, me: ospb.UpdateStaffRequest(
            staff=opb.Staff(name=f"staff/{OUTSIDER}", email="out@example.com"),
            update_mask={"paths": ["email"]}, request_id=new_request_id())))
    add(oc, "DeactivateStaff", Method("admin", osgrpc.OrgServiceStub, "command",
        lambda h, me: ospb.DeactivateStaffRequest(name=f"staff/{rows.spare_staff()}",
                                                  request_id=new_request_id())))
    add(oc, "ReactivateStaff", Method("admin", osgrpc.OrgServiceStub, "command",
        lambda h, me: ospb.ReactivateStaffRequest(name=f"staff/{rows.inactive_staff()}",
                                                  request_id=new_request_id())))
    add(oc, "RemoveTeam", Method("admin", osgrpc.OrgServiceStub, "command",
        lambda h, me: ospb.RemoveTeamRequest(name=f"teams/{rows.empty_team()}",
                                             request_id=new_request_id())))
    add(oc, "RemoveDepartment", Method("admin", osgrpc.OrgServiceStub, "command",
        lambda h, me: ospb.RemoveDepartmentRequest(name=f"departments/{rows.empty_department()}",
                                                   request_id=new_request_id())))
    add(oc, "RaiseImprovementAction", Method("admin", osgrpc.OrgServiceStub, "command",
        lambda h, me: impb.RaiseImprovementActionRequest(
            request_id=new_request_id(),
            improvement_action=impb.ImprovementAction(title="Fix", root_cause=kpb.PRODUCT_DEFECT,
                                                      owner=AGENT))))
    for name, request in [("LinkImprovementComplaints", lambda: impb.LinkImprovementComplaintsRequest(
                              name="improvementActions/none",
                              complaints=["customers/x/complaints/y"])),
                          ("CompleteImprovementAction", lambda: impb.CompleteImprovementActionRequest(
                              name="improvementActions/none", outcome="done")),
                          ("CancelImprovementAction", lambda: impb.CancelImprovementActionRequest(
                              name="improvementActions/none"))]:
        add(oc, name, Method("admin", osgrpc.OrgServiceStub, "command",
                             lambda h, me, request=request: request(), allowed="NOT_FOUND"))
    oq = "crm.v1.OrgQueryService"
    for name, request in [("GetDepartment", lambda: ospb.GetDepartmentRequest(name="departments/d1")),
                          ("GetTeam", lambda: ospb.GetTeamRequest(name="teams/t1")),
                          ("GetStaff", lambda: ospb.GetStaffRequest(name=f"staff/{AGENT}")),
                          ("ListDepartments", ospb.ListDepartmentsRequest),
                          ("ListTeams", ospb.ListTeamsRequest),
                          ("ListStaff", ospb.ListStaffRequest),
                          ("GetOrgChart", ospb.GetOrgChartRequest),
                          ("ListImprovementActions", impb.ListImprovementActionsRequest)]:
        add(oq, name, Method("org-read", osgrpc.OrgQueryServiceStub, "query",
                             lambda h, me, request=request: request()))
    add(oq, "GetImprovementAction", Method("org-read", osgrpc.OrgQueryServiceStub, "query",
        lambda h, me: impb.GetImprovementActionRequest(name="improvementActions/none"),
        allowed="NOT_FOUND"))
    add(oq, "GetImprovementEffect", Method("org-report", osgrpc.OrgQueryServiceStub, "query",
        lambda h, me: impb.GetImprovementEffectRequest(name="improvementActions/none"),
        allowed="NOT_FOUND"))
    # A work queue holds customers' rows: the caller must reach its scope (as ListFollowUps).
    add(oq, "ListWorkItems", Method("read", osgrpc.OrgQueryServiceStub, "query",
        lambda h, me: ospb.ListWorkItemsRequest(parent=f"staff/{h}")))

    # Notifications: the recipient's own (every holder has an assigned complaint, so one is
    # there to read).
    nt = "crm.v1.NotificationService"
    add(nt, "ListNotifications", Method("own", ntgrpc.NotificationServiceStub, "query",
        lambda h, me: ntpb.ListNotificationsRequest(parent=f"staff/{h}")))
    add(nt, "WatchNotifications", Method("own", ntgrpc.NotificationServiceStub, "query",
        lambda h, me: ntpb.WatchNotificationsRequest(parent=f"staff/{h}"), stream=True))

    ad = "crm.admin.v1.AdminService"
    add(ad, "GetStatus", Method("admin", agrpc.AdminServiceStub, "query",
        lambda h, me: apb.GetStatusRequest()))
    add(ad, "RebuildFolds", Method("admin", agrpc.AdminServiceStub, "query",
        lambda h, me: apb.RebuildFoldsRequest(fold="no-such-fold"), allowed="NOT_FOUND"))
    add(ad, "ListDeadLetters", Method("admin", agrpc.AdminServiceStub, "query",
        lambda h, me: apb.ListDeadLettersRequest()))
    add(ad, "GetDeadLetter", Method("admin", agrpc.AdminServiceStub, "query",
        lambda h, me: apb.GetDeadLetterRequest(name="folds/customers/deadLetters/0-0"),
        allowed="NOT_FOUND"))
    add(ad, "RetryDeadLetter", Method("admin", agrpc.AdminServiceStub, "query",
        lambda h, me: apb.RetryDeadLetterRequest(name="folds/customers/deadLetters/0-0"),
        allowed="NOT_FOUND"))
    add(ad, "ListEvents", Method("admin", agrpc.AdminServiceStub, "query",
        lambda h, me: apb.ListEventsRequest(page_size=10)))
    add(ad, "ListAuditRecords", Method("admin", agrpc.AdminServiceStub, "query",
        lambda h, me: apb.ListAuditRecordsRequest(page_size=10)))
    add("crm.admin.v1.BackupService", "CreateBackup", Method(
        "admin", bgrpc.BackupServiceStub, "query",
        lambda h, me: bpb.CreateBackupRequest(backup_id=_uid("b"))))

    rs = "crm.internal.v1.EmailReservationService"
    add(rs, "ClaimEmail", Method("internal", rgrpc.EmailReservationServiceStub, "command",
        lambda h, me: rpb.ClaimEmailRequest(email=f"{_uid('e')}@example.com",
                                            customer_id=_uid("c"), customer_version=0)))
    add(rs, "ReleaseEmail", Method("internal", rgrpc.EmailReservationServiceStub, "command",
        lambda h, me: rpb.ClaimEmailRequest(email=f"{_uid('e')}@example.com",
                                            customer_id=_uid("c"), customer_version=0)))
    # Whoever may write passes the class check; the replica then checks that the caller reaches
    # both customers (tests/process/test_kafka_replicas.py). One server writes both customers
    # of this merge, so it answers FAILED_PRECONDITION (SURVIVOR_WRITTEN_HERE) after the class
    # check.
    add("crm.internal.v1.CustomerMergeService", "SealMergedCustomer", Method(
        "internal", msgrpc.CustomerMergeServiceStub, "command",
        lambda h, me: mspb.SealMergedCustomerRequest(merge=spb.MergeCustomersRequest(
            survivor=rows.customer(h), merged=rows.customer(h), request_id=new_request_id())),
        allowed="FAILED_PRECONDITION"))
    return m


def _interaction(staff_id: str) -> ipb.Interaction:
    i = ipb.Interaction(channel=ipb.PHONE, direction=ipb.OUTBOUND, staff_id=staff_id,
                        summary="Called")
    i.occurred_at.GetCurrentTime()
    return i


def _served_methods(server_channel) -> set[str]:
    """Every method of every service the server offers, by reflection."""
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc  # noqa: E402
    from google.protobuf import descriptor_pb2

    stub = reflection_pb2_grpc.ServerReflectionStub(server_channel)
    services = [s.name for r in stub.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
        for s in r.list_services_response.service]
    out = set()
    for service in services:
        if service.startswith("grpc."):
            continue  # health and reflection: open to probes by design
        for r in stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(
                file_containing_symbol=service)])):
            for raw in r.file_descriptor_response.file_descriptor_proto:
                fd = descriptor_pb2.FileDescriptorProto.FromString(raw)
                for s in fd.service:
                    if f"{fd.package}.{s.name}" == service:
                        out.update(f"/{service}/{mm.name}" for mm in s.method)
    return out


class Org:
    def __init__(self, admin: Caller):
        self.org = osgrpc.OrgServiceStub(admin.channel)
        self.spares: list[str] = []

    def department(self, did: str, function=opb.SALES):
        self.org.CreateDepartment(ospb.CreateDepartmentRequest(
            department_id=did, request_id=new_request_id(),
            department=opb.Department(display_name=did, function=function)))

    def team(self, tid: str, did: str):
        self.org.CreateTeam(ospb.CreateTeamRequest(
            team_id=tid, request_id=new_request_id(),
            team=opb.Team(display_name=tid, department=f"departments/{did}")))

    def staff(self, sid, role, level, did, tid="", manager=""):
        return self.org.AddStaff(ospb.AddStaffRequest(
            staff_id=sid, request_id=new_request_id(),
            staff=opb.Staff(display_name=sid, role=role, level=level,
                            department=f"departments/{did}",
                            team=f"teams/{tid}" if tid else "", manager=manager)))


@pytest.mark.engines("embedded", "kafka")
def test_every_rpc_by_every_role_on_every_row(make_server, idp, tmp_path):
    server = _start(make_server, _auth_args(idp.jwks_path))
    tokens = {
        "admin": idp.token("rsa-1", "admin@crm-test.example", scope="crm.admin"),
        "bi": idp.token("rsa-1", "bi-reader", scope="crm.read"),
        "writer": idp.token("rsa-1", "order-system", scope="crm.write"),
        "anonymous": None,
    }
    for role, staff_id in STAFF_ROLES.items():
        tokens[role] = idp.token("rsa-1", f"{staff_id}@crm-test.example", crm_staff_id=staff_id,
                                  scope=None)
    callers = {role: Caller(server, token) for role, token in tokens.items()}
    admin = callers["admin"]

    org = Org(admin)
    org.department("hq", opb.OTHER_FUNCTION)
    org.department("d1")
    org.department("d2")
    org.team("t1", "d1")
    org.team("t9", "d2")
    org.staff(CEO, opb.MANAGER, opb.SENIOR, "hq")
    org.staff(DIRECTOR, opb.MANAGER, opb.SENIOR, "hq", manager=CEO)
    org.staff(MANAGER, opb.MANAGER, opb.MIDDLE, "d1", manager=DIRECTOR)
    org.staff(SUPERVISOR, opb.SUPERVISOR, opb.MIDDLE, "d1", "t1", manager=MANAGER)
    org.staff(AGENT, opb.CUSTOMER_REPRESENTATIVE, opb.FRONT_LINE, "d1", "t1", manager=SUPERVISOR)
    org.staff(MATE, opb.CUSTOMER_REPRESENTATIVE, opb.FRONT_LINE, "d1", "t1", manager=SUPERVISOR)
    org.staff(OUT_SUPERVISOR, opb.SUPERVISOR, opb.MIDDLE, "d2", "t9", manager=DIRECTOR)
    org.staff(OUTSIDER, opb.CUSTOMER_REPRESENTATIVE, opb.FRONT_LINE, "d2", "t9",
              manager=OUT_SUPERVISOR)

    rows = Rows(admin, server)
    spare_count = itertools.count()

    def spare_staff() -> str:
        sid = f"spare-{next(spare_count)}"
        org.staff(sid, opb.SERVICE_AGENT, opb.FRONT_LINE, "d2", "t9")
        return sid

    rows.spare_staff = spare_staff

    def inactive_staff() -> str:
        sid = spare_staff()
        org.org.DeactivateStaff(ospb.DeactivateStaffRequest(name=f"staff/{sid}",
                                                            request_id=new_request_id()))
        return sid

    def empty_team() -> str:
        tid = _uid("t")
        org.team(tid, "d2")
        return tid

    def empty_department() -> str:
        did = _uid("d")
        org.department(did)
        return did

    rows.inactive_staff, rows.empty_team, rows.empty_department = (
        inactive_staff, empty_team, empty_department)
    # Rows every read cell shares, per holder.
    rows.shared = {}
    for holder in {AGENT, SUPERVISOR, MANAGER, DIRECTOR, MATE, OUTSIDER}:
        complaint = rows.complaint(holder, "ASSIGNED")
        customer = complaint.split("/complaints/")[0]
        interaction = rows.interaction(holder)
        survey = rows.survey(holder)
        rows.shared[holder] = {"customer": customer, "complaint": complaint,
                               "interaction": interaction, "survey": survey,
                               "email": f"{customer.split('/')[1]}@example.com"}
    table = methods(rows)
    # Reads of the shared rows wait for all of them (on Kafka, every partition).
    read_token = crmtest.covering_token(server, rows.token)

    served = _served_methods(admin.query_channel) | _served_methods(admin.channel)
    assert served - set(table) == set(), "methods without a row in the matrix"

    unexpected = []
    cells = 0
    for path, method in sorted(table.items()):
        if path not in served:
            continue
        for role in ROLES:
            for column in COLUMNS:
                holder = holder_of(role, column)
                me = STAFF_ROLES.get(role, "")
                want = expected(role, method.cls, column, method.allowed)
                request = method.build(holder, me)
                caller = callers[role]
                channel = caller.channel if method.side == "command" else caller.query_channel
                rpc = getattr(method.stub(channel), path.rsplit("/", 1)[1])
                if method.side == "query" and hasattr(request, "consistency_token"):
                    request.consistency_token = read_token
                try:
                    answer = rpc(request, timeout=30)
                    if method.stream:
                        stream, answer = answer, next(answer)
                        stream.cancel()
                    got = "OK"
                    if method.shows is not None and not method.shows(answer, holder):
                        got = "OK:hidden"
                except grpc.RpcError as err:
                    got = err.code().name
                    detail = err.details()
                else:
                    detail = ""
                cells += 1
                if got != want:
                    unexpected.append(f"{path} {role} {column}: want {want}, got {got} {detail}")
    print(f"{cells} cells, {len(unexpected)} unexpected")
    assert not unexpected, "\n".join(unexpected)


def test_a_row_out_of_reach_is_denied_whether_or_not_it_exists(make_server, idp):
    server = _start(make_server, _auth_args(idp.jwks_path))
    admin = Caller(server, idp.token("rsa-1", "admin", scope="crm.admin"))
    org = Org(admin)
    org.department("d1")
    org.team("t1", "d1")
    org.staff(AGENT, opb.CUSTOMER_REPRESENTATIVE, opb.FRONT_LINE, "d1", "t1")
    org.staff(MATE, opb.CUSTOMER_REPRESENTATIVE, opb.FRONT_LINE, "d1", "t1")
    rows = Rows(admin, server)
    theirs = rows.customer(MATE)
    agent = Caller(server, idp.token("rsa-1", "agent", crm_staff_id=AGENT, scope=None))
    query = sgrpc.CustomerQueryServiceStub(agent.query_channel)
    for name in [theirs, "customers/no-such-customer"]:
        d = crmtest.expect_error(grpc.StatusCode.PERMISSION_DENIED, query.GetCustomer,
                                 spb.GetCustomerRequest(name=name, consistency_token=rows.token))
        assert crmtest.assert_error_info(d).reason == "ACCESS_DENIED"
        assert "may not access" in d.message
    crmtest.expect_error(grpc.StatusCode.NOT_FOUND,
                         sgrpc.CustomerQueryServiceStub(admin.query_channel).GetCustomer,
                         spb.GetCustomerRequest(name="customers/no-such-customer"))
    # A customer the agent registers is theirs; a command on someone else's changes nothing.
    cmd = sgrpc.CustomerCommandServiceStub(agent.channel)
    mine = cmd.RegisterCustomer(spb.RegisterCustomerRequest(
        request_id=new_request_id(), customer=cpb.Customer(display_name="Mine", kind=cpb.PERSON)))
    assert mine.customer.owner == AGENT
    before = sgrpc.CustomerQueryServiceStub(admin.query_channel).GetCustomer(
        spb.GetCustomerRequest(name=theirs, consistency_token=mine.consistency_token))
    crmtest.expect_error(grpc.StatusCode.PERMISSION_DENIED, cmd.TagCustomer,
                         spb.TagCustomerRequest(name=theirs, tag="x",
                                                request_id=new_request_id()))
    # Handing one's own customer to someone out of reach is refused too.
    crmtest.expect_error(grpc.StatusCode.PERMISSION_DENIED, cmd.AssignOwner,
                         spb.AssignOwnerRequest(name=mine.customer.name, owner=MATE,
                                                request_id=new_request_id()))
    after = sgrpc.CustomerQueryServiceStub(admin.query_channel).GetCustomer(
        spb.GetCustomerRequest(name=theirs))
    assert after.version == before.version


def test_a_reorganisation_applies_to_the_next_call(make_server, idp):
    server = _start(make_server, _auth_args(idp.jwks_path))
    admin = Caller(server, idp.token("rsa-1", "admin", scope="crm.admin"))
    org = Org(admin)
    org.department("d1")
    org.team("t1", "d1")
    org.team("t2", "d1")
    org.staff(SUPERVISOR, opb.SUPERVISOR, opb.MIDDLE, "d1", "t1")
    org.staff(MATE, opb.CUSTOMER_REPRESENTATIVE, opb.FRONT_LINE, "d1", "t2")
    rows = Rows(admin, server)
    customer = rows.customer(MATE)
    supervisor = Caller(server, idp.token("rsa-1", "sup", crm_staff_id=SUPERVISOR, scope=None))
    query = sgrpc.CustomerQueryServiceStub(supervisor.query_channel)
    crmtest.expect_error(grpc.StatusCode.PERMISSION_DENIED, query.GetCustomer,
                         spb.GetCustomerRequest(name=customer, consistency_token=rows.token))
    moved = org.org.UpdateStaff(ospb.UpdateStaffRequest(
        staff=opb.Staff(name=f"staff/{MATE}", team="teams/t1"), update_mask={"paths": ["team"]},
        request_id=new_request_id()))
    assert query.GetCustomer(spb.GetCustomerRequest(
        name=customer, consistency_token=moved.consistency_token)).name == customer
    # Deactivated: refused everything.
    org.org.DeactivateStaff(ospb.DeactivateStaffRequest(name=f"staff/{SUPERVISOR}",
                                                        request_id=new_request_id()))
    d = crmtest.expect_error(grpc.StatusCode.PERMISSION_DENIED, query.GetCustomer,
                             spb.GetCustomerRequest(name=customer))
    assert crmtest.assert_error_info(d).reason == "STAFF_UNKNOWN"
