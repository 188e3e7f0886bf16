"""A flood of buffered output never holds the event loop: the TUI's keys and frames get a turn
between chunks (asyncssh's read of buffered data returns without suspending)."""

from __future__ import annotations

import asyncio

import pytest

from console.transport.remote_command import read_until_exit
from console.transport.streams import LineSplitter


class BufferedReader:
    """Every chunk already there, as asyncssh's reader has it during a flood: no suspension."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks

    async def read(self, _size: int) -> bytes:
        return self.chunks.pop(0) if self.chunks else b""


class FinishedProcess:
    def __init__(self, chunks: list[bytes]) -> None:
        self.stdout, self.stderr = BufferedReader(chunks), BufferedReader([])
        self.exit_signal, self.exit_status = None, 0

    async def wait_closed(self) -> None:
        return None


@pytest.mark.asyncio
async def test_other_tasks_run_between_the_chunks_of_a_flood():
    turns = 0
    seen: list[int] = []

    async def ui_loop() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    ticker = asyncio.create_task(ui_loop())
    await asyncio.sleep(0)
    out = LineSplitter("stdout", lambda _stream, _lines: seen.append(turns), None)
    err = LineSplitter("stderr", None, None)
    chunks = [b"line\n" * 100 for _ in range(50)]
    try:
        assert await read_until_exit(FinishedProcess(chunks), out, err) == 0
    finally:
        ticker.cancel()
    assert len(seen) == 50
    assert seen[-1] - seen[0] >= 40  # the other task ran between (nearly) every two chunks
