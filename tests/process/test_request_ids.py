"""One request-id rule for every service (proto/crm/v1/README.md, "Request ids and command
answers"): a retry answers exactly as the first call, appended_event_count included; the same id
on another request is refused with ALREADY_EXISTS / REQUEST_ID_REUSED and changes nothing."""

from __future__ import annotations

import grpc

import orgtest
from crmtest import (assert_error_info, command_stub, expect_error, new_request_id, purchase,
                     register, spb)
from crm.v1 import complaint_pb2 as kpb  # noqa: E402
from crm.v1 import complaint_service_pb2 as kspb  # noqa: E402
from crm.v1 import complaint_service_pb2_grpc as ksgrpc  # noqa: E402
from crm.v1 import interaction_pb2 as ipb  # noqa: E402


def _reused(d) -> None:
    info = assert_error_info(d)
    assert info.reason == "REQUEST_ID_REUSED", info


def test_a_request_id_reused_on_another_customer_is_refused(server):
    a = register(server, customer_id="rid-a").customer
    b = register(server, customer_id="rid-b").customer
    rid = new_request_id()
    first = server.command.TagCustomer(spb.TagCustomerRequest(name=a.name, tag="vip",
                                                              request_id=rid))
    d = expect_error(grpc.StatusCode.ALREADY_EXISTS, server.command.TagCustomer,
                     spb.TagCustomerRequest(name=b.name, tag="vip", request_id=rid))
    _reused(d)
    assert assert_error_info(d).metadata["aggregate"] == a.name
    # b was never tagged; a retry of the first call still answers as it did.
    tagged_b = server.command.TagCustomer(spb.TagCustomerRequest(name=b.name, tag="other",
                                                                 request_id=new_request_id()))
    assert list(tagged_b.customer.tags) == ["other"]
    again = server.command.TagCustomer(spb.TagCustomerRequest(name=a.name, tag="vip",
                                                              request_id=rid))
    assert again == first


def test_untag_reusing_a_tag_request_id_is_refused_and_untags_nothing(server):
    a = register(server, customer_id="rid-c").customer
    rid = new_request_id()
    server.command.TagCustomer(spb.TagCustomerRequest(name=a.name, tag="vip", request_id=rid))
    d = expect_error(grpc.StatusCode.ALREADY_EXISTS, server.command.UntagCustomer,
                     spb.UntagCustomerRequest(name=a.name, tag="vip", request_id=rid))
    _reused(d)
    untagged = server.command.UntagCustomer(spb.UntagCustomerRequest(
        name=a.name, tag="vip", request_id=new_request_id()))
    assert list(untagged.customer.tags) == [] and untagged.appended_event_count == 1


def test_a_retry_answers_the_first_calls_appended_event_count(server):
    orgtest.make_org(server)
    a = register(server, customer_id="rid-d").customer
    rid = new_request_id()
    req = spb.RecordPurchaseRequest(name=a.name, purchase=purchase(1200), request_id=rid)
    first = server.command.RecordPurchase(req)
    again = server.command.RecordPurchase(req)
    assert first.appended_event_count == 1
    assert again == first

    complaints = command_stub(server, ksgrpc.ComplaintCommandServiceStub)
    file = kspb.FileComplaintRequest(
        parent=a.name, request_id=new_request_id(),
        complaint=kpb.Complaint(channel=ipb.PHONE, category=kpb.PRODUCT_QUALITY,
                                severity=kpb.GENERAL, description="late"))
    filed = complaints.FileComplaint(file)
    refiled = complaints.FileComplaint(file)
    assert filed.appended_event_count == 1
    assert refiled == filed
