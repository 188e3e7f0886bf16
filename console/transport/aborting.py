"""Cleanup that must finish even when the task waiting for it is cancelled again."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def finish_despite_cancel(cleanup: Awaitable[T]) -> T:
    """Run ``cleanup`` to the end; a second cancel is re-raised only after it has finished.

    Killing a command's process group is exactly the work a cancelled step
    must not skip, and an impatient second Ctrl-C must not skip it either.
    """
    task = asyncio.ensure_future(cleanup)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await task
        raise
