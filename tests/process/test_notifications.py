"""Notifications end to end, on the embedded engine and on Kafka (proto/crm/v1/README.md,
"Notifications"): an owner assignment, a complaint assignment, an SLA breach with its automatic
escalation (a short SLA policy and scan interval; the breach is polled for, never slept on), an
escalation by hand and survey answers below and above the threshold, each watched live by an
outside gRPC client (WatchNotifications), listed a page at a time (ListNotifications), resumed
from a cursor with nothing skipped or repeated, a Watch cancelled by its caller and one ended by
its deadline, refusals of malformed requests, and the same views after a --rebuild restart. On
Kafka, the outbound topic "<prefix>.notifications.v1" is read with confluent-kafka: every
notification, keyed by recipient, with its headers; after --rebuild republished (consumers dedupe
by id). Reminders before a due time (--notify-due-lead): a complaint's resolution deadline and an
interaction's follow-up each remind the person who holds the work once, before the breach.
"""

from __future__ import annotations

import threading

import grpc
import pytest

import orgtest
from test_crmctl import ctl_json, query_process
from crmtest import (command_stub, covering_token, expect_error, new_request_id, query_stub,
                     register, spb, wait_for)

from crm.v1 import complaint_pb2 as kpb  # noqa: E402
from crm.v1 import complaint_service_pb2 as kspb  # noqa: E402
from crm.v1 import complaint_service_pb2_grpc as ksgrpc  # noqa: E402
from crm.v1 import complaint_query_service_pb2 as kqpb  # noqa: E402
from crm.v1 import complaint_query_service_pb2_grpc as kqgrpc  # noqa: E402
from crm.v1 import interaction_pb2 as ipb  # noqa: E402
from crm.v1 import interaction_service_pb2 as ispb  # noqa: E402
from crm.v1 import interaction_service_pb2_grpc as isgrpc  # noqa: E402
from crm.v1 import notification_pb2 as npb  # noqa: E402
from crm.v1 import notification_service_pb2 as nspb  # noqa: E402
from crm.v1 import notification_service_pb2_grpc as ngrpc  # noqa: E402
from crm.v1 import org_pb2 as opb  # noqa: E402
from crm.v1 import org_service_pb2 as ospb  # noqa: E402
from crm.v1 import org_service_pb2_grpc as osgrpc  # noqa: E402
from crm.v1 import survey_pb2 as svpb  # noqa: E402
from crm.v1 import survey_service_pb2 as svspb  # noqa: E402
from crm.v1 import survey_service_pb2_grpc as svgrpc  # noqa: E402

pytestmark = pytest.mark.engines("embedded", "kafka")

# Severe complaints: response due in 60 s, resolution in 6 s (breached while the test watches).
SLA_ARGS = ("--sla-policy", "severe=60s/6s", "--sla-scan-interval", "100ms")


def _start(make_server):
    if make_server.engine == "kafka":
        return make_server(command_args=SLA_ARGS)
    return make_server(args=SLA_ARGS)


def _rebuild(server) -> None:
    if getattr(server, "engine", "embedded") == "kafka":
        server.restart("--rebuild")
    else:
        server.restart("--rebuild", *SLA_ARGS)


def _stub(server):
    return query_stub(server, ngrpc.NotificationServiceStub)


class Watcher:
    """A WatchNotifications stream read on a thread of its own into `got`."""

    def __init__(self, server, staff_id: str, after: str = "", timeout_s: float = 300):
        self.got: list[npb.Notification] = []
        self.code = None
        self._call = _stub(server).WatchNotifications(
            nspb.WatchNotificationsRequest(parent=f"staff/{staff_id}", after=after),
            timeout=timeout_s)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self):
        try:
            for n in self._call:
                self.got.append(n)
            self.code = grpc.StatusCode.OK
        except grpc.RpcError as err:
            self.code = err.code()

    def wait_count(self, count: int, what: str):
        wait_for(what, lambda: len(self.got) >= count, timeout_s=90)
        return self.got

    def cancel(self):
        self._call.cancel()
        self._thread.join(timeout=30)
        assert not self._thread.is_alive()
        return self.code


def _listed(server, staff_id: str, token: str = "", page_size: int = 1) -> list[npb.Notification]:
    out, page = [], ""
    while True:
        resp = _stub(server).ListNotifications(nspb.ListNotificationsRequest(
            parent=f"staff/{staff_id}", page_size=page_size, page_token=page,
            consistency_token=token))
        out += list(resp.notifications)
        page = resp.next_page_token
        if not page:
            return out


def _reasons(notifications) -> list[int]:
    return [n.reason for n in notifications]


def _assigned_complaint(complaints, parent: str, assignee: str):
    """A severe complaint filed under `parent`, acknowledged and assigned to `assignee`; the
    FileComplaint answer."""
    filed = complaints.FileComplaint(kspb.FileComplaintRequest(
        parent=parent, request_id=new_request_id(),
        complaint=kpb.Complaint(channel=ipb.PHONE, category=kpb.PRODUCT_QUALITY,
                                severity=kpb.SEVERE, description="The kettle leaks")))
    complaints.AcknowledgeComplaint(kspb.AcknowledgeComplaintRequest(
        name=filed.complaint.name, request_id=new_request_id(), responder=assignee))
    complaints.AssignComplaint(kspb.AssignComplaintRequest(
        name=filed.complaint.name, request_id=new_request_id(), assignee=assignee))
    return filed


def test_notifications_end_to_end(make_server):
    server = _start(make_server)
    orgtest.make_org(server)
    # The supervisor leads the agents' team: low survey answers of the agents reach them too.
    command_stub(server, osgrpc.OrgServiceStub).UpdateTeam(ospb.UpdateTeamRequest(
        team=opb.Team(name="teams/cs-east", lead=orgtest.SUPERVISOR),
        update_mask={"paths": ["lead"]}, request_id=new_request_id()))

    # The agent watches from before anything concerns them: every notification arrives live.
    live = Watcher(server, orgtest.AGENT)

    customer = register(server, customer_id="nt-ann").customer
    owned = server.command.AssignOwner(spb.AssignOwnerRequest(
        name=customer.name, owner=orgtest.ACCOUNT_MANAGER, request_id=new_request_id()))
    complaints = command_stub(server, ksgrpc.ComplaintCommandServiceStub)
    filed = _assigned_complaint(complaints, customer.name, orgtest.AGENT)
    complaint = filed.complaint.name
    got = live.wait_count(1, "the agent's assignment notification")
    assert got[0].reason == npb.COMPLAINT_ASSIGNED and got[0].subject == complaint
    assert got[0].recipient == f"staff/{orgtest.AGENT}"
    assert got[0].name.startswith(f"staff/{orgtest.AGENT}/notifications/")

    # Nobody resolves it: the watcher's breach reaches the agent, its escalation the supervisor.
    got = live.wait_count(2, "the breach notification")
    assert got[1].reason == npb.SLA_BREACHED and got[1].sla_kind == kpb.RESOLUTION
    assert got[1].subject == complaint and got[1].actor == "crm/sla-watcher"

    escalated = complaints.EscalateComplaint(kspb.EscalateComplaintRequest(
        name=complaint, request_id=new_request_id(), reason="the customer called again"))
    assert escalated.complaint.escalated_to.staff_id == orgtest.MANAGER

    surveys = command_stub(server, svgrpc.SurveyCommandServiceStub)
    low = surveys.SendSurvey(svspb.SendSurveyRequest(
        parent=customer.name, request_id=new_request_id(),
        survey=svpb.Survey(channel=svpb.SURVEY_CHANNEL_CALL_BACK, staff_id=orgtest.AGENT)))
    high = surveys.SendSurvey(svspb.SendSurveyRequest(
        parent=customer.name, request_id=new_request_id(),
        survey=svpb.Survey(channel=svpb.SURVEY_CHANNEL_EMAIL, staff_id=orgtest.AGENT)))
    surveys.RecordSurveyAnswer(svspb.RecordSurveyAnswerRequest(
        name=high.survey.name, csat=5, nps=10, request_id=new_request_id()))
    answered = surveys.RecordSurveyAnswer(svspb.RecordSurveyAnswerRequest(
        name=low.survey.name, csat=1, comment="never again", request_id=new_request_id()))
    got = live.wait_count(3, "the low survey answer's notification")
    assert got[2].reason == npb.LOW_SURVEY_ANSWER and got[2].subject == low.survey.name
    assert got[2].csat == 1 and not got[2].HasField("nps")
    assert live.cancel() == grpc.StatusCode.CANCELLED
    assert len(live.got) == 3  # the high answer told nobody

    token = answered.consistency_token
    by_staff = {}
    for staff in (orgtest.AGENT, orgtest.SUPERVISOR, orgtest.MANAGER, orgtest.ACCOUNT_MANAGER,
                  orgtest.AGENT2):
        # The supervisor's escalation came from the watcher; wait for it to be in the views.
        by_staff[staff] = _listed(server, staff, token=token)
    assert [n.name for n in by_staff[orgtest.AGENT]] == [n.name for n in live.got]
    assert _reasons(by_staff[orgtest.ACCOUNT_MANAGER]) == [npb.OWNER_ASSIGNED]
    assert by_staff[orgtest.ACCOUNT_MANAGER][0].subject == customer.name
    assert by_staff[orgtest.ACCOUNT_MANAGER][0].create_time.seconds > 0
    assert _reasons(by_staff[orgtest.SUPERVISOR]) == [npb.ESCALATED, npb.LOW_SURVEY_ANSWER]
    auto = by_staff[orgtest.SUPERVISOR][0]
    assert auto.escalation_level == 1 and auto.sla_kind == kpb.RESOLUTION
    assert by_staff[orgtest.SUPERVISOR][1].concerns == f"staff/{orgtest.AGENT}"
    assert _reasons(by_staff[orgtest.MANAGER]) == [npb.ESCALATED]
    assert by_staff[orgtest.MANAGER][0].escalation_level == 2
    assert by_staff[orgtest.AGENT2] == []
    del owned
    # crmctl lists the same.
    rows = ctl_json(query_process(server), "notifications", "list", orgtest.SUPERVISOR)
    assert [r["name"] for r in rows] == [n.name for n in by_staff[orgtest.SUPERVISOR]]
    assert [r["reason"] for r in rows] == ["ESCALATED", "LOW_SURVEY_ANSWER"]

    # Resuming from the first notification's cursor gives the rest, nothing twice.
    resumed = Watcher(server, orgtest.AGENT, after=live.got[0].cursor)
    assert [n.name for n in resumed.wait_count(2, "the resumed watch")] == \
        [n.name for n in live.got[1:]]
    assert resumed.cancel() == grpc.StatusCode.CANCELLED
    # A caller's deadline ends the stream after what there is.
    ended = Watcher(server, orgtest.MANAGER, timeout_s=2)
    wait_for("the watch's deadline", lambda: ended.code is not None, timeout_s=60)
    assert ended.code == grpc.StatusCode.DEADLINE_EXCEEDED
    assert [n.name for n in ended.got] == [n.name for n in by_staff[orgtest.MANAGER]]

    # Refusals.
    for request in (nspb.WatchNotificationsRequest(parent="staff/"),
                    nspb.WatchNotificationsRequest(parent=f"staff/{orgtest.AGENT}",
                                                   after="not-a-cursor")):
        with pytest.raises(grpc.RpcError) as err:
            list(_stub(server).WatchNotifications(request, timeout=30))
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    expect_error(grpc.StatusCode.INVALID_ARGUMENT, _stub(server).ListNotifications,
                 nspb.ListNotificationsRequest(parent="customers/nt-ann"))
    expect_error(grpc.StatusCode.INVALID_ARGUMENT, _stub(server).ListNotifications,
                 nspb.ListNotificationsRequest(parent=f"staff/{orgtest.AGENT}",
                                               page_token="garbage"))

    everything = {n.name: n for listed in by_staff.values() for n in listed}
    if getattr(server, "engine", "embedded") == "kafka":
        _check_topic(server, everything)

    # The same views, ids and cursors after a refold from the start of the log.
    _rebuild(server)
    for staff, before in by_staff.items():
        assert _listed(server, staff, token=token, page_size=50) == before, staff
    if getattr(server, "engine", "embedded") == "kafka":
        # --rebuild dropped what the relay had recorded: it publishes again, the same ids.
        _check_topic(server, everything, at_least=2)


# Severe complaints: resolution due in 10 s, reminded 6 s before (4 s after filing, after the
# assignment a moment after filing), breached at 10 s. Follow-ups due within 6 s are reminded at
# once.
REMINDER_ARGS = ("--sla-policy", "severe=600s/10s", "--sla-scan-interval", "100ms",
                 "--notify-due-lead", "6s")


def _follow_up(server, parent: str, staff_id: str, due_in_s: int):
    interaction = ipb.Interaction(channel=ipb.PHONE, direction=ipb.OUTBOUND, staff_id=staff_id,
                                  summary="Promised a call back")
    interaction.occurred_at.GetCurrentTime()
    interaction.follow_up_due_time.GetCurrentTime()
    interaction.follow_up_due_time.seconds += due_in_s
    return command_stub(server, isgrpc.InteractionCommandServiceStub).LogInteraction(
        ispb.LogInteractionRequest(parent=parent, request_id=new_request_id(),
                                   interaction=interaction))


def test_reminders_before_a_due_time(make_server):
    kafka = make_server.engine == "kafka"
    server = make_server(command_args=REMINDER_ARGS) if kafka else make_server(args=REMINDER_ARGS)
    orgtest.make_org(server)
    agent = Watcher(server, orgtest.AGENT)
    agent2 = Watcher(server, orgtest.AGENT2)

    customer = register(server, customer_id="nt-due").customer
    complaints = command_stub(server, ksgrpc.ComplaintCommandServiceStub)
    filed = _assigned_complaint(complaints, customer.name, orgtest.AGENT)
    complaint = filed.complaint.name
    soon = _follow_up(server, customer.name, orgtest.AGENT2, due_in_s=3).interaction
    later = _follow_up(server, customer.name, orgtest.AGENT2, due_in_s=3600).interaction

    # The agent: assigned, reminded of the resolution deadline, then told of its breach.
    got = agent.wait_count(3, "the assignment, the reminder and the breach")
    assert _reasons(got) == [npb.COMPLAINT_ASSIGNED, npb.COMPLAINT_DEADLINE_DUE, npb.SLA_BREACHED]
    reminder = got[1]
    assert reminder.subject == complaint and reminder.sla_kind == kpb.RESOLUTION
    assert reminder.due_time == filed.complaint.resolution_deadline.due_time
    assert reminder.actor == "crm/sla-watcher"
    assert reminder.create_time.ToSeconds() == reminder.due_time.ToSeconds() - 6
    # The second agent: the follow-up due in 3 s at once; the one due in an hour not.
    got = agent2.wait_count(1, "the follow-up reminder")
    assert _reasons(got) == [npb.FOLLOW_UP_DUE]
    assert got[0].subject == soon.name and got[0].due_time == soon.follow_up_due_time
    assert agent.cancel() == grpc.StatusCode.CANCELLED
    assert agent2.cancel() == grpc.StatusCode.CANCELLED

    token = covering_token(server, register(server, customer_id="nt-due-2").consistency_token)
    shown = query_stub(server, kqgrpc.ComplaintQueryServiceStub).GetComplaint(
        kqpb.GetComplaintRequest(name=complaint, consistency_token=token))
    assert shown.resolution_deadline.reminded and shown.resolution_deadline.breached
    assert not shown.response_deadline.reminded
    interactions = query_stub(server, isgrpc.InteractionQueryServiceStub)
    assert interactions.GetInteraction(ispb.GetInteractionRequest(
        name=soon.name, consistency_token=token)).follow_up_reminded
    assert not interactions.GetInteraction(ispb.GetInteractionRequest(
        name=later.name, consistency_token=token)).follow_up_reminded

    # Once each, also after a restart (the watcher scans again) and a refold.
    before = {staff: _listed(server, staff, token=token, page_size=50)
              for staff in (orgtest.AGENT, orgtest.AGENT2)}
    if kafka:
        server.restart("--rebuild")
    else:
        server.restart("--rebuild", *REMINDER_ARGS)
    token = covering_token(server, register(server, customer_id="nt-due-3").consistency_token)
    for staff, listed in before.items():
        assert _listed(server, staff, token=token, page_size=50) == listed, staff


def _check_topic(server, everything: dict, at_least: int = 1) -> None:
    """The outbound topic holds every notification (at least `at_least` times: consumers dedupe
    by id), keyed by the recipient's staff id, with its headers."""
    import kafkatest  # pylint: disable=import-outside-toplevel
    topic = f"{server.topic_prefix}.notifications.v1"

    def published():
        records = kafkatest.read_topic(server.brokers, topic)
        counts: dict[str, int] = {}
        for r in records:
            name = npb.Notification.FromString(r.value).name
            counts[name] = counts.get(name, 0) + 1
        return records if set(counts) == set(everything) and \
            min(counts.values()) >= at_least else None

    records = wait_for(f"every notification in {topic}", published, timeout_s=90)
    for r in records:
        n = npb.Notification.FromString(r.value)
        want = npb.Notification()
        want.CopyFrom(everything[n.name])
        want.ClearField("cursor")
        assert n == want
        assert r.key.decode() == n.recipient.removeprefix("staff/")
        headers = {k: v.decode() for k, v in r.headers}
        assert headers["record-type"] == "crm.v1.Notification"
        assert headers["notification-id"] == n.name.rsplit("/", 1)[1]
        assert headers["reason"] == npb.NotificationReason.Name(n.reason)
