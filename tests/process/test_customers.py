"""Register, read back, conditional updates (etags) and retries (request ids)."""

from __future__ import annotations

from google.protobuf import field_mask_pb2

import crmtest
import orgtest
from crmtest import (assert_error_info, cpb, expect_error, grpc, history, new_request_id,
                     register, spb)
from crm.events.v1 import customer_events_pb2 as cev  # noqa: E402  (stubs: crmtest)


def test_register_then_get_returns_the_same_fields(server):
    resp = register(server, customer_id="acme-001", display_name="ACME 客户 Ltd", kind=cpb.COMPANY,
                    emails=["Sales@Acme.Example.com"], phones=["+86 138-0013-8000"],
                    region="East China", industry="Manufacturing",
                    acquisition_source=cpb.REFERRAL, attributes={"size": "large", "vip": "yes"})
    c = resp.customer
    assert c.name == "customers/acme-001"
    assert c.version == 1
    assert c.etag == "v1"
    assert resp.appended_event_count == 1
    assert resp.consistency_token
    assert c.display_name == "ACME 客户 Ltd"
    assert c.kind == cpb.COMPANY
    assert list(c.emails) == ["sales@acme.example.com"]  # lower-cased
    assert list(c.phones) == ["+8613800138000"]  # normalized
    assert c.region == "East China" and c.industry == "Manufacturing"
    assert c.acquisition_source == cpb.REFERRAL
    assert dict(c.attributes) == {"size": "large", "vip": "yes"}
    assert c.lifecycle_stage == cpb.POTENTIAL  # the default first stage
    assert c.HasField("create_time") and c.HasField("update_time")

    got = server.query.GetCustomer(spb.GetCustomerRequest(
        name=c.name, consistency_token=resp.consistency_token))
    assert got == c, f"GetCustomer differs from the command's answer:\n{got}\nvs\n{c}"


def test_register_generates_an_id_when_none_is_given(server):
    a = register(server).customer
    b = register(server).customer
    assert a.name.startswith("customers/") and len(a.name) > len("customers/")
    assert a.name != b.name


def test_get_unknown_customer_is_not_found(server):
    expect_error(grpc.StatusCode.NOT_FOUND, server.query.GetCustomer,
                 spb.GetCustomerRequest(name="customers/nobody-here"))


def test_register_with_a_taken_id_is_already_exists(server):
    register(server, customer_id="taken")
    d = expect_error(grpc.StatusCode.ALREADY_EXISTS, register, server, customer_id="taken",
                     display_name="Someone else")
    assert assert_error_info(d).reason == "CUSTOMER_ALREADY_EXISTS", f"{d}"


def test_history_pages(server):
    c = register(server, customer_id="long-history").customer
    last = None
    for i in range(129):
        last = _update(server, c.name, f"Name {i}")
    assert last.customer.version == 130
    first_page = server.query.GetCustomerHistory(spb.GetCustomerHistoryRequest(
        name=c.name, consistency_token=last.consistency_token))
    assert len(first_page.events) == 100 and first_page.next_page_token  # the default size
    paged = history(server, c.name, last.consistency_token, page_size=7)
    assert [e.aggregate_version for e in paged] == list(range(1, 131))
    assert [e.customer_profile_updated.profile.display_name for e in paged[1:]] == [
        f"Name {i}" for i in range(129)]
    assert list(paged[-1].customer_profile_updated.changed_paths) == ["display_name"]


def _update(server, name, display_name, etag="", request_id=None):
    return server.command.UpdateCustomer(spb.UpdateCustomerRequest(
        customer=cpb.Customer(name=name, display_name=display_name),
        update_mask=field_mask_pb2.FieldMask(paths=["display_name"]),
        etag=etag, request_id=new_request_id() if request_id is None else request_id))


def test_update_with_current_etag_applies_and_stale_etag_is_aborted(server):
    first = register(server, customer_id="etag-1").customer
    updated = _update(server, first.name, "Renamed", etag=first.etag)
    assert updated.customer.version == 2
    assert updated.customer.etag == "v2"
    assert updated.customer.display_name == "Renamed"
    assert updated.appended_event_count == 1

    d = expect_error(grpc.StatusCode.ABORTED, _update, server, first.name, "Stale",
                     etag=first.etag)
    info = assert_error_info(d)
    assert info.reason == "ETAG_MISMATCH", f"{d}"
    assert (info.metadata.get("etag"), info.metadata.get("current_etag")) == ("v1", "v2"), f"{d}"
    # Also for a command that would change nothing.
    expect_error(grpc.StatusCode.ABORTED, _update, server, first.name, "Renamed", etag="v1")
    expect_error(grpc.StatusCode.ABORTED, server.command.ChangeLifecycleStage,
                 spb.ChangeLifecycleStageRequest(name=first.name, lifecycle_stage=cpb.FIRST_CONTACT,
                                                 etag=first.etag, request_id=new_request_id()))
    after = server.query.GetCustomer(spb.GetCustomerRequest(
        name=first.name, consistency_token=updated.consistency_token))
    assert after.version == 2 and after.display_name == "Renamed"
    assert len(history(server, first.name, updated.consistency_token)) == 2


def test_update_that_changes_nothing_appends_nothing(server):
    first = register(server, customer_id="same-1", display_name="Same").customer
    resp = _update(server, first.name, "Same")
    assert resp.appended_event_count == 0
    assert resp.customer.version == 1
    assert len(history(server, first.name, resp.consistency_token)) == 1


def _events_with_request_id(server, name, request_id, token):
    return [e for e in history(server, name, token) if e.request_id == request_id]


def test_register_retry_with_same_request_id_returns_the_first_answer(make_server):
    server = make_server()
    rid = new_request_id()
    # No customer_id: the generated id must be the same on the retry.
    req = spb.RegisterCustomerRequest(customer=cpb.Customer(display_name="Retry Me",
                                                            kind=cpb.PERSON), request_id=rid)
    first = server.command.RegisterCustomer(req)
    again = server.command.RegisterCustomer(req)
    assert again.customer.name == first.customer.name
    assert again.customer.version == first.customer.version == 1
    assert again.consistency_token == first.consistency_token
    events = _events_with_request_id(server, first.customer.name, rid, first.consistency_token)
    assert len(events) == 1, f"expected one event for request {rid}, got {events}"
    assert len(server.query.ListCustomers(spb.ListCustomersRequest(
        consistency_token=again.consistency_token)).customers) == 1

    # Also after a restart.
    server.restart()
    third = server.command.RegisterCustomer(req)
    assert third.customer.name == first.customer.name
    assert third.customer.version == 1
    assert third.consistency_token == first.consistency_token
    events = _events_with_request_id(server, first.customer.name, rid, third.consistency_token)
    assert len(events) == 1, f"after restart: expected one event for request {rid}, got {events}"


def test_update_retry_with_same_request_id_returns_the_first_answer(make_server):
    server = make_server()
    c = register(server, customer_id="upd-retry").customer
    rid = new_request_id()
    first = _update(server, c.name, "Second Name", request_id=rid)
    assert first.customer.version == 2
    again = _update(server, c.name, "Second Name", request_id=rid)
    assert again.customer.version == first.customer.version
    assert again.customer.name == first.customer.name
    assert again.consistency_token == first.consistency_token

    # A later change does not alter what the retry answers.
    later = _update(server, c.name, "Third Name")
    assert later.customer.version == 3
    third = _update(server, c.name, "Second Name", request_id=rid)
    assert third.customer.version == 2, "a retry must return the first answer, not a new one"
    assert third.consistency_token == first.consistency_token

    server.restart()
    fourth = _update(server, c.name, "Second Name", request_id=rid)
    assert fourth.customer.version == 2
    assert fourth.consistency_token == first.consistency_token

    events = _events_with_request_id(server, c.name, rid, later.consistency_token)
    assert len(events) == 1, f"expected one event for request {rid}, got {events}"
    assert events[0].aggregate_version == 2
    now = server.query.GetCustomer(spb.GetCustomerRequest(
        name=c.name, consistency_token=later.consistency_token))
    assert now.version == 3 and now.display_name == "Third Name"


def test_history_records_each_command(server):
    orgtest.make_org(server)
    c = register(server, customer_id="hist-1").customer
    server.command.AssignOwner(spb.AssignOwnerRequest(name=c.name, owner=orgtest.ACCOUNT_MANAGER,
                                                      request_id=new_request_id()))
    server.command.TagCustomer(spb.TagCustomerRequest(name=c.name, tag="VIP",
                                                      request_id=new_request_id()))
    resp = server.command.ChangeLifecycleStage(spb.ChangeLifecycleStageRequest(
        name=c.name, lifecycle_stage=cpb.FIRST_CONTACT, reason="called",
        request_id=new_request_id()))
    assert resp.customer.version == 4
    assert resp.customer.owner == orgtest.ACCOUNT_MANAGER
    assert resp.customer.department == "departments/sales"  # from the org, not the caller
    assert list(resp.customer.tags) == ["vip"]
    events = history(server, c.name, resp.consistency_token)
    assert [e.aggregate_version for e in events] == [1, 2, 3, 4]
    assert [e.WhichOneof("payload") for e in events] == [
        "customer_registered", "owner_assigned", "customer_tagged", "lifecycle_stage_changed"]
    assert [e.event_type for e in events] == [
        "crm.events.v1.CustomerRegistered", "crm.events.v1.OwnerAssigned",
        "crm.events.v1.CustomerTagged", "crm.events.v1.LifecycleStageChanged"]
    assert all(e.customer_id == "hist-1" for e in events)
    assert len({e.event_id for e in events}) == 4
    # The caller: the token's subject with the suite's security on (crmtest.suite_actor).
    assert {e.actor for e in events} == {crmtest.suite_actor()}
    change = events[3].lifecycle_stage_changed
    assert (change.from_stage, change.to_stage, change.reason) == (
        cev.POTENTIAL, cev.FIRST_CONTACT, "called")
