"""Crashes and shutdowns under load: nothing acknowledged is lost, and the views equal a rebuild.

Several client threads issue commands; every acknowledged answer is recorded. The server is then
killed (kill -9) or stopped (SIGTERM) at a random moment, restarted on the same data directory,
and every acknowledged command must be there. Then the views are compared with views refolded
from the log (--rebuild).

On Kafka (a Cluster) the kill -9 hits crm-command alone in even rounds (crm-projector keeps
running through the crash) and both processes in odd rounds; the rebuild is crm-projector
--rebuild. "kafka-server" is crm-server --engine kafka, killed whole.
"""

from __future__ import annotations

import os
import random
import time

import pytest

from crmtest import Cluster
from loadgen import Load, assert_views_equal_rebuild, marker, verify_acks, verify_streams


def _crash(server, rnd: int) -> str:
    """kill -9; on a Cluster crm-command alone in even rounds. Returns what was killed."""
    if isinstance(server, Cluster) and rnd % 2 == 0:
        server.commander.kill()
        return "crm-command"
    server.kill()
    return "everything"


@pytest.mark.engines("embedded", "kafka", "kafka-server")
def test_kill_9_under_load_loses_no_acknowledged_command(server):
    seed = int(os.environ.get("CRM_TEST_SEED", random.randrange(1 << 30)))
    print(f"seed {seed} (CRM_TEST_SEED to repeat)")
    rng = random.Random(seed)
    for rnd in range(3):
        load = Load(server, seed + rnd, prefix=f"r{rnd}").start()
        time.sleep(rng.uniform(1.0, 2.0))  # the moment of the crash, chosen at random
        load.stopping.set()
        killed = _crash(server, rnd)
        load.join()
        assert not load.errors, f"round {rnd}: commands failed before the kill: {load.errors[:5]}"
        assert load.acks, f"round {rnd}: no command was acknowledged before the kill"
        print(f"round {rnd}: {len(load.acks)} acknowledged commands before kill -9 of {killed}")
        server.start()
        verify_acks(server, load.acks, rng)
        verify_streams(server, marker(server, f"streams-{rnd}"))
        assert_views_equal_rebuild(server, f"rebuild-{rnd}")


def test_sigterm_during_in_flight_calls_exits_0_and_keeps_acknowledged(server):
    load = Load(server, seed=7, prefix="term").start()
    deadline = time.monotonic() + 10
    while len(load.acks) < 50 and time.monotonic() < deadline:
        time.sleep(0.01)
    load.stopping.set()
    server.signal_term()
    rc = server.wait_exit()
    load.join()
    assert rc == 0, f"crm-server exited with {rc} after SIGTERM under load"
    assert not load.errors, f"commands failed before SIGTERM: {load.errors[:5]}"
    server.start()
    verify_acks(server, load.acks, random.Random(7))
