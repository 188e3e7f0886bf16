"""Where an incident stands, from its journal: which screen continues it."""

from __future__ import annotations

from console.incidents import incident_procedure
from console.journal import Journal, parse_iso

DECISION, CHECKLIST, PROCEDURE, VERIFICATION, FOLLOW_UP = (
    "decision", "checklist", "procedure", "verification", "follow_up")


def next_stage(journal: Journal) -> str:
    """The screen that continues ``journal``'s incident."""
    records = list(journal.records())
    started, finished = incident_procedure(records)
    outcome = resolved = None
    for record in records:
        kind = record["type"]
        if kind == "outcome":
            outcome = record
        elif kind == "incident_resolved":
            resolved = record
    if resolved is not None:
        return FOLLOW_UP
    if outcome is None:
        return DECISION
    if started is None:
        return CHECKLIST
    if finished is None or finished.get("outcome") != "succeeded":
        return PROCEDURE
    return VERIFICATION


def last_outcome(journal: Journal) -> str | None:
    record = journal.last("outcome")
    return record["outcome"] if record else None


def opened_at(journal: Journal):
    record = journal.last("incident_opened")
    return parse_iso(record["ts"]) if record else None
