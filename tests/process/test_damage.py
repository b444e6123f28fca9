"""Damage is detected, never papered over (issue 9): a damaged record in the middle of the
embedded event log's write-ahead log stops the server at start-up with a message naming the
directory, instead of opening with every event after the damage silently gone.

Before: RocksDB's default recovery cut the log at the damage; the next command got offset 150
after 300 registrations, and the views still listed all 300 customers."""

from __future__ import annotations

import subprocess

import pytest

import crmtest

pytestmark = pytest.mark.engines("embedded")


def _crmctl_verify(data_dir) -> subprocess.CompletedProcess:
    """crmctl verify on a stopped server's data directory."""
    return crmtest.crmctl("verify", "--data-dir", str(data_dir))


def test_a_damaged_log_record_stops_the_server_at_start(server):
    for _ in range(300):
        crmtest.register(server)
    server.kill()
    verified = _crmctl_verify(server.data_dir)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert f"ok       {server.data_dir / 'log'}" in verified.stdout
    wals = sorted((server.data_dir / "log").glob("*.log"), key=lambda p: p.stat().st_size)
    assert wals, "no write-ahead log in the event log's directory"
    wal = wals[-1]
    size = wal.stat().st_size
    assert size > 4096
    with open(wal, "r+b") as f:
        f.seek(size // 2)
        f.write(b"\xff" * 64)

    proc = subprocess.run(
        [str(crmtest.SERVER_BIN), "--data-dir", str(server.data_dir), "--listen", "127.0.0.1:0"],
        stdin=subprocess.DEVNULL, capture_output=True, timeout=60, check=False)
    out = (proc.stdout + proc.stderr).decode(errors="replace")
    assert proc.returncode != 0, out
    assert "Corruption" in out and str(server.data_dir / "log") in out, out
    assert "Restore the directory from a backup" in out, out
    verified = _crmctl_verify(server.data_dir)
    assert verified.returncode == 1, verified.stdout + verified.stderr
    assert f"damaged  {server.data_dir / 'log'}" in verified.stdout, verified.stdout


def test_a_damaged_table_file_stops_the_server_at_start(server):
    for _ in range(300):
        crmtest.register(server)
    server.stop()  # a clean stop leaves the stores in table files
    table = crmtest.damage_largest_table(server.data_dir / "log")

    proc = subprocess.run(
        [str(crmtest.SERVER_BIN), "--data-dir", str(server.data_dir), "--listen", "127.0.0.1:0"],
        stdin=subprocess.DEVNULL, capture_output=True, timeout=60, check=False)
    out = (proc.stdout + proc.stderr).decode(errors="replace")
    assert proc.returncode != 0, out
    assert "Corruption" in out and table.name in out, out
