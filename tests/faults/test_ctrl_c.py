"""Fault: Ctrl-C once, or twice, while a destructive step runs on the sandbox host.

The headless CLI's real code path (``cli_commands._execute``) runs a one-step procedure whose
step sleeps on the host. After SIGINT the console must leave no remote process behind, release
the host lock and journal ``procedure_interrupted``, however impatient the operator is.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid

import pytest

from console.commands.lock import LOCK_NAME
from console.config import load_config
from tests.conftest import ROOT, host, sandbox_env

pytestmark = pytest.mark.sandbox

DRIVER = r"""
import argparse, asyncio, dataclasses, os, sys
from pathlib import Path
from console.cli.commands import _execute
from console.config import load_config
from console.engine.procedure import Procedure, Step
config = load_config(sys.argv[1])
config = dataclasses.replace(config, paths=dataclasses.replace(config.paths, state_dir=Path(sys.argv[2])))
step = Step("slow", "A long destructive step", argv=["sh", "-c", f"sleep 300; echo {os.environ['MARKER']}"],
            destructive=True, mutating=True)
args = argparse.Namespace(json=False, yes=True, dry_run=False)
sys.exit(asyncio.run(_execute(config, Procedure("rollback", [step], "v2", "v1"), args)))
"""


def _wait(predicate, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds:g}s waiting for {what}")
        time.sleep(0.2)


def _press_until_it_exits(console: subprocess.Popen, seconds: float = 30) -> None:
    """The operator who holds Ctrl-C down: presses land through the cleanup and the process's exit."""
    deadline = time.monotonic() + seconds
    while console.poll() is None and time.monotonic() < deadline:
        console.send_signal(signal.SIGINT)
        time.sleep(0.02)


@pytest.mark.parametrize("presses", [1, 2, 3, "until it exits"])
def test_ctrl_c_during_a_destructive_step_leaves_nothing_behind(sandbox_config_path, tmp_path, presses):
    config = load_config(sandbox_config_path)
    marker = f"ctrlc-{uuid.uuid4().hex}"
    lock_dir = f"{config.target.project_dir}/{LOCK_NAME}"
    # "[c]trlc-...": the pattern never matches the shell that runs pgrep itself.
    pattern = f"[{marker[0]}]{marker[1:]}"
    out = (tmp_path / "out").open("w+")
    # The marker goes by environment: the sandbox host shares this machine's process table, and
    # pgrep -f must find the step's remote process, not this console's command line.
    console = subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(sandbox_config_path), str(tmp_path / "state")],
        stdout=out,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
        env={**sandbox_env(), "MARKER": marker},
    )
    try:
        _wait(lambda: host(config, f"pgrep -f '{pattern}'").returncode == 0, 60, "the step to run on the host")
        assert host(config, f"test -d {lock_dir}").returncode == 0, "the lock was not taken"
        if presses == "until it exits":
            _press_until_it_exits(console)
        for _ in range(presses if isinstance(presses, int) else 0):  # later presses land mid-cleanup
            console.send_signal(signal.SIGINT)
            time.sleep(0.05)
        code = console.wait(timeout=60)
    finally:
        if console.poll() is None:
            console.kill()
        host(config, f"pkill -f '{pattern}'; rm -rf {lock_dir}")
    out.seek(0)
    shown = out.read()
    assert code == 130, shown
    assert "Traceback" not in shown and "KeyboardInterrupt" not in shown, shown
    assert "procedure interrupted" in shown
    # Whether a later press lands mid-cleanup or after it depends on how fast the host answers;
    # the answer to a press mid-cleanup is tested deterministically in tests/test_interrupts.py.
    # No remote process left, lock released, interruption journaled.
    assert host(config, f"pgrep -f '{pattern}'").returncode == 1
    assert host(config, f"test -e {lock_dir}").returncode == 1
    [journal] = (tmp_path / "state").rglob("journal.jsonl")
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    types = [r["type"] for r in records]
    assert "procedure_interrupted" in types and "procedure_finished" not in types
    assert [r["action"] for r in records if r["type"] == "lock"] == ["acquired", "released"]
    assert next(r for r in records if r["type"] == "procedure_interrupted")["step_id"] == "slow"
