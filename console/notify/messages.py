"""What the console tells #ops and the status page, as pure functions.

The runbook asks to "notify stakeholders in the #ops Slack channel", "update the
status page with an incident banner" and "post an incident resolution summary".
Each message carries the incident id, the target, the release tags (from→to) and
the time to recover so far, so a reader who sees only one message knows where
things stand. Nothing here does I/O or reads the clock: ``now`` is passed in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the TUI's clock imports format_duration before its first paint; the records wait
    from console.incident.records import Record
    from console.incident.state import IncidentState

# The moments the runbook wants communicated, in the order they happen.
INCIDENT_OPENED = "incident_opened"
DECISION_MADE = "decision_made"
PROCEDURE_STARTED = "procedure_started"
PROCEDURE_FINISHED = "procedure_finished"
INCIDENT_RESOLVED = "incident_resolved"
EVENTS = (INCIDENT_OPENED, DECISION_MADE, PROCEDURE_STARTED, PROCEDURE_FINISHED, INCIDENT_RESOLVED)

# Statuspage incident states in Atlassian's vocabulary.
STATUSPAGE_STATUSES = ("investigating", "identified", "monitoring", "resolved")

OUTCOME_LABELS = {
    "rollback": "roll back",
    "config_hotfix": "configuration hotfix",
    "code_hotfix": "code hotfix",
}


@dataclass(frozen=True)
class IncidentContext:
    """What every message repeats about the incident."""

    incident_id: str
    target: str
    opened_at: datetime
    from_tag: str | None = None
    to_tag: str | None = None
    ttr_target_minutes: float = 15
    project: str = ""

    def with_tags(self, from_tag: str | None, to_tag: str | None) -> IncidentContext:
        return replace(self, from_tag=from_tag or self.from_tag, to_tag=to_tag or self.to_tag)


def context_from_state(state: IncidentState) -> IncidentContext:
    """The context of a journaled incident (so a resumed incident keeps its story)."""
    from console.incident.records import ProcedureStarted, parse_iso

    opened = state.opened
    if opened is None:
        raise ValueError("the journal has no incident_opened record")
    ctx = IncidentContext(
        incident_id=opened.incident_id,
        target=opened.target,
        opened_at=parse_iso(opened.ts),
        from_tag=opened.deployed,
        ttr_target_minutes=opened.ttr_target_minutes if opened.ttr_target_minutes is not None else 15,
        project=opened.project,
    )
    for started in state.records:
        if isinstance(started, ProcedureStarted):
            ctx = ctx.with_tags(started.from_tag, started.to_tag)
    return ctx


def context_from_records(records: Iterable[Record]) -> IncidentContext:
    """The context folded from records (see ``context_from_state``)."""
    from console.incident.state import IncidentState

    return context_from_state(IncidentState.fold(records))


def format_duration(seconds: float) -> str:
    """``754`` → ``12m 34s``; hours only when needed."""
    total = max(0, int(round(seconds)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    return f"{minutes}m {secs:02d}s"


def ttr_seconds(ctx: IncidentContext, now: datetime) -> float:
    return (now - ctx.opened_at).total_seconds()


def ttr_line(ctx: IncidentContext, now: datetime) -> str:
    elapsed = ttr_seconds(ctx, now)
    target = ctx.ttr_target_minutes * 60
    state = "within" if elapsed <= target else "over"
    return f"TTR {format_duration(elapsed)} ({state} the {format_duration(target)} target)"


def tags_line(ctx: IncidentContext) -> str:
    if ctx.from_tag and ctx.to_tag:
        return f"{ctx.from_tag} → {ctx.to_tag}"
    return ctx.from_tag or ctx.to_tag or "unknown release"


def headline(event: str, details: dict[str, Any]) -> str:
    """One sentence saying what just happened."""
    if event == INCIDENT_OPENED:
        return "Incident opened: investigating a production problem"
    if event == DECISION_MADE:
        outcome = OUTCOME_LABELS.get(details.get("outcome", ""), details.get("outcome", "?"))
        text = f"Decision: {outcome}"
        if details.get("overridden"):
            text += f" (decision tree overridden: {details.get('reason') or 'no reason given'})"
        return text
    if event == PROCEDURE_STARTED:
        proc = details.get("procedure", "procedure").replace("_", " ")
        dry = " (dry run)" if details.get("dry_run") else ""
        return f"Started the {proc}{dry}"
    if event == PROCEDURE_FINISHED:
        proc = details.get("procedure", "procedure").replace("_", " ")
        return f"The {proc} {details.get('outcome', 'finished')}"
    if event == INCIDENT_RESOLVED:
        summary = details.get("summary")
        return "Incident resolved" + (f": {summary}" if summary else "")
    raise ValueError(f"unknown notification event {event!r}")


def slack_payload(event: str, ctx: IncidentContext, now: datetime, **details: Any) -> dict:
    """An incoming-webhook body: ``text`` for notifications, ``blocks`` for layout."""
    title = headline(event, details)
    facts = _mrkdwn_escape(
        f"*Incident* `{ctx.incident_id}` · *Target* `{ctx.target}` · *Release* {tags_line(ctx)} · {ttr_line(ctx, now)}"
    )
    text = _mrkdwn_escape(f"[{ctx.incident_id}] {title} — {ctx.target}, {tags_line(ctx)}, {ttr_line(ctx, now)}")
    return {
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{_mrkdwn_escape(title)}*"}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": facts}]},
        ],
    }


def statuspage_status(event: str, details: dict[str, Any] | None = None) -> str:
    """Where the public incident stands after ``event``."""
    details = details or {}
    if event == INCIDENT_OPENED:
        return "investigating"
    if event in (DECISION_MADE, PROCEDURE_STARTED):
        return "identified"
    if event == PROCEDURE_FINISHED:
        # A failed or aborted procedure means the cause is known but not fixed.
        return "monitoring" if details.get("outcome") == "succeeded" else "identified"
    if event == INCIDENT_RESOLVED:
        return "resolved"
    raise ValueError(f"unknown notification event {event!r}")


def statuspage_body(event: str, ctx: IncidentContext, now: datetime, **details: Any) -> str:
    """Customer-facing words: no hosts, no release tags, no internals."""
    if event == INCIDENT_OPENED:
        return "We are investigating an issue affecting the service."
    if event == DECISION_MADE:
        return "The issue has been identified and a fix is being applied."
    if event == PROCEDURE_STARTED:
        return "We are restoring the service. Brief interruptions are possible."
    if event == PROCEDURE_FINISHED:
        if details.get("outcome") == "succeeded":
            return "A fix has been applied and we are monitoring the results."
        return "The fix is taking longer than expected; we are continuing to work on it."
    if event == INCIDENT_RESOLVED:
        return "This incident has been resolved."
    raise ValueError(f"unknown notification event {event!r}")


def statuspage_payload(
    event: str, ctx: IncidentContext, now: datetime, component_ids: list[str] | None = None, **details: Any
) -> dict:
    """The outbox payload for the status page: create on open, update afterwards.

    The Statuspage incident id is not known yet when this is built; the outbox
    keeps it in its state and the client fills it in at send time.
    """
    status = statuspage_status(event, details)
    body = statuspage_body(event, ctx, now, **details)
    if event == INCIDENT_OPENED:
        incident: dict[str, Any] = {
            "name": details.get("name") or "Service disruption",
            "status": status,
            "body": body,
            "component_ids": list(component_ids or []),
        }
        if details.get("impact_override"):
            incident["impact_override"] = details["impact_override"]
        return {"action": "create", "incident": incident}
    action = "resolve" if status == "resolved" else "update"
    return {"action": action, "incident": {"status": status, "body": body}}


def _mrkdwn_escape(text: str) -> str:
    # Slack's three control characters; everything else is literal.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
