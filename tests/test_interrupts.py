"""Ctrl-C in the CLI: the first cancels the run, a second never cuts its cleanup short."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from console.cli.interrupts import STILL_STOPPING, STOPPING, Interrupted, run_until_interrupted


async def test_a_second_ctrl_c_waits_for_the_cleanup_instead_of_raising():
    said: list[str] = []
    cleaned: list[str] = []

    async def procedure() -> str:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            os.kill(os.getpid(), signal.SIGINT)  # the impatient second Ctrl-C, mid-cleanup
            await asyncio.sleep(0.3)  # killing the remote group, releasing the lock
            cleaned.append("lock released")
            raise
        return "succeeded"

    loop = asyncio.get_running_loop()
    loop.call_later(0.1, os.kill, os.getpid(), signal.SIGINT)
    with pytest.raises(Interrupted):
        await run_until_interrupted(procedure(), said.append)
    assert cleaned == ["lock released"]
    assert said == [STOPPING, STILL_STOPPING]
    try:  # a press while the process exits no longer ends it by the signal (exit 130 stays)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        os.kill(os.getpid(), signal.SIGINT)
        await asyncio.sleep(0.1)
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


async def test_without_ctrl_c_the_result_comes_back_and_the_handler_is_removed():
    async def procedure() -> str:
        return "succeeded"

    assert await run_until_interrupted(procedure(), print) == "succeeded"
    assert signal.getsignal(signal.SIGINT) is not None
    with pytest.raises(KeyboardInterrupt):  # the default behaviour is back
        os.kill(os.getpid(), signal.SIGINT)
        await asyncio.sleep(0.1)
