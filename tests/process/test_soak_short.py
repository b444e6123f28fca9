"""The mixed-fault soak's short mode (issue 9; scripts/soak.sh runs the long one): about a minute
of mixed load on the embedded server with each fault kind once (kill -9, SIGTERM, a burst of
never-satisfiable token waits, and a full disk when root), then the checks: nothing acknowledged
lost or duplicated, the views equal to the answers, health SERVING, a clean SIGTERM. Here so that
the soak does not rot; the driver is soak.py. Seeded: CRM_TEST_SEED repeats a run."""

from __future__ import annotations

import io
import os
import random

import soak


def test_short_soak_with_every_fault_kind_loses_nothing(tmp_path):
    seed = int(os.environ.get("CRM_TEST_SEED", random.randrange(1 << 30)))
    out = io.StringIO()
    run = soak.Soak(soak.Options.short(seed=seed, workdir=tmp_path / "soak", out=out))
    ok = run.run()
    print(out.getvalue())
    assert ok, f"the soak failed (seed {seed}):\n{out.getvalue()[-20000:]}"
    kinds = {f.kind for f in run.faults}
    assert kinds == set(run.fault_kinds()), f"faults injected: {kinds}"
    assert run.stats.acked > 500, run.stats.acked
