"""Invalid input: INVALID_ARGUMENT with a google.rpc.BadRequest naming the field, nothing appended.

All cases share one server holding one customer, BASE. After each rejected request a fresh
sentinel customer is registered and its consistency token used to read the views, so an event
wrongly appended by the rejected request (which comes earlier in the log) would be seen. On Kafka
the token also covers the end of every partition of the topic (read with a Kafka client), since
a wrongly appended event could be in another partition than the sentinel's.
"""

from __future__ import annotations

import itertools

import pytest
from google.protobuf import field_mask_pb2

from crmtest import (assert_error_info, assert_violation, covering_token, cpb, customer_id_of,
                     expect_error, grpc, history, list_all, new_request_id, purchase, register,
                     spb)

BASE_ID = "base-customer"
BASE = f"customers/{BASE_ID}"
_sentinels = itertools.count()


@pytest.fixture(scope="module")
def vserver(module_server):
    register(module_server, customer_id=BASE_ID, display_name="Base", emails=["base@example.com"])
    return module_server


def _assert_nothing_appended(server):
    sentinel = register(server, customer_id=f"sentinel-{next(_sentinels)}")
    token = covering_token(server, sentinel.consistency_token)
    others = [c for c in list_all(server, consistency_token=token)
              if not customer_id_of(c.name).startswith("sentinel-")]
    assert [c.name for c in others] == [BASE], f"unexpected customers: {others}"
    assert others[0].version == 1, f"BASE changed: {others[0]}"
    events = history(server, BASE, token)
    assert len(events) == 1, f"BASE history grew: {events}"


def _register(customer: cpb.Customer, customer_id: str = "", request_id: str | None = None):
    return lambda s: s.command.RegisterCustomer(spb.RegisterCustomerRequest(
        customer_id=customer_id, customer=customer,
        request_id=new_request_id() if request_id is None else request_id))


def _person(**fields) -> cpb.Customer:
    fields.setdefault("display_name", "Valid Name")
    fields.setdefault("kind", cpb.PERSON)
    return cpb.Customer(**fields)


def _update(customer: cpb.Customer, paths):
    return lambda s: s.command.UpdateCustomer(spb.UpdateCustomerRequest(
        customer=customer, update_mask=field_mask_pb2.FieldMask(paths=paths),
        request_id=new_request_id()))


def _stage(name: str, stage: int):
    return lambda s: s.command.ChangeLifecycleStage(spb.ChangeLifecycleStageRequest(
        name=name, lifecycle_stage=stage, request_id=new_request_id()))


# (id, call, field, prefix): the call must fail with INVALID_ARGUMENT and a violation naming field.
CASES = [
    ("missing-display-name", _register(_person(display_name="")), "customer.display_name", False),
    ("blank-display-name", _register(_person(display_name="   ")), "customer.display_name", False),
    ("missing-customer", _register(None), "customer", True),
    ("missing-kind", _register(_person(kind=cpb.CUSTOMER_KIND_UNSPECIFIED)), "customer.kind", False),
    ("unknown-kind-99", _register(_person(kind=99)), "customer.kind", False),
    ("unknown-first-stage-42", _register(_person(lifecycle_stage=42)),
     "customer.lifecycle_stage", False),
    ("register-churned-first-stage", _register(_person(lifecycle_stage=cpb.CHURNED)),
     "customer.lifecycle_stage", False),
    ("register-with-owner", _register(_person(owner="staff.li")), "customer.owner", False),
    ("register-with-tags", _register(_person(tags=["vip"])), "customer.tags", True),
    ("unknown-acquisition-source", _register(_person(acquisition_source=77)),
     "customer.acquisition_source", False),
    ("malformed-email", _register(_person(emails=["ok@example.com", "not-an-email"])),
     "customer.emails[1]", False),
    ("email-without-domain", _register(_person(emails=["someone@"])), "customer.emails[0]", False),
    ("malformed-phone", _register(_person(phones=["12ab34"])), "customer.phones[0]", False),
    ("too-short-phone", _register(_person(phones=["+1 23"])), "customer.phones[0]", False),
    ("display-name-201-chars", _register(_person(display_name="a" * 201)),
     "customer.display_name", False),
    ("region-101-chars", _register(_person(region="r" * 101)), "customer.region", False),
    ("eleven-emails", _register(_person(emails=[f"p{i}@example.com" for i in range(11)])),
     "customer.emails", False),
    ("eleven-phones", _register(_person(phones=[f"+86138001380{i:02d}" for i in range(11)])),
     "customer.phones", False),
    ("fifty-one-attributes", _register(_person(attributes={f"k{i}": "v" for i in range(51)})),
     "customer.attributes", True),
    ("bad-customer-id-chars", _register(_person(), customer_id="Bad_ID"), "customer_id", False),
    ("bad-customer-id-dash", _register(_person(), customer_id="-abc"), "customer_id", False),
    ("customer-id-64-chars", _register(_person(), customer_id="a" * 64), "customer_id", False),
    ("request-id-129-chars", _register(_person(), request_id="r" * 129), "request_id", False),
    ("get-bad-resource-name",
     lambda s: s.query.GetCustomer(spb.GetCustomerRequest(name="accounts/x")), "name", False),
    ("get-empty-id", lambda s: s.query.GetCustomer(spb.GetCustomerRequest(name="customers/")),
     "name", False),
    ("history-bad-name",
     lambda s: s.query.GetCustomerHistory(spb.GetCustomerHistoryRequest(name="customers/A B")),
     "name", False),
    ("update-bad-resource-name",
     _update(cpb.Customer(name="customers/NOT VALID", display_name="x"), ["display_name"]),
     "customer.name", False),
    ("update-mask-output-only-path",
     _update(cpb.Customer(name=BASE, lifecycle_stage=cpb.FIRST_CONTACT), ["lifecycle_stage"]),
     "update_mask", True),
    ("update-mask-unknown-path",
     _update(cpb.Customer(name=BASE, display_name="x"), ["display_name", "no_such_field"]),
     "update_mask.paths[1]", False),
    ("update-unknown-kind", _update(cpb.Customer(name=BASE, kind=99), ["kind"]),
     "customer.kind", False),
    ("update-empty-display-name", _update(cpb.Customer(name=BASE, display_name=""),
                                          ["display_name"]), "customer.display_name", False),
    ("malformed-etag", lambda s: s.command.TagCustomer(spb.TagCustomerRequest(
        name=BASE, tag="x", etag="7", request_id=new_request_id())), "etag", False),
    ("stage-unknown-42", _stage(BASE, 42), "lifecycle_stage", False),
    ("stage-unspecified", _stage(BASE, cpb.LIFECYCLE_STAGE_UNSPECIFIED), "lifecycle_stage", False),
    ("stage-bad-name", _stage("customers", cpb.FIRST_CONTACT), "name", False),
    ("tag-bad-chars", lambda s: s.command.TagCustomer(spb.TagCustomerRequest(
        name=BASE, tag="bad tag!", request_id=new_request_id())), "tag", False),
    ("owner-empty", lambda s: s.command.AssignOwner(spb.AssignOwnerRequest(
        name=BASE, owner="", request_id=new_request_id())), "owner", False),
    ("owner-bad-chars", lambda s: s.command.AssignOwner(spb.AssignOwnerRequest(
        name=BASE, owner="li lei", request_id=new_request_id())), "owner", False),
    ("purchase-bad-currency", lambda s: s.command.RecordPurchase(spb.RecordPurchaseRequest(
        name=BASE, purchase=purchase(100, currency_code="usd"),
        request_id=new_request_id())), "purchase.amount.currency_code", False),
    ("garbage-consistency-token", lambda s: s.query.GetCustomer(spb.GetCustomerRequest(
        name=BASE, consistency_token="not-a-token!")), "consistency_token", False),
    ("garbage-page-token", lambda s: s.query.ListCustomers(spb.ListCustomersRequest(
        page_token="garbage")), "page_token", False),
]


@pytest.mark.parametrize("call,field,prefix", [pytest.param(c, f, p, id=i) for i, c, f, p in CASES])
def test_invalid_input_names_the_field_and_appends_nothing(vserver, call, field, prefix):
    d = expect_error(grpc.StatusCode.INVALID_ARGUMENT, call, vserver)
    assert_violation(d, field, prefix=prefix)
    info = assert_error_info(d)
    assert info.reason == "INVALID_ARGUMENT", f"{d}"
    assert info.metadata.get("field") == d.fields[0], f"ErrorInfo field is not the first: {d}"
    _assert_nothing_appended(vserver)


@pytest.mark.parametrize("request_", [
    spb.FindCustomersRequest(),
    spb.FindCustomersRequest(email="base@example.com", phone="+8613800138000"),
    spb.FindCustomersRequest(email="not-an-email"),
], ids=["neither", "both", "malformed-email"])
def test_find_customers_needs_exactly_one_valid_key(vserver, request_):
    d = expect_error(grpc.StatusCode.INVALID_ARGUMENT, vserver.query.FindCustomers, request_)
    assert d.violations, f"no BadRequest: {d}"


def _raw_register(server):
    return server.channel.unary_unary(
        "/crm.v1.CustomerCommandService/RegisterCustomer",
        request_serializer=lambda b: b,
        response_deserializer=spb.CustomerCommandResponse.FromString)


MARKER = b"ZZZZ__ZZZZ"


@pytest.mark.parametrize("bad", [b"\xff\xfe\xff\xfe\xff\xfe\xff\xfe\xff\xfe",  # never UTF-8
                                 b"ab\xc3\x28cd\xe2\x82xy",  # broken sequences
                                 b"abc\xed\xa0\x80defg"],  # an encoded surrogate
                         ids=["ff-bytes", "truncated-sequences", "surrogate"])
def test_invalid_utf8_in_display_name(vserver, bad):
    assert len(bad) == len(MARKER)
    good = spb.RegisterCustomerRequest(
        customer=_person(display_name=MARKER.decode()), request_id=new_request_id())
    wire = good.SerializeToString()
    assert wire.count(MARKER) == 1
    # Same length, so every length prefix stays right.
    patched = wire.replace(MARKER, bad)
    d = expect_error(grpc.StatusCode.INVALID_ARGUMENT, _raw_register(vserver), patched)
    assert any("display_name" in f for f in d.fields), f"no violation naming display_name: {d}"
    _assert_nothing_appended(vserver)


def _encode_varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def test_invalid_utf8_hand_encoded_wire_format(vserver):
    # RegisterCustomerRequest{customer(2){display_name(2): <bad>, kind(3): PERSON}}, by hand.
    bad_name = b"\xff\xffbad\xff"
    customer = b"\x12" + _encode_varint(len(bad_name)) + bad_name + b"\x18\x01"
    request = b"\x12" + _encode_varint(len(customer)) + customer
    d = expect_error(grpc.StatusCode.INVALID_ARGUMENT, _raw_register(vserver), request)
    assert "customer.display_name" in d.fields, f"no violation for customer.display_name: {d}"
    _assert_nothing_appended(vserver)


def test_oversized_request_is_invalid_argument(vserver):
    big = "a" * (2 << 20)  # 2 MiB: above the server's own 1 MiB cap on requests
    expect_error(grpc.StatusCode.INVALID_ARGUMENT, _register(_person(display_name=big)), vserver)
    expect_error(grpc.StatusCode.INVALID_ARGUMENT,
                 _register(_person(attributes={"blob": "b" * (2 << 20)})), vserver)
    _assert_nothing_appended(vserver)
    # The server still works after it.
    assert vserver.query.GetCustomer(spb.GetCustomerRequest(name=BASE)).name == BASE


def test_valid_edges_are_accepted(vserver):
    # Ids start with "sentinel-" so that _assert_nothing_appended ignores these customers.
    # 200 characters of 3-byte UTF-8 is within the 200-character limit.
    r = register(vserver, customer_id="sentinel-edge", display_name="客" * 200,
                 phones=["+1 (555) 010-0199"], emails=[f"e{i}@example.com" for i in range(10)])
    assert r.customer.display_name == "客" * 200
    assert len(r.customer.emails) == 10
    assert list(r.customer.phones) == ["+15550100199"]
    long_id = "sentinel-" + "a" * 54  # 63 characters, the most an id may have
    r2 = register(vserver, customer_id=long_id)
    assert r2.customer.name == "customers/" + long_id


def test_nothing_was_appended_by_any_rejected_request(vserver):
    _assert_nothing_appended(vserver)
