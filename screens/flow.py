"""Where an incident stands, from its journal: which screen continues it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the journal and its records load on the first incident, not before the first paint
    from console.incident.journal import Journal

DECISION, CHECKLIST, PROCEDURE, VERIFICATION, FOLLOW_UP = (
    "decision",
    "checklist",
    "procedure",
    "verification",
    "follow_up",
)


def next_stage(journal: Journal) -> str:
    """The screen that continues ``journal``'s incident (read from the same summary Home lists)."""
    from console.incident.listing import summarize

    summary = summarize(journal)
    if summary.state == "resolved":
        return FOLLOW_UP
    if summary.outcome is None:
        return DECISION
    if summary.state == "open":
        return CHECKLIST
    if summary.state == "succeeded":
        return VERIFICATION
    return PROCEDURE  # running, interrupted, failed or aborted: resume it


def last_outcome(journal: Journal) -> str | None:
    return journal.state.decided


def opened_at(journal: Journal):
    opened = journal.state.opened
    return opened.at if opened else None
