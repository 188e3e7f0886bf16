"""Turning a command's raw output chunks into lines, shared by every transport.

Output is read in large chunks and split here rather than line by line: a
``seq 1 2000000`` flood costs one callback per 64 KiB chunk instead of one per
line, and a single absurdly long line is cut before any regex or widget sees it.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Protocol

from console.transport.base import CommandResult, OutputCallback

CHUNK_SIZE = 64 * 1024
MAX_LINE = 64 * 1024
CAPTURE_LIMIT = 1024 * 1024
TRUNCATED_MARK = " … [line truncated, "


def truncate_line(line: str, limit: int = MAX_LINE, dropped: int = 0) -> str:
    """Cut ``line`` to ``limit`` characters, saying how much was left out."""
    if len(line) <= limit and not dropped:
        return line
    cut = len(line) - limit if len(line) > limit else 0
    return f"{line[:limit]}{TRUNCATED_MARK}{cut + dropped} more bytes]"


class BoundedCapture:
    """Keeps the last ``limit`` characters of a stream (the end holds the error)."""

    def __init__(self, limit: int = CAPTURE_LIMIT) -> None:
        self.limit = limit
        self._parts: deque[str] = deque()
        self._size = 0
        self.dropped = False

    def add(self, lines: list[str]) -> None:
        text = "\n".join(lines) + "\n"
        self._parts.append(text)
        self._size += len(text)
        while self._size > self.limit and len(self._parts) > 1:
            self._size -= len(self._parts.popleft())
            self.dropped = True

    def text(self) -> str:
        text = "".join(self._parts)
        if len(text) > self.limit:
            text, self.dropped = text[-self.limit :], True
        return text


class CommandRun:
    """One run of a command as every transport records it: when it started and, when the
    caller asked for ``capture``, the bounded stdout and stderr its splitters feed."""

    def __init__(self, argv: list[str], capture: bool) -> None:
        self.argv = argv
        self.started = time.monotonic()
        self.stdout = BoundedCapture() if capture else None
        self.stderr = BoundedCapture() if capture else None

    def result(self, status: int | None) -> CommandResult:
        """The run's result so far (``status`` None: its outcome is unknown)."""
        return CommandResult(
            argv=list(self.argv),
            exit_status=status,
            duration=time.monotonic() - self.started,
            stdout=self.stdout.text() if self.stdout else "",
            stderr=self.stderr.text() if self.stderr else "",
        )


class ChunkOutput(Protocol):
    """An ``on_output`` that also takes a stream's output unsplit (the live log pane's).

    ``chunk`` gets raw bytes holding whole lines (cut after the chunk's last newline; a
    line split across reads is joined first), so a flood costs no per-line work in the
    transport. Lines still come through ``__call__`` when the splitter had to cut an
    over-long line, and for the last line of a stream that ends without a newline.
    """

    def __call__(self, stream: str, lines: list[str]) -> None: ...

    def chunk(self, stream: str, data: bytes) -> None: ...


class LineSplitter:
    """Splits one stream's byte chunks into complete lines and hands them on in batches.

    A partial last line waits for the next chunk; ``finish`` flushes it at EOF.
    Bytes beyond ``MAX_LINE`` of a single line are dropped while it is still
    open, so memory stays bounded however long the line gets.
    """

    def __init__(
        self, stream: str, on_output: OutputCallback | None, capture: BoundedCapture | None, max_line: int = MAX_LINE
    ) -> None:
        self.stream = stream
        self.on_output = on_output
        self.capture = capture
        self.max_line = max_line
        self.lines_seen = 0  # lines handed on split (not those handed on in chunks)
        self._pending = bytearray()
        self._dropped = 0  # bytes thrown away from the still-open long line
        # Unsplit output for a ChunkOutput, unless lines must be captured or filtered here.
        self._take_chunk = (
            getattr(on_output, "chunk", None) if capture is None and type(self).filter is LineSplitter.filter else None
        )

    def feed(self, chunk: bytes) -> None:
        cut = chunk.rfind(b"\n")
        if cut < 0:
            self._hold(chunk)
            return
        if self._take_chunk is not None and not self._dropped:
            if self._pending:
                head = bytes(self._pending) + chunk[: cut + 1]
                self._pending.clear()
            else:
                head = chunk if cut == len(chunk) - 1 else chunk[: cut + 1]
            self._hold(chunk[cut + 1 :])
            self._take_chunk(self.stream, head)
            return
        if self._pending:
            head = bytes(self._pending) + chunk[:cut]
            self._pending.clear()
        else:
            head = chunk[:cut]
        lines = head.decode("utf-8", "replace").split("\n")
        # A chunk holds many lines: only look at each one when some line may be too long
        # (a Python call per line here halved the rate of a 64 KiB-chunk flood).
        if self._dropped or (len(head) > self.max_line and max(map(len, lines)) > self.max_line):
            lines[0] = truncate_line(lines[0], self.max_line, self._dropped)
            self._dropped = 0
            lines[1:] = [truncate_line(line, self.max_line) for line in lines[1:]]
        self._hold(chunk[cut + 1 :])
        self._emit(lines)

    def finish(self) -> None:
        if self._pending or self._dropped:
            line = self._pending.decode("utf-8", "replace")
            self._pending.clear()
            line = truncate_line(line, self.max_line, self._dropped)
            self._dropped = 0
            self._emit([line])

    def _hold(self, rest: bytes) -> None:
        room = self.max_line - len(self._pending)
        if len(rest) > room:
            self._pending += rest[: max(room, 0)]
            self._dropped += len(rest) - max(room, 0)
        else:
            self._pending += rest

    def _emit(self, lines: list[str]) -> None:
        lines = self.filter(lines)
        if not lines:
            return
        self.lines_seen += len(lines)
        if self.capture is not None:
            self.capture.add(lines)
        if self.on_output is not None:
            self.on_output(self.stream, lines)

    def filter(self, lines: list[str]) -> list[str]:
        """Hook for transports that must strip a marker line of their own."""
        return lines
