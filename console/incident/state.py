"""One incident's state, folded from its records as they are appended.

``state = IncidentState(); for r in records: state.apply(r)`` — the journal does exactly this as it
reads and writes, so every reader (report, incident list, flow, notifications, resume, screens)
asks the state instead of replaying lines.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from console.incident.records import (
    AlertSilence,
    Artifact,
    ChecklistMark,
    Decision,
    DecisionRetracted,
    FleetHostState,
    FleetWave,
    Handoff,
    Health,
    IncidentOpened,
    IncidentResolved,
    MatrixMark,
    MetricsCheck,
    MigrationDecision,
    MigrationPlanned,
    Note,
    Notification,
    Outcome,
    ProcedureFinished,
    ProcedureInterrupted,
    ProcedureStarted,
    Record,
    ReleaseLogUpdated,
    Retro,
    StepFailed,
    StepFinished,
    StepSkipped,
    UnknownRecord,
    as_record,
    parse_iso,
)

SETTLED = (StepFinished, StepSkipped)


@dataclass(frozen=True)
class IncidentSummary:
    id: str
    state: str  # open | running | interrupted | failed | aborted | succeeded | resolved
    target: str
    deployed: str | None
    procedure: str | None
    from_tag: str | None
    to_tag: str | None
    outcome: str | None  # the decision tree's outcome (rollback / config_hotfix / code_hotfix)
    opened_at: str
    ttr_seconds: float | None

    @property
    def resumable(self) -> bool:
        return self.state in ("running", "interrupted", "failed", "aborted")

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class IncidentState:
    incident_id: str = ""
    records: list[Record] = field(default_factory=list)
    opened: IncidentOpened | None = None
    answers: dict[str, bool] = field(default_factory=dict)  # question id -> answer (retractions applied)
    # latest answer record per question, first-asked order
    decisions: dict[str, Decision] = field(default_factory=dict)
    outcome: Outcome | None = None
    matrix: dict[str, MatrixMark] = field(default_factory=dict)  # condition (id or text) -> latest mark
    ticks: dict[str, ChecklistMark] = field(default_factory=dict)  # item id -> latest tick/untick/waiver
    started: ProcedureStarted | None = None  # the incident's own procedure (not verify, not a dry run)
    ended: ProcedureFinished | None = None  # how that run ended (ProcedureInterrupted included)
    own_starts: list[ProcedureStarted] = field(default_factory=list)
    settled: list[Record] = field(default_factory=list)  # step_finished / step_skipped, any run
    step_results: dict[str, Record] = field(default_factory=dict)  # latest finished/failed/skipped per step
    migration_plan: MigrationPlanned | None = None
    migration_decision: MigrationDecision | None = None
    artifacts: list[Artifact] = field(default_factory=list)
    health: list[Health] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)
    retro: Retro | None = None
    resolved: IncidentResolved | None = None
    release_log: ReleaseLogUpdated | None = None
    notes: list[Note] = field(default_factory=list)
    metrics_checks: dict[tuple[str, str], MetricsCheck] = field(default_factory=dict)  # (phase, name): latest
    silences: list[AlertSilence] = field(default_factory=list)
    handoffs: list[Handoff] = field(default_factory=list)
    fleet_hosts: dict[str, FleetHostState] = field(default_factory=dict)  # host -> latest state
    fleet_waves: list[FleetWave] = field(default_factory=list)
    unknown: list[UnknownRecord] = field(default_factory=list)
    _running_own: bool = False

    @classmethod
    def fold(cls, records: Iterable[Record], incident_id: str = "") -> IncidentState:
        state = cls(incident_id=incident_id)
        for record in records:
            state.apply(as_record(record))
        return state

    # -- the fold ------------------------------------------------------------------------------
    def apply(self, r: Record) -> None:
        self.records.append(r)
        fold = _FOLDS.get(type(r))
        if fold is not None:
            fold(self, r)

    def _opened(self, r: IncidentOpened) -> None:
        self.opened = r
        self.incident_id = self.incident_id or r.incident_id

    def _answer(self, r: Decision) -> None:
        self.answers[r.question_id] = bool(r.answer)
        self.decisions[r.question_id] = r

    def _retracted(self, r: DecisionRetracted) -> None:
        self.answers.pop(r.question_id, None)

    def _started(self, r: ProcedureStarted) -> None:
        self._running_own = not r.dry_run and r.procedure != "verify"
        if self._running_own:
            self.started, self.ended = r, None
            self.own_starts.append(r)

    def _ended(self, r: ProcedureFinished) -> None:  # ProcedureInterrupted too
        if self._running_own and self.started is not None and r.procedure == self.started.procedure:
            self.ended = r

    def _step(self, r: Record) -> None:
        self.step_results[r.step_id] = r  # type: ignore[attr-defined]
        if isinstance(r, SETTLED):
            self.settled.append(r)

    def _metrics_check(self, r: MetricsCheck) -> None:
        self.metrics_checks[(r.phase, r.name)] = r

    # -- questions readers ask ---------------------------------------------------------------
    @property
    def active_silence(self) -> AlertSilence | None:
        """The incident's silence the console created and has not expired (the last word counts)."""
        current = None
        for r in self.silences:
            if r.action == "created":
                current = r
            elif r.action in ("expired", "kept", "gone") and current is not None and r.silence_id == current.silence_id:
                current = None
        return current

    @property
    def deployed_at(self) -> str | None:
        """When the release being left was deployed, as the metrics checks found it."""
        return next((r.deployed_at for r in self.metrics_checks.values() if r.deployed_at), None)

    @property
    def last_ts(self) -> str:
        return self.records[-1].ts if self.records else ""

    @property
    def decided(self) -> str | None:
        return self.outcome.outcome if self.outcome else None

    @property
    def finished(self) -> ProcedureFinished | None:
        """How the own procedure finished (None while it runs, or when it was left part-way)."""
        if self.ended is None or isinstance(self.ended, ProcedureInterrupted):
            return None
        return self.ended

    @property
    def status(self) -> str:
        if self.resolved is not None:
            return "resolved"
        if self.started is None:
            return "open"
        if self.ended is None:
            return "running"
        if isinstance(self.ended, ProcedureInterrupted):
            return "interrupted"  # left part-way (quit, Ctrl-C): no outcome yet, resumable
        return self.ended.outcome

    @property
    def ttr_seconds(self) -> float | None:
        """Resolved: as journaled. Otherwise from opening to a successful procedure's end."""
        if self.resolved is not None and self.resolved.ttr_seconds is not None:
            return self.resolved.ttr_seconds
        finished = self.finished
        if finished is not None and finished.outcome == "succeeded" and self.opened is not None and self.opened.ts:
            return round((parse_iso(finished.ts) - parse_iso(self.opened.ts)).total_seconds(), 1)
        return None

    def elapsed_seconds(self) -> float | None:
        """From opening to the latest record."""
        if self.opened is None or not self.opened.ts or not self.last_ts:
            return None
        return (parse_iso(self.last_ts) - parse_iso(self.opened.ts)).total_seconds()

    def first_start_seq(self) -> int | None:
        """The seq of the original start of the own procedure a chain of resumes belongs to."""
        if self.started is None:
            return None
        return min(
            s.seq for s in self.own_starts if s.procedure == self.started.procedure and s.to_tag == self.started.to_tag
        )

    def settled_steps(self) -> dict[str, Record]:
        """Steps finished or skipped in any run of the own procedure (latest record per step)."""
        first = self.first_start_seq()
        if first is None:
            return {}
        return {r.step_id: r for r in self.settled if r.seq >= first}  # type: ignore[attr-defined]

    def tags(self) -> tuple[str | None, str | None]:
        if self.started is not None:
            return self.started.from_tag, self.started.to_tag
        return (self.opened.deployed if self.opened else None), None

    def marked_conditions(self, by_text: dict[str, str], known: set[str]) -> set[str]:
        """Matrix row ids marked (older records name the condition only by its text)."""
        marked: dict[str, bool] = {}
        for mark in self.matrix.values():
            row_id = mark.condition_id or by_text.get(mark.condition)
            if row_id in known:
                marked[row_id] = bool(mark.marked)
        return {row_id for row_id, on in marked.items() if on}

    def artifact_hashes(self, tag: str | None, on: str = "target") -> dict[str, str]:
        # a file missing where it was checked has no digest (None): there is nothing to record for it
        return {a.file: a.sha256 for a in self.artifacts if a.tag == tag and a.on == on and a.sha256 is not None}

    def summary(self) -> IncidentSummary:
        opened, started = self.opened, self.started
        return IncidentSummary(
            id=self.incident_id,
            state=self.status,
            target=opened.target if opened else "",
            deployed=opened.deployed if opened else None,
            procedure=started.procedure if started else None,
            from_tag=started.from_tag if started else None,
            to_tag=started.to_tag if started else None,
            outcome=self.decided,
            opened_at=opened.ts if opened else "",
            ttr_seconds=self.ttr_seconds,
        )


def _set(name: str):
    def fold(state: IncidentState, r: Record) -> None:
        setattr(state, name, r)

    return fold


def _add(name: str):
    def fold(state: IncidentState, r: Record) -> None:
        getattr(state, name).append(r)

    return fold


_FOLDS = {
    Handoff: lambda state, r: state.handoffs.append(r),
    FleetHostState: lambda state, r: state.fleet_hosts.__setitem__(r.host, r),
    FleetWave: _add("fleet_waves"),
    IncidentOpened: IncidentState._opened,
    Decision: IncidentState._answer,
    DecisionRetracted: IncidentState._retracted,
    Outcome: _set("outcome"),
    MatrixMark: lambda state, r: state.matrix.__setitem__(r.condition_id or r.condition, r),
    ChecklistMark: lambda state, r: state.ticks.__setitem__(r.item_id, r),
    ProcedureStarted: IncidentState._started,
    ProcedureFinished: IncidentState._ended,
    ProcedureInterrupted: IncidentState._ended,
    StepFinished: IncidentState._step,
    StepSkipped: IncidentState._step,
    StepFailed: IncidentState._step,
    MigrationPlanned: _set("migration_plan"),
    MigrationDecision: _set("migration_decision"),
    Artifact: _add("artifacts"),
    Health: _add("health"),
    Notification: _add("notifications"),
    Retro: _set("retro"),
    IncidentResolved: _set("resolved"),
    ReleaseLogUpdated: _set("release_log"),
    Note: _add("notes"),
    MetricsCheck: IncidentState._metrics_check,
    AlertSilence: _add("silences"),
    UnknownRecord: _add("unknown"),
}
