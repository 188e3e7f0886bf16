"""Reading one remote command's output over its SSH channel."""

from __future__ import annotations

import asyncio
import signal

import asyncssh

from console.transport.base import OutputCallback
from console.transport.process_group import parse_marker
from console.transport.streams import CHUNK_SIZE, BoundedCapture, LineSplitter


class MarkedStderr(LineSplitter):
    """stderr carrying the wrapper's PGID marker line, stripped before anyone sees it.

    The marker is looked for on every line until found: a login shell may print a banner
    (or a locale warning) first. ``marker_seen`` is set once it was found or stderr ended;
    ``pgid`` stays None when it never came, and then nobody may claim the group was killed.
    """

    def __init__(self, on_output: OutputCallback | None, capture: BoundedCapture | None) -> None:
        super().__init__("stderr", on_output, capture)
        self.pgid: int | None = None
        self.marker_seen = asyncio.Event()

    def filter(self, lines: list[str]) -> list[str]:
        if self.pgid is not None:
            return lines
        for index, line in enumerate(lines):
            pgid = parse_marker(line)
            if pgid is not None:
                self.pgid = pgid
                self.marker_seen.set()
                return lines[:index] + lines[index + 1 :]
        return lines

    def finish(self) -> None:
        super().finish()
        self.marker_seen.set()


async def read_until_exit(proc: asyncssh.SSHClientProcess, out: LineSplitter, err: LineSplitter) -> int | None:
    """Stream both outputs to EOF, then return the exit status (None: never reported, UNKNOWN)."""

    async def drain(reader: asyncssh.SSHReader, splitter: LineSplitter) -> None:
        while chunk := await reader.read(CHUNK_SIZE):
            splitter.feed(chunk)
        splitter.finish()

    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(drain(proc.stdout, out))
            group.create_task(drain(proc.stderr, err))
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None  # both readers fail alike when the link dies
    await proc.wait_closed()
    if proc.exit_signal:
        # As a shell reports it, so both transports agree.
        try:
            return 128 + signal.Signals[f"SIG{proc.exit_signal[0]}"].value
        except KeyError:
            return 255
    return proc.exit_status
