"""Satisfaction surveys end to end, on the embedded engine and on Kafka (proto/crm/v1/README.md,
"Surveys"; docs/analytics.md, "Surveys"): sending by call-back, e-mail and questionnaire,
answers with CSAT and/or NPS, a survey that expires unanswered through the server's deadline
watcher (a short scan interval and a deadline a few seconds ahead, polled for, never slept on),
every refusal (answer twice, answer after expiry, CSAT 0 or 6, NPS 11, neither, unknown customer
or survey), retries with the same request_id, ListSurveys pages and filter (and crmctl survey
list / get), the figures of
AnalyticsService.GetSurveyStats recomputed here from what the test sent, and the same answers
after the views are rebuilt (--rebuild).
"""

from __future__ import annotations

import time

import grpc
import pytest

import orgtest
from test_crmctl import ctl_json, query_process
from crmtest import (assert_error_info, assert_violation, command_stub, expect_error,
                     merge_tokens, new_request_id, purchase, query_stub, register, spb, wait_for)

from crm.v1 import analytics_service_pb2 as apb  # noqa: E402
from crm.v1 import analytics_service_pb2_grpc as agrpc  # noqa: E402
from crm.v1 import complaint_pb2 as kpb  # noqa: E402
from crm.v1 import complaint_service_pb2 as kspb  # noqa: E402
from crm.v1 import complaint_service_pb2_grpc as ksgrpc  # noqa: E402
from crm.v1 import customer_pb2 as cpb  # noqa: E402
from crm.v1 import interaction_pb2 as ipb  # noqa: E402
from crm.v1 import interaction_service_pb2 as isspb  # noqa: E402
from crm.v1 import interaction_service_pb2_grpc as isgrpc  # noqa: E402
from crm.v1 import survey_pb2 as svpb  # noqa: E402
from crm.v1 import survey_service_pb2 as svspb  # noqa: E402
from crm.v1 import survey_service_pb2_grpc as svgrpc  # noqa: E402

pytestmark = pytest.mark.engines("embedded", "kafka")

WATCHER_ARGS = ("--sla-scan-interval", "100ms")


def _start(make_server):
    if make_server.engine == "kafka":
        return make_server(command_args=WATCHER_ARGS)
    return make_server(args=WATCHER_ARGS)


def _rebuild(server) -> None:
    if getattr(server, "engine", "embedded") == "kafka":
        server.restart("--rebuild")
    else:
        server.restart("--rebuild", *WATCHER_ARGS)


class World:
    def __init__(self, server):
        self.server = server
        self.token = ""
        # What the test sent and answered, to recompute the figures: name -> facts.
        self.sent: dict[str, dict] = {}

    def cmd(self):
        return command_stub(self.server, svgrpc.SurveyCommandServiceStub)

    def qry(self):
        return query_stub(self.server, svgrpc.SurveyQueryServiceStub)

    def write(self, resp):
        self.token = merge_tokens(self.token, resp.consistency_token) if self.token \
            else resp.consistency_token
        return resp

    def send(self, parent: str, channel: int, staff_id: str, *, complaint: str = "",
             due_in_s: float | None = None, tier: int = cpb.POTENTIAL_VALUE, request_id: str = ""):
        survey = svpb.Survey(channel=channel, staff_id=staff_id, complaint=complaint)
        if due_in_s is not None:
            survey.answer_due_time.FromNanoseconds(int((time.time() + due_in_s) * 1e9))
        resp = self.write(self.cmd().SendSurvey(svspb.SendSurveyRequest(
            parent=parent, survey=survey, request_id=request_id or new_request_id())))
        s = resp.survey
        self.sent[s.name] = {"staff": staff_id, "channel": channel, "tier": tier,
                             "complaint": bool(complaint), "csat": None, "nps": None,
                             "outcome": "open"}
        return resp

    def answer(self, name: str, csat=None, nps=None, comment: str = "", request_id: str = ""):
        request = svspb.RecordSurveyAnswerRequest(name=name, comment=comment,
                                                  request_id=request_id or new_request_id())
        if csat is not None:
            request.csat = csat
        if nps is not None:
            request.nps = nps
        resp = self.write(self.cmd().RecordSurveyAnswer(request))
        self.sent[name].update(csat=csat, nps=nps, outcome="answered")
        return resp

    def get(self, name: str) -> svpb.Survey:
        return self.qry().GetSurvey(svspb.GetSurveyRequest(name=name,
                                                           consistency_token=self.token))

    def listed(self, parent: str, page_size: int = 1, state: int = 0) -> list[str]:
        names, token = [], ""
        while True:
            resp = self.qry().ListSurveys(svspb.ListSurveysRequest(
                parent=parent, page_size=page_size, page_token=token, state=state,
                consistency_token=self.token))
            names += [s.name for s in resp.surveys]
            token = resp.next_page_token
            if not token:
                return names

    def stats(self) -> apb.SurveyStats:
        return query_stub(self.server, agrpc.AnalyticsServiceStub).GetSurveyStats(
            apb.GetSurveyStatsRequest(consistency_token=self.token))


def _figures(facts: list[dict]) -> dict:
    """The figures of a group, recomputed from what the test sent (docs/analytics.md)."""
    answered = [f for f in facts if f["outcome"] == "answered"]
    expired = sum(1 for f in facts if f["outcome"] == "expired")
    csats = [f["csat"] for f in answered if f["csat"] is not None]
    npss = [f["nps"] for f in answered if f["nps"] is not None]
    promoters = sum(1 for n in npss if n >= 9)
    detractors = sum(1 for n in npss if n <= 6)
    decided = len(answered) + expired
    return {
        "sent": len(facts), "answered": len(answered), "expired": expired,
        "response_rate": len(answered) / decided if decided else 0.0,
        "csat_answers": len(csats), "csat_mean": sum(csats) / len(csats) if csats else 0.0,
        "csat_counts": [csats.count(v) for v in range(1, 6)],
        "nps_answers": len(npss), "promoters": promoters,
        "passives": len(npss) - promoters - detractors, "detractors": detractors,
        "nps": 100.0 * (promoters - detractors) / len(npss) if npss else 0.0,
    }


def _as_dict(f: apb.SurveyFigures) -> dict:
    return {"sent": f.sent, "answered": f.answered, "expired": f.expired,
            "response_rate": pytest.approx(f.response_rate), "csat_answers": f.csat_answers,
            "csat_mean": pytest.approx(f.csat_mean), "csat_counts": list(f.csat_counts),
            "nps_answers": f.nps_answers, "promoters": f.promoters, "passives": f.passives,
            "detractors": f.detractors, "nps": pytest.approx(f.nps)}


def _check_stats(w: World, stats: apb.SurveyStats) -> None:
    facts = list(w.sent.values())
    assert _as_dict(stats.total) == _figures(facts)
    by_staff = {g.staff_id: _as_dict(g.figures) for g in stats.by_staff}
    assert by_staff == {s: _figures([f for f in facts if f["staff"] == s])
                        for s in {f["staff"] for f in facts}}
    # orgtest: the agents are in teams/cs-east of departments/cs; the account manager in
    # departments/sales without a team.
    team_of = {orgtest.AGENT: "teams/cs-east", orgtest.AGENT2: "teams/cs-east"}
    dept_of = {orgtest.AGENT: "departments/cs", orgtest.AGENT2: "departments/cs",
               orgtest.ACCOUNT_MANAGER: "departments/sales"}
    assert {g.team: _as_dict(g.figures) for g in stats.by_team} == {
        t: _figures([f for f in facts if team_of.get(f["staff"]) == t])
        for t in {team_of[f["staff"]] for f in facts if f["staff"] in team_of}}
    assert {g.department: _as_dict(g.figures) for g in stats.by_department} == {
        d: _figures([f for f in facts if dept_of.get(f["staff"]) == d])
        for d in {dept_of[f["staff"]] for f in facts}}
    assert {g.channel: _as_dict(g.figures) for g in stats.by_channel} == {
        c: _figures([f for f in facts if f["channel"] == c]) for c in {f["channel"] for f in facts}}
    assert {g.customer_tier: _as_dict(g.figures) for g in stats.by_customer_tier} == {
        t: _figures([f for f in facts if f["tier"] == t]) for t in {f["tier"] for f in facts}}
    assert {g.followed_complaint: _as_dict(g.figures) for g in stats.by_driver} == {
        d: _figures([f for f in facts if f["complaint"] == d])
        for d in {f["complaint"] for f in facts}}


def test_surveys_end_to_end(make_server):
    # The quarter hour the test starts in: every send, answer and expiry is at or after it.
    started_qh = int(time.time()) // 900 * 900
    server = _start(make_server)
    orgtest.make_org(server)
    w = World(server)
    ann = register(server, customer_id="sv-ann").customer
    bob = register(server, customer_id="sv-bob").customer
    # One purchase: bob is an ORDINARY customer, ann still POTENTIAL_VALUE.
    w.write(server.command.RecordPurchase(spb.RecordPurchaseRequest(
        name=bob.name, purchase=purchase(12_000), request_id=new_request_id())))
    complaint = command_stub(server, ksgrpc.ComplaintCommandServiceStub).FileComplaint(
        kspb.FileComplaintRequest(
            parent=ann.name, request_id=new_request_id(),
            complaint=kpb.Complaint(channel=ipb.PHONE, category=kpb.PRODUCT_QUALITY,
                                    severity=kpb.GENERAL, description="The kettle leaks")))
    w.write(complaint)

    # Sending: every channel, the staff member's place recorded, the default deadline 7 days.
    rid = new_request_id()
    first = w.send(ann.name, svpb.SURVEY_CHANNEL_CALL_BACK, orgtest.AGENT,
                   complaint=complaint.complaint.name, request_id=rid)
    s = first.survey
    assert s.name.startswith(ann.name + "/surveys/")
    assert s.state == svpb.SURVEY_AWAITING_ANSWER and s.customer_tier == cpb.POTENTIAL_VALUE
    assert s.staff.team == "teams/cs-east" and s.staff.department == "departments/cs"
    assert s.answer_due_time.seconds - s.create_time.seconds == 7 * 24 * 3600
    assert first.appended_event_count == 1
    # A retry with the same request_id answers the first answer and sends nothing more.
    again = w.cmd().SendSurvey(svspb.SendSurveyRequest(
        parent=ann.name, request_id=rid,
        survey=svpb.Survey(channel=svpb.SURVEY_CHANNEL_CALL_BACK, staff_id=orgtest.AGENT,
                           complaint=complaint.complaint.name)))
    assert again.survey.name == s.name and again.appended_event_count == 1

    e1 = w.send(ann.name, svpb.SURVEY_CHANNEL_EMAIL, orgtest.AGENT2).survey
    e2 = w.send(bob.name, svpb.SURVEY_CHANNEL_EMAIL, orgtest.ACCOUNT_MANAGER,
                tier=cpb.ORDINARY).survey
    assert e2.customer_tier == cpb.ORDINARY
    q1 = w.send(bob.name, svpb.SURVEY_CHANNEL_QUESTIONNAIRE, orgtest.AGENT, tier=cpb.ORDINARY).survey
    q2 = w.send(bob.name, svpb.SURVEY_CHANNEL_QUESTIONNAIRE, orgtest.AGENT2,
                tier=cpb.ORDINARY).survey
    # One that expires: due a few seconds from now.
    short = w.send(ann.name, svpb.SURVEY_CHANNEL_EMAIL, orgtest.AGENT, due_in_s=3).survey

    # Answers: CSAT and NPS, CSAT only, NPS only (0 is an answer).
    answered = w.answer(s.name, csat=5, nps=10, comment="fixed fast").survey
    assert answered.state == svpb.SURVEY_ANSWERED and answered.csat == 5 and answered.nps == 10
    assert answered.comment == "fixed fast" and answered.etag == "v2"
    w.answer(e1.name, csat=2)
    nps_only = w.answer(e2.name, nps=0).survey
    assert nps_only.HasField("nps") and not nps_only.HasField("csat")
    w.answer(q1.name, csat=4, nps=8)

    # Refusals.
    d = expect_error(grpc.StatusCode.FAILED_PRECONDITION, w.cmd().RecordSurveyAnswer,
                     svspb.RecordSurveyAnswerRequest(name=s.name, csat=1,
                                                     request_id=new_request_id()))
    assert assert_error_info(d).reason == "SURVEY_ALREADY_ANSWERED"
    for fields, bad in (({"csat": 0}, "csat"), ({"csat": 6}, "csat"), ({"nps": 11}, "nps"),
                        ({}, "csat")):
        d = expect_error(grpc.StatusCode.INVALID_ARGUMENT, w.cmd().RecordSurveyAnswer,
                         svspb.RecordSurveyAnswerRequest(name=q2.name, request_id=new_request_id(),
                                                         **fields))
        assert_violation(d, bad)
    d = expect_error(grpc.StatusCode.NOT_FOUND, w.cmd().SendSurvey, svspb.SendSurveyRequest(
        parent="customers/sv-nobody", request_id=new_request_id(),
        survey=svpb.Survey(channel=svpb.SURVEY_CHANNEL_EMAIL, staff_id=orgtest.AGENT)))
    assert assert_error_info(d).reason == "CUSTOMER_NOT_FOUND"
    d = expect_error(grpc.StatusCode.NOT_FOUND, w.cmd().RecordSurveyAnswer,
                     svspb.RecordSurveyAnswerRequest(name=ann.name + "/surveys/none", csat=3,
                                                     request_id=new_request_id()))
    assert assert_error_info(d).reason == "SURVEY_NOT_FOUND"
    d = expect_error(grpc.StatusCode.INVALID_ARGUMENT, w.cmd().SendSurvey,
                     svspb.SendSurveyRequest(parent=ann.name, request_id=new_request_id(),
                                             survey=svpb.Survey(staff_id=orgtest.AGENT)))
    assert_violation(d, "survey.channel")

    # The deadline watcher expires the short survey; it is then closed to answers.
    expired = wait_for("the survey to expire", lambda: (
        lambda got: got if got.state == svpb.SURVEY_EXPIRED else None)(w.get(short.name)),
        timeout_s=60)
    assert expired.version == 2 and not expired.HasField("csat")
    w.sent[short.name]["outcome"] = "expired"
    d = expect_error(grpc.StatusCode.FAILED_PRECONDITION, w.cmd().RecordSurveyAnswer,
                     svspb.RecordSurveyAnswerRequest(name=short.name, csat=5,
                                                     request_id=new_request_id()))
    assert assert_error_info(d).reason == "SURVEY_EXPIRED"
    # Not twice: a survey sent after the expiry is seen by a later scan of the watcher (it
    # expires too), and by then the first one still has its one SurveyExpired.
    later = w.send(ann.name, svpb.SURVEY_CHANNEL_EMAIL, orgtest.AGENT, due_in_s=1).survey
    wait_for("the second survey to expire",
             lambda: w.get(later.name).state == svpb.SURVEY_EXPIRED, timeout_s=60)
    w.sent[later.name]["outcome"] = "expired"
    assert w.get(short.name).version == 2

    # On ann's timeline: each send, answer and expiry, newest first, the text in the language
    # asked for.
    timeline = query_stub(server, isgrpc.InteractionQueryServiceStub).GetCustomerTimeline(
        isspb.GetCustomerTimelineRequest(parent=ann.name, kinds=[isspb.TIMELINE_SURVEY],
                                         consistency_token=w.token, language_code="zh-CN"))
    assert timeline.language_code == "zh"
    got = [(e.resource, e.event.WhichOneof("payload")) for e in timeline.entries]
    assert sorted(got) == sorted(
        [(n, "survey_sent") for n in (s.name, e1.name, short.name, later.name)]
        + [(s.name, "survey_answered"), (e1.name, "survey_answered"),
           (short.name, "survey_expired"), (later.name, "survey_expired")]), got
    times = [e.time.ToNanoseconds() for e in timeline.entries]
    assert times == sorted(times, reverse=True)
    text = {(e.resource, e.event.WhichOneof("payload")): e.summary for e in timeline.entries}
    assert text[(s.name, "survey_answered")] == "调查已答复：满意度 5/5、推荐度 10/10：fixed fast"
    assert text[(s.name, "survey_sent")].startswith(f"{orgtest.AGENT} 发送满意度调查（电话回访）")
    assert text[(short.name, "survey_expired")].startswith("调查过期未答复")

    # Lists: pages of one, a state filter, unknown customer.
    assert w.listed(ann.name) == sorted([s.name, e1.name, short.name, later.name])
    assert w.listed(bob.name, page_size=2) == sorted([e2.name, q1.name, q2.name])
    assert w.listed(bob.name, state=svpb.SURVEY_AWAITING_ANSWER) == [q2.name]
    assert w.listed(ann.name, state=svpb.SURVEY_EXPIRED) == sorted([short.name, later.name])
    expect_error(grpc.StatusCode.NOT_FOUND, w.qry().ListSurveys,
                 svspb.ListSurveysRequest(parent="customers/sv-nobody",
                                          consistency_token=w.token))

    # The figures, recomputed here.
    stats = w.stats()
    _check_stats(w, stats)
    assert stats.total.sent == 7 and stats.total.answered == 4 and stats.total.expired == 2
    assert stats.total.nps == pytest.approx(100.0 * (1 - 1) / 3)

    # Windows (docs/analytics.md, "Surveys"): each count at its own time. Everything happened
    # since the test's quarter hour: a window from it holds every figure; one ending there none.
    def windowed(start_s=None, end_s=None, time_zone=""):
        interval = apb.TimeInterval()
        if start_s is not None:
            interval.start_time.FromSeconds(start_s)
        if end_s is not None:
            interval.end_time.FromSeconds(end_s)
        return query_stub(server, agrpc.AnalyticsServiceStub).GetSurveyStats(
            apb.GetSurveyStatsRequest(consistency_token=w.token, interval=interval,
                                      time_zone=time_zone))
    assert windowed(started_qh, (int(time.time()) // 900 + 1) * 900,
                    time_zone="Asia/Kathmandu") == stats
    assert windowed(start_s=started_qh) == stats
    empty = windowed(end_s=started_qh)
    assert empty.total.sent == 0 and empty.total.answered == 0 and not empty.by_staff
    assert list(empty.total.csat_counts) == [0] * 5
    e = expect_error(grpc.StatusCode.INVALID_ARGUMENT,
                     query_stub(server, agrpc.AnalyticsServiceStub).GetSurveyStats,
                     apb.GetSurveyStatsRequest(interval=apb.TimeInterval(
                         end_time={"seconds": started_qh + 60})))
    assert_violation(e, "interval.end_time")
    e = expect_error(grpc.StatusCode.INVALID_ARGUMENT,
                     query_stub(server, agrpc.AnalyticsServiceStub).GetSurveyStats,
                     apb.GetSurveyStatsRequest(time_zone="Mars/Olympus"))
    assert_violation(e, "time_zone")

    # crmctl reads them too.
    rows = ctl_json(query_process(server), "survey", "list", "sv-ann", "--state", "EXPIRED")
    assert [r["name"] for r in rows] == sorted([short.name, later.name])
    rows = ctl_json(query_process(server), "survey", "get", s.name.removeprefix("customers/")
                    .replace("/surveys/", "/"))
    assert rows[0]["csat"] == 5 and rows[0]["state"] == "SURVEY_ANSWERED"

    # The same after the views are rebuilt from the log.
    before = (stats, [w.get(n) for n in sorted(w.sent)], w.listed(ann.name), w.listed(bob.name))
    _rebuild(server)
    after = (w.stats(), [w.get(n) for n in sorted(w.sent)], w.listed(ann.name),
             w.listed(bob.name))
    assert after == before
