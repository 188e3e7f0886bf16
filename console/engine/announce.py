"""Tell Slack and the status page what the incident is doing, without ever blocking it.

Messages go through the incident's durable outbox: an outage of either service is
retried with backoff, journaled, and loses nothing.
"""

from __future__ import annotations

import asyncio

from console.config import Config
from console.incident.journal import Journal
from console.notify import make_notifier, make_outbox
from console.notify.messages import context_from_state
from console.notify.notifier import Notifier

DRAIN_SECONDS = 10.0


def incident_notifier(config: Config, journal: Journal | None) -> Notifier | None:
    if journal is None or (config.slack is None and config.statuspage is None):
        return None
    try:
        context = context_from_state(journal.state)
    except ValueError:  # not an incident (no incident_opened): nobody is told about it
        return None
    outbox = make_outbox(config, journal.directory, journal.record)
    return make_notifier(config, outbox, context)


async def announce(notifier: Notifier | None, event: str, **details) -> None:
    if notifier is None:
        return
    try:
        await notifier.notify(event, **details)
    except Exception:  # the outbox never raises for a service outage; anything else must not stop a rollback
        pass


async def flush(notifier: Notifier | None, seconds: float = DRAIN_SECONDS) -> None:
    """Give queued messages a last chance before a headless run exits (they stay on disk)."""
    if notifier is None:
        return
    try:
        await asyncio.wait_for(notifier.outbox.drain(until_empty=True), timeout=seconds)
    except Exception:  # timeouts included: what is left stays queued on disk
        pass
