"""What each incident is doing, replayed from its journal."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from console.journal import Journal, list_incidents, parse_iso


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
    opened = started = finished = decided = resolved = None
    for record in journal.records():
        kind = record["type"]
        if kind == "incident_opened":
            opened = record
        elif kind == "procedure_started" and not record.get("dry_run"):
            started, finished = record, None
        elif kind in ("procedure_finished", "procedure_interrupted") and started is not None:
            finished = record
        elif kind == "outcome":
            decided = record
        elif kind == "incident_resolved":
            resolved = record
    if resolved:
        state = "resolved"
    elif started is None:
        state = "open"
    elif finished is None:
        state = "running"
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


def all_incidents(state_dir: Path) -> list[IncidentSummary]:
    """Newest first."""
    return [summarize(j) for j in list_incidents(state_dir)]
