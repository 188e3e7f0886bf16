"""The log pane fed by a LogFollowThread (its own thread, loop and transport): keys answer mid-flood."""

from __future__ import annotations

import asyncio
import statistics
import sys
import time

import pytest
from textual import events

from console.live.logfollow import FollowRestart
from console.live.logthread import LogFollowThread
from console.transport.local import LocalTransport
from tests.test_widgets_log_pane import PaneApp
from widgets.log_pane import LogPane

# Writes compose-like lines as fast as the pipe takes them, for ``argv[1]`` seconds, then exits.
FLOOD = r"""
import sys, time
rows = [f"mr-dj-backend-1  | 2026-03-01T10:15:30.{i:09d}Z GET /api/{i} 200 \x1b[31mred\x1b[0m\n".encode()
        for i in range(5000)]
block, out, deadline = b"".join(rows), sys.stdout.buffer, time.monotonic() + float(sys.argv[1])
while time.monotonic() < deadline:
    out.write(block)
out.flush()
"""


def flood_argv(seconds: float) -> list[str]:
    return [sys.executable, "-c", FLOOD, str(seconds)]


@pytest.mark.asyncio
async def test_keys_are_answered_while_a_flood_streams_in_from_the_follow_thread():
    app = PaneApp(max_lines=20_000)
    async with app.run_test(size=(80, 24)):
        pane = app.query_one(LogPane)
        restarts: list[FollowRestart] = []
        follower = LogFollowThread(LocalTransport, flood_argv(4.0), pane.ingest_batch, on_restart=restarts.append)
        follower.start()
        answers, seen = [], []
        try:
            deadline = time.monotonic() + 2.5
            while time.monotonic() < deadline:
                was = pane.follow
                pressed = time.monotonic()
                # Straight into the driver, as a terminal would: pilot.press waits for the process's
                # CPU to go idle, which it never does while the follower thread reads a flood.
                app._driver.send_message(events.Key("f", "f"))
                while pane.follow == was:
                    assert time.monotonic() - pressed < 2, "the f key was not answered within 2 s"
                    await asyncio.sleep(0.002)
                answers.append(time.monotonic() - pressed)
                seen.append(pane.buffer.end_seq + pane._pending_count)
                await asyncio.sleep(0.05)
            assert follower.running  # the flood was still on while every key was answered
        finally:
            follower.stop()
            assert await asyncio.to_thread(follower.join, 10), "the follower did not stop"
        pane.drain()
        assert seen[-1] > seen[0] + 50_000  # lines kept arriving between the keys
        assert len(answers) >= 10 and statistics.median(answers) < 0.25, answers
        # Bounded whatever streamed, and the escape sequences never reached a row.
        assert pane.buffer.capacity_used <= 1.25 * 20_000 and len(pane.buffer) <= 20_000
        newest = pane.buffer.get(pane.buffer.end_seq - 1)
        assert newest.service == "mr-dj-backend" and newest.text.endswith("200 red")
        assert not restarts  # stopped before the command ended


@pytest.mark.asyncio
async def test_the_follow_thread_restarts_the_command_and_tells_the_starting_loop():
    got: list = []
    restarts: list[FollowRestart] = []
    argv = [sys.executable, "-c", "print('one'); print('two')"]
    task = asyncio.ensure_future(LogFollowThread(LocalTransport, argv, got.append, on_restart=restarts.append).follow())
    deadline = time.monotonic() + 10
    while not restarts and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert restarts and restarts[0].restarts == 1
    assert b"".join(b for batch in got for b in batch.chunks) == b"one\ntwo\n"
    assert any(isinstance(batch, FollowRestart) for batch in got)


@pytest.mark.asyncio
async def test_a_bug_in_the_follow_thread_reaches_the_awaiting_task():
    def deliver(_batch) -> None:
        raise RuntimeError("the pane broke")

    follower = LogFollowThread(LocalTransport, [sys.executable, "-c", "print('x')"], deliver)
    follower.start()
    with pytest.raises(RuntimeError, match="the pane broke"):
        await asyncio.wait_for(follower.wait(), 10)


@pytest.mark.asyncio
async def test_a_flood_is_shown_at_most_once_a_second_a_trickle_at_once():
    from tests.test_widgets_log_pane import lines
    from widgets.log_pane import FLOOD_DRAIN_INTERVAL, FLOOD_LINES

    app = PaneApp()
    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.query_one(LogPane)
        await pilot.pause(0.3)
        pane.ingest(lines(5))
        await pilot.pause(0.3)
        assert pane.buffer.end_seq == 5  # a trickle: the next tick shows it
        pane.drain()
        drained = time.monotonic()
        pane.ingest(lines(FLOOD_LINES + 1, start=5))
        await pilot.pause(0.5)
        assert pane.buffer.end_seq == 5 and pane._pending_count == FLOOD_LINES + 1  # held back
        while pane.buffer.end_seq == 5:
            assert time.monotonic() - drained < FLOOD_DRAIN_INTERVAL + 1, "the flood was never shown"
            await pilot.pause(0.05)
        assert time.monotonic() - drained >= FLOOD_DRAIN_INTERVAL * 0.9
        assert pane.buffer.end_seq == FLOOD_LINES + 6


@pytest.mark.asyncio
async def test_a_fleets_chunks_keep_their_host_and_the_host_filter_works():
    from console.live.logfollow import LogLines

    app = PaneApp(hosts=["web1", "web2"])
    async with app.run_test(size=(100, 24)) as pilot:
        pane = app.query_one(LogPane)
        web1 = "".join(f"mr-dj-backend-1  | 2026-03-01T10:15:30Z one {i}\n" for i in range(3)).encode()
        web2 = b"db-1  | 2026-03-01T10:15:31Z \x1b[1mtwo\x1b[0m\r\n"
        pane.ingest_batch(LogLines(["stderr line"], [web1]), host="web1")
        pane.ingest_batch(LogLines([], [web2]), host="web2")
        pane.drain()
        assert [(pane.buffer.host(s), pane.buffer.text(s)) for s in range(5)] == [
            ("web1", "one 0"),
            ("web1", "one 1"),
            ("web1", "one 2"),
            ("web1", "stderr line"),
            ("web2", "two"),
        ]
        await pilot.press("H")  # web1 alone
        assert pane.host_filter == "web1" and len(pane.view) == 4
        await pilot.press("H")
        assert pane.host_filter == "web2" and pane.view.line_at(0).text == "two"
