"""The runbook's "Pre-Rollback Checklist" as state: ticked, waived, failed, checked by machine.

Every item is ``pending`` until a person ticks it, waives it with a reason, or
a machine check (``check = "backup" | "slack" | "statuspage" | "alerts" |
"coordinator"``) settles it. Every change is a ``checklist`` journal record,
and the journal alone is enough to rebuild the checklist when an incident is
resumed. A failing check never raises: the item turns ``failed`` and says why.
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from console.journal import parse_iso, utc_now
from console.runbook import PrerequisiteCheck

STATUSES = ("pending", "done", "waived", "failed")
CHECK_TIMEOUT = 30.0       # a backup check script
HTTP_TIMEOUT = 5.0
STATUSPAGE_STATE_KEY = "statuspage_incident_id"   # console.notify.statuspage.STATE_KEY
INCIDENT_OPENED = "incident_opened"                # console.notify.messages.INCIDENT_OPENED


@dataclass(frozen=True)
class ItemState:
    status: str = "pending"          # pending | done | waived | failed
    how: str = "manual"              # auto | manual
    by: str | None = None
    at: datetime | None = None
    detail: str = ""
    reason: str = ""                 # why it was waived


@dataclass(frozen=True)
class CheckResult:
    """What a machine check found; ``status`` is pending when it cannot tell."""

    status: str
    detail: str
    how: str = "auto"


class Checklist:
    """``Checklist(runbook, journal, operator)``; restores earlier states from ``journal``."""

    def __init__(self, runbook, journal, operator: str) -> None:
        self.items: list[PrerequisiteCheck] = list(runbook.prerequisites)
        self.journal = journal
        self.operator = operator
        self._by_id = {item.id: item for item in self.items}
        self._states: dict[str, ItemState] = {item.id: ItemState() for item in self.items}
        self._restore(journal.records() if journal is not None else [])

    @classmethod
    def replay(cls, journal, runbook=None, operator: str | None = None) -> "Checklist":
        """The checklist as the journal left it (for a resumed incident)."""
        if runbook is None:
            from console.runbook import load_runbook
            runbook = load_runbook()
        if operator is None:
            opened = journal.last("incident_opened") if hasattr(journal, "last") else None
            operator = (opened or {}).get("operator") or "operator"
        return cls(runbook, journal, operator)

    def _restore(self, records) -> None:
        for record in records:
            if record.get("type") != "checklist" or record.get("item_id") not in self._states:
                continue
            status = record.get("status")
            if status not in STATUSES:
                continue
            try:
                at = parse_iso(record["ts"]) if record.get("ts") else None
            except ValueError:
                at = None
            self._states[record["item_id"]] = ItemState(
                status=status, how=record.get("how") or "manual", by=record.get("by"), at=at,
                detail=record.get("detail") or "", reason=record.get("reason") or "")

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
        return [item for item in self.items
                if item.required and self._states[item.id].status not in ("done", "waived")]

    # -- changing -----------------------------------------------------------------

    def tick(self, item_id: str, by: str | None = None, detail: str = "") -> ItemState:
        return self._set(item_id, ItemState("done", "manual", by or self.operator, detail=detail))

    def untick(self, item_id: str, by: str | None = None) -> ItemState:
        return self._set(item_id, ItemState("pending", "manual", by or self.operator))

    def waive(self, item_id: str, reason: str, by: str | None = None) -> ItemState:
        if not isinstance(reason, str) or not reason.strip():
            raise ValueError("waiving a checklist item needs a reason")
        return self._set(item_id, ItemState("waived", "manual", by or self.operator, reason=reason.strip()))

    def _set(self, item_id: str, new: ItemState) -> ItemState:
        item = self.item(item_id)
        at = utc_now()
        if self.journal is not None:
            entry = self.journal.record("checklist", item_id=item.id, group=item.group, title=item.title,
                                        status=new.status, how=new.how, by=new.by, detail=new.detail,
                                        reason=new.reason)
            # The journal's own timestamp, so a replayed state is the same state.
            if isinstance(entry, dict) and entry.get("ts"):
                at = parse_iso(entry["ts"])
        new = replace(new, at=at)
        self._states[item_id] = new
        return new

    # -- machine checks -------------------------------------------------------------

    async def run_auto_checks(self, config, transport=None, notifier=None,
                              client: httpx.AsyncClient | None = None) -> dict[str, ItemState]:
        """Run every machine check of an item no person has settled; return the new states.

        Items a person ticked or waived are left alone. A check that finds nothing new
        writes nothing to the journal, so the screen may re-run this as often as it likes.
        """
        todo = [item for item in self.items if item.check
                and not (self._states[item.id].how == "manual"
                         and self._states[item.id].status in ("done", "waived"))]
        if not todo:
            return {}
        own_client = client is None
        client = client or httpx.AsyncClient(timeout=HTTP_TIMEOUT, trust_env=False, follow_redirects=False)
        try:
            results = await asyncio.gather(*(self._check(item, config, notifier, client) for item in todo))
        finally:
            if own_client:
                await client.aclose()
        changed: dict[str, ItemState] = {}
        for item, result in zip(todo, results):
            current = self._states[item.id]
            if (current.status, current.how, current.detail) == (result.status, result.how, result.detail):
                continue
            by = config.operator if item.check == "coordinator" else "incident-console"
            changed[item.id] = self._set(item.id, ItemState(result.status, result.how, by, detail=result.detail))
        return changed

    async def _check(self, item: PrerequisiteCheck, config, notifier, client) -> CheckResult:
        try:
            if item.check == "backup":
                return await check_backup(config.prerequisites, client)
            if item.check == "alerts":
                return await check_alerts(config.prerequisites, client)
            if item.check == "coordinator":
                return CheckResult("done", f"coordinator: {config.operator} (the console's operator)")
            if item.check == "slack":
                return check_slack(config, self._outbox_dir(notifier))
            if item.check == "statuspage":
                return check_statuspage(config, self._outbox_dir(notifier))
            return CheckResult("pending", f"unknown check {item.check!r}: tick it by hand", "manual")
        except Exception as exc:   # a check is evidence, never a reason to crash the checklist
            return CheckResult("failed", f"the {item.check} check itself failed: {type(exc).__name__}")

    def _outbox_dir(self, notifier) -> Path | None:
        outbox = getattr(notifier, "outbox", notifier)
        directory = getattr(outbox, "directory", None)
        if directory is not None:
            return Path(directory)
        journal_dir = getattr(self.journal, "directory", None)
        return Path(journal_dir) / "outbox" if journal_dir is not None else None


# -- the checks themselves ---------------------------------------------------------------


async def check_backup(prereqs, client: httpx.AsyncClient) -> CheckResult:
    """The latest backup is verified: the command exits 0 and/or the URL says so."""
    results = []
    if prereqs.backup_check_command:
        results.append(await _run_backup_command(prereqs.backup_check_command))
    if prereqs.backup_check_url:
        results.append(await _backup_url(prereqs.backup_check_url, client))
    if not results:
        return CheckResult("pending", "no backup check configured: set [prerequisites] "
                           "backup_check_command or backup_check_url, or tick it by hand", "manual")
    failed = [r for r in results if r.status != "done"]
    if failed:
        return CheckResult("failed", "; ".join(r.detail for r in failed))
    return CheckResult("done", "; ".join(r.detail for r in results))


async def _run_backup_command(command: list[str], timeout: float | None = None) -> CheckResult:
    shown = shlex.join(command)
    timeout = CHECK_TIMEOUT if timeout is None else timeout
    try:
        proc = await asyncio.create_subprocess_exec(
            *command, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE, start_new_session=True)
    except OSError as exc:
        return CheckResult("failed", f"cannot run backup check {shown}: {exc.strerror or exc}")
    try:
        _, stderr = await asyncio.wait_for(proc.communicate(), timeout)
    except (asyncio.TimeoutError, asyncio.CancelledError) as exc:
        _kill_group(proc)
        await proc.wait()
        if isinstance(exc, asyncio.CancelledError):
            raise
        return CheckResult("failed", f"backup check {shown} ran past {timeout:g}s and was killed")
    if proc.returncode == 0:
        return CheckResult("done", f"backup check {shown} exited 0")
    said = (stderr.decode("utf-8", "replace").strip().splitlines() or [""])[-1][:160]
    return CheckResult("failed", f"backup check {shown} exited {proc.returncode}"
                                 + (f": {said}" if said else ""))


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    try:
        os.killpg(proc.pid, 9)
    except (ProcessLookupError, PermissionError):
        pass


async def _get_json(url: str, client: httpx.AsyncClient, what: str) -> tuple[Any, str | None]:
    """(JSON body, None) or (None, why not) — the URL is not repeated: it may carry a token."""
    try:
        response = await client.get(url, timeout=HTTP_TIMEOUT)
    except httpx.TimeoutException:
        return None, f"{what} timed out"
    except httpx.HTTPError as exc:
        return None, f"{what} unreachable ({type(exc).__name__})"
    if response.status_code != 200:
        return None, f"{what} answered HTTP {response.status_code}"
    try:
        return response.json(), None
    except ValueError:
        return None, f"{what} did not answer JSON"


async def _backup_url(url: str, client: httpx.AsyncClient) -> CheckResult:
    body, problem = await _get_json(url, client, "backup_check_url")
    if problem:
        return CheckResult("failed", problem)
    status = body.get("status") if isinstance(body, dict) else None
    if status == "verified":
        return CheckResult("done", "backup_check_url: latest backup verified")
    shown = status if isinstance(status, str) and len(status) <= 40 else "missing"
    return CheckResult("failed", f"backup_check_url: latest backup status is {shown!r}, not 'verified'")


async def check_alerts(prereqs, client: httpx.AsyncClient) -> CheckResult:
    """No unacknowledged alerts: ``[]`` or ``{"unacknowledged": 0}``."""
    if not prereqs.alerts_check_url:
        return CheckResult("pending", "no alerts check configured: set [prerequisites] "
                           "alerts_check_url, or tick it by hand once alerts are acknowledged", "manual")
    body, problem = await _get_json(prereqs.alerts_check_url, client, "alerts_check_url")
    if problem:
        return CheckResult("failed", problem)
    if isinstance(body, list):
        count = len(body)
    elif isinstance(body, dict) and isinstance(body.get("unacknowledged"), int) \
            and not isinstance(body.get("unacknowledged"), bool):
        count = body["unacknowledged"]
    else:
        return CheckResult("failed", "alerts_check_url answered neither a list nor {\"unacknowledged\": N}")
    if count == 0:
        return CheckResult("done", "no unacknowledged alerts")
    return CheckResult("failed", f"{count} unacknowledged alert{'s' if count != 1 else ''}")


def _outbox_messages(outbox_dir: Path | None, channel: str, event: str) -> dict[str, list[dict]]:
    """The outbox's files for one channel and event, by where they are: sent, pending, failed."""
    found: dict[str, list[dict]] = {"sent": [], "pending": [], "failed": []}
    if outbox_dir is None:
        return found
    pattern = f"[0-9]*-{channel}-{event}.json"
    for where, sub in (("pending", ""), ("sent", "sent"), ("failed", "failed")):
        for path in sorted((outbox_dir / sub).glob(pattern)):
            try:
                found[where].append(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError):
                continue
    return found


def _from_outbox(found: dict[str, list[dict]], what: str, not_sent: str) -> CheckResult:
    if found["sent"]:
        return CheckResult("done", f"{what} sent by the console")
    if found["pending"]:
        message = found["pending"][0]
        error = message.get("last_error")
        tries = message.get("attempts", 0)
        return CheckResult("pending", f"{what} queued, {tries} attempt{'s' if tries != 1 else ''}"
                                      + (f", last error: {error}" if error else ""))
    if found["failed"]:
        error = found["failed"][-1].get("last_error") or "rejected"
        return CheckResult("failed", f"{what} could not be delivered: {error}")
    return CheckResult("pending", not_sent)


def check_slack(config, outbox_dir: Path | None) -> CheckResult:
    if config.slack is None:
        return CheckResult("pending", "no Slack webhook configured", "manual")
    found = _outbox_messages(outbox_dir, "slack", INCIDENT_OPENED)
    return _from_outbox(found, f"incident-opened message to {config.slack.channel}",
                        f"no incident-opened message to {config.slack.channel} sent yet")


def check_statuspage(config, outbox_dir: Path | None) -> CheckResult:
    if config.statuspage is None:
        return CheckResult("pending", "no Statuspage configured ([notifications.statuspage])", "manual")
    state = _outbox_state(outbox_dir)
    incident_id = state.get(STATUSPAGE_STATE_KEY)
    if isinstance(incident_id, str) and incident_id:
        return CheckResult("done", f"status page incident {incident_id[:40]} created")
    found = _outbox_messages(outbox_dir, "statuspage", INCIDENT_OPENED)
    result = _from_outbox(found, "status page banner", "no status page incident created yet")
    return result


def _outbox_state(outbox_dir: Path | None) -> dict:
    if outbox_dir is None:
        return {}
    try:
        state = json.loads((outbox_dir / "state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}
