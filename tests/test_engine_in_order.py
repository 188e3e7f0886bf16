"""console.engine.in_order.InOrder, and a headless session's announcements beside the run."""

from __future__ import annotations

import asyncio
from pathlib import Path

from console.config import load_config
from console.engine import announce as announcing
from console.engine.in_order import InOrder
from console.incident.session import IncidentSession

EXAMPLE_CONFIG = Path(__file__).resolve().parent.parent / "config.example.toml"


async def test_jobs_run_one_after_another_beside_the_caller():
    ran: list[str] = []
    gate = asyncio.Event()

    async def job(name: str, wait: asyncio.Event | None = None) -> None:
        ran.append(f"{name} start")
        if wait is not None:
            await wait.wait()
        ran.append(f"{name} end")

    jobs = InOrder()
    jobs.add(job("a", gate))
    jobs.add(job("b"))
    await asyncio.sleep(0.01)
    assert ran == ["a start"]  # the caller went on; b waits for a
    gate.set()
    await jobs.done()
    assert ran == ["a start", "a end", "b start", "b end"]


async def test_a_failing_job_neither_stops_the_next_nor_raises_from_done():
    ran: list[str] = []

    async def boom() -> None:
        raise RuntimeError("slack exploded")

    async def after() -> None:
        ran.append("after")

    jobs = InOrder()
    jobs.add(boom())
    jobs.add(after())
    await jobs.done()
    assert ran == ["after"]


async def test_done_also_waits_for_jobs_added_while_waiting():
    ran: list[str] = []
    jobs = InOrder()

    async def first() -> None:
        jobs.add(second())
        ran.append("first")

    async def second() -> None:
        await asyncio.sleep(0.01)
        ran.append("second")

    jobs.add(first())
    await jobs.done()
    assert ran == ["first", "second"]


async def test_a_headless_sessions_announcements_never_hold_up_the_caller(monkeypatch):
    gate = asyncio.Event()
    sent: list[str] = []

    async def slow_announce(notifier, event, **details) -> None:
        await gate.wait()  # Slack slow or down
        sent.append(event)

    monkeypatch.setattr(announcing, "announce", slow_announce)
    session = IncidentSession(load_config(EXAMPLE_CONFIG), None, announce_beside=True)
    monkeypatch.setattr(session, "notifier", lambda: object())
    await asyncio.wait_for(session.announce("incident_opened"), 1)  # returns at once
    await asyncio.wait_for(session.announce("procedure_started"), 1)
    assert sent == []
    flushing = asyncio.ensure_future(session.flush(0))
    await asyncio.sleep(0.01)
    assert not flushing.done()  # the end of the run waits for them
    gate.set()
    await asyncio.wait_for(flushing, 1)
    assert sent == ["incident_opened", "procedure_started"]  # in order
