"""Before a resume: the lock a dead console left on the host is shown, then taken over with a reason.

The lock names the incident, not the process: a resume of the same incident could walk
straight in under it. Yet the console that took it may still be running (another
terminal, another machine), so the lock is shown with its holder, machine and age, and
continuing under it needs a reason that goes into the journal.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable

from console.config import Config
from console.engine.lock import LockError, RemoteLock
from console.incident.journal import Journal
from console.incident.liveness import console_alive, describe_lock
from console.incident.records import LockEvent
from console.transport.base import Transport

AskReason = Callable[[str], Awaitable[str]]


class TakeOverRefused(Exception):
    """The resume must not go on under the lock (alive holder, no reason, another incident's lock)."""

    def __init__(self, message: str, *, needs_reason: bool = False) -> None:
        super().__init__(message)
        self.needs_reason = needs_reason  # only the reason was missing: bad input, not a failure


async def take_over_lock_for_resume(
    config: Config,
    transport: Transport,
    journal: Journal,
    reason: str | None,
    ask: AskReason | None,
    say: Callable[[str], None],
) -> None:
    """Return when the resume may go on; raise :class:`TakeOverRefused` otherwise.

    ``reason`` comes from ``--take-over-lock``; without it ``ask`` (a terminal prompt, or None)
    is asked for one. The take-over is journaled as a ``lock`` record, action ``taken_over``.
    """
    lock = RemoteLock(transport, config.target.project_dir, config.operator, journal.incident_id)
    try:
        info = await lock.read()
    except LockError as exc:  # the first mutating step tries again and stops if it must
        say(f"could not read the host lock before resuming: {exc}")
        return
    if not info:
        return
    ours = info.get("incident_id") == journal.incident_id
    console = journal.state.started if ours else None
    if ours and console is not None and console_alive(console) and console.pid == os.getpid():
        return  # this very process took it (a resume inside the same app): nothing to take over
    description = describe_lock(lock.lock_dir, info, console)
    say(description)
    if not ours:
        raise TakeOverRefused(
            f"{description}: it belongs to another incident; resume that one, or "
            f"`incident-console unlock --force` after talking to its holder"
        )
    if console is not None and console_alive(console):
        raise TakeOverRefused(
            f"the console that holds it (pid {console.pid}) is still running on this "
            f"machine: finish there, or stop it first"
        )
    reason = (reason or "").strip()
    if not reason and ask is not None:
        reason = (await ask("Reason to take over this lock (empty: stop): ")).strip()
    if not reason:
        raise TakeOverRefused("taking over the lock needs a reason: pass --take-over-lock REASON", needs_reason=True)
    journal.append(
        LockEvent(
            "taken_over",
            lock.lock_dir,
            holder=info,
            by=config.operator,
            reason=reason,
            previous_console={
                "pid": console.pid if console else None,
                "machine": (console.machine or None) if console else None,
            },
        )
    )
    say(f"lock taken over: {reason}")
