"""Damage on Kafka is refetched, not papered over (issue 9): crm-projector's views with a flipped
byte in a table file stop the projector at start-up with a message naming the file; the documented
recovery, `--rebuild`, refolds the views from the topics (the system of record), and every
acknowledged command is there again."""

from __future__ import annotations

import random

import pytest

import crmtest
import loadgen

pytestmark = [pytest.mark.kafka, pytest.mark.engines("kafka")]


def test_damaged_views_stop_the_projector_and_are_refetched_from_the_topics(make_server):
    cluster = make_server()
    load = loadgen.Load(cluster, seed=11, prefix="kdmg").start()
    crmtest.wait_for("200 acknowledged commands", lambda: len(load.acks) >= 200)
    load.stopping.set()
    load.join()
    assert not load.errors, load.errors[:5]
    token = loadgen.marker(cluster, "before-damage")
    cluster.query.GetCustomer(crmtest.spb.GetCustomerRequest(
        name=load.acks[0].name, consistency_token=token))

    projector = cluster.projector
    projector.stop()  # a clean stop leaves the views in table files
    table = crmtest.damage_largest_table(projector.data_dir / "views")

    projector.spawn()
    assert projector.wait_exit(60) != 0
    out = projector.log_tail()
    assert "Corruption" in out and table.name in out, out
    assert "--rebuild" in out, out

    projector.start("--rebuild")
    loadgen.verify_acks(cluster, load.acks, random.Random(11))
    loadgen.verify_streams(cluster, token)
