"""Communication and follow-up: Slack #ops, the status page, and a durable outbox.

``make_outbox(config, incident_dir, journal.record)`` builds the outbox with a
sender for each configured channel; ``Notifier`` formats the runbook's
moments (``messages.EVENTS``) and queues them.

The senders (and httpx with them) are imported on first use of one of these names:
``console.notify.messages`` alone, which the TUI's clock needs at start-up, stays light.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from console.config import Config
    from console.notify.messages import IncidentContext
    from console.notify.notifier import Notifier
    from console.notify.outbox import Outbox
    from console.notify.slack import SlackWebhook
    from console.notify.statuspage import StatusPageClient
    from console.secrets import Secret

__all__ = ["IncidentContext", "Notifier", "Outbox", "SlackWebhook", "StatusPageClient", "make_outbox", "make_notifier"]

_LAZY = {
    "IncidentContext": "console.notify.messages",
    "Notifier": "console.notify.notifier",
    "Outbox": "console.notify.outbox",
    "SlackWebhook": "console.notify.slack",
    "StatusPageClient": "console.notify.statuspage",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def make_outbox(
    config: Config,
    incident_dir: Path,
    journal: Callable[..., Any] | None,
    *,
    environ: dict[str, str] | None = None,
    secrets: Sequence[Secret] = (),
    **timing: float,
) -> Outbox:
    from console.notify.outbox import Outbox
    from console.notify.slack import SlackWebhook
    from console.notify.statuspage import StatusPageClient

    senders: list = []
    if config.slack is not None:
        senders.append(SlackWebhook(config.slack, environ))
    if config.statuspage is not None:
        senders.append(StatusPageClient(config.statuspage, environ))
    return Outbox(incident_dir, senders, journal, secrets=list(secrets), **timing)


def make_notifier(config: Config, outbox: Outbox, context: IncidentContext) -> Notifier:
    from console.notify.notifier import Notifier

    components = config.statuspage.component_ids if config.statuspage else []
    return Notifier(outbox, context, component_ids=components)
