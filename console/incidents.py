"""What each incident is doing, replayed from its journal."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from console.journal import Journal, list_incidents, parse_iso
from console.liveness import console_alive

PROCEDURE_ENDS = ("procedure_finished", "procedure_interrupted")


def incident_procedure(records: Iterable[dict]) -> tuple[dict | None, dict | None]:
    """The incident's own procedure: its latest ``procedure_started``, and the record that ended
    that run (``procedure_finished`` or ``procedure_interrupted``; None while it runs).

    Re-running the checks from the verification screen journals a ``verify`` procedure, and a
    dry run changes nothing: neither is the procedure the incident resumes or is listed with.
    """
    started = ended = None
    ours = False   # is the run in progress (the latest start) the incident's own procedure?
    for record in records:
        kind = record["type"]
        if kind == "procedure_started":
            ours = not record.get("dry_run") and record.get("procedure") != "verify"
            if ours:
                started, ended = record, None
        elif kind in PROCEDURE_ENDS and ours and record.get("procedure") == started.get("procedure"):
            ended = record
    return started, ended


@dataclass(frozen=True)
class IncidentSummary:
    id: str
    state: str            # open | running | interrupted | failed | aborted | succeeded | resolved
    target: str
    deployed: str | None
    procedure: str | None
    from_tag: str | None
    to_tag: str | None
    outcome: str | None   # the decision tree's outcome (rollback / config_hotfix / code_hotfix)
    opened_at: str
    ttr_seconds: float | None

    @property
    def resumable(self) -> bool:
        return self.state in ("running", "interrupted", "failed", "aborted")

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def summarize(journal: Journal) -> IncidentSummary:
    records = list(journal.records())
    started, finished = incident_procedure(records)
    opened = decided = resolved = None
    for record in records:
        kind = record["type"]
        if kind == "incident_opened":
            opened = record
        elif kind == "outcome":
            decided = record
        elif kind == "incident_resolved":
            resolved = record
    if resolved:
        state = "resolved"
    elif started is None:
        state = "open"
    elif finished is None:
        # No end record: running, unless the console that started it is known to be gone (SIGKILL).
        state = "interrupted" if console_alive(started) is False else "running"
    elif finished["type"] == "procedure_interrupted":
        state = "interrupted"   # left part-way (quit, Ctrl-C): no outcome yet, resumable
    else:
        state = finished["outcome"]
    opened_at = (opened or {}).get("ts", "")
    ttr = resolved.get("ttr_seconds") if resolved else None
    if ttr is None and finished is not None and finished.get("outcome") == "succeeded" and opened_at:
        ttr = round((parse_iso(finished["ts"]) - parse_iso(opened_at)).total_seconds(), 1)
    return IncidentSummary(
        id=journal.incident_id, state=state, target=(opened or {}).get("target", ""),
        deployed=(opened or {}).get("deployed"), procedure=(started or {}).get("procedure"),
        from_tag=(started or {}).get("from_tag"), to_tag=(started or {}).get("to_tag"),
        outcome=(decided or {}).get("outcome"), opened_at=opened_at, ttr_seconds=ttr)


# journal path -> ((mtime_ns, size), summary): the home screen lists incidents on every return
# to it; a journal that did not change is not read again.
_SUMMARIES: dict[str, tuple[tuple[int, int], IncidentSummary]] = {}


def all_incidents(state_dir: Path) -> list[IncidentSummary]:
    """Newest first."""
    summaries = []
    for journal in list_incidents(state_dir):
        try:
            stat = journal.path.stat()
        except OSError:
            continue   # removed since it was listed
        key, cached = (stat.st_mtime_ns, stat.st_size), _SUMMARIES.get(str(journal.path))
        # a running incident is re-read: its console may have died without writing a line
        if cached is None or cached[0] != key or cached[1].state == "running":
            cached = (key, summarize(journal))
            _SUMMARIES[str(journal.path)] = cached
        summaries.append(cached[1])
    return summaries
