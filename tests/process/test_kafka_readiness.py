"""Readiness tells the truth (issue 10; apps/runtime/monitor.h says the rule):
  - startup holds until caught up: a projector started on a long log answers nothing before its
    views hold the whole log, so its first SERVING comes with every customer listable;
  - a projector further behind the log than --readiness-max-lag turns NOT_SERVING, and SERVING
    again by itself once it has caught up. It is made to fall behind for real: its data directory
    is on a small tmpfs that the test fills, so its folds cannot write (they retry) while
    crm-command keeps appending; freeing space (RocksDB wants 64 MiB) lets them catch up.
(The broker outage, during which crm-command turns NOT_SERVING, is in test_kafka_outage.py.)
Mounting the tmpfs needs root."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

import crmtest
import kafkatest
from crmtest import spb

pytestmark = [pytest.mark.kafka, pytest.mark.engines("kafka")]


def _fill(disk: Path) -> Path:
    """Writes a file until the file system is full; returns it."""
    filler = disk / "filler"
    chunk = b"\0" * (1 << 20)
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(chunk)
                f.flush()
        except OSError:
            pass
    return filler


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_a_projector_behind_its_bound_is_not_ready_until_it_catches_up(make_server, tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=40m", "tmpfs", str(disk)], check=True)
    try:
        cluster = make_server(start=False)
        cluster.projector.data_dir = disk / "projector"
        cluster.start("--readiness-max-lag", "2s")
        projector = cluster.projector
        first = crmtest.register(cluster)
        projector.query.GetCustomer(spb.GetCustomerRequest(
            name=first.customer.name, consistency_token=first.consistency_token))
        assert kafkatest.serving(projector)

        filler = _fill(disk)
        readiness = kafkatest.HealthRecorder(projector).start()
        tokens = [first.consistency_token]
        try:
            # crm-command keeps appending; the projector cannot write its views.
            deadline = time.monotonic() + 90
            while kafkatest.serving(projector):
                assert time.monotonic() < deadline, "the projector stayed ready while behind"
                tokens.append(crmtest.register(cluster).consistency_token)
            went_down = time.monotonic()
            assert projector.running, "the projector died on a full disk"
            # Space again: RocksDB resumes once it has a write buffer's worth (64 MiB) free.
            filler.unlink()
            subprocess.run(["mount", "-o", "remount,size=300m", str(disk)], check=True)
            crmtest.wait_for("the projector ready again", lambda: kafkatest.serving(projector),
                             timeout_s=90)
            back = time.monotonic()
        finally:
            readiness.stop()
        print(f"{len(tokens)} commands; not ready for {back - went_down:.1f}s after freeing space")
        # Caught up: every customer is there.
        token = crmtest.merge_tokens(*tokens)
        listed = crmtest.list_all(cluster, consistency_token=token)
        assert len(listed) == len(tokens)
        assert readiness.not_serving_between(went_down, back)
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_startup_holds_until_caught_up(make_server):
    cluster = make_server()
    for _ in range(3):
        crmtest.register(cluster)
    cluster.projector.stop()
    tokens = [crmtest.register(cluster).consistency_token for _ in range(300)]
    cluster.projector.spawn()
    projector = cluster.projector
    projector._wait_port(60)  # pylint: disable=protected-access
    projector._connect()  # pylint: disable=protected-access
    crmtest.wait_for("the projector SERVING", lambda: kafkatest.serving(projector), timeout_s=60)
    # Its first SERVING already has every customer: no token needed.
    listed = crmtest.list_all(cluster)
    assert len(listed) == 303
    assert crmtest.list_all(cluster, consistency_token=crmtest.merge_tokens(*tokens))
