"""LocalTransport: same semantics as the SSH transport, on this machine."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from console.failures import CommandTimeout
from console.transport.local import LocalTransport, _group_alive
from tests._waiting import wait_for_sync as wait_until_sync


def unique_marker() -> tuple[str, str]:
    token = uuid.uuid4().hex[:12]
    return f"ictest{token}", f"ictes[t]{token}"


def processes(pattern: str) -> list[str]:
    return subprocess.run(["pgrep", "-af", pattern], capture_output=True, text=True).stdout.splitlines()


def collector():
    seen: dict[str, list[str]] = {"stdout": [], "stderr": []}

    def on_output(stream: str, lines: list[str]) -> None:
        seen[stream].extend(lines)

    return seen, on_output


async def wait_until(predicate, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)


@pytest.mark.asyncio
async def test_streams_both_outputs_and_reports_exit_code():
    seen, on_output = collector()
    result = await LocalTransport().run(
        ["sh", "-c", "echo one; echo two >&2; echo three; exit 7"], on_output=on_output, capture=True
    )
    assert result.exit_status == 7 and not result.ok
    assert seen == {"stdout": ["one", "three"], "stderr": ["two"]}
    assert (result.stdout, result.stderr) == ("one\nthree\n", "two\n")
    assert LocalTransport.description == "local"


@pytest.mark.asyncio
async def test_nothing_is_captured_unless_asked():
    result = await LocalTransport().run(["echo", "hi"])
    assert result.ok and result.stdout == "" and result.stderr == ""


@pytest.mark.asyncio
async def test_stdin_is_delivered_and_absent_stdin_is_eof():
    data = b"".join(b"line %d\n" % i for i in range(50000))  # within the 1 MiB capture
    transport = LocalTransport()
    result = await transport.run(["cat"], stdin=data, capture=True)
    assert result.stdout.encode() == data
    empty = await transport.run(["cat"], capture=True, timeout=5)
    assert empty.ok and empty.stdout == ""


@pytest.mark.asyncio
async def test_missing_program_is_exit_127_like_a_shell():
    result = await LocalTransport().run(["no-such-program-ictest"], capture=True)
    assert result.exit_status == 127
    assert "no-such-program-ictest" in result.stderr


@pytest.mark.asyncio
async def test_death_by_signal_is_128_plus_signal():
    result = await LocalTransport().run(["sh", "-c", "kill -KILL $$"])
    assert result.exit_status == 137


@pytest.mark.asyncio
async def test_flood_delivers_every_line_in_order():
    seen, on_output = collector()
    result = await LocalTransport().run(["seq", "1", "2000000"], on_output=on_output)
    assert result.ok
    assert seen["stdout"] == [str(i) for i in range(1, 2_000_001)]


@pytest.mark.asyncio
async def test_partial_last_line_is_flushed_at_eof():
    seen, on_output = collector()
    await LocalTransport().run(["printf", "a\nb\nno newline"], on_output=on_output)
    assert seen["stdout"] == ["a", "b", "no newline"]


@pytest.mark.asyncio
async def test_timeout_kills_the_whole_process_group():
    marker, pattern = unique_marker()
    started = time.monotonic()
    with pytest.raises(CommandTimeout) as info:
        await LocalTransport().run(["sh", "-c", f"sleep 300 & sleep 300; echo {marker}"], timeout=0.5)
    assert time.monotonic() - started < 5
    assert info.value.result.exit_status is None
    await wait_until(lambda: processes(pattern) == [], 3)


@pytest.mark.asyncio
async def test_timeout_escalates_to_kill_when_term_is_ignored():
    marker, pattern = unique_marker()
    started = time.monotonic()
    with pytest.raises(CommandTimeout):
        await LocalTransport(kill_grace=0.5).run(["sh", "-c", f"trap '' TERM; sleep 300; echo {marker}"], timeout=0.5)
    assert time.monotonic() - started < 5
    await wait_until(lambda: processes(pattern) == [], 3)


@pytest.mark.asyncio
async def test_cancelling_the_task_kills_the_whole_process_group():
    marker, pattern = unique_marker()
    seen, on_output = collector()
    task = asyncio.ensure_future(
        LocalTransport().run(["sh", "-c", f"echo started; sleep 300; echo done {marker}"], on_output=on_output)
    )
    await wait_until(lambda: "started" in seen["stdout"])
    assert processes(pattern)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await wait_until(lambda: processes(pattern) == [], 3)


@pytest.mark.asyncio
async def test_failing_output_callback_kills_the_command_and_propagates():
    marker, pattern = unique_marker()

    def explode(stream, lines):
        raise RuntimeError("widget gone")

    with pytest.raises(RuntimeError, match="widget gone"):
        await LocalTransport(kill_grace=0.5).run(
            ["sh", "-c", f"echo hi; sleep 300; echo {marker}"], on_output=explode, timeout=20
        )
    await wait_until(lambda: processes(pattern) == [], 3)


def test_a_group_whose_members_are_all_dead_but_unreaped_has_ended():
    # Killed grandchildren wait for PID 1 to reap them and still answer killpg(pgid, 0) until it
    # does: the abort must not wait out its grace for them. Popen does not reap until wait().
    leader = subprocess.Popen(["true"], start_new_session=True)
    try:
        wait_until_sync(lambda: _state(leader.pid) == "Z")
        os.killpg(leader.pid, 0)  # the zombie still answers
        assert not _group_alive(leader.pid)
    finally:
        leader.wait()
    assert not _group_alive(leader.pid)


def test_a_group_with_a_running_member_is_alive():
    leader = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        assert _group_alive(leader.pid)
    finally:
        leader.kill()
        leader.wait()


def _state(pid: int) -> str:
    line = Path(f"/proc/{pid}/stat").read_text()
    return line[line.rfind(")") + 2]
