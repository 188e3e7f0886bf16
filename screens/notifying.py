"""The incident's notifier (Slack #ops, status page), or None when none is configured."""

from __future__ import annotations

from console.config import Config
from console.journal import Journal
from console.notify import make_notifier, make_outbox
from console.notify.messages import context_from_records


def notifier_for(config: Config, journal: Journal | None):
    if journal is None or (config.slack is None and config.statuspage is None):
        return None
    outbox = make_outbox(config, journal.directory, journal.record)
    return make_notifier(config, outbox, context_from_records(journal.records()))
