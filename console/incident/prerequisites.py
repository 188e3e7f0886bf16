"""The runbook's "Pre-Rollback Checklist" as state: ticked, waived, failed, checked by machine.

Every item is ``pending`` until a person ticks it, waives it with a reason, or
a machine check (``check = "backup" | "slack" | "statuspage" | "alerts" |
"coordinator"``) settles it. Every change is a ``checklist`` journal record,
and the journal alone is enough to rebuild the checklist when an incident is
resumed. A failing check never raises: the item turns ``failed`` and says why.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import httpx

from console.decide.runbook import PrerequisiteCheck
from console.http_clients import async_client
from console.incident.journal import utc_now
from console.incident.prerequisite_checks import (
    HTTP_TIMEOUT,
    CheckResult,
    check_alerts,
    check_backup,
    check_slack,
    check_statuspage,
)
from console.incident.records import ChecklistMark

STATUSES = ("pending", "done", "waived", "failed")


class BackupNeedsProof(ValueError):
    """A backup item is settled by its check or by a waiver with a reason, never by a tick."""


@dataclass(frozen=True)
class ItemState:
    status: str = "pending"  # pending | done | waived | failed
    how: str = "manual"  # auto | manual
    by: str | None = None
    at: datetime | None = None
    detail: str = ""
    reason: str = ""  # why it was waived


class Checklist:
    """``Checklist(runbook, journal, operator)``; restores earlier states from ``journal``."""

    def __init__(self, runbook, journal, operator: str) -> None:
        self.items: list[PrerequisiteCheck] = list(runbook.prerequisites)
        self.journal = journal
        self.operator = operator
        self._by_id = {item.id: item for item in self.items}
        self._states: dict[str, ItemState] = {item.id: ItemState() for item in self.items}
        self._restore(journal.state.ticks.values() if journal is not None else [])

    @classmethod
    def replay(cls, journal, runbook=None, operator: str | None = None) -> Checklist:
        """The checklist as the journal left it (for a resumed incident)."""
        if runbook is None:
            from console.decide.runbook import load_runbook

            runbook = load_runbook()
        if operator is None:
            opened = journal.state.opened
            operator = (opened.operator if opened else None) or "operator"
        return cls(runbook, journal, operator)

    def _restore(self, ticks) -> None:
        for tick in ticks:
            if tick.item_id not in self._states or tick.status not in STATUSES:
                continue
            try:
                at = tick.at
            except ValueError:
                at = None
            self._states[tick.item_id] = ItemState(
                status=tick.status,
                how=tick.how or "manual",
                by=tick.by,
                at=at,
                detail=tick.detail or "",
                reason=tick.reason or "",
            )

    # -- reading ------------------------------------------------------------------

    def item(self, item_id: str) -> PrerequisiteCheck:
        try:
            return self._by_id[item_id]
        except KeyError:
            raise KeyError(f"no checklist item {item_id!r}") from None

    def state(self, item_id: str) -> ItemState:
        self.item(item_id)
        return self._states[item_id]

    def ready(self) -> bool:
        """Every required item is done or waived: the procedure may start."""
        return not self.blocking()

    def blocking(self) -> list[PrerequisiteCheck]:
        return [item for item in self.items if item.required and self._states[item.id].status not in ("done", "waived")]

    # -- changing -----------------------------------------------------------------

    def tick(self, item_id: str, by: str | None = None, detail: str = "") -> ItemState:
        if self.item(item_id).check == "backup":
            # The one item a keystroke must not settle: restoring without a backup loses data.
            raise BackupNeedsProof(
                "a backup is not ticked by hand: take the ad-hoc backup and re-run the check (a) until it "
                "is verified, or waive the item (w) with a reason, which is journaled"
            )
        return self._set(item_id, ItemState("done", "manual", by or self.operator, detail=detail))

    def untick(self, item_id: str, by: str | None = None) -> ItemState:
        return self._set(item_id, ItemState("pending", "manual", by or self.operator))

    def waive(self, item_id: str, reason: str, by: str | None = None) -> ItemState:
        if not isinstance(reason, str) or not reason.strip():
            raise ValueError("waiving a checklist item needs a reason")
        return self._set(item_id, ItemState("waived", "manual", by or self.operator, reason=reason.strip()))

    def _set(self, item_id: str, new: ItemState) -> ItemState:
        item = self.item(item_id)
        assert new.by is not None  # every caller names who set it (a person or the console)
        at = utc_now()
        if self.journal is not None:
            entry = self.journal.append(
                ChecklistMark(
                    item_id=item.id,
                    group=item.group,
                    title=item.title,
                    status=new.status,
                    how=new.how,
                    by=new.by,
                    detail=new.detail,
                    reason=new.reason,
                )
            )
            # The journal's own timestamp, so a replayed state is the same state.
            at = entry.at or at
        new = replace(new, at=at)
        self._states[item_id] = new
        return new

    # -- machine checks -------------------------------------------------------------

    async def run_auto_checks(
        self, config, transport=None, notifier=None, client: httpx.AsyncClient | None = None
    ) -> dict[str, ItemState]:
        """Run every machine check of an item no person has settled; return the new states.

        Items a person ticked or waived are left alone. A check that finds nothing new
        writes nothing to the journal, so the screen may re-run this as often as it likes.
        ``notifier`` (a Notifier or its Outbox) locates the incident's outbox; without it the
        outbox beside the journal is read. ``transport`` reaches the host, where the backup
        check runs with ``[prerequisites] backup_check_on = "host"``.
        """
        todo = [item for item in self.items if item.check and not self._settled_by_person(item.id)]
        if not todo:
            return {}
        own_client = client is None
        client = client or async_client(timeout=HTTP_TIMEOUT, trust_env=False, follow_redirects=False)
        try:
            results = await asyncio.gather(*(self._check(item, config, notifier, client, transport) for item in todo))
        finally:
            if own_client:
                await client.aclose()
        changed: dict[str, ItemState] = {}
        for item, result in zip(todo, results, strict=True):
            current = self._states[item.id]
            if self._settled_by_person(item.id):  # ticked while the checks ran
                continue
            if (current.status, current.how, current.detail) == (result.status, result.how, result.detail):
                continue
            by = config.operator if item.check == "coordinator" else "incident-console"
            changed[item.id] = self._set(item.id, ItemState(result.status, result.how, by, detail=result.detail))
        return changed

    def _settled_by_person(self, item_id: str) -> bool:
        state = self._states[item_id]
        return state.how == "manual" and state.status in ("done", "waived")

    async def _check(self, item: PrerequisiteCheck, config, notifier, client, transport=None) -> CheckResult:
        try:
            if item.check == "backup":
                return await check_backup(config.prerequisites, client, transport)
            if item.check == "alerts":
                if getattr(config, "observability", None) and config.observability.alertmanager is not None:
                    from console.observability.silences import acknowledge_alerts  # the real Alertmanager

                    return await acknowledge_alerts(config, self.journal, self.operator)
                return await check_alerts(config.prerequisites, client)
            if item.check == "coordinator":
                return CheckResult("done", f"coordinator: {config.operator} (the console's operator)")
            if item.check == "slack":
                return check_slack(config, self._outbox_dir(notifier))
            if item.check == "statuspage":
                return check_statuspage(config, self._outbox_dir(notifier))
            return CheckResult("pending", f"unknown check {item.check!r}: tick it by hand", "manual")
        except Exception as exc:  # a check is evidence, never a reason to crash the checklist
            return CheckResult("failed", f"the {item.check} check itself failed: {type(exc).__name__}")

    def _outbox_dir(self, notifier) -> Path | None:
        outbox = getattr(notifier, "outbox", notifier)
        directory = getattr(outbox, "directory", None)
        if directory is not None:
            return Path(directory)
        journal_dir = getattr(self.journal, "directory", None)
        return Path(journal_dir) / "outbox" if journal_dir is not None else None
