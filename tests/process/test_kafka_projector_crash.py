"""crm-projector killed (kill -9) again and again while a client streams commands to crm-command.

crm-command keeps taking commands the whole time (none may fail). Each round crm-projector is
killed at a random moment (every fourth round also once during its start-up) and started again
on the same data dir; once it serves, a query with the token of a recent command must see that
command. After the stream ends, the crashed projector's views (every customer via
ListCustomers, and every customer's history), read with a token covering every acknowledged
command, must equal a fresh fold of the topic by a second crm-projector on an empty data dir,
and every acknowledged command must be there.
"""

from __future__ import annotations

import os
import random
import time

import pytest

from crmtest import (covering_token, describe_snapshot_diff, merge_tokens, snapshot, spb)
from loadgen import Load, verify_acks, verify_streams

pytestmark = [pytest.mark.kafka, pytest.mark.engines("kafka")]

ROUNDS = int(os.environ.get("CRM_TEST_PROJECTOR_ROUNDS", "20"))


def test_projector_killed_at_random_converges_to_a_fresh_fold(server):
    seed = int(os.environ.get("CRM_TEST_SEED", random.randrange(1 << 30)))
    print(f"seed {seed} (CRM_TEST_SEED to repeat)")
    rng = random.Random(seed)
    projector = server.projector
    # A paced stream: enough to keep the projector busy without flooding the 2-core machine.
    load = Load(server, seed, prefix="pk", threads=3, pause_s=0.005).start()
    started = time.monotonic()
    restart_s = []
    try:
        for rnd in range(ROUNDS):
            time.sleep(rng.uniform(0.05, 1.0))  # the moment of the crash, chosen at random
            projector.kill()
            time.sleep(rng.choice([0.0, 0.0, rng.uniform(0.0, 0.5)]))
            if rnd % 4 == 3:  # also kill it once more while it starts up (catching up)
                projector.spawn()
                time.sleep(rng.uniform(0.0, 0.3))
                projector.kill()
            t0 = time.monotonic()
            projector.start()
            restart_s.append(time.monotonic() - t0)
            # Read-your-writes through the restarted projector.
            with load.lock:
                recent = load.acks[-1] if load.acks else None
            if recent is not None:
                got = server.query.GetCustomer(spb.GetCustomerRequest(
                    name=recent.name, consistency_token=recent.token))
                assert got.version >= recent.version, (
                    f"round {rnd}: {recent.name} version {got.version} < acked {recent.version}")
            assert not load.errors, f"round {rnd}: commands failed: {load.errors[:5]}"
    finally:
        load.stopping.set()
        load.join()
    elapsed = time.monotonic() - started
    assert not load.errors, f"commands failed while only the projector crashed: {load.errors[:5]}"
    print(f"{ROUNDS} kill -9 rounds in {elapsed:.1f}s, {len(load.acks)} acknowledged commands; "
          f"projector restart to SERVING: max {max(restart_s):.2f}s, "
          f"mean {sum(restart_s) / len(restart_s):.2f}s")
    assert len(load.acks) >= ROUNDS, "the stream hardly ran"

    token = covering_token(server, merge_tokens(*(a.token for a in load.acks)))
    verify_acks(server, load.acks, rng)
    verify_streams(server, token)
    crashed = snapshot(server, token)
    fresh = server.new_projector("fresh-projector")
    fresh_view = snapshot(_QueryOnly(fresh), token)
    assert crashed == fresh_view, (
        "the crashed projector's views differ from a fresh fold:\n"
        + describe_snapshot_diff(fresh_view, crashed))
    assert len(crashed) == len({a.name for a in load.acks}), "customers missing from the views"


class _QueryOnly:
    """A projector as the `server` argument of the read helpers."""

    def __init__(self, projector):
        self.query = projector.query
