"""Improvement actions (proto/crm/v1/README.md, "Improvement actions") on both engines: raised
from a root cause with the complaints they address, more complaints linked, done or cancelled;
the list with its filters and pages; bad input, unknown references, stale etags, changes to a
closed action, retried request ids; and the same answers after the views are rebuilt
(--rebuild)."""

from __future__ import annotations

import pytest

import crmtest
import orgtest
from crmtest import (assert_violation, command_stub, expect_error, grpc, new_request_id,
                     query_stub)

from crm.v1 import complaint_pb2 as kpb  # noqa: E402
from crm.v1 import complaint_service_pb2 as kspb  # noqa: E402
from crm.v1 import complaint_service_pb2_grpc as ksgrpc  # noqa: E402
from crm.v1 import improvement_pb2 as impb  # noqa: E402
from crm.v1 import interaction_pb2 as ipb  # noqa: E402
from crm.v1 import org_service_pb2_grpc as osgrpc  # noqa: E402

pytestmark = pytest.mark.engines("embedded", "kafka")


class World:
    def __init__(self, server):
        self.server = server
        self.token = orgtest.make_org(server)
        self.complaints: list[str] = []

    @property
    def org(self):
        return command_stub(self.server, osgrpc.OrgServiceStub)

    @property
    def orgq(self):
        return query_stub(self.server, osgrpc.OrgQueryServiceStub)

    def write(self, resp):
        self.token = crmtest.merge_tokens(self.token, resp.consistency_token)
        return resp

    def complaint(self, customer_id: str) -> str:
        if not customer_id.startswith("imp-"):
            raise ValueError(customer_id)
        try:
            self.write(crmtest.register(self.server, customer_id=customer_id))
        except grpc.RpcError as err:
            assert err.code() == grpc.StatusCode.ALREADY_EXISTS
        resp = self.write(command_stub(self.server, ksgrpc.ComplaintCommandServiceStub)
                          .FileComplaint(kspb.FileComplaintRequest(
                              parent=f"customers/{customer_id}", request_id=new_request_id(),
                              complaint=kpb.Complaint(channel=ipb.PHONE, category=kpb.LOGISTICS,
                                                      severity=kpb.GENERAL,
                                                      description="Late again"))))
        self.complaints.append(resp.complaint.name)
        return resp.complaint.name

    def raise_action(self, title: str, cause: int, owner: str = orgtest.SUPERVISOR,
                     complaints=(), **fields):
        return self.write(self.org.RaiseImprovementAction(impb.RaiseImprovementActionRequest(
            request_id=fields.pop("request_id", new_request_id()),
            improvement_action_id=fields.pop("improvement_action_id", ""),
            improvement_action=impb.ImprovementAction(
                title=title, root_cause=cause, owner=owner, complaints=list(complaints),
                **fields))))

    def get(self, name: str) -> impb.ImprovementAction:
        return self.orgq.GetImprovementAction(impb.GetImprovementActionRequest(
            name=name, consistency_token=self.token))

    def listed(self, page_size: int = 1000, **filters) -> list[str]:
        names, token = [], ""
        while True:
            resp = self.orgq.ListImprovementActions(impb.ListImprovementActionsRequest(
                page_size=page_size, page_token=token, consistency_token=self.token, **filters))
            assert len(resp.improvement_actions) <= page_size
            names += [a.name for a in resp.improvement_actions]
            token = resp.next_page_token
            if not token:
                return names


@pytest.fixture(scope="module")
def world(module_server):
    return World(module_server)


def test_raise_link_and_complete(world):
    w = world
    c1, c2, c3 = w.complaint("imp-a"), w.complaint("imp-a"), w.complaint("imp-b")
    rid = new_request_id()
    raised = w.raise_action("Second courier for the south", kpb.DELIVERY_DELAY,
                            complaints=[c1], improvement_action_id="courier", request_id=rid)
    a = raised.improvement_action
    assert (a.name, a.state, a.etag, list(a.complaints)) == (
        "improvementActions/courier", impb.IMPROVEMENT_OPEN, "v1", [c1])
    assert raised.appended_event_count == 1
    again = w.raise_action("Second courier for the south", kpb.DELIVERY_DELAY, complaints=[c1],
                           improvement_action_id="courier", request_id=rid)
    assert again.improvement_action == a, "a retried request id answers the first answer"
    assert w.get(a.name) == a

    linked = w.write(w.org.LinkImprovementComplaints(impb.LinkImprovementComplaintsRequest(
        name=a.name, complaints=[c1, c2, c3], request_id=new_request_id(), etag="v1")))
    assert list(linked.improvement_action.complaints) == [c1, c2, c3]
    same = w.write(w.org.LinkImprovementComplaints(impb.LinkImprovementComplaintsRequest(
        name=a.name, complaints=[c2], request_id=new_request_id())))
    assert same.appended_event_count == 0 and same.improvement_action.etag == "v2"

    d = expect_error(grpc.StatusCode.ABORTED, w.org.CompleteImprovementAction,
                     impb.CompleteImprovementActionRequest(name=a.name, outcome="Done",
                                                           etag="v1",
                                                           request_id=new_request_id()))
    done = w.write(w.org.CompleteImprovementAction(impb.CompleteImprovementActionRequest(
        name=a.name, outcome="Contracted a second courier", etag="v2",
        request_id=new_request_id())))
    got = w.get(a.name)
    assert got == done.improvement_action
    assert (got.state, got.outcome, got.version) == (
        impb.IMPROVEMENT_DONE, "Contracted a second courier", 3)
    assert got.close_time.seconds > 0

    for call, request in [
            (w.org.CompleteImprovementAction,
             impb.CompleteImprovementActionRequest(name=a.name, outcome="again")),
            (w.org.CancelImprovementAction, impb.CancelImprovementActionRequest(name=a.name)),
            (w.org.LinkImprovementComplaints,
             impb.LinkImprovementComplaintsRequest(name=a.name, complaints=[c1]))]:
        d = expect_error(grpc.StatusCode.FAILED_PRECONDITION, call, request)
        assert crmtest.assert_error_info(d).reason == "IMPROVEMENT_ACTION_CLOSED"


def test_cancel_and_list_filters(world):
    w = world
    c = w.complaint("imp-c")
    w.raise_action("Retrain the night shift", kpb.STAFF_BEHAVIOUR, owner=orgtest.MANAGER,
                   improvement_action_id="retrain", complaints=[c])
    w.raise_action("Check the invoice template", kpb.BILLING_ERROR,
                   improvement_action_id="invoice")
    cancelled = w.write(w.org.CancelImprovementAction(impb.CancelImprovementActionRequest(
        name="improvementActions/invoice", reason="The template was replaced anyway",
        request_id=new_request_id())))
    assert cancelled.improvement_action.state == impb.IMPROVEMENT_CANCELLED
    assert cancelled.improvement_action.outcome == "The template was replaced anyway"
    generated = w.raise_action("Package with more padding", kpb.PRODUCT_DEFECT)
    gen_name = generated.improvement_action.name
    assert gen_name.startswith("improvementActions/")

    everything = w.listed()
    assert everything == sorted(everything) and set(everything) >= {
        "improvementActions/courier", "improvementActions/retrain", "improvementActions/invoice",
        gen_name}
    assert w.listed(page_size=1) == everything, "pages of one cover the same list"
    assert w.listed(state=impb.IMPROVEMENT_OPEN) == sorted(
        ["improvementActions/retrain", gen_name])
    assert w.listed(state=impb.IMPROVEMENT_CANCELLED) == ["improvementActions/invoice"]
    assert w.listed(root_cause=kpb.STAFF_BEHAVIOUR) == ["improvementActions/retrain"]
    assert w.listed(owner=orgtest.MANAGER) == ["improvementActions/retrain"]
    assert w.listed(owner=orgtest.SUPERVISOR, state=impb.IMPROVEMENT_DONE) == [
        "improvementActions/courier"]
    assert w.listed(owner="nobody-here") == []


def test_bad_input_and_unknown_references(world):
    w = world
    d = expect_error(grpc.StatusCode.INVALID_ARGUMENT, w.org.RaiseImprovementAction,
                     impb.RaiseImprovementActionRequest(
                         improvement_action_id="Bad Id",
                         improvement_action=impb.ImprovementAction(
                             owner="x", complaints=["complaints/c1"],
                             state=impb.IMPROVEMENT_DONE)))
    for field in ("improvement_action_id", "improvement_action.title",
                  "improvement_action.root_cause", "improvement_action.complaints[0]",
                  "improvement_action.state"):
        assert_violation(d, field)
    d = expect_error(grpc.StatusCode.NOT_FOUND, w.raise_action, "Who?", kpb.PROCESS_GAP,
                     owner="nobody-here")
    assert crmtest.assert_error_info(d).reason == "STAFF_NOT_FOUND"
    d = expect_error(grpc.StatusCode.NOT_FOUND, w.raise_action, "Which?", kpb.PROCESS_GAP,
                     complaints=[w.complaints[0], "customers/imp-a/complaints/never"])
    info = crmtest.assert_error_info(d)
    assert info.reason == "COMPLAINT_NOT_FOUND"
    assert info.metadata["field"] == "improvement_action.complaints[1]"
    d = expect_error(grpc.StatusCode.ALREADY_EXISTS, w.raise_action, "Again", kpb.PROCESS_GAP,
                     improvement_action_id="courier")
    d = expect_error(grpc.StatusCode.NOT_FOUND, w.orgq.GetImprovementAction,
                     impb.GetImprovementActionRequest(name="improvementActions/never"))
    assert crmtest.assert_error_info(d).reason == "IMPROVEMENT_ACTION_NOT_FOUND"
    d = expect_error(grpc.StatusCode.INVALID_ARGUMENT, w.orgq.ListImprovementActions,
                     impb.ListImprovementActionsRequest(root_cause=99))
    assert_violation(d, "root_cause")
    d = expect_error(grpc.StatusCode.INVALID_ARGUMENT, w.orgq.ListImprovementActions,
                     impb.ListImprovementActionsRequest(page_token="garbage"))
    assert_violation(d, "page_token")


def _answers(w: World) -> list[bytes]:
    return [w.get(name).SerializeToString(deterministic=True) for name in w.listed()]


def test_the_same_answers_after_a_rebuild(world):
    """Last in this module: restarts the server."""
    w = world
    w.token = crmtest.covering_token(w.server, w.token)
    before = _answers(w)
    assert len(before) >= 4
    w.server.restart("--rebuild")
    assert _answers(w) == before
