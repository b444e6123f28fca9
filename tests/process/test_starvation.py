"""No caller can stall others (issue 9): calls waiting for a consistency token the views will
never reach hold no worker, so commands and other queries go on; cancelling the waiting calls
frees them at once.

Before: each such call held one of the 16 workers for up to 30 s, so 48 of them made every
command fail with DEADLINE_EXCEEDED."""

from __future__ import annotations

import base64

import grpc
import pytest

import crmtest
from crmtest import spb

WAITERS = 96
COMMANDS = 20


def _unreachable_token() -> str:
    # Partition 0 at an offset no test reaches (tokens are web-safe base64, unpadded).
    return base64.urlsafe_b64encode(b"0:1000000000").decode().rstrip("=")


def test_token_waits_that_never_end_do_not_stall_commands_or_queries(server):
    first = crmtest.register(server)
    name = first.customer.name
    token = _unreachable_token()
    waiting = [server.query.GetCustomer.future(
        spb.GetCustomerRequest(name=name, consistency_token=token)) for _ in range(WAITERS)]
    try:
        for i in range(COMMANDS):
            resp = server.command.RegisterCustomer(
                spb.RegisterCustomerRequest(customer=crmtest.make_customer(),
                                            request_id=crmtest.new_request_id()),
                timeout=10)
            assert resp.customer.name
        got = server.query.GetCustomer(spb.GetCustomerRequest(
            name=name, consistency_token=resp.consistency_token), timeout=10)
        assert got.name == name
        assert not any(f.done() for f in waiting), "an unreachable token wait ended early"
    finally:
        for f in waiting:
            f.cancel()
    for f in waiting:
        with pytest.raises(grpc.FutureCancelledError):
            f.result(timeout=10)
    # And the server serves as before.
    assert crmtest.register(server).customer.name


def test_a_token_wait_ends_at_the_callers_deadline(server):
    name = crmtest.register(server).customer.name
    with pytest.raises(grpc.RpcError) as e:
        server.query.GetCustomer(spb.GetCustomerRequest(
            name=name, consistency_token=_unreachable_token()), timeout=1)
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
