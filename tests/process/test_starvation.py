"""No caller can stall others (issue 9): calls waiting for a consistency token the views will
never reach hold no worker, so commands and other queries go on; cancelling the waiting calls
frees them at once.

Before: each such call held one of the 16 workers for up to 30 s, so 48 of them made every
command fail with DEADLINE_EXCEEDED."""

from __future__ import annotations

import base64
import threading
import time

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


@pytest.mark.engines("embedded")
def test_sigterm_with_waiting_calls_exits_within_the_grace_period(make_server):
    server = make_server(args=("--shutdown-grace-seconds", "2"))
    name = crmtest.register(server).customer.name
    waiting = [server.query.GetCustomer.future(
        spb.GetCustomerRequest(name=name, consistency_token=_unreachable_token()))
        for _ in range(64)]
    # Each of these would wait 30 s (the server's cap); the grace period is 2 s.
    assert server.stop(timeout_s=15) == 0
    for f in waiting:
        with pytest.raises(grpc.RpcError):
            f.result(timeout=10)


@pytest.mark.engines("embedded")
def test_cancelled_token_waits_do_not_hold_up_a_shutdown(make_server):
    # Found by the soak (scripts/soak.sh): a cancelled wait went on, server side, until the
    # server's 30 s cap, so a SIGTERM after it drained for the whole grace period.
    server = make_server(args=("--shutdown-grace-seconds", "120"))
    name = crmtest.register(server).customer.name
    waiting = [server.query.GetCustomer.future(
        spb.GetCustomerRequest(name=name, consistency_token=_unreachable_token()))
        for _ in range(16)]
    crmtest.register(server)  # answered after the server has taken the waits (one connection)
    assert not any(f.done() for f in waiting)
    for f in waiting:
        f.cancel()
    # The waits would end at the server's 30 s cap; the grace period is longer than that. Nothing
    # is in flight, so the server exits at once.
    assert server.stop(timeout_s=15) == 0


@pytest.mark.engines("embedded")
def test_data_directory_is_private(server):
    crmtest.register(server)
    for path in [server.data_dir, *server.data_dir.rglob("*")]:
        mode = path.stat().st_mode & 0o777
        assert mode & 0o077 == 0, f"{path} has mode {oct(mode)}"


@pytest.mark.engines("embedded")
def test_an_idle_connection_is_closed(make_server):
    server = make_server(args=("--max-connection-idle-seconds", "1"))
    channel = crmtest.raw_channel(server)
    idle_again = threading.Event()
    seen: list[grpc.ChannelConnectivity] = []

    def on_state(state: grpc.ChannelConnectivity) -> None:
        seen.append(state)
        if grpc.ChannelConnectivity.READY in seen and state == grpc.ChannelConnectivity.IDLE:
            idle_again.set()

    channel.subscribe(on_state, try_to_connect=True)
    grpc.channel_ready_future(channel).result(timeout=10)
    # The server closes the connection after 1 s without calls; the client's channel drops back
    # to IDLE (its own idle timeout is 30 minutes).
    assert idle_again.wait(timeout=20), f"states seen: {seen}"
    channel.close()


# The stall bound of the next test, stated in README ("Configuration"): while hundreds of calls
# wait for tokens the views never reach and queries flood the query workers, the slowest 1 % of
# other callers' commands take under this. Unloaded, a command takes a few milliseconds; the bound
# is a stall detector (a worker held by a waiting or flooding caller would push commands to the
# 10 s client deadline), not a benchmark (docs/benchmarks.md has the figures).
COMMAND_P99_BOUND_S = 1.0


def _query_flood(server, stop: threading.Event, errors: list, overloaded: list) -> None:
    query = server.query  # keep the stub
    while not stop.is_set():
        try:
            query.ListCustomers(spb.ListCustomersRequest(page_size=1000), timeout=10)
        except grpc.RpcError as err:
            if err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
                overloaded.append(crmtest.assert_error_info(crmtest.error_details(err)).reason)
            else:
                errors.append(f"{err.code()} {err.details()}")


@pytest.mark.engines("embedded")
def test_waiters_and_a_query_flood_do_not_stall_commands(make_server):
    # One query worker that sheds load after 20 ms of queueing; commands have their own pool.
    server = make_server(args=("--workers", "1", "--max-queue-delay", "20ms"))
    name = ""
    for i in range(600):
        name = crmtest.register(server, customer_id=f"flood-{i}").customer.name
    waiting = [server.query.GetCustomer.future(
        spb.GetCustomerRequest(name=name, consistency_token=_unreachable_token()))
        for _ in range(300)]
    stop = threading.Event()
    errors: list[str] = []
    overloaded: list[str] = []
    flood = [threading.Thread(target=_query_flood, args=(server, stop, errors, overloaded))
             for _ in range(16)]
    for t in flood:
        t.start()
    latencies = []
    try:
        crmtest.wait_for("a query shed as overloaded", lambda: overloaded or errors, timeout_s=60)
        for _ in range(200):
            start = time.monotonic()
            server.command.RegisterCustomer(spb.RegisterCustomerRequest(
                customer=crmtest.make_customer(), request_id=crmtest.new_request_id()),
                timeout=10)
            latencies.append(time.monotonic() - start)
    finally:
        stop.set()
        for t in flood:
            t.join(timeout=30)
        for f in waiting:
            f.cancel()
    assert not errors, errors[:5]
    assert set(overloaded) == {"SERVER_OVERLOADED"}, set(overloaded)
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    print(f"commands under waiters and a query flood: median "
          f"{latencies[len(latencies) // 2] * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, "
          f"{len(overloaded)} queries shed")
    assert p99 < COMMAND_P99_BOUND_S, (
        f"command p99 {p99 * 1000:.0f} ms with waiters and a query flood; median "
        f"{latencies[len(latencies) // 2] * 1000:.1f} ms")
    # Cancelling the waiters and ending the flood frees the server at once.
    got = server.query.GetCustomer(spb.GetCustomerRequest(name=name), timeout=5)
    assert got.name == name
