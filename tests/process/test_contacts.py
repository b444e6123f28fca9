"""Addresses, social ids and contact persons of customers on both engines (proto/crm/v1/README.md,
"Addresses, social ids and contact persons"): they are set on register and by UpdateCustomer's
mask, a bad country code, handle or contact is refused naming the field, a merge carries the union
to the survivor (keeping its primary contact), a retry with the same request_id answers the first
answer, and the views answer the same after a `--rebuild` restart.
"""

from __future__ import annotations

import pytest

import crmtest
from crmtest import assert_violation, expect_error, grpc, new_request_id, spb

from crm.v1 import customer_pb2 as cpb  # noqa: E402

pytestmark = pytest.mark.engines("embedded", "kafka")


class World(crmtest.Session):
    def __init__(self, server):
        super().__init__(server)
        self.names: list[str] = []

    def customer(self, cid: str, **fields) -> str:
        name = self.write(crmtest.register(self.server, customer_id=cid, **fields)).customer.name
        self.names.append(name)
        return name


@pytest.fixture(scope="module")
def world(tmp_path_factory, engine, request):
    from conftest import _Factory  # pylint: disable=import-outside-toplevel

    factory = _Factory(tmp_path_factory.mktemp(f"contacts-{engine}"), engine, request)
    w = World(factory())
    yield w
    factory.stop_all()


def _address(kind=cpb.BILLING_ADDRESS, line="1 Nanjing Road", country="CN",
             postal_code="200000"):
    return cpb.PostalAddress(kind=kind, lines=[line], city="上海", postal_code=postal_code,
                             country_code=country)


def _social(network=cpb.WECHAT, handle="acme_cn"):
    return cpb.SocialId(network=network, handle=handle)


def _contact(name="王芳", email="wang@acme.cn", primary=False, **fields):
    return cpb.ContactPerson(display_name=name, title="采购经理", emails=[email], primary=primary,
                             **fields)


def test_addresses_and_social_ids_are_set_on_register_and_by_update(world):
    w = world
    name = w.customer("addr-1", display_name="Acme 有限公司", kind=cpb.COMPANY,
                      addresses=[_address(), _address(cpb.SHIPPING_ADDRESS, "2 Dock St"),
                                 _address()],
                      social_ids=[_social(), _social(cpb.WEIBO, "阿克米"), _social()],
                      contacts=[_contact(email=" Wang@Acme.CN", primary=True,
                                         phones=["+86 21 5555 0101"]),
                                _contact("Li Lei", "li@acme.cn"), _contact("Li Lei", "LI@acme.cn")])
    got = w.get(name)
    assert [a.lines[0] for a in got.addresses] == ["1 Nanjing Road", "2 Dock St"]  # no duplicate
    assert got.addresses[0].country_code == "CN"
    assert [(s.network, s.handle) for s in got.social_ids] == [(cpb.WECHAT, "acme_cn"),
                                                               (cpb.WEIBO, "阿克米")]
    assert [(c.display_name, list(c.emails), c.primary) for c in got.contacts] == [
        ("王芳", ["wang@acme.cn"], True), ("Li Lei", ["li@acme.cn"], False)]
    assert list(got.contacts[0].phones) == ["+862155550101"]

    # The mask replaces one list and leaves the other.
    rid = new_request_id()
    request = spb.UpdateCustomerRequest(
        customer=cpb.Customer(name=name, social_ids=[_social(cpb.LINKEDIN, "in/acme")]),
        update_mask={"paths": ["social_ids"]}, request_id=rid)
    first = w.write(w.cmd.UpdateCustomer(request))
    assert [s.handle for s in first.customer.social_ids] == ["in/acme"]
    assert len(first.customer.addresses) == 2
    # A retry answers the first answer.
    again = w.cmd.UpdateCustomer(request)
    assert again.customer == first.customer
    assert again.appended_event_count == first.appended_event_count == 1

    # An empty list under the mask clears it.
    cleared = w.write(w.cmd.UpdateCustomer(spb.UpdateCustomerRequest(
        customer=cpb.Customer(name=name), update_mask={"paths": ["addresses"]},
        request_id=new_request_id())))
    assert list(cleared.customer.addresses) == []
    got = w.get(name)
    assert list(got.addresses) == [] and [s.handle for s in got.social_ids] == ["in/acme"]
    history = crmtest.history(w.server, name, consistency_token=w.covering())
    updates = [e.customer_profile_updated for e in history
               if e.HasField("customer_profile_updated")]
    assert [list(u.changed_paths) for u in updates] == [["social_ids"], ["addresses"]]


@pytest.mark.parametrize("field,customer", [
    ("customer.addresses[0].country_code", dict(addresses=[_address(country="cn")])),
    ("customer.addresses[1].country_code", dict(addresses=[_address(), _address(country="CHN")])),
    ("customer.addresses[0].kind", dict(addresses=[_address(kind=cpb.ADDRESS_KIND_UNSPECIFIED)])),
    ("customer.addresses[0].postal_code", dict(addresses=[_address(postal_code="20_0000")])),
    ("customer.social_ids[0].handle", dict(social_ids=[_social(handle="two words")])),
    ("customer.social_ids[0].network", dict(social_ids=[_social(network=0)])),
    ("customer.contacts[0].display_name", dict(contacts=[_contact(name="")])),
    ("customer.contacts[0].emails[0]", dict(contacts=[_contact(email="nobody")])),
    ("customer.contacts[1].primary", dict(contacts=[_contact(primary=True),
                                                    _contact("Li", "li@a.cn", primary=True)])),
])
def test_bad_values_are_refused_naming_the_field(world, field, customer):
    w = world
    d = expect_error(grpc.StatusCode.INVALID_ARGUMENT, crmtest.register, w.server,
                     customer_id="addr-bad", **customer)
    assert_violation(d, field)
    name = w.customer("addr-ok") if "customers/addr-ok" not in w.names else "customers/addr-ok"
    d = expect_error(grpc.StatusCode.INVALID_ARGUMENT, w.cmd.UpdateCustomer,
                     spb.UpdateCustomerRequest(customer=cpb.Customer(name=name, **customer),
                                               request_id=new_request_id()))
    assert_violation(d, field)
    expect_error(grpc.StatusCode.NOT_FOUND, w.server.query.GetCustomer,
                 spb.GetCustomerRequest(name="customers/addr-bad", consistency_token=w.covering()))


def test_a_merge_carries_the_union(world):
    w = world
    survivor = w.customer("addr-s", addresses=[_address()], social_ids=[_social(handle="same")],
                          contacts=[_contact(primary=True)])
    merged = w.customer("addr-m", addresses=[_address(), _address(cpb.OFFICE_ADDRESS, "9 Hill")],
                        social_ids=[_social(handle="same"), _social(cpb.WHATSAPP, "+8613800000")],
                        contacts=[_contact("Li Lei", "li@acme.cn", primary=True)])
    w.write(w.cmd.MergeCustomers(spb.MergeCustomersRequest(
        survivor=survivor, merged=merged, request_id=new_request_id())))
    got = w.get(survivor)
    assert [a.lines[0] for a in got.addresses] == ["1 Nanjing Road", "9 Hill"]
    assert [s.handle for s in got.social_ids] == ["same", "+8613800000"]
    assert [(c.display_name, c.primary) for c in got.contacts] == [("王芳", True),
                                                                   ("Li Lei", False)]
    history = crmtest.history(w.server, survivor, consistency_token=w.covering())
    [m] = [e.customer_merged for e in history if e.HasField("customer_merged")]
    assert list(m.changed_paths) == ["addresses", "social_ids", "contacts"]


def _answers(w: World) -> dict:
    token = w.covering()
    out = {}
    for name in sorted(set(w.names)):
        out[name] = w.get(name).SerializeToString(deterministic=True)
        out[f"history {name}"] = [e.SerializeToString(deterministic=True)
                                  for e in crmtest.history(w.server, name, consistency_token=token)]
    return out


def test_the_same_answers_after_a_rebuild(world):
    """Last in this module: restarts the server."""
    w = world
    w.token = crmtest.covering_token(w.server, w.token)
    before = _answers(w)
    w.server.restart("--rebuild")
    assert _answers(w) == before
