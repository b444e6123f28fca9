"""Backup and restore of the embedded engine (issue 9): an online backup taken under load, a
damaged event log, and the documented recovery (README, "Backup and restore"): move the damaged
data directory aside, `crmctl restore` the backup, start. Nothing acknowledged before the backup
is missing, retries answer as the first time, and the restored views are the restored log's fold.

crm.admin.v1.BackupService copies the views and the command state before the log, so a backup
taken while commands go on is never a set of views ahead of their log (which the server refuses
to start on)."""

from __future__ import annotations

import random
import stat

import grpc
import pytest

import crmtest
import loadgen
from crm.admin.v1 import backup_service_pb2 as bpb
from crm.admin.v1 import backup_service_pb2_grpc as bgrpc

pytestmark = pytest.mark.engines("embedded")


def _backups(server) -> bgrpc.BackupServiceStub:
    return bgrpc.BackupServiceStub(server.channel)


def test_a_backup_under_load_restores_every_acknowledged_command(server):
    load = loadgen.Load(server, seed=9, prefix="bk").start()
    crmtest.wait_for("300 acknowledged commands", lambda: len(load.acks) >= 300)
    with load.lock:
        acked_before = list(load.acks)
    backup = _backups(server).CreateBackup(bpb.CreateBackupRequest(backup_id="under-load"))
    crmtest.wait_for("more commands after the backup", lambda: len(load.acks) > len(acked_before) + 50)
    load.stopping.set()
    load.join()
    assert not load.errors, load.errors[:5]

    assert backup.name == "backups/under-load"
    assert list(backup.stores) == ["views", "command-state", "log"]
    assert backup.path == str(server.data_dir / "backups" / "under-load")
    assert backup.consistency_token
    assert stat.S_IMODE((server.data_dir / "backups").stat().st_mode) == 0o700

    # The same id again: the backup exists (a retried call answers this too).
    d = crmtest.expect_error(grpc.StatusCode.ALREADY_EXISTS, _backups(server).CreateBackup,
                             bpb.CreateBackupRequest(backup_id="under-load"))
    assert crmtest.assert_error_info(d).reason == "BACKUP_EXISTS"
    d = crmtest.expect_error(grpc.StatusCode.INVALID_ARGUMENT, _backups(server).CreateBackup,
                             bpb.CreateBackupRequest(backup_id="../escape"))
    crmtest.assert_violation(d, "backup_id")

    # Damage: the server refuses the data directory (test_damage.py says how).
    server.stop()
    crmtest.damage_largest_table(server.data_dir / "log")
    damaged = server.data_dir.with_name("data.damaged")
    backup_path = damaged / "backups" / "under-load"

    # The documented recovery. Restoring over the damaged directory is refused.
    refused = crmtest.crmctl("restore", "--from", str(server.data_dir / "backups" / "under-load"),
                             "--data-dir", str(server.data_dir))
    assert refused.returncode == 2 and "move it aside" in refused.stderr, refused
    server.data_dir.rename(damaged)
    restored = crmtest.crmctl("restore", "--from", str(backup_path), "--data-dir",
                              str(server.data_dir))
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert backup.consistency_token in restored.stdout
    verified = crmtest.crmctl("verify", "--data-dir", str(server.data_dir))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    for path in [server.data_dir, *server.data_dir.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, f"{path} is {oct(mode)}"

    server.start()
    # Every command acknowledged before the backup was asked for is there, retries of them answer
    # as the first time, and every stream is whole.
    loadgen.verify_acks(server, acked_before, random.Random(9))
    loadgen.verify_streams(server, backup.consistency_token)
    # The restored views are what the restored log folds to.
    loadgen.assert_views_equal_rebuild(server, "restored")
    assert crmtest.register(server).customer.name


def test_a_restored_backup_answers_as_the_server_did(make_server, tmp_path):
    server = make_server()
    for i in range(120):
        name = crmtest.register(server, customer_id=f"quiet-{i}").customer.name
        if i % 3 == 0:
            server.command.RecordPurchase(crmtest.spb.RecordPurchaseRequest(
                name=name, request_id=crmtest.new_request_id(),
                purchase=crmtest.purchase(1000 + i)))
    backup = _backups(server).CreateBackup(bpb.CreateBackupRequest())
    assert backup.name.startswith("backups/b-"), backup.name
    before = crmtest.snapshot(server, backup.consistency_token)
    assert len(before) == 120

    restored_dir = tmp_path / "restored"
    restored = crmtest.crmctl("restore", "--from", backup.path, "--data-dir", str(restored_dir))
    assert restored.returncode == 0, restored.stdout + restored.stderr
    copy = make_server("copy", data_dir=restored_dir)
    after = crmtest.snapshot(copy, backup.consistency_token)
    assert before == after, crmtest.describe_snapshot_diff(before, after)
    # The copy takes commands where the log left off.
    assert crmtest.register(copy).customer.name


def test_restore_refuses_what_is_not_a_backup(server, tmp_path):
    crmtest.register(server)
    server.stop()
    result = crmtest.crmctl("restore", "--from", str(server.data_dir), "--data-dir",
                            str(tmp_path / "new"))
    assert result.returncode == 2 and "is not a backup" in result.stderr, result
    assert not (tmp_path / "new").exists()
