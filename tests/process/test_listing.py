"""Listing more than 1,000 customers page by page, with filters, and page-token rules."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import orgtest
from crmtest import (assert_violation, cpb, expect_error, grpc, list_all, merge_tokens,
                     new_request_id, purchase, register, spb)

N = 1013
OWNERS = {0: "owner-a", 1: "owner-b"}  # by i % 5 (account managers)


def _cid(i: int) -> str:
    return f"c-{i:04d}"


def _stages(i: int) -> list[int]:
    if i % 8 == 0:
        return [cpb.FIRST_CONTACT, cpb.NEED_CONFIRMED]
    if i % 4 == 0:
        return [cpb.FIRST_CONTACT]
    return []


def _tags(i: int) -> list[str]:
    return [t for t, every in (("gold", 3), ("north", 7)) if i % every == 0]


def _populate(server, i: int) -> str:
    """Registers customer i and gives it its owner, tags, stages, purchase; returns the token of
    its last write."""
    resp = register(server, customer_id=_cid(i), display_name=f"Customer {i}")
    name = resp.customer.name
    cmd = server.command
    if i % 5 in OWNERS:
        resp = cmd.AssignOwner(spb.AssignOwnerRequest(name=name, owner=OWNERS[i % 5],
                                                      request_id=new_request_id()))
    for tag in _tags(i):
        resp = cmd.TagCustomer(spb.TagCustomerRequest(name=name, tag=tag,
                                                      request_id=new_request_id()))
    for stage in _stages(i):
        resp = cmd.ChangeLifecycleStage(spb.ChangeLifecycleStageRequest(
            name=name, lifecycle_stage=stage, request_id=new_request_id()))
    if i % 10 == 0:
        amount = 50_000_000 if i % 50 == 0 else 1_000
        resp = cmd.RecordPurchase(spb.RecordPurchaseRequest(
            name=name, request_id=new_request_id(), purchase=purchase(amount)))
    return resp.consistency_token


@pytest.fixture(scope="module")
def populated(module_server):
    """(server, consistency token after every write)."""
    started = time.monotonic()
    orgtest.add_account_managers(module_server, *OWNERS.values())
    with ThreadPoolExecutor(max_workers=8) as pool:
        tokens = list(pool.map(lambda i: _populate(module_server, i), range(N)))
    last = module_server.command.TagCustomer(spb.TagCustomerRequest(
        name=f"customers/{_cid(1)}", tag="last", request_id=new_request_id())).consistency_token
    # On the embedded log the last write's token covers every earlier one; on Kafka each token
    # names its customer's partition only, so wait for the last write of every customer.
    token = merge_tokens(*tokens, last)
    print(f"populated {N} customers in {time.monotonic() - started:.1f}s")
    return module_server, token


def _names(customers) -> list[str]:
    return [c.name for c in customers]


def _expected(pred) -> list[str]:
    return [f"customers/{_cid(i)}" for i in range(N) if pred(i)]


def test_pages_return_every_customer_exactly_once_in_id_order(populated):
    server, token = populated
    seen = []
    page_token = ""
    pages = 0
    while True:
        resp = server.query.ListCustomers(spb.ListCustomersRequest(
            page_size=97, page_token=page_token, consistency_token=token))
        assert len(resp.customers) <= 97
        seen.extend(c.name for c in resp.customers)
        pages += 1
        page_token = resp.next_page_token
        if not page_token:
            break
    assert len(seen) == len(set(seen)), "a customer appeared twice"
    assert seen == _expected(lambda i: True)
    assert pages >= (N + 96) // 97


def test_page_size_default_and_cap(populated):
    server, token = populated
    default = server.query.ListCustomers(spb.ListCustomersRequest(consistency_token=token))
    assert len(default.customers) == 50 and default.next_page_token
    capped = server.query.ListCustomers(spb.ListCustomersRequest(page_size=5000,
                                                                 consistency_token=token))
    assert len(capped.customers) == 1000 and capped.next_page_token


def test_the_listed_fields_match_the_writes(populated):
    server, token = populated
    by_name = {c.name: c for c in list_all(server, page_size=1000, consistency_token=token)}
    for i in range(N):
        c = by_name[f"customers/{_cid(i)}"]
        assert c.display_name == f"Customer {i}"
        assert c.owner == OWNERS.get(i % 5, ""), c
        assert list(c.tags) == sorted(_tags(i) + (["last"] if i == 1 else [])), c
        stages = _stages(i)
        assert c.lifecycle_stage == (stages[-1] if stages else cpb.POTENTIAL), c
        assert c.value.purchase_count == (1 if i % 10 == 0 else 0), c
        want_tier = (cpb.HIGH_VALUE if i % 50 == 0 else  # 50,000,000 >= 1,000,000 minor units
                     cpb.ORDINARY if i % 10 == 0 else cpb.POTENTIAL_VALUE)
        assert c.value_tier == want_tier, c


@pytest.mark.parametrize("filters,pred", [
    ({"lifecycle_stage": cpb.FIRST_CONTACT}, lambda i: i % 4 == 0 and i % 8 != 0),
    ({"lifecycle_stage": cpb.NEED_CONFIRMED}, lambda i: i % 8 == 0),
    ({"lifecycle_stage": cpb.POTENTIAL}, lambda i: i % 4 != 0),
    ({"owner": "owner-a"}, lambda i: i % 5 == 0),
    ({"owner": "owner-b"}, lambda i: i % 5 == 1),
    ({"owner": "nobody"}, lambda i: False),
    ({"tag": "gold"}, lambda i: i % 3 == 0),
    ({"tag": "north"}, lambda i: i % 7 == 0),
    ({"tag": "last"}, lambda i: i == 1),
    ({"tag": "gold", "owner": "owner-a"}, lambda i: i % 3 == 0 and i % 5 == 0),
    ({"tag": "north", "lifecycle_stage": cpb.FIRST_CONTACT, "owner": "owner-b"},
     lambda i: i % 7 == 0 and i % 4 == 0 and i % 8 != 0 and i % 5 == 1),
    ({"value_tier": cpb.POTENTIAL_VALUE}, lambda i: i % 10 != 0),
    ({"value_tier": cpb.HIGH_VALUE}, lambda i: i % 50 == 0),
    ({"value_tier": cpb.ORDINARY, "tag": "gold"}, lambda i: i % 10 == 0 and i % 50 != 0
     and i % 3 == 0),
], ids=["stage-first-contact", "stage-need-confirmed", "stage-potential", "owner-a", "owner-b",
        "owner-none", "tag-gold", "tag-north", "tag-last", "tag-and-owner", "three-filters",
        "tier-potential", "tier-high", "tier-ordinary-and-tag"])
def test_filters(populated, filters, pred):
    server, token = populated
    got = _names(list_all(server, page_size=97, consistency_token=token, **filters))
    assert got == _expected(pred)


def test_tier_filter_agrees_with_each_customers_tier(populated):
    server, token = populated
    everyone = list_all(server, page_size=1000, consistency_token=token)
    buyers = [c for c in everyone if c.value.purchase_count > 0]
    assert all(c.value_tier != cpb.POTENTIAL_VALUE for c in buyers), "a buyer is still POTENTIAL"
    for tier in (cpb.HIGH_VALUE, cpb.ORDINARY, cpb.POTENTIAL_VALUE):
        want = [c.name for c in everyone if c.value_tier == tier]
        got = _names(list_all(server, page_size=97, consistency_token=token, value_tier=tier))
        assert got == want, f"tier {cpb.ValueTier.Name(tier)}"


def test_page_token_with_different_filters_is_invalid_argument(populated):
    server, token = populated
    first = server.query.ListCustomers(spb.ListCustomersRequest(
        page_size=10, owner="owner-a", consistency_token=token))
    assert first.next_page_token
    for changed in ({"owner": "owner-b"}, {"owner": ""}, {"owner": "owner-a", "tag": "gold"},
                    {"owner": "owner-a", "lifecycle_stage": cpb.FIRST_CONTACT}):
        d = expect_error(grpc.StatusCode.INVALID_ARGUMENT, server.query.ListCustomers,
                         spb.ListCustomersRequest(page_size=10, page_token=first.next_page_token,
                                                  **changed))
        assert_violation(d, "page_token")
    # The same filters go on from where the page ended.
    second = server.query.ListCustomers(spb.ListCustomersRequest(
        page_size=10, owner="owner-a", page_token=first.next_page_token))
    assert second.customers[0].name > first.customers[-1].name
