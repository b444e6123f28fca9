"""Read-your-writes: a query given a command's consistency token sees that command."""

from __future__ import annotations

from google.protobuf import field_mask_pb2

from crmtest import (assert_violation, cpb, expect_error, grpc, history, new_request_id,
                     register, spb)


def test_every_command_is_visible_to_a_query_with_its_token(server):
    for i in range(200):
        resp = register(server, customer_id=f"ryw-{i}", emails=[f"ryw{i}@example.com"])
        got = server.query.GetCustomer(spb.GetCustomerRequest(
            name=resp.customer.name, consistency_token=resp.consistency_token))
        assert got.version == resp.customer.version == 1, f"iteration {i}"
        if i % 4 == 0:
            upd = server.command.UpdateCustomer(spb.UpdateCustomerRequest(
                customer=cpb.Customer(name=resp.customer.name, display_name=f"Renamed {i}"),
                update_mask=field_mask_pb2.FieldMask(paths=["display_name"]),
                request_id=new_request_id()))
            got = server.query.GetCustomer(spb.GetCustomerRequest(
                name=resp.customer.name, consistency_token=upd.consistency_token))
            assert got.version == 2 and got.display_name == f"Renamed {i}", f"iteration {i}"
            found = server.query.FindCustomers(spb.FindCustomersRequest(
                email=f"ryw{i}@example.com", consistency_token=upd.consistency_token))
            assert [c.version for c in found.customers] == [2], f"iteration {i}"
        if i % 10 == 0:
            tag = server.command.TagCustomer(spb.TagCustomerRequest(
                name=resp.customer.name, tag=f"t{i}", request_id=new_request_id()))
            listed = server.query.ListCustomers(spb.ListCustomersRequest(
                tag=f"t{i}", consistency_token=tag.consistency_token))
            assert [c.name for c in listed.customers] == [resp.customer.name], f"iteration {i}"
            events = history(server, resp.customer.name, tag.consistency_token)
            assert len(events) == tag.customer.version, f"iteration {i}"


def test_garbage_consistency_token_is_invalid_argument(server):
    c = register(server, customer_id="tok-1")
    for bad in ("garbage", "-1", "\u00e9\u00e9", "x" * 300):
        for call, req in (
                (server.query.GetCustomer,
                 spb.GetCustomerRequest(name=c.customer.name, consistency_token=bad)),
                (server.query.ListCustomers, spb.ListCustomersRequest(consistency_token=bad)),
                (server.query.FindCustomers,
                 spb.FindCustomersRequest(email="a@example.com", consistency_token=bad)),
                (server.query.GetCustomerHistory,
                 spb.GetCustomerHistoryRequest(name=c.customer.name, consistency_token=bad))):
            d = expect_error(grpc.StatusCode.INVALID_ARGUMENT, call, req)
            assert_violation(d, "consistency_token")


def test_tokens_stay_valid_across_a_restart(server):
    c = register(server, customer_id="tok-2")
    server.restart()
    got = server.query.GetCustomer(spb.GetCustomerRequest(
        name=c.customer.name, consistency_token=c.consistency_token))
    assert got.version == 1
