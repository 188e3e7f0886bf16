"""The machine checks behind checklist items: backup verified, alerts acknowledged, #ops told,
status page banner up. Each returns a :class:`CheckResult`; none raises for a failing service.

Details never repeat a check URL (it may carry a token) and never quote a secret.
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from console.failures import TransportError
from console.notify.messages import INCIDENT_OPENED
from console.notify.outbox import STATE_FILE
from console.notify.statuspage import STATE_KEY as STATUSPAGE_STATE_KEY
from console.safetext import plain_line

CHECK_TIMEOUT = 30.0  # a backup check script
HTTP_TIMEOUT = 5.0


@dataclass(frozen=True)
class CheckResult:
    """What a machine check found; ``status`` is pending when it cannot tell."""

    status: str
    detail: str
    how: str = "auto"


async def check_backup(prereqs, client: httpx.AsyncClient, transport=None) -> CheckResult:
    """The latest backup is verified: the command exits 0 and/or the URL says so.

    With ``backup_check_on = "host"`` the command runs on the target over ``transport``."""
    results = []
    if prereqs.backup_check_command and getattr(prereqs, "backup_check_on", "console") == "host":
        results.append(await _run_backup_command_on_host(prereqs.backup_check_command, transport))
    elif prereqs.backup_check_command:
        results.append(await _run_backup_command(prereqs.backup_check_command))
    if prereqs.backup_check_url:
        results.append(await _backup_url(prereqs.backup_check_url, client))
    if not results:
        return CheckResult(
            "pending",
            "no backup check configured: set [prerequisites] "
            "backup_check_command or backup_check_url, or tick it by hand",
            "manual",
        )
    failed = [r for r in results if r.status != "done"]
    if failed:
        return CheckResult("failed", "; ".join(r.detail for r in failed))
    return CheckResult("done", "; ".join(r.detail for r in results))


async def _run_backup_command(command: list[str], timeout: float | None = None) -> CheckResult:
    shown = shlex.join(command)
    timeout = CHECK_TIMEOUT if timeout is None else timeout
    try:
        proc = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        return CheckResult("failed", f"cannot run backup check {shown}: {exc.strerror or exc}")
    try:
        _, stderr = await asyncio.wait_for(proc.communicate(), timeout)
    except (TimeoutError, asyncio.CancelledError) as exc:
        _kill_group(proc)
        await proc.wait()
        if isinstance(exc, asyncio.CancelledError):
            raise
        return CheckResult("failed", f"backup check {shown} ran past {timeout:g}s and was killed")
    if proc.returncode == 0:
        return CheckResult("done", f"backup check {shown} exited 0")
    said = (stderr.decode("utf-8", "replace").strip().splitlines() or [""])[-1][:160]
    return CheckResult("failed", f"backup check {shown} exited {proc.returncode}" + (f": {said}" if said else ""))


async def _run_backup_command_on_host(command: list[str], transport) -> CheckResult:
    shown = shlex.join(command)
    if transport is None:
        return CheckResult("failed", f"backup check {shown} runs on the host, and the host is not connected")
    try:
        result = await transport.run(command, timeout=CHECK_TIMEOUT, capture=True)
    except TransportError as exc:
        return CheckResult("failed", f"backup check {shown} on the host: {exc}")
    if result.exit_status == 0:
        return CheckResult("done", f"backup check {shown} exited 0 on the host")
    said = plain_line((result.stderr.strip().splitlines() or [""])[-1])[:160]
    return CheckResult(
        "failed", f"backup check {shown} exited {result.exit_status} on the host" + (f": {said}" if said else "")
    )


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
        return CheckResult(
            "pending",
            "no alerts check configured: set [prerequisites] "
            "alerts_check_url, or tick it by hand once alerts are acknowledged",
            "manual",
        )
    body, problem = await _get_json(prereqs.alerts_check_url, client, "alerts_check_url")
    if problem:
        return CheckResult("failed", problem)
    if isinstance(body, list):
        count = len(body)
    elif (
        isinstance(body, dict)
        and isinstance(body.get("unacknowledged"), int)
        and not isinstance(body.get("unacknowledged"), bool)
    ):
        count = body["unacknowledged"]
    else:
        return CheckResult("failed", 'alerts_check_url answered neither a list nor {"unacknowledged": N}')
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
        return CheckResult(
            "pending",
            f"{what} queued, {tries} attempt{'s' if tries != 1 else ''}" + (f", last error: {error}" if error else ""),
        )
    if found["failed"]:
        error = found["failed"][-1].get("last_error") or "rejected"
        return CheckResult("failed", f"{what} could not be delivered: {error}")
    return CheckResult("pending", not_sent)


def check_slack(config, outbox_dir: Path | None) -> CheckResult:
    if config.slack is None:
        return CheckResult("pending", "no Slack webhook configured", "manual")
    found = _outbox_messages(outbox_dir, "slack", INCIDENT_OPENED)
    return _from_outbox(
        found,
        f"incident-opened message to {config.slack.channel}",
        f"no incident-opened message to {config.slack.channel} sent yet",
    )


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
        state = json.loads((outbox_dir / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}
