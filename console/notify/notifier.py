"""Turns incident moments into outbox messages for every configured channel."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from console.incident.journal import utc_now
from console.notify import messages
from console.notify.messages import IncidentContext
from console.notify.outbox import Outbox


class Notifier:
    """``await notifier.notify(messages.PROCEDURE_STARTED, procedure="rollback", ...)``.

    Returns each channel's status; never raises because a service is down.
    """

    def __init__(
        self,
        outbox: Outbox,
        context: IncidentContext,
        *,
        component_ids: list[str] | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.outbox = outbox
        self.context = context
        self.component_ids = list(component_ids or [])
        self._clock = clock

    async def notify(self, event: str, **details: Any) -> dict[str, str]:
        if event not in messages.EVENTS:
            raise ValueError(f"unknown notification event {event!r}")
        if "from_tag" in details or "to_tag" in details:
            self.context = self.context.with_tags(details.get("from_tag"), details.get("to_tag"))
        now = self._clock()
        results: dict[str, str] = {}
        if "slack" in self.outbox.channels:
            payload = messages.slack_payload(event, self.context, now, **details)
            results["slack"] = await self.outbox.send_or_queue("slack", event, payload)
        if "statuspage" in self.outbox.channels:
            payload = messages.statuspage_payload(event, self.context, now, component_ids=self.component_ids, **details)
            results["statuspage"] = await self.outbox.send_or_queue("statuspage", event, payload)
        return results
