"""`bench/run --quick` (CI's smoke run of every local benchmark) runs and exits 0. No timing is asserted."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def test_bench_run_quick_runs_every_local_benchmark_and_exits_0(tmp_path):
    result = subprocess.run(
        [str(ROOT / "bench" / "run"), "--quick"],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "PYTHON": sys.executable, "HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for name in ("startup", "health", "log_pane"):
        assert f"=== {name}: exit 0" in result.stdout
