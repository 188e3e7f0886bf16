"""What each incident is doing: its journal's folded state, summarised for the incident list."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path

from console.incident.journal import JOURNAL_NAME, Journal
from console.incident.liveness import console_alive
from console.incident.records import ProcedureFinished, ProcedureStarted, Record
from console.incident.state import IncidentState, IncidentSummary

__all__ = ["IncidentSummary", "all_incidents", "incident_procedure", "summarize"]


def incident_procedure(records: Iterable[Record]) -> tuple[ProcedureStarted | None, ProcedureFinished | None]:
    """The incident's own procedure: its latest ``procedure_started``, and the record that ended
    that run (``procedure_finished`` or ``procedure_interrupted``; None while it runs).

    Re-running the checks from the verification screen journals a ``verify`` procedure, and a
    dry run changes nothing: neither is the procedure the incident resumes or is listed with.
    """
    state = IncidentState.fold(records)
    return state.started, state.ended


def summarize(journal: Journal) -> IncidentSummary:
    return _live(journal.state)


def _live(state: IncidentState) -> IncidentSummary:
    """The state's summary; "running" (no end record) becomes "interrupted" when the console that
    started the procedure is known to be gone (SIGKILLed: it wrote no end record)."""
    summary = state.summary()
    if summary.state == "running" and console_alive(state.started) is False:
        summary = dataclasses.replace(summary, state="interrupted")
    return summary


# journal path -> ((mtime_ns, size), journal): the home screen lists incidents on every return to
# it. A journal that did not change is not touched at all; one that grew is read from where it
# stopped (the Journal keeps its records and folded state), never from the start.
_JOURNALS: dict[str, tuple[tuple[int, int], Journal, IncidentSummary]] = {}


def all_incidents(state_dir: Path) -> list[IncidentSummary]:
    """Newest first."""
    root = Path(state_dir) / "incidents"
    if not root.is_dir():
        return []
    summaries = []
    for directory in sorted(root.iterdir(), key=lambda d: d.name, reverse=True):
        path = directory / JOURNAL_NAME
        try:
            stat = path.stat()
        except OSError:
            continue  # not an incident, or removed since it was listed
        key, cached = (stat.st_mtime_ns, stat.st_size), _JOURNALS.get(str(path))
        if cached is None:
            journal = Journal(directory)
            cached = (key, journal, _live(journal.state))
        elif cached[0] != key or cached[2].state == "running":
            # a running incident is looked at again: its console may have died without writing a line
            cached = (key, cached[1], _live(cached[1].state))
        _JOURNALS[str(path)] = cached
        if cached[1].state.opened is None:
            continue  # no incident_opened: not an incident (an old `unlock --force` journal)
        summaries.append(cached[2])
    return summaries
