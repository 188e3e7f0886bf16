"""Follow-up items a machine can tell are done, from the incident's own journal.

The runbook's follow-up (section 6) is mostly evidence the console itself produced:
the resolution reached Slack and the status page, a retro was written, the release
log got the artifact hashes and migration decision. Those are ticked automatically
(with what proves them); anything else stays a hand tick.
"""

from __future__ import annotations

from collections.abc import Mapping

from console.incident.journal import Journal
from console.incident.records import ChecklistMark, Record

GROUP = "Communication & follow-up"


def automatic_evidence(journal: Journal) -> dict[str, str]:
    """item id → what in the journal shows it is done (only items that are)."""
    state = journal.state
    found: dict[str, str] = {}
    for note in state.notifications:
        if note.event == "incident_resolved" and note.status == "sent":
            item = {"slack": "resolution_posted", "statuspage": "status_page_resolved"}.get(note.channel)
            if item:
                found[item] = f"{note.channel} accepted the resolution at {_clock(note)}"
    retro = state.retro
    if retro is not None and (retro.root_cause or "").strip() and retro.action_items:
        found["retro_created"] = (
            f"retro saved by {retro.by} at {_clock(retro)} ({len(retro.action_items)} action items)"
        )
    if state.release_log is not None:
        log = state.release_log
        bad = f", {log.marked_bad} marked bad" if log.marked_bad else ""
        found["release_log_updated"] = f"release log: {log.deployed} deployed{bad}, hashes attached"
    return found


def record_automatic_ticks(journal: Journal, items, states: Mapping[str, ChecklistMark]) -> list[str]:
    """Journal an automatic tick for each item the journal proves done and nobody has ticked
    or unticked yet; returns the ids ticked now."""
    evidence = automatic_evidence(journal)
    ticked = []
    for item in items:
        if item.id in evidence and item.id not in states:
            journal.append(
                ChecklistMark(
                    item_id=item.id,
                    group=GROUP,
                    title=item.title,
                    status="done",
                    how="auto",
                    by="incident-console",
                    detail=evidence[item.id],
                    reason="",
                )
            )
            ticked.append(item.id)
    return ticked


def _clock(record: Record) -> str:
    return f"{record.at:%H:%M:%S}"
