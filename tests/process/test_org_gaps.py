"""Issue 13's small gaps on both engines: a customer's team and department follow its owner when
the owner moves (GetCustomer, ListCustomers, command answers and who reaches the customer agree,
and the customer's events stay as written), UnassignOwner, ReactivateStaff, RemoveTeam and
RemoveDepartment (proto/crm/v1/README.md, "The organisation" and "Owners"), each with bad input,
retries with the same request_id, and the same answers after the views are rebuilt (--rebuild).

One server per engine with authentication on (as test_search.py): an admin writes; supervisors
and a manager read with staff tokens, so reach (docs/security.md "Authorization") is checked
against the place the customer shows.
"""

from __future__ import annotations

import pytest
from google.rpc import error_details_pb2

import crmtest
from crmtest import assert_violation, expect_error, grpc, new_request_id, spb
from test_auth import Caller, IdentityProvider, _auth_args

from crm.v1 import org_pb2 as opb  # noqa: E402
from crm.v1 import org_service_pb2 as ospb  # noqa: E402
from crm.v1 import org_service_pb2_grpc as osgrpc  # noqa: E402

pytestmark = pytest.mark.engines("embedded", "kafka")

AGENT, SUP1, SUP2, MGR2, SPARE = "g-agent", "g-sup1", "g-sup2", "g-mgr2", "g-spare"


class World:
    def __init__(self, server, engine: str, idp: IdentityProvider):
        self.server, self.engine, self.idp = server, engine, idp
        self.token = ""
        self.connect()

    def connect(self) -> None:
        self.admin = Caller(self.server, self.idp.token("rsa-1", "admin", scope="crm.admin"))
        self.org = osgrpc.OrgServiceStub(self.admin.channel)
        self.orgq = osgrpc.OrgQueryServiceStub(self.admin.query_channel)
        self.staff = {sid: Caller(self.server, self.idp.token("rsa-1", sid, crm_staff_id=sid,
                                                              scope=None))
                      for sid in (AGENT, SUP1, SUP2, MGR2)}

    def write(self, resp):
        self.token = crmtest.merge_tokens(self.token, resp.consistency_token) \
            if self.token else resp.consistency_token
        return resp

    def get(self, name: str, caller=None):
        caller = caller or self.admin
        return caller.query.GetCustomer(spb.GetCustomerRequest(name=name,
                                                               consistency_token=self.token))

    def reaches(self, sid: str, name: str) -> bool:
        try:
            self.get(name, self.staff[sid])
            return True
        except grpc.RpcError as err:
            assert err.code() == grpc.StatusCode.PERMISSION_DENIED, err
            return False

    def listed(self, sid: str) -> set[str]:
        resp = self.staff[sid].query.ListCustomers(spb.ListCustomersRequest(
            page_size=1000, consistency_token=self.token))
        return {c.name for c in resp.customers}

    def move(self, sid: str, department: str, team: str):
        return self.write(self.org.UpdateStaff(ospb.UpdateStaffRequest(
            staff=opb.Staff(name=f"staff/{sid}", department=f"departments/{department}",
                            team=f"teams/{team}" if team else ""),
            update_mask={"paths": ["department", "team"]}, request_id=new_request_id())))

    def department(self, did: str):
        return self.write(self.org.CreateDepartment(ospb.CreateDepartmentRequest(
            department_id=did, request_id=new_request_id(),
            department=opb.Department(display_name=did, function=opb.SALES))))

    def team(self, tid: str, did: str):
        return self.write(self.org.CreateTeam(ospb.CreateTeamRequest(
            team_id=tid, request_id=new_request_id(),
            team=opb.Team(display_name=tid, department=f"departments/{did}"))))

    def add(self, sid: str, role, did: str, tid: str = ""):
        return self.write(self.org.AddStaff(ospb.AddStaffRequest(
            staff_id=sid, request_id=new_request_id(),
            staff=opb.Staff(display_name=sid, role=role, level=opb.FRONT_LINE,
                            department=f"departments/{did}",
                            team=f"teams/{tid}" if tid else ""))))

    def customer(self, cid: str, owner: str) -> str:
        resp = self.write(crmtest.register(self.admin, customer_id=cid, display_name=cid))
        self.write(self.admin.command.AssignOwner(spb.AssignOwnerRequest(
            name=resp.customer.name, owner=owner, request_id=new_request_id())))
        return resp.customer.name


@pytest.fixture(scope="module")
def world(module_auth_server, engine):
    server, idp = module_auth_server
    w = World(server, engine, idp)
    w.department("d1")
    w.department("d2")
    w.team("t1", "d1")
    w.team("t2", "d1")
    w.team("t3", "d2")
    w.add(AGENT, opb.ACCOUNT_MANAGER, "d1", "t1")
    w.add(SUP1, opb.SUPERVISOR, "d1", "t1")
    w.add(SUP2, opb.SUPERVISOR, "d1", "t2")
    w.add(MGR2, opb.MANAGER, "d2")
    w.add(SPARE, opb.SERVICE_AGENT, "d1", "t2")
    yield w


def _preconditions(d: crmtest.ErrorDetails) -> list[str]:
    out = []
    for any_msg in d.status.details:
        if any_msg.Is(error_details_pb2.PreconditionFailure.DESCRIPTOR):
            failure = error_details_pb2.PreconditionFailure()
            any_msg.Unpack(failure)
            out += [v.subject for v in failure.violations]
    return out


def test_a_customers_team_follows_its_owner(world):
    w = world
    name = w.customer("follow-1", AGENT)
    c = w.get(name)
    assert (c.team, c.department) == ("teams/t1", "departments/d1")
    version = c.version
    assert w.reaches(SUP1, name) and not w.reaches(SUP2, name) and not w.reaches(MGR2, name)
    assert name in w.listed(SUP1) and name not in w.listed(SUP2)

    # The owner moves to team t2: the customer shows t2 and t2's supervisor reaches it.
    w.move(AGENT, "d1", "t2")
    c = w.get(name)
    assert (c.team, c.department) == ("teams/t2", "departments/d1")
    assert c.version == version, "the customer's own events did not change"
    assert not w.reaches(SUP1, name) and w.reaches(SUP2, name)
    assert name not in w.listed(SUP1) and name in w.listed(SUP2)
    # A command's answer shows the same place.
    tagged = w.write(w.admin.command.TagCustomer(spb.TagCustomerRequest(
        name=name, tag="moved", request_id=new_request_id())))
    assert (tagged.customer.team, tagged.customer.department) == ("teams/t2", "departments/d1")

    # To another department, without a team: its manager reaches the customer.
    w.move(AGENT, "d2", "")
    c = w.get(name)
    assert (c.team, c.department) == ("", "departments/d2")
    assert w.reaches(MGR2, name) and not w.reaches(SUP2, name)

    # The facts stay as written: OwnerAssigned still records the owner's place at the time.
    history = w.admin.query.GetCustomerHistory(spb.GetCustomerHistoryRequest(
        name=name, consistency_token=w.token))
    assigned = [e.owner_assigned for e in history.events if e.HasField("owner_assigned")]
    assert [(a.owner, a.team, a.department) for a in assigned] == \
        [(AGENT, "teams/t1", "departments/d1")]
    w.move(AGENT, "d1", "t2")  # back where the other tests expect them


def test_unassign_owner(world):
    w = world
    name = w.customer("unassign-1", AGENT)
    assert w.reaches(SUP2, name)
    rid = new_request_id()
    request = spb.UnassignOwnerRequest(name=name, reason="account moved", request_id=rid)
    first = w.write(w.admin.command.UnassignOwner(request))
    assert first.appended_event_count == 1
    assert (first.customer.owner, first.customer.team, first.customer.department) == ("", "", "")
    # A retry with the same request id: the first answer, nothing appended.
    again = w.admin.command.UnassignOwner(request)
    assert again.consistency_token == first.consistency_token
    assert again.appended_event_count == 1
    assert again.customer.version == first.customer.version
    # A new request on a customer without owner changes nothing.
    none = w.admin.command.UnassignOwner(spb.UnassignOwnerRequest(
        name=name, request_id=new_request_id()))
    assert none.appended_event_count == 0
    c = w.get(name)
    assert (c.owner, c.team, c.department) == ("", "", "")
    assert not w.reaches(SUP2, name) and not w.reaches(AGENT, name)
    history = w.admin.query.GetCustomerHistory(spb.GetCustomerHistoryRequest(
        name=name, consistency_token=w.token))
    cleared = [e.owner_unassigned for e in history.events if e.HasField("owner_unassigned")]
    assert [(x.previous_owner, x.reason) for x in cleared] == [(AGENT, "account moved")]

    # Bad input.
    d = expect_error(grpc.StatusCode.INVALID_ARGUMENT, w.admin.command.UnassignOwner,
                     spb.UnassignOwnerRequest(name="unassign-1"))
    assert_violation(d, "name")
    d = expect_error(grpc.StatusCode.INVALID_ARGUMENT, w.admin.command.UnassignOwner,
                     spb.UnassignOwnerRequest(name=name, reason="x" * 501))
    assert_violation(d, "reason")
    expect_error(grpc.StatusCode.ABORTED, w.admin.command.UnassignOwner,
                 spb.UnassignOwnerRequest(name=name, etag="v1"))
    expect_error(grpc.StatusCode.NOT_FOUND, w.admin.command.UnassignOwner,
                 spb.UnassignOwnerRequest(name="customers/no-such-customer"))
    # An agent may clear the owner only of a customer they reach.
    other = w.customer("unassign-2", AGENT)
    expect_error(grpc.StatusCode.PERMISSION_DENIED, w.staff[SUP1].command.UnassignOwner,
                 spb.UnassignOwnerRequest(name=other))


def test_reactivate_staff(world):
    w = world
    w.write(w.org.DeactivateStaff(ospb.DeactivateStaffRequest(
        name=f"staff/{SPARE}", request_id=new_request_id())))
    rid = new_request_id()
    request = ospb.ReactivateStaffRequest(name=f"staff/{SPARE}", reason="back", request_id=rid)
    first = w.write(w.org.ReactivateStaff(request))
    assert first.staff.active and first.appended_event_count == 1
    again = w.org.ReactivateStaff(request)
    assert again.consistency_token == first.consistency_token
    assert again.staff.version == first.staff.version
    d = expect_error(grpc.StatusCode.FAILED_PRECONDITION, w.org.ReactivateStaff,
                     ospb.ReactivateStaffRequest(name=f"staff/{SPARE}",
                                                 request_id=new_request_id()))
    assert d.error_info.reason == "STAFF_ACTIVE"
    got = w.orgq.GetStaff(ospb.GetStaffRequest(name=f"staff/{SPARE}",
                                               consistency_token=w.token))
    assert got.active
    d = expect_error(grpc.StatusCode.INVALID_ARGUMENT, w.org.ReactivateStaff,
                     ospb.ReactivateStaffRequest(name="spare", department="d1",
                                                 reason="x" * 501))
    for f in ("name", "department", "reason"):
        assert_violation(d, f)
    expect_error(grpc.StatusCode.NOT_FOUND, w.org.ReactivateStaff,
                 ospb.ReactivateStaffRequest(name="staff/nobody"))
    expect_error(grpc.StatusCode.PERMISSION_DENIED,
                 osgrpc.OrgServiceStub(w.staff[SUP1].channel).ReactivateStaff, request)


def test_remove_team_and_department(world):
    w = world
    w.department("d9")
    w.team("t9", "d9")
    w.add("g-s9", opb.ACCOUNT_MANAGER, "d9", "t9")
    d = expect_error(grpc.StatusCode.FAILED_PRECONDITION, w.org.RemoveTeam,
                     ospb.RemoveTeamRequest(name="teams/t9", request_id=new_request_id()))
    assert d.error_info.reason == "TEAM_NOT_EMPTY"
    assert _preconditions(d) == ["staff/g-s9"]
    d = expect_error(grpc.StatusCode.FAILED_PRECONDITION, w.org.RemoveDepartment,
                     ospb.RemoveDepartmentRequest(name="departments/d9"))
    assert d.error_info.reason == "DEPARTMENT_NOT_EMPTY"
    assert _preconditions(d) == ["teams/t9", "staff/g-s9"]

    w.write(w.org.DeactivateStaff(ospb.DeactivateStaffRequest(
        name="staff/g-s9", request_id=new_request_id())))
    request = ospb.RemoveTeamRequest(name="teams/t9", reason="merged", request_id=new_request_id())
    removed = w.write(w.org.RemoveTeam(request))
    assert removed.appended_event_count == 1 and removed.team.HasField("delete_time")
    again = w.org.RemoveTeam(request)
    assert again.consistency_token == removed.consistency_token
    expect_error(grpc.StatusCode.NOT_FOUND, w.org.RemoveTeam,
                 ospb.RemoveTeamRequest(name="teams/t9", request_id=new_request_id()))
    expect_error(grpc.StatusCode.NOT_FOUND, w.orgq.GetTeam,
                 ospb.GetTeamRequest(name="teams/t9", consistency_token=w.token))
    # Nobody can be put in it any more.
    d = expect_error(grpc.StatusCode.NOT_FOUND, w.org.AddStaff, ospb.AddStaffRequest(
        staff_id="g-late", staff=opb.Staff(display_name="late", role=opb.SERVICE_AGENT,
                                           level=opb.FRONT_LINE, department="departments/d9",
                                           team="teams/t9")))
    assert d.error_info.reason == "TEAM_NOT_FOUND"

    dreq = ospb.RemoveDepartmentRequest(name="departments/d9", request_id=new_request_id())
    gone = w.write(w.org.RemoveDepartment(dreq))
    assert gone.department.HasField("delete_time")
    assert w.org.RemoveDepartment(dreq).consistency_token == gone.consistency_token
    teams = w.orgq.ListTeams(ospb.ListTeamsRequest(page_size=1000, consistency_token=w.token))
    assert "teams/t9" not in [t.name for t in teams.teams]
    departments = w.orgq.ListDepartments(ospb.ListDepartmentsRequest(
        page_size=1000, consistency_token=w.token))
    assert [x.name for x in departments.departments] == ["departments/d1", "departments/d2"]

    # Their deactivated member returns elsewhere.
    d = expect_error(grpc.StatusCode.NOT_FOUND, w.org.ReactivateStaff,
                     ospb.ReactivateStaffRequest(name="staff/g-s9"))
    assert d.error_info.reason == "DEPARTMENT_NOT_FOUND"
    back = w.write(w.org.ReactivateStaff(ospb.ReactivateStaffRequest(
        name="staff/g-s9", department="departments/d2", team="teams/t3",
        request_id=new_request_id())))
    assert back.staff.active and back.staff.team == "teams/t3"
    assert back.appended_event_count == 2

    # Bad input.
    d = expect_error(grpc.StatusCode.INVALID_ARGUMENT, w.org.RemoveTeam,
                     ospb.RemoveTeamRequest(name="t1", reason="x" * 501))
    assert_violation(d, "name")
    assert_violation(d, "reason")
    expect_error(grpc.StatusCode.ABORTED, w.org.RemoveDepartment,
                 ospb.RemoveDepartmentRequest(name="departments/d1", etag="v99"))
    expect_error(grpc.StatusCode.NOT_FOUND, w.org.RemoveDepartment,
                 ospb.RemoveDepartmentRequest(name="departments/nowhere"))


def _answers(w: World) -> dict:
    customers = w.admin.query.ListCustomers(spb.ListCustomersRequest(
        page_size=1000, consistency_token=w.token))
    chart = w.orgq.GetOrgChart(ospb.GetOrgChartRequest(format=ospb.ORG_CHART_DATA,
                                                       include_inactive=True,
                                                       consistency_token=w.token))
    chart.ClearField("as_of")
    return {
        "customers": [(c.name, c.owner, c.team, c.department, c.version)
                      for c in customers.customers],
        "reach": {sid: sorted(w.listed(sid)) for sid in w.staff},
        "teams": [t.SerializeToString(deterministic=True) for t in w.orgq.ListTeams(
            ospb.ListTeamsRequest(page_size=1000, consistency_token=w.token)).teams],
        "departments": [x.SerializeToString(deterministic=True)
                        for x in w.orgq.ListDepartments(ospb.ListDepartmentsRequest(
                            page_size=1000, consistency_token=w.token)).departments],
        "staff": [s.SerializeToString(deterministic=True) for s in w.orgq.ListStaff(
            ospb.ListStaffRequest(page_size=1000, consistency_token=w.token)).staff],
        "chart": chart.SerializeToString(deterministic=True),
    }


def test_the_same_answers_after_a_rebuild(world):
    """Last in this module: restarts the server."""
    w = world
    w.token = crmtest.covering_token(w.server, w.token)
    before = _answers(w)
    assert ("customers/follow-1", AGENT, "teams/t2", "departments/d1") in \
        [c[:4] for c in before["customers"]]
    if w.engine == "embedded":
        w.server.restart(*_auth_args(w.idp.jwks_path), "--rebuild")
    else:
        w.server.restart("--rebuild")
    w.connect()
    assert _answers(w) == before
