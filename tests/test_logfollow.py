"""follow_logs: the `logs -f` follow-and-restart loop, without any UI."""

from __future__ import annotations

import asyncio
import contextlib
import sys

import pytest

from console.commands.compose import ComposeCommands
from console.config import load_config
from console.engine.incident import make_transport
from console.failures import ConnectionLost
from console.live.logfollow import FollowRestart, LogLines, follow_logs
from console.transport.base import CommandResult
from console.transport.local import LocalTransport
from tests._waiting import wait_for


class ScriptedTransport:
    """Each run plays the next script: ("out", lines) prints, ("exit", code) ends, ("raise", exc) drops
    the link, ("hang",) blocks until cancelled. Runs past the last script hang."""

    description = "scripted"

    def __init__(self, *scripts) -> None:
        self.scripts = list(scripts)
        self.runs: list[list[str]] = []
        self.cancelled = 0
        self.now = 0.0  # a clock for follow_logs that only ("advance", seconds) moves

    async def connect(self) -> None: ...

    async def close(self) -> None: ...

    async def run(self, argv, *, timeout=None, on_output=None, stdin=None, capture=False) -> CommandResult:
        self.runs.append(list(argv))
        script = self.scripts.pop(0) if self.scripts else [("hang",)]
        for step in script:
            await asyncio.sleep(0)
            if step[0] == "out":
                on_output("stdout", list(step[1]))
            elif step[0] == "burst":  # several chunks with no pause in between
                for lines in step[1]:
                    on_output("stdout", list(lines))
            elif step[0] == "advance":
                self.now += step[1]
            elif step[0] == "exit":
                return CommandResult(list(argv), step[1], 0.0)
            elif step[0] == "raise":
                raise step[1]
            elif step[0] == "hang":
                try:
                    await asyncio.Event().wait()
                except asyncio.CancelledError:
                    self.cancelled += 1
                    raise
        return CommandResult(list(argv), 0, 0.0)


class Sleeps:
    """Records the pauses asked for instead of taking them."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        await asyncio.sleep(0)


async def take(iterator, n: int) -> list:
    return [await anext(iterator) for _ in range(n)]


ARGV = ["docker", "compose", "logs", "-f"]


@pytest.mark.asyncio
async def test_the_stream_restarts_after_it_ends_and_after_the_link_drops_with_a_notice_each_time():
    transport = ScriptedTransport(
        [("out", ["a 1", "a 2"]), ("exit", 0)],
        [("raise", ConnectionLost("connection lost to deploy@127.0.0.1:2222"))],
        [("out", ["b 1"]), ("hang",)],
    )
    sleeps = Sleeps()
    follow = follow_logs(transport, ARGV, sleep=sleeps)
    got = await take(follow, 4)
    await follow.aclose()

    assert got[0] == LogLines(["a 1", "a 2"])
    assert got[1] == FollowRestart("ended (exit 0)", 1.0, 1)
    assert got[1].lines == ["[console] log stream ended (exit 0); restarting in 1s"]
    assert got[2] == FollowRestart("interrupted: connection lost to deploy@127.0.0.1:2222", 2.0, 2)
    assert got[3] == LogLines(["b 1"])
    assert sleeps.delays == [1.0, 2.0]
    assert transport.runs == [ARGV] * 3
    assert transport.cancelled == 1  # closing the iterator stopped the command still following


@pytest.mark.asyncio
async def test_the_pause_grows_while_it_keeps_dying_and_stays_at_the_last():
    transport = ScriptedTransport(*[[("exit", 1)]] * 6)
    sleeps = Sleeps()
    follow = follow_logs(transport, ARGV, delays=(1.0, 2.0, 4.0), sleep=sleeps)
    restarts = await take(follow, 6)
    await follow.aclose()
    assert [r.delay for r in restarts] == [1.0, 2.0, 4.0, 4.0, 4.0, 4.0]
    assert [r.restarts for r in restarts] == [1, 2, 3, 4, 5, 6]
    assert all(r.reason == "ended (exit 1)" for r in restarts)


@pytest.mark.asyncio
async def test_a_run_that_lasted_starts_the_pauses_over():
    quick = [("exit", 0)]
    lasted = [("advance", 30.0), ("exit", 0)]
    transport = ScriptedTransport(quick, quick, lasted, quick, quick)
    sleeps = Sleeps()
    follow = follow_logs(
        transport, ARGV, delays=(1.0, 2.0, 4.0), healthy_run=30.0, clock=lambda: transport.now, sleep=sleeps
    )
    restarts = await take(follow, 5)
    await follow.aclose()
    assert [r.delay for r in restarts] == [1.0, 2.0, 1.0, 2.0, 4.0]


@pytest.mark.asyncio
async def test_output_that_arrives_while_the_consumer_is_busy_comes_as_one_batch():
    transport = ScriptedTransport([("burst", [["1"], ["2", "3"], ["4"]]), ("hang",)])
    follow = follow_logs(transport, ARGV, sleep=Sleeps())
    assert await anext(follow) == LogLines(["1", "2", "3", "4"])
    await follow.aclose()


@pytest.mark.asyncio
async def test_cancelling_the_consumer_cancels_the_command():
    transport = ScriptedTransport([("out", ["x"]), ("hang",)])
    seen: list = []

    async def consume() -> None:
        async for batch in follow_logs(transport, ARGV, sleep=Sleeps()):
            seen.append(batch)

    task = asyncio.ensure_future(consume())
    await wait_for(lambda: seen, 5, "the first batch")
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert transport.cancelled == 1
    assert seen == [LogLines(["x"])]


@pytest.mark.asyncio
async def test_anything_but_a_link_failure_is_a_bug_and_propagates():
    transport = ScriptedTransport([("raise", ValueError("empty argv"))])
    with pytest.raises(ValueError, match="empty argv"):
        async for _ in follow_logs(transport, ARGV, sleep=Sleeps()):
            pass


@pytest.mark.asyncio
async def test_no_delays_is_refused():
    with pytest.raises(ValueError, match="at least one restart delay"):
        await anext(follow_logs(ScriptedTransport(), ARGV, delays=()))


@pytest.mark.asyncio
async def test_a_real_command_on_this_machine_is_followed_and_restarted():
    argv = [sys.executable, "-c", "import sys; print('one'); print('two', file=sys.stderr); sys.exit(3)"]
    follow = follow_logs(LocalTransport(), argv, delays=(0.0,))
    lines: list[str] = []
    restarts: list[FollowRestart] = []
    async for batch in follow:
        if isinstance(batch, FollowRestart):
            restarts.append(batch)
            if len(restarts) == 2:
                break
        else:
            lines.extend(batch.lines)
    await follow.aclose()
    assert sorted(lines) == ["one", "one", "two", "two"]
    assert [r.reason for r in restarts] == ["ended (exit 3)"] * 2


@pytest.mark.sandbox
@pytest.mark.asyncio
async def test_the_sandbox_stacks_logs_are_followed_over_ssh(sandbox_config_path):
    config = load_config(sandbox_config_path)
    transport = make_transport(config)
    await transport.connect()
    try:
        argv = ComposeCommands.for_target(config.target).logs_follow(tail=5)
        follow = follow_logs(transport, argv)
        batch = await asyncio.wait_for(anext(follow), 30)
        await follow.aclose()
        assert isinstance(batch, LogLines) and batch.lines
        assert any("|" in line for line in batch.lines)  # docker's "service  | ..." prefix
        # the follow was stopped on the host, not left running: a quick command still answers
        result = await transport.run(["true"])
        assert result.ok
    finally:
        await transport.close()
