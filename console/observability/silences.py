"""The checklist's "alerts acknowledged", for real: the firing alerts for the target, and one
Alertmanager silence per incident for its services (created by the operator, commented with the
incident id), journaled as ``alert_silence`` records and expired when the incident is resolved.

Nothing here raises for a dead Alertmanager: the item falls back to the manual tick and says why.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from console.incident.records import AlertSilence
from console.observability.alertmanager import (
    Alert,
    AlertmanagerClient,
    AlertmanagerError,
    Matcher,
    services_matcher,
    silence_payload,
)
from console.observability.settings import AlertmanagerSettings, headers_or_reason

RECORD = AlertSilence.KIND


@dataclass(frozen=True)
class AlertsFound:
    """What ``firing_alerts`` found: the alerts, or why it could not look (``problem``)."""

    alerts: list[Alert] = field(default_factory=list)
    matchers: list[Matcher] = field(default_factory=list)
    problem: str = ""


def incident_matchers(config) -> list[Matcher]:
    settings: AlertmanagerSettings | None = config.observability.alertmanager
    if settings is not None and settings.matchers:
        return list(settings.matchers)
    return [services_matcher([s.name for s in config.services])]


def client_for(config) -> tuple[AlertmanagerClient | None, str]:
    settings = config.observability.alertmanager
    if settings is None or not settings.url:
        return None, "no [alertmanager] url is configured"
    headers, problem = headers_or_reason(settings)
    if problem:
        return None, f"Alertmanager {problem}"
    return AlertmanagerClient(settings.url, headers, timeout=settings.timeout), ""


async def firing_alerts(config, client: AlertmanagerClient | None = None) -> AlertsFound:
    matchers = incident_matchers(config)
    if client is None:
        client, why = client_for(config)
        if client is None:
            return AlertsFound(matchers=matchers, problem=why)
    try:
        return AlertsFound(await client.firing(matchers), matchers)
    except AlertmanagerError as exc:
        return AlertsFound(matchers=matchers, problem=str(exc))


def active_silence(journal) -> AlertSilence | None:
    """The incident's silence the console created and has not expired (the last word counts)."""
    return None if journal is None else journal.state.active_silence


async def silence_incident(
    config, journal, operator: str, client: AlertmanagerClient | None = None, found: AlertsFound | None = None
) -> tuple[AlertSilence | None, str]:
    """Create the incident's silence unless one is active; ``(record, problem)``."""
    existing = active_silence(journal)
    if existing is not None:
        return existing, ""
    if journal is None:
        return None, "no incident is open: a silence needs its incident id as comment"
    if client is None:
        client, why = client_for(config)
        if client is None:
            return None, why
    settings = config.observability.alertmanager
    found = found if found is not None else await firing_alerts(config, client)
    matchers = found.matchers or incident_matchers(config)
    payload = silence_payload(
        matchers,
        minutes=settings.silence_minutes,
        created_by=operator,
        comment=f"incident-console incident {journal.incident_id}",
    )
    try:
        silence_id = await client.create_silence(payload)
    except AlertmanagerError as exc:
        return None, str(exc)
    record = journal.append(
        AlertSilence(
            action="created",
            silence_id=silence_id,
            matchers=[m.to_filter() for m in matchers],
            starts_at=payload["startsAt"],
            ends_at=payload["endsAt"],
            created_by=operator,
            comment=payload["comment"],
            alerts=[_alert_name(a) for a in found.alerts],
        )
    )
    return record, ""


def _alert_name(alert: Alert) -> str:
    where = alert.labels.get("service") or alert.labels.get("instance") or ""
    return f"{alert.name}{f' ({where})' if where else ''}"


async def acknowledge_alerts(config, journal, operator: str):
    """The "alerts" checklist check against Alertmanager (returns a prerequisite ``CheckResult``)."""
    from console.incident.prerequisite_checks import CheckResult

    client, why = client_for(config)
    if client is None:
        return CheckResult("pending", f"{why}: acknowledge alerts by hand, then tick this", "manual")
    found = await firing_alerts(config, client)
    if found.problem:
        return CheckResult(
            "pending", f"{found.problem}: acknowledge alerts in Alertmanager by hand, then tick this", "manual"
        )
    existing = active_silence(journal)
    if existing is not None and found.alerts:
        # our matchers' alerts page unsilenced: the silence was expired or deleted in Alertmanager
        journal.append(AlertSilence(action="gone", silence_id=existing.silence_id, by="incident-console"))
    record, problem = await silence_incident(config, journal, operator, client, found)
    if record is None:
        return CheckResult(
            "pending",
            f"could not silence the incident's alerts ({problem}): silence them by hand, then tick this",
            "manual",
        )
    silenced = record.alerts or []
    what = (
        f"silenced {', '.join(silenced[:5])}{'...' if len(silenced) > 5 else ''}" if silenced else "no alert was firing"
    )
    return CheckResult(
        "done",
        f"silence {record.silence_id} until {str(record.ends_at)[11:16]} UTC "
        f"({what}; matchers {' '.join(record.matchers or [])})",
    )


async def end_incident_silence(config, journal, by: str, *, keep: bool = False) -> tuple[str, str]:
    """On resolve: expire the incident's silence, or record that it is kept. ``(action, message)``;
    action is ``none``, ``expired``, ``kept`` or ``failed`` (then nothing is recorded: retry later)."""
    record = active_silence(journal)
    if record is None:
        return "none", "no alert silence to expire"
    silence_id = record.silence_id
    if keep:
        journal.append(AlertSilence(action="kept", silence_id=silence_id, by=by, ends_at=record.ends_at))
        return "kept", f"silence {silence_id} kept until {str(record.ends_at)[11:16]} UTC"
    client, why = client_for(config)
    if client is None:
        return "failed", f"silence {silence_id} not expired: {why}; expire it in Alertmanager by hand"
    try:
        await client.expire_silence(silence_id)
    except AlertmanagerError as exc:
        if "HTTP 404" in str(exc):  # expired or deleted elsewhere: nothing left to do
            journal.append(AlertSilence(action="gone", silence_id=silence_id, by=by))
            return "expired", f"silence {silence_id} was already gone"
        return "failed", f"silence {silence_id} not expired: {exc}; expire it in Alertmanager by hand"
    journal.append(AlertSilence(action="expired", silence_id=silence_id, by=by))
    return "expired", f"silence {silence_id} expired"
