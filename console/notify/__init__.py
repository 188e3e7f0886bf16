"""Communication and follow-up: Slack #ops, the status page, and a durable outbox.

``make_outbox(config, incident_dir, journal.record)`` builds the outbox with a
sender for each configured channel; ``Notifier`` formats the runbook's
moments (``messages.EVENTS``) and queues them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Callable

from console.config import Config
from console.notify.messages import IncidentContext
from console.notify.notifier import Notifier
from console.notify.outbox import Outbox
from console.notify.slack import SlackWebhook
from console.notify.statuspage import StatusPageClient
from console.secrets import Secret

__all__ = ["IncidentContext", "Notifier", "Outbox", "SlackWebhook", "StatusPageClient",
           "make_outbox", "make_notifier"]


def make_outbox(config: Config, incident_dir: Path, journal: Callable[..., Any] | None, *,
                environ: dict[str, str] | None = None, secrets: Sequence[Secret] = (),
                **timing: float) -> Outbox:
    senders: list = []
    if config.slack is not None:
        senders.append(SlackWebhook(config.slack, environ))
    if config.statuspage is not None:
        senders.append(StatusPageClient(config.statuspage, environ))
    return Outbox(incident_dir, senders, journal, secrets=list(secrets), **timing)


def make_notifier(config: Config, outbox: Outbox, context: IncidentContext) -> Notifier:
    components = config.statuspage.component_ids if config.statuspage else []
    return Notifier(outbox, context, component_ids=components)
