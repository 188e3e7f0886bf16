"""The process-group marker: found after a login banner, never assumed when missing, and the
wrapper works with BusyBox's ``setsid`` (no ``-w``), over a real SSH channel to a fake host."""

from __future__ import annotations

import asyncio
import os
import subprocess
import uuid

import pytest

from _fake_host import FakeHost, busybox_bin
from console.failures import CommandTimeout
from console.transport.process_group import PGID_MARKER, wrap_in_process_group
from console.transport.remote_command import MarkedStderr
from tests._records_support import last_record


def _alive(marker: str) -> bool:
    return subprocess.run(["pgrep", "-f", marker], capture_output=True).returncode == 0


async def _wait_gone(marker: str, seconds: float = 5.0) -> bool:
    for _ in range(int(seconds * 10)):
        if not _alive(marker):
            return True
        await asyncio.sleep(0.1)
    return False


def test_the_marker_is_found_after_banner_lines_and_stripped():
    seen: list[str] = []
    err = MarkedStderr(lambda stream, lines: seen.extend(lines), None)
    err.feed(b"Welcome to host\nLast login: yesterday\n")
    assert err.pgid is None and not err.marker_seen.is_set()
    err.feed(f"{PGID_MARKER}4242\nreal stderr\n".encode())
    assert err.pgid == 4242 and err.marker_seen.is_set()
    assert seen == ["Welcome to host", "Last login: yesterday", "real stderr"]
    err.feed(f"{PGID_MARKER}999\n".encode())  # only the first marker counts
    assert err.pgid == 4242


def test_without_a_marker_no_group_is_assumed():
    err = MarkedStderr(None, None)
    err.feed(b"sh: setsid: not found\n")
    err.finish()
    assert err.pgid is None and err.marker_seen.is_set()


@pytest.fixture
def host():
    hosts: list[FakeHost] = []

    def make(**options) -> FakeHost:
        hosts.append(FakeHost(**options))
        return hosts[-1]

    yield make
    for h in hosts:
        h.close()


async def test_a_timed_out_step_behind_a_login_banner_is_killed_with_its_group(host, tmp_path):
    marker = f"banner-{uuid.uuid4().hex}"
    transport = await host(banner="This system is monitored. Authorized use only.").transport(tmp_path)
    with pytest.raises(CommandTimeout) as failed:
        await transport.run(["sh", "-c", f"sleep 300; echo {marker}"], timeout=1)
    assert "killed with its process group" in str(failed.value)
    assert await _wait_gone(marker), "the remote step kept running"
    await transport.close()


async def test_a_missing_marker_is_reported_as_maybe_still_running(host, tmp_path):
    marker = f"nomarker-{uuid.uuid4().hex}"
    # A host whose setsid never starts the wrapper's inner shell: no marker ever comes.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "setsid").write_text(
        f'#!/bin/sh\nwhile [ "${{1#-}}" != "$1" ]; do shift; done\nexec sleep 30 # {marker}\n'
    )
    (bin_dir / "setsid").chmod(0o755)
    transport = await host(path=f"{bin_dir}:{os.environ['PATH']}").transport(tmp_path)
    try:
        with pytest.raises(CommandTimeout) as failed:
            await transport.run(["true"], timeout=1)
        message = str(failed.value)
        assert "killed with its process group" not in message and "MAY STILL RUN" in message
    finally:
        subprocess.run(["pkill", "-f", marker], capture_output=True)
        await transport.close()


async def test_busybox_setsid_runs_the_command_in_its_own_group_with_status_and_stdin(host, tmp_path):
    bin_dir = busybox_bin(tmp_path)
    line = wrap_in_process_group(["sh", "-c", "cut -d' ' -f5 /proc/$$/stat; cat; exit 4"])
    done = subprocess.run(
        ["sh", "-c", line], input="from stdin\n", capture_output=True, text=True, env={"PATH": str(bin_dir)}, timeout=10
    )
    assert done.returncode == 4, done.stderr
    pgid_line = [line for line in done.stderr.splitlines() if line.startswith(PGID_MARKER)]
    assert len(pgid_line) == 1 and "invalid option" not in done.stderr
    group, passed = done.stdout.splitlines()
    assert PGID_MARKER + group == pgid_line[0] and passed == "from stdin"


async def test_busybox_host_over_ssh_times_out_and_kills_the_group(host, tmp_path):
    marker = f"busybox-{uuid.uuid4().hex}"
    transport = await host(path=str(busybox_bin(tmp_path))).transport(tmp_path)
    result = await transport.run(["sh", "-c", "echo hi; exit 3"], capture=True, timeout=10)
    assert (result.exit_status, result.stdout, result.stderr) == (3, "hi\n", "")
    with pytest.raises(CommandTimeout) as failed:
        await transport.run(["sh", "-c", f"sleep 300; echo {marker}"], timeout=1)
    assert "killed with its process group" in str(failed.value)
    assert await _wait_gone(marker), "the remote step kept running"
    await transport.close()


async def test_ctrl_c_on_a_step_whose_group_was_never_reported_says_it_may_still_run(host, tmp_path):
    from _fake_host import ROOT
    from console.config import load_config
    from console.engine.context import StepContext
    from console.engine.events import Notice
    from console.engine.procedure import Procedure, Step
    from console.engine.runner import StepEngine
    from console.incident.journal import Journal

    marker = f"nomarker-cancel-{uuid.uuid4().hex}"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "setsid").write_text(
        f'#!/bin/sh\nwhile [ "${{1#-}}" != "$1" ]; do shift; done\nexec sleep 30 # {marker}\n'
    )
    (bin_dir / "setsid").chmod(0o755)
    transport = await host(path=f"{bin_dir}:{os.environ['PATH']}").transport(tmp_path)
    journal = Journal.create(tmp_path / "state")
    notices: list[str] = []
    ctx = StepContext(load_config(ROOT / "config.example.toml"), transport, journal)
    step = Step("down", "Stop the stack", argv=["docker-compose", "down"])
    engine = StepEngine(
        Procedure("rollback", [step], "v2", "v1"),
        ctx,
        None,
        listeners=[lambda e: isinstance(e, Notice) and notices.append(e.message)],
    )
    run = asyncio.ensure_future(engine.run())
    try:
        for _ in range(50):
            if _alive(marker):
                break
            await asyncio.sleep(0.1)
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run
        interrupted = last_record(journal, "procedure_interrupted")
        assert interrupted.remote_may_still_run == "docker-compose down"
        assert any("may still be running" in n for n in notices)
    finally:
        subprocess.run(["pkill", "-f", marker], capture_output=True)
        await transport.close()
