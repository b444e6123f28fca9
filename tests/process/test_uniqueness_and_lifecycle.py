"""Unique e-mails, finding customers by e-mail and phone, and lifecycle moves."""

from __future__ import annotations

from google.protobuf import field_mask_pb2

from crmtest import (assert_error_info, cpb, expect_error, grpc, history, merge_tokens,
                     new_request_id, purchase, register, spb)
from crm.events.v1 import customer_events_pb2 as cev  # noqa: E402  (stubs: crmtest)


def test_duplicate_email_is_already_exists_naming_the_first_customer(server):
    first = register(server, customer_id="first", emails=["Ann.Lee@Example.com"])
    d = expect_error(grpc.StatusCode.ALREADY_EXISTS, register, server, customer_id="second",
                     emails=["other@example.com", "ann.lee@example.COM"])
    info = assert_error_info(d)
    assert info.reason == "EMAIL_TAKEN", f"{d}"
    assert info.metadata.get("existing_customer") == first.customer.name, f"{d}"
    assert info.metadata.get("email") == "ann.lee@example.com", f"{d}"

    # Nothing of the second was recorded.
    expect_error(grpc.StatusCode.NOT_FOUND, server.query.GetCustomer,
                 spb.GetCustomerRequest(name="customers/second",
                                        consistency_token=first.consistency_token))

    # Nor may an update take the e-mail.
    other = register(server, customer_id="third", emails=["third@example.com"])
    d = expect_error(grpc.StatusCode.ALREADY_EXISTS, server.command.UpdateCustomer,
                     spb.UpdateCustomerRequest(
                         customer=cpb.Customer(name=other.customer.name,
                                               emails=["ANN.LEE@example.com"]),
                         update_mask=field_mask_pb2.FieldMask(paths=["emails"]),
                         request_id=new_request_id()))
    assert assert_error_info(d).metadata.get("existing_customer") == first.customer.name


def test_email_is_free_again_after_the_owner_drops_it(server):
    a = register(server, customer_id="a-1", emails=["moving@example.com"]).customer
    server.command.UpdateCustomer(spb.UpdateCustomerRequest(
        customer=cpb.Customer(name=a.name, emails=["new@example.com"]),
        update_mask=field_mask_pb2.FieldMask(paths=["emails"]), request_id=new_request_id()))
    b = register(server, customer_id="b-1", emails=["moving@example.com"])
    assert list(b.customer.emails) == ["moving@example.com"]


def test_find_customers_by_email_and_by_phone(server):
    a = register(server, customer_id="find-a", emails=["Zhang.Wei@Example.cn"],
                 phones=["+86 138-0013-8000"])
    b = register(server, customer_id="find-b", emails=["li.na@example.cn"],
                 phones=["+86 139 0000 1111"])
    register(server, customer_id="find-c", phones=["+86 139.0000.1111"])  # same phone as b
    tagged = server.command.TagCustomer(spb.TagCustomerRequest(
        name="customers/find-c", tag="x", request_id=new_request_id()))
    # On Kafka the three customers may sit in different partitions: wait for all three writes.
    token = merge_tokens(a.consistency_token, b.consistency_token, tagged.consistency_token)

    def find(**kw):
        resp = server.query.FindCustomers(spb.FindCustomersRequest(consistency_token=token, **kw))
        return sorted(c.name for c in resp.customers)

    assert find(email="zhang.wei@example.cn") == [a.customer.name]
    assert find(email="ZHANG.WEI@EXAMPLE.CN") == [a.customer.name]
    assert find(email="li.na@example.cn") == [b.customer.name]
    assert find(email="nobody@example.cn") == []
    assert find(phone="+8613800138000") == [a.customer.name]
    assert find(phone="+86 138 0013 8000") == [a.customer.name]
    assert find(phone="+8613900001111") == ["customers/find-b", "customers/find-c"]
    assert find(phone="+8612345678") == []


def _move(server, name, stage, etag=""):
    return server.command.ChangeLifecycleStage(spb.ChangeLifecycleStageRequest(
        name=name, lifecycle_stage=stage, reason="test", etag=etag, request_id=new_request_id()))


def test_lifecycle_moves_forward_one_step(server):
    c = register(server, customer_id="life-1").customer
    assert c.lifecycle_stage == cpb.POTENTIAL
    order = [cpb.FIRST_CONTACT, cpb.NEED_CONFIRMED, cpb.PURCHASE_DECISION, cpb.AFTER_SALES,
             cpb.LOYAL]
    resp = None
    for i, stage in enumerate(order):
        resp = _move(server, c.name, stage)
        assert resp.customer.lifecycle_stage == stage
        assert resp.customer.version == i + 2
        assert resp.appended_event_count == 1
    got = server.query.GetCustomer(spb.GetCustomerRequest(
        name=c.name, consistency_token=resp.consistency_token))
    assert got.lifecycle_stage == cpb.LOYAL
    changes = [e.lifecycle_stage_changed for e in history(server, c.name, resp.consistency_token)
               if e.HasField("lifecycle_stage_changed")]
    assert [(x.from_stage, x.to_stage) for x in changes] == list(
        zip([cpb.POTENTIAL] + order[:-1], order))


def test_lifecycle_stage_skip_is_failed_precondition(server):
    c = register(server, customer_id="life-2")
    d = expect_error(grpc.StatusCode.FAILED_PRECONDITION, _move, server, c.customer.name,
                     cpb.NEED_CONFIRMED)
    info = assert_error_info(d)
    assert info.reason == "TRANSITION_NOT_ALLOWED", f"{d}"
    assert (info.metadata.get("from"), info.metadata.get("to")) == (
        "POTENTIAL", "NEED_CONFIRMED"), f"{d}"
    expect_error(grpc.StatusCode.FAILED_PRECONDITION, _move, server, c.customer.name, cpb.LOYAL)
    ok = _move(server, c.customer.name, cpb.FIRST_CONTACT)
    # Backwards is not a move either.
    expect_error(grpc.StatusCode.FAILED_PRECONDITION, _move, server, c.customer.name,
                 cpb.POTENTIAL)
    got = server.query.GetCustomer(spb.GetCustomerRequest(
        name=c.customer.name, consistency_token=ok.consistency_token))
    assert got.lifecycle_stage == cpb.FIRST_CONTACT and got.version == 2
    assert len(history(server, c.customer.name, ok.consistency_token)) == 2


def test_churned_customer_is_won_back_to_first_contact_only(server):
    c = register(server, customer_id="life-3").customer
    _move(server, c.name, cpb.FIRST_CONTACT)
    churned = _move(server, c.name, cpb.CHURNED)
    assert churned.customer.lifecycle_stage == cpb.CHURNED
    expect_error(grpc.StatusCode.FAILED_PRECONDITION, _move, server, c.name, cpb.NEED_CONFIRMED)
    back = _move(server, c.name, cpb.FIRST_CONTACT)
    assert back.customer.lifecycle_stage == cpb.FIRST_CONTACT


def test_allowed_steps_back_and_churn_from_anywhere(server):
    c = register(server, customer_id="life-4").customer
    for stage in (cpb.FIRST_CONTACT, cpb.NEED_CONFIRMED, cpb.FIRST_CONTACT,  # back
                  cpb.NEED_CONFIRMED, cpb.PURCHASE_DECISION, cpb.NEED_CONFIRMED,  # back
                  cpb.PURCHASE_DECISION, cpb.AFTER_SALES, cpb.PURCHASE_DECISION,  # repeat
                  cpb.AFTER_SALES, cpb.LOYAL, cpb.AFTER_SALES, cpb.LOYAL, cpb.CHURNED):
        assert _move(server, c.name, stage).customer.lifecycle_stage == stage
    for start in (cpb.POTENTIAL, cpb.NEED_CONFIRMED):
        other = register(server, customer_id=f"life-5-{start}",
                         lifecycle_stage=start).customer
        assert other.lifecycle_stage == start
        assert _move(server, other.name, cpb.CHURNED).customer.lifecycle_stage == cpb.CHURNED


def test_moving_to_the_current_stage_appends_nothing(server):
    c = register(server, customer_id="life-6").customer
    resp = _move(server, c.name, cpb.POTENTIAL)
    assert resp.appended_event_count == 0 and resp.customer.version == 1


def test_a_51st_tag_is_failed_precondition(server):
    c = register(server, customer_id="tags-1").customer
    for i in range(50):
        server.command.TagCustomer(spb.TagCustomerRequest(name=c.name, tag=f"tag-{i}",
                                                          request_id=new_request_id()))
    d = expect_error(grpc.StatusCode.FAILED_PRECONDITION, server.command.TagCustomer,
                     spb.TagCustomerRequest(name=c.name, tag="one-more",
                                            request_id=new_request_id()))
    assert assert_error_info(d).reason == "TOO_MANY_TAGS", f"{d}"
    # Re-tagging with a tag it has changes nothing, so is fine.
    again = server.command.TagCustomer(spb.TagCustomerRequest(name=c.name, tag="TAG-0",
                                                              request_id=new_request_id()))
    assert again.appended_event_count == 0 and again.customer.version == 51


def test_value_tier_follows_purchases(server):
    def buy(name, amount, currency="CNY"):
        return server.command.RecordPurchase(spb.RecordPurchaseRequest(
            name=name, purchase=purchase(amount, currency), request_id=new_request_id()))

    big = register(server, customer_id="tier-big").customer
    assert big.value_tier == cpb.POTENTIAL_VALUE
    r = buy(big.name, 999_999)
    assert r.customer.value_tier == cpb.ORDINARY
    r = buy(big.name, 1)  # 1,000,000 in one currency
    assert r.customer.value_tier == cpb.HIGH_VALUE
    assert r.customer.value.purchase_count == 2
    assert [(t.currency_code, t.total_minor, t.purchase_count) for t in r.customer.value.totals] \
        == [("CNY", 1_000_000, 2)]
    tiers = [e.purchase_recorded.new_value_tier
             for e in history(server, big.name, r.consistency_token)
             if e.HasField("purchase_recorded")]
    assert tiers == [cev.ORDINARY, cev.HIGH_VALUE]

    mixed = register(server, customer_id="tier-mixed").customer
    buy(mixed.name, 600_000, "CNY")
    r = buy(mixed.name, 600_000, "USD")  # currencies are not added up
    assert r.customer.value_tier == cpb.ORDINARY
    assert [t.currency_code for t in r.customer.value.totals] == ["CNY", "USD"]

    frequent = register(server, customer_id="tier-frequent").customer
    for _ in range(9):
        r = buy(frequent.name, 10)
    assert r.customer.value_tier == cpb.ORDINARY
    r = buy(frequent.name, 10)  # the 10th purchase
    assert r.customer.value_tier == cpb.HIGH_VALUE
    got = server.query.GetCustomer(spb.GetCustomerRequest(
        name=frequent.name, consistency_token=r.consistency_token))
    assert got.value_tier == cpb.HIGH_VALUE and got.value.purchase_count == 10


def test_command_on_unknown_customer_is_not_found(server):
    d = expect_error(grpc.StatusCode.NOT_FOUND, _move, server, "customers/ghost",
                     cpb.FIRST_CONTACT)
    assert assert_error_info(d).reason == "CUSTOMER_NOT_FOUND", f"{d}"
    expect_error(grpc.StatusCode.NOT_FOUND, server.command.TagCustomer, spb.TagCustomerRequest(
        name="customers/ghost", tag="x", request_id=new_request_id()))
