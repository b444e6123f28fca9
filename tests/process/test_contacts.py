"""Addresses, social ids and contact persons of customers on both engines (proto/crm/v1/README.md,
"Addresses, social ids and contact persons"): they are set on register and by UpdateCustomer's
mask, a bad country code, handle or contact is refused naming the field, a merge carries the union
to the survivor (keeping its primary contact), a retry with the same request_id answers the first
answer, FindCustomers finds customers by social id and by a contact's e-mail or phone, crmctl
imports them from CSV columns, and the views answer the same after a `--rebuild` restart.
"""

from __future__ import annotations

import json

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


def _find(w: World, **key) -> list[str]:
    return [c.name for c in w.server.query.FindCustomers(spb.FindCustomersRequest(
        consistency_token=w.covering(), **key)).customers]


def test_find_by_social_id_and_by_a_contacts_email_or_phone(world):
    """FindCustomers by social id (network and handle), by a contact person's e-mail or phone
    (normalized; several customers may share a contact); a key a customer no longer has finds
    nothing; bad keys are refused naming the field; crmctl customer find does the same."""
    w = world
    a = w.customer("find-a", kind=cpb.COMPANY, social_ids=[_social(handle="wx_find")],
                   contacts=[_contact(email="buyer@find.cn", phones=["+86 21 5555 0199"])])
    b = w.customer("find-b", kind=cpb.COMPANY, social_ids=[_social(cpb.WEIBO, "wx_find")],
                   contacts=[_contact("Li", "BUYER@find.cn")])
    assert _find(w, social_id=_social(handle="wx_find")) == [a]
    assert _find(w, social_id=_social(cpb.WEIBO, "wx_find")) == [b]  # the network counts
    assert _find(w, social_id=_social(handle="WX_FIND")) == []  # handles as written
    assert _find(w, contact_email=" Buyer@Find.CN ") == [a, b]
    assert _find(w, contact_phone="+86 (21) 5555-0199") == [a]
    assert _find(w, email="buyer@find.cn") == []  # a contact's e-mail is not the customer's
    # Replaced: the old handle finds nothing, the new one finds the customer.
    w.write(w.cmd.UpdateCustomer(spb.UpdateCustomerRequest(
        customer=cpb.Customer(name=a, social_ids=[_social(handle="wx_new")]),
        update_mask={"paths": ["social_ids"]}, request_id=new_request_id())))
    assert _find(w, social_id=_social(handle="wx_find")) == []
    assert _find(w, social_id=_social(handle="wx_new")) == [a]

    for key, field in ((dict(social_id=cpb.SocialId(handle="x")), "social_id.network"),
                       (dict(social_id=_social(handle="two words")), "social_id.handle"),
                       (dict(contact_email="nobody"), "contact_email"),
                       (dict(contact_phone="call me"), "contact_phone")):
        d = expect_error(grpc.StatusCode.INVALID_ARGUMENT, w.server.query.FindCustomers,
                         spb.FindCustomersRequest(**key))
        assert_violation(d, field)
    d = expect_error(grpc.StatusCode.INVALID_ARGUMENT, w.server.query.FindCustomers,
                     spb.FindCustomersRequest(email="a@b.cn", social_id=_social()))
    assert "exactly one" in d.message

    from test_crmctl import ctl, ctl_json, query_process  # pylint: disable=import-outside-toplevel
    process = query_process(w.server)
    assert [c["name"] for c in ctl_json(process, "customer", "find", "--social",
                                        "WeChat:wx_new")] == [a]
    assert [c["name"] for c in ctl_json(process, "customer", "find", "--contact-email",
                                        "buyer@find.cn")] == [a, b]
    bad = ctl(process, "customer", "find", "--social", "myspace:tom")
    assert bad.returncode == 2 and "NETWORK:HANDLE" in bad.stderr


def test_crmctl_imports_social_ids_an_address_and_a_contact_from_csv(world, tmp_path):
    w = world
    from test_crmctl import command_process, ctl  # pylint: disable=import-outside-toplevel
    path = tmp_path / "contacts.csv"
    path.write_text(
        "external_id,display_name,kind,social_ids,address.kind,address.lines,address.city,"
        "address.country_code,contact.display_name,contact.title,contact.emails\n"
        "CSV-C1,Acme 华东,company,wechat:acme_hd;linkedin:in/acme-hd,billing,1 Nanjing Road,上海,"
        "CN,王芳,采购经理,wang@acme-hd.cn\n"
        "CSV-C2,Bad Net,company,myspace:tom,,,,,,,\n"
        "CSV-C3,Bad Country,company,,billing,1 Road,,China,,,\n", encoding="utf-8")
    r = ctl(command_process(w.server), "import", "customers", str(path))
    assert r.returncode == 1, (r.stdout, r.stderr)  # two rows failed
    lines = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    results, summary = lines[:-1], lines[-1]
    outcomes = {x["row_number"]: (x["outcome"], x.get("error", {}).get("message", ""))
                for x in results}
    assert outcomes["2"][0] == "CREATED"
    assert outcomes["3"][0] == "FAILED" and "customer.social_ids[0]" in outcomes["3"][1]
    assert outcomes["4"][0] == "FAILED" and "country_code" in outcomes["4"][1]
    w.token = crmtest.merge_tokens(w.token, summary["consistency_token"])
    [name] = _find(w, social_id=_social(cpb.LINKEDIN, "in/acme-hd"))
    w.names.append(name)
    got = w.get(name)
    assert got.external_id == "CSV-C1"
    assert [(s.network, s.handle) for s in got.social_ids] == [(cpb.WECHAT, "acme_hd"),
                                                               (cpb.LINKEDIN, "in/acme-hd")]
    assert [(a.kind, list(a.lines), a.city, a.country_code) for a in got.addresses] == [
        (cpb.BILLING_ADDRESS, ["1 Nanjing Road"], "上海", "CN")]
    assert [(c.display_name, c.title, list(c.emails), c.primary) for c in got.contacts] == [
        ("王芳", "采购经理", ["wang@acme-hd.cn"], True)]
    assert _find(w, contact_email="wang@acme-hd.cn") == [name]


def _answers(w: World) -> dict:
    token = w.covering()
    out = {}
    for name in sorted(set(w.names)):
        out[name] = w.get(name).SerializeToString(deterministic=True)
        out[f"history {name}"] = [e.SerializeToString(deterministic=True)
                                  for e in crmtest.history(w.server, name, consistency_token=token)]
    # The indexes FindCustomers reads, for every key those customers have.
    for c in [w.get(name) for name in sorted(set(w.names))]:
        for s in c.social_ids:
            out[f"social {s.network}:{s.handle}"] = _find(w, social_id=s)
        for person in c.contacts:
            for e in person.emails:
                out[f"contact {e}"] = _find(w, contact_email=e)
            for p in person.phones:
                out[f"contact {p}"] = _find(w, contact_phone=p)
    return out


def test_the_same_answers_after_a_rebuild(world):
    """Last in this module: restarts the server."""
    w = world
    w.token = crmtest.covering_token(w.server, w.token)
    before = _answers(w)
    w.server.restart("--rebuild")
    assert _answers(w) == before
