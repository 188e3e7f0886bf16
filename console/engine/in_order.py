"""Jobs run one after another, beside whoever adds them.

A headless run's announcements (Slack, the status page) used to be awaited in place: two of
them before the first step, each a round trip to a service that may be slow or down. Here each
runs after the one before it (so every channel's messages keep their order: the status page's
incident is created before it is updated) while the procedure goes on; ``done()`` waits for
all of them before the run reports and exits, so nothing is lost that was not lost before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any


class InOrder:
    def __init__(self) -> None:
        self._last: asyncio.Task | None = None

    def add(self, job: Awaitable[Any]) -> None:
        previous = self._last

        async def after_previous() -> None:
            if previous is not None:
                await asyncio.gather(previous, return_exceptions=True)  # its failure is its own
            await job

        self._last = asyncio.get_running_loop().create_task(after_previous())

    async def done(self) -> None:
        """Wait for every job added so far (their exceptions are theirs: never raised here)."""
        while self._last is not None:
            last = self._last
            await asyncio.gather(last, return_exceptions=True)
            if self._last is last:
                return
