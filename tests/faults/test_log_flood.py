"""A flood of long log lines for a long time: memory stays bounded by bytes as well as lines, keys answer.

The incident's version lasts minutes; the same volume logic runs here for seconds.
"""

from __future__ import annotations

import statistics
import threading
import time

import pytest

from console.live.logstream import DEFAULT_MAX_BYTES, DEFAULT_MAX_LINES, LogBuffer
from tests.test_widgets_log_pane import TS, PaneApp
from widgets.log_pane import LogPane

pytestmark = pytest.mark.faults

LONG = "x" * 8192  # an 8 KiB line (a stack trace joined on one line, a JSON dump)


def held_chars(buffer: LogBuffer) -> int:
    return sum(len(buffer.raw(seq)) for seq in range(buffer.first_seq, buffer.end_seq))


def long_lines(n: int, start: int = 0) -> list[str]:
    return [f"mr-dj-backend-1  | {TS} {i} {LONG}" for i in range(start, start + n)]


def test_default_buffer_holds_a_long_line_flood_within_its_byte_budget():
    buffer = LogBuffer()
    batch = 2000
    for k in range(DEFAULT_MAX_LINES // batch):  # 100 000 lines, each cut to 4 KiB: ~400 MiB by lines
        buffer.extend(long_lines(batch, k * batch))
        assert buffer.bytes_held <= DEFAULT_MAX_BYTES * 1.125
    assert held_chars(buffer) <= DEFAULT_MAX_BYTES * 1.125
    assert held_chars(buffer) == buffer.bytes_held
    assert buffer.end_seq == DEFAULT_MAX_LINES
    newest = buffer.get(buffer.end_seq - 1)
    assert newest.text.startswith(f"{DEFAULT_MAX_LINES - 1} xxx")
    assert len(buffer) > 10_000  # the budget keeps many lines, only not all 100 000


def test_short_lines_are_still_bounded_by_lines():
    buffer = LogBuffer(max_lines=1000, max_bytes=10 * 1024 * 1024)
    for k in range(10):
        buffer.extend([f"mr-dj-backend-1  | {TS} {i}" for i in range(k * 500, k * 500 + 500)])
    assert len(buffer) == 1000 and buffer.get(buffer.first_seq).text == "4000"


@pytest.mark.asyncio
async def test_flood_of_long_lines_keeps_memory_bounded_and_keys_answered():
    budget = 4 * 1024 * 1024
    app = PaneApp(max_bytes=budget)
    stop = threading.Event()
    produced = [0]

    def flood() -> None:  # a `compose logs -f` reader thread, as the procedure screen runs it
        pane = app.query_one(LogPane)
        while not stop.is_set():  # ~2 000 lines of 4 KiB a second: 8 MB/s, ~500 MB a minute
            pane.ingest(long_lines(200, produced[0]))
            produced[0] += 200
            time.sleep(0.1)

    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.query_one(LogPane)
        producer = threading.Thread(target=flood, daemon=True)
        producer.start()
        answers, peak = [], 0
        try:
            deadline = time.monotonic() + 4
            while time.monotonic() < deadline:
                was = pane.follow
                pressed = time.monotonic()
                await pilot.press("f")
                while pane.follow == was:
                    assert time.monotonic() - pressed < 3, "the f key was not answered within 3 s"
                    await pilot.pause(0.01)
                answers.append(time.monotonic() - pressed)
                peak = max(peak, pane.buffer.bytes_held + pane._pending_bytes)
                await pilot.pause(0.1)
        finally:
            stop.set()
            producer.join(5)
        pane.drain()
        assert produced[0] * 4096 > 4 * budget  # far more than the budget went through
        assert pane.buffer.bytes_held <= budget * 1.125
        assert held_chars(pane.buffer) == pane.buffer.bytes_held
        assert peak <= budget * 2.25  # buffer plus a queue that is bounded the same way
        # every key answered (above); typically fast, even on a loaded CI machine
        assert len(answers) >= 3 and statistics.median(answers) < 1.0, answers
