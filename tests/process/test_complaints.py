"""The complaint flow end to end, on the embedded engine and on Kafka: filing, acknowledgement,
assignment, investigation, resolution, follow-up visit, reopening and closing; an SLA breach that
the deadline watcher records (exactly once, also across a restart) with its automatic escalation
up the reporting line; and the views, org chart and analytics that follow from those events."""

from __future__ import annotations

import grpc
import pytest

import orgtest
from crmtest import (assert_error_info, command_stub, expect_error, new_request_id, query_stub,
                     register, wait_for)

from crm.events.v1 import complaint_events_pb2 as kev  # noqa: E402
from crm.v1 import complaint_pb2 as kpb  # noqa: E402
from crm.v1 import complaint_query_service_pb2 as kqpb  # noqa: E402
from crm.v1 import complaint_query_service_pb2_grpc as kqgrpc  # noqa: E402
from crm.v1 import complaint_service_pb2 as kspb  # noqa: E402
from crm.v1 import complaint_service_pb2_grpc as ksgrpc  # noqa: E402
from crm.v1 import interaction_pb2 as ipb  # noqa: E402

# Severe complaints: a response deadline the test meets comfortably, a resolution deadline it
# lets pass. General ones keep the default policy (24 h / 72 h): never due during a test.
SLA_ARGS = ("--sla-policy", "severe=20s/8s", "--sla-scan-interval", "100ms")


def _commands(server):
    return command_stub(server, ksgrpc.ComplaintCommandServiceStub)


def _queries(server):
    return query_stub(server, kqgrpc.ComplaintQueryServiceStub)


def _file(server, customer_name: str, severity: int, **fields) -> kspb.ComplaintCommandResponse:
    complaint = kpb.Complaint(channel=ipb.PHONE, category=kpb.PRODUCT_QUALITY, severity=severity,
                              description="The kettle leaks", **fields)
    return _commands(server).FileComplaint(kspb.FileComplaintRequest(
        parent=customer_name, complaint=complaint, request_id=new_request_id()))


def _history_types(server, name: str, token: str = "") -> list[str]:
    resp = _queries(server).GetComplaintHistory(kqpb.GetComplaintHistoryRequest(
        name=name, consistency_token=token, page_size=1000))
    return [e.event_type.rsplit(".", 1)[-1] for e in resp.events]


def _start(make_server):
    """A server whose command side runs with SLA_ARGS (crm-command's flags on Kafka)."""
    if make_server.engine == "kafka":
        return make_server(command_args=SLA_ARGS)
    return make_server(args=SLA_ARGS)


@pytest.fixture
def crm(make_server):
    server = _start(make_server)
    orgtest.make_org(server)
    return server


def test_full_flow_with_reopen(crm):
    customer = register(crm, customer_id="flow-1").customer
    cmd = _commands(crm)
    filed = _file(crm, customer.name, kpb.GENERAL).complaint
    name = filed.name
    assert name.startswith(customer.name + "/complaints/")
    assert filed.status == kpb.FILED
    assert filed.response_deadline.due_time.seconds - filed.create_time.seconds == 24 * 3600
    assert filed.resolution_deadline.due_time.seconds - filed.create_time.seconds == 72 * 3600

    # An invalid transition names the current state.
    d = expect_error(grpc.StatusCode.FAILED_PRECONDITION, cmd.CloseComplaint,
                     kspb.CloseComplaintRequest(name=name, request_id=new_request_id()))
    assert "FILED" in d.message
    assert_error_info(d)

    def step(method, request_class, **fields):
        return method(request_class(name=name, request_id=new_request_id(), **fields))

    r = step(cmd.AcknowledgeComplaint, kspb.AcknowledgeComplaintRequest, responder=orgtest.AGENT)
    assert r.complaint.status == kpb.ACKNOWLEDGED
    assert r.complaint.response_deadline.HasField("met_time")
    r = step(cmd.AssignComplaint, kspb.AssignComplaintRequest, assignee=orgtest.AGENT)
    assert r.complaint.status == kpb.ASSIGNED
    assert r.complaint.assignee.staff_id == orgtest.AGENT
    assert r.complaint.assignee.team == "teams/cs-east"
    assert r.complaint.assignee.department == "departments/cs"
    # Only staff whose role handles complaints may be assignees; unknown staff are NOT_FOUND.
    expect_error(grpc.StatusCode.FAILED_PRECONDITION, step, cmd.AssignComplaint,
                 kspb.AssignComplaintRequest, assignee=orgtest.ACCOUNT_MANAGER)
    expect_error(grpc.StatusCode.NOT_FOUND, step, cmd.AssignComplaint,
                 kspb.AssignComplaintRequest, assignee="nobody")
    r = step(cmd.StartInvestigation, kspb.StartInvestigationRequest)
    assert r.complaint.status == kpb.INVESTIGATING
    r = step(cmd.ResolveComplaint, kspb.ResolveComplaintRequest, resolution="Replaced the kettle",
             root_cause=kpb.PRODUCT_DEFECT)
    assert r.complaint.status == kpb.RESOLVED
    assert r.complaint.resolution_deadline.HasField("met_time")
    r = step(cmd.RecordFollowUpVisit, kspb.RecordFollowUpVisitRequest,
             visit=kpb.FollowUpVisit(satisfied=False, csat=2, comment="Leaks again"))
    assert r.complaint.status == kpb.FOLLOWED_UP
    r = step(cmd.ReopenComplaint, kspb.ReopenComplaintRequest, reason="still leaking")
    assert r.complaint.status == kpb.REOPENED
    assert r.complaint.reopen_count == 1
    assert not r.complaint.resolution_deadline.HasField("met_time")
    r = step(cmd.AssignComplaint, kspb.AssignComplaintRequest, assignee=orgtest.AGENT2)
    r = step(cmd.StartInvestigation, kspb.StartInvestigationRequest)
    r = step(cmd.ResolveComplaint, kspb.ResolveComplaintRequest, resolution="Refunded",
             root_cause=kpb.PRODUCT_DEFECT)
    r = step(cmd.RecordFollowUpVisit, kspb.RecordFollowUpVisitRequest,
             visit=kpb.FollowUpVisit(satisfied=True, csat=5, comment="Thanks"))
    r = step(cmd.CloseComplaint, kspb.CloseComplaintRequest)
    assert r.complaint.status == kpb.CLOSED
    token = r.consistency_token

    view = _queries(crm).GetComplaint(kqpb.GetComplaintRequest(name=name, consistency_token=token))
    assert view.status == kpb.CLOSED
    assert view.version == r.complaint.version
    assert view.assignee.staff_id == orgtest.AGENT2
    assert view.follow_up.csat == 5
    assert _history_types(crm, name, token) == [
        "ComplaintFiled", "ComplaintAcknowledged", "ComplaintAssigned",
        "ComplaintInvestigationStarted", "ComplaintResolved", "ComplaintFollowUpVisitRecorded",
        "ComplaintReopened", "ComplaintAssigned", "ComplaintInvestigationStarted",
        "ComplaintResolved", "ComplaintFollowUpVisitRecorded", "ComplaintClosed"]

    listed = _queries(crm).ListComplaints(kqpb.ListComplaintsRequest(
        parent=customer.name, consistency_token=token))
    assert [c.name for c in listed.complaints] == [name]
    by_status = _queries(crm).ListComplaints(kqpb.ListComplaintsRequest(
        status=kpb.CLOSED, assignee=orgtest.AGENT2, consistency_token=token))
    assert [c.name for c in by_status.complaints] == [name]


def test_sla_breach_is_recorded_once_and_escalates_up_the_reporting_line(crm):
    customer = register(crm, customer_id="breach-1").customer
    cmd = _commands(crm)
    name = _file(crm, customer.name, kpb.SEVERE).complaint.name
    cmd.AcknowledgeComplaint(kspb.AcknowledgeComplaintRequest(
        name=name, request_id=new_request_id(), responder=orgtest.AGENT))
    assigned = cmd.AssignComplaint(kspb.AssignComplaintRequest(
        name=name, request_id=new_request_id(), assignee=orgtest.AGENT))
    due = assigned.complaint.resolution_deadline.due_time
    assert due.seconds - assigned.complaint.create_time.seconds == 8

    # Nobody resolves it: the watcher records the breach and escalates to the supervisor.
    def breached():
        # Read our own writes first (the views may not have the complaint yet under load).
        c = _queries(crm).GetComplaint(kqpb.GetComplaintRequest(
            name=name, consistency_token=assigned.consistency_token))
        return c if c.resolution_deadline.breached and c.escalation_level >= 1 else None

    c = wait_for("the resolution deadline's breach", breached, timeout_s=90)
    assert not c.response_deadline.breached  # acknowledged in time
    assert c.escalation_level == 1
    assert c.escalated_to.staff_id == orgtest.SUPERVISOR
    assert c.status == kpb.ASSIGNED  # a breach does not move the flow

    history = _queries(crm).GetComplaintHistory(kqpb.GetComplaintHistoryRequest(name=name))
    breaches = [e for e in history.events if e.HasField("complaint_sla_breached")]
    assert len(breaches) == 1
    b = breaches[0]
    assert b.complaint_sla_breached.kind == kev.RESOLUTION
    assert b.complaint_sla_breached.due_time == due
    assert b.complaint_sla_breached.assignee.staff_id == orgtest.AGENT
    escalations = [e for e in history.events if e.HasField("complaint_escalated")]
    assert len(escalations) == 1
    esc = escalations[0].complaint_escalated
    assert esc.automatic and esc.sla_kind == kev.RESOLUTION and esc.level == 1
    assert esc.to.staff_id == orgtest.SUPERVISOR
    assert escalations[0].causation_id == b.causation_id  # one watcher command, two facts

    # Escalating by hand goes one step further up the line.
    r = cmd.EscalateComplaint(kspb.EscalateComplaintRequest(
        name=name, request_id=new_request_id(), reason="customer called the hotline"))
    assert r.complaint.escalation_level == 2
    assert r.complaint.escalated_to.staff_id == orgtest.MANAGER

    # A restart replays the log: the watcher must not record the breach again.
    crm.restart(*([] if getattr(crm, "engine", "") == "kafka" else SLA_ARGS))
    r = cmd_after_restart = _commands(crm).StartInvestigation(kspb.StartInvestigationRequest(
        name=name, request_id=new_request_id()))
    assert cmd_after_restart.complaint.status == kpb.INVESTIGATING
    types = _history_types(crm, name, r.consistency_token)
    assert types.count("ComplaintSlaBreached") == 1
    assert types.count("ComplaintEscalated") == 2

    # The overdue list shows it until it is resolved.
    overdue = _queries(crm).ListComplaints(kqpb.ListComplaintsRequest(
        overdue_only=True, consistency_token=r.consistency_token))
    assert name in [x.name for x in overdue.complaints]
    r = _commands(crm).ResolveComplaint(kspb.ResolveComplaintRequest(
        name=name, request_id=new_request_id(), resolution="Fixed late",
        root_cause=kpb.PROCESS_GAP))
    overdue = _queries(crm).ListComplaints(kqpb.ListComplaintsRequest(
        overdue_only=True, consistency_token=r.consistency_token))
    assert name not in [x.name for x in overdue.complaints]


def test_complaint_needs_a_known_customer(crm):
    d = expect_error(grpc.StatusCode.NOT_FOUND, _file, crm, "customers/nobody-here", kpb.MINOR)
    assert "nobody-here" in d.message
