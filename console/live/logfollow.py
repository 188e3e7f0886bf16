"""Following a stack's logs through everything a rollback does to the stack.

``docker compose logs -f`` ends when the stack goes down (the rollback's
``down`` step) and dies with the SSH link; an operator watching the logs wants
them back as soon as there is something to show, without pressing anything.
:func:`follow_logs` runs the command, hands its output over in batches, and
starts it again after each end with a growing pause (a stack that stays down
would otherwise make it spin), saying so in the stream itself.

It is an async iterator so any front end can consume it: the procedure screen
feeds the log pane from it, a test drives it with a fake transport.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from console.failures import TransportError
from console.transport.base import Transport

RESTART_DELAYS = (1.0, 2.0, 4.0, 8.0)  # seconds before each restart, growing while it keeps dying
HEALTHY_RUN = 30.0  # a follow that lasted this long starts the delays over
NOTICE_PREFIX = "[console] "


@dataclass(frozen=True)
class LogLines:
    """Output the command printed (stdout and stderr alike), as much as arrived since the last batch.

    ``chunks``: with ``follow_logs(..., chunks=True)``, raw bytes of whole lines, in the order
    they came, and ``lines`` stays empty: a transport that hands output on unsplit
    (:class:`~console.transport.streams.ChunkOutput`) gives chunks, and what it had to split
    (stderr, a cut over-long line) is joined back into one.
    """

    lines: list[str]
    chunks: list[bytes] = field(default_factory=list)


@dataclass(frozen=True)
class FollowRestart:
    """The command ended or the link dropped; it starts again after ``delay`` seconds."""

    reason: str  # "ended (exit 0)", "interrupted: connection lost ..."
    delay: float
    restarts: int  # restarts so far, this one included

    chunks = ()  # a notice is a line

    @property
    def lines(self) -> list[str]:
        """The notice, as a line for the log itself: the operator sees the gap where it happened."""
        return [f"{NOTICE_PREFIX}log stream {self.reason}; restarting in {self.delay:g}s"]


LogBatch = LogLines | FollowRestart


async def follow_logs(
    transport: Transport,
    argv: list[str],
    *,
    delays: Sequence[float] = RESTART_DELAYS,
    healthy_run: float = HEALTHY_RUN,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    chunks: bool = False,
) -> AsyncIterator[LogBatch]:
    """Run ``argv`` (a follow command) forever, yielding its output and a notice before each restart.

    Output is coalesced: whatever arrived while the consumer was busy comes as one
    batch. Only link failures (:class:`TransportError`) are survived; anything else
    is a bug and propagates. Closing the iterator (or cancelling its consumer)
    cancels the running command, which kills it on the host. ``chunks``: the consumer
    takes :attr:`LogLines.chunks` (raw bytes of whole lines, nothing split on the way).
    """
    if not delays:
        raise ValueError("follow_logs needs at least one restart delay")
    failures = 0
    restarts = 0
    while True:
        started = clock()
        output = _Collected(chunks)
        run = asyncio.ensure_future(transport.run(argv, on_output=output))
        try:
            while not run.done():
                waiter = asyncio.ensure_future(output.arrived.wait())
                try:
                    await asyncio.wait({run, waiter}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    waiter.cancel()
                output.arrived.clear()
                if output:
                    yield output.take()
        finally:
            if not run.done():
                run.cancel()
                await asyncio.wait({run})
        if output:  # the last lines can arrive together with the end
            yield output.take()
        try:
            result = run.result()
        except TransportError as exc:
            reason = f"interrupted: {exc}"
        else:
            reason = "ended" if result.exit_status is None else f"ended (exit {result.exit_status})"
        if clock() - started >= healthy_run:
            failures = 0
        delay = delays[min(failures, len(delays) - 1)]
        failures += 1
        restarts += 1
        yield FollowRestart(reason, delay, restarts)
        await sleep(delay)


class _Collected:
    """The running command's output since the consumer last took it (an ``on_output``)."""

    def __init__(self, chunks: bool) -> None:
        self.lines: list[str] = []
        self.chunks: list[bytes] = []
        self.arrived = asyncio.Event()
        self.taking_chunks = chunks
        if chunks:
            self.chunk = self._chunk  # a ChunkOutput only when the consumer takes chunks

    def __call__(self, _stream: str, lines: list[str]) -> None:
        if self.taking_chunks:
            # Lines the transport had to split (stderr's, a cut over-long line) join the chunks
            # in the order they came, so a consumer of chunks sees the output in order.
            self.chunks.append("".join(line + "\n" for line in lines).encode("utf-8", "surrogatepass"))
        else:
            self.lines.extend(lines)
        self.arrived.set()

    def _chunk(self, _stream: str, data: bytes) -> None:
        self.chunks.append(data)
        self.arrived.set()

    def __bool__(self) -> bool:
        return bool(self.lines or self.chunks)

    def take(self) -> LogLines:
        batch = LogLines(self.lines, self.chunks)
        self.lines, self.chunks = [], []
        return batch
