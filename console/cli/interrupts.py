"""Ctrl-C in the headless CLI: the first stops the procedure, later ones never cut its cleanup short.

``asyncio.run`` cancels the main task on the first SIGINT but raises KeyboardInterrupt
out of the event loop on the second: wherever the loop happens to be, so the remote
process group is left running, the host lock held and no ``procedure_interrupted``
record written. Here the first Ctrl-C cancels the run (the engine then kills the
remote group, releases the lock and journals the interruption); every later one only
says that cleanup is under way, and once the run has cleaned up, presses are ignored
until the process exits.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

STOPPING = "interrupted: stopping the running step, killing its process group on the host and releasing the lock..."
STILL_STOPPING = "still cleaning up (remote process group, lock, journal): it ends on its own in a few seconds"


class Interrupted(Exception):
    """The run was stopped by Ctrl-C and has finished its cleanup."""


async def run_until_interrupted(work: Awaitable[T], say: Callable[[str], None]) -> T:
    """Await ``work``; on SIGINT cancel it once and wait for it to clean up, then raise Interrupted."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(work)
    presses = 0

    def on_sigint() -> None:
        nonlocal presses
        presses += 1
        if presses == 1:
            say(STOPPING)
            task.cancel()
        else:
            say(STILL_STOPPING)

    try:
        loop.add_signal_handler(signal.SIGINT, on_sigint)
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread: no handler to own
        return await task
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        if not presses:
            task.cancel()  # our caller was cancelled: pass it on and let the run clean up
            await asyncio.gather(task, return_exceptions=True)
            raise
        await asyncio.gather(task, return_exceptions=True)  # a cancelled shield: the run still cleans up
        raise Interrupted() from None
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        if presses:
            # Interrupted: the process ends next. A later press must not kill it mid-exit: Python
            # resets its own SIGINT handler to the default during shutdown, so a press in that
            # window would end the process by the signal instead of exit 130. Ignored, it can't.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
