"""Waiting for something to happen, with a deadline, instead of sleeping and hoping it did."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

INTERVAL = 0.02


async def wait_for(
    predicate: Callable[[], object], timeout: float = 5.0, what: str = "the condition", interval: float = INTERVAL
) -> None:
    """Return as soon as ``predicate()`` is true; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        await asyncio.sleep(interval)


def wait_for_sync(
    predicate: Callable[[], object], timeout: float = 5.0, what: str = "the condition", interval: float = INTERVAL
) -> None:
    """:func:`wait_for` for tests without an event loop (threads, tmux)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)
