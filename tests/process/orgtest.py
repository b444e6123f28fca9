"""An organisation for process tests: a customer-service department with a reporting line
manager <- supervisor <- agents, and a sales account manager, created through crm.v1.OrgService."""

from __future__ import annotations

from crmtest import command_stub, new_request_id

from crm.v1 import org_pb2 as opb  # noqa: E402
from crm.v1 import org_service_pb2 as ospb  # noqa: E402
from crm.v1 import org_service_pb2_grpc as osgrpc  # noqa: E402

MANAGER = "mgr-wang"
SUPERVISOR = "sup-zhao"
AGENT = "agent-li"
AGENT2 = "agent-chen"
ACCOUNT_MANAGER = "am-sun"


def add_staff(server, staff_id: str, role: int, level: int, department: str = "",
              team: str = "", manager: str = "") -> ospb.StaffCommandResponse:
    org = command_stub(server, osgrpc.OrgServiceStub)
    return org.AddStaff(ospb.AddStaffRequest(
        staff_id=staff_id, request_id=new_request_id(),
        staff=opb.Staff(display_name=staff_id.replace("-", " ").title(), role=role, level=level,
                        department=department, team=team, manager=manager)))


def make_org(server) -> str:
    """Creates the organisation; returns the consistency token of its last event."""
    org = command_stub(server, osgrpc.OrgServiceStub)
    org.CreateDepartment(ospb.CreateDepartmentRequest(
        department_id="cs", request_id=new_request_id(),
        department=opb.Department(display_name="Customer service",
                                  function=opb.CUSTOMER_SERVICE)))
    org.CreateDepartment(ospb.CreateDepartmentRequest(
        department_id="sales", request_id=new_request_id(),
        department=opb.Department(display_name="Sales", function=opb.SALES)))
    org.CreateTeam(ospb.CreateTeamRequest(
        team_id="cs-east", request_id=new_request_id(),
        team=opb.Team(display_name="East", department="departments/cs")))
    add_staff(server, MANAGER, opb.MANAGER, opb.SENIOR, department="departments/cs")
    add_staff(server, SUPERVISOR, opb.SUPERVISOR, opb.MIDDLE, department="departments/cs",
              team="teams/cs-east", manager=MANAGER)
    add_staff(server, AGENT, opb.SERVICE_AGENT, opb.FRONT_LINE, department="departments/cs",
              team="teams/cs-east", manager=SUPERVISOR)
    add_staff(server, AGENT2, opb.SERVICE_AGENT, opb.FRONT_LINE, department="departments/cs",
              team="teams/cs-east", manager=SUPERVISOR)
    return add_staff(server, ACCOUNT_MANAGER, opb.ACCOUNT_MANAGER, opb.FRONT_LINE,
                     department="departments/sales").consistency_token


def add_account_managers(server, *staff_ids: str, department_id: str = "sales") -> str:
    """Creates a sales department and account managers in it (the owners of customers); returns
    the consistency token of the last event."""
    org = command_stub(server, osgrpc.OrgServiceStub)
    org.CreateDepartment(ospb.CreateDepartmentRequest(
        department_id=department_id, request_id=new_request_id(),
        department=opb.Department(display_name="Sales", function=opb.SALES)))
    token = ""
    for staff_id in staff_ids:
        token = add_staff(server, staff_id, opb.ACCOUNT_MANAGER, opb.FRONT_LINE,
                          department=f"departments/{department_id}").consistency_token
    return token
