"""What happened in an incident: one frozen dataclass per record kind.

A record *is* the event: the engine emits the object it journals, the journal writes it as one
JSON line (``{"v": 2, "seq": ..., "ts": ..., "type": KIND, ...fields}``) and reads it back into
the same class. Lines written before schema version 2 carry no ``v``; they are read into the same
classes (with the field renames listed in ``_ALIASES``). A kind this code does not know is kept as
an ``UnknownRecord`` (written back unchanged, shown by the report), never dropped.

Fields a line carries that its class does not declare are kept in ``extra`` so nothing is lost on
a round trip. Transient events (``StepOutput``, ``Notice``, ...) share the base class but are never
journaled (``JOURNALED = False``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any, ClassVar

from console.failures import FailureReason
from console.secrets import REDACTED, Secret

SCHEMA_VERSION = 2
_ENVELOPE = ("v", "seq", "ts", "type")


def iso(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def scrub(value: Any) -> Any:
    """Make a value JSON-safe; a Secret anywhere becomes the redaction marker."""
    if isinstance(value, Secret):
        return REDACTED
    if isinstance(value, Mapping):
        return {str(k): scrub(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [scrub(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, Enum):
        return value.value
    return value


@dataclass(frozen=True)
class Record:
    """Base of every record and event. ``seq``/``ts`` are stamped by the journal on append."""

    KIND: ClassVar[str] = ""
    JOURNALED: ClassVar[bool] = True

    seq: int = field(default=0, kw_only=True)
    ts: str = field(default="", kw_only=True)
    extra: Mapping[str, Any] = field(default_factory=dict, kw_only=True, compare=False)

    @property
    def kind(self) -> str:
        return self.KIND

    @property
    def at(self) -> datetime | None:
        return parse_iso(self.ts) if self.ts else None

    def fields(self) -> dict[str, Any]:
        """The record's own fields, JSON-safe (secrets redacted), without the envelope."""
        data = {
            f.name: scrub(getattr(self, f.name))
            for f in dataclasses.fields(self)
            if f.name not in ("seq", "ts", "extra")
        }
        return data

    def to_line(self) -> dict[str, Any]:
        """The journal line (schema version 2)."""
        return {
            "v": SCHEMA_VERSION,
            "seq": self.seq,
            "ts": self.ts,
            "type": self.kind,
            **self.fields(),
            **scrub(dict(self.extra)),
        }

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` form of an event: ``{"event": kind, ...fields}``."""
        return {"event": self.kind, **self.fields()}

    def stamped(self, seq: int, ts: str) -> Record:
        return dataclasses.replace(self, seq=seq, ts=ts)


# Alias kept for the engine's listeners: every record is an event.
Event = Record


# -- the incident --------------------------------------------------------------------------


@dataclass(frozen=True)
class IncidentOpened(Record):
    KIND: ClassVar[str] = "incident_opened"
    incident_id: str = ""
    operator: str = ""
    target: str = ""
    project: str = ""
    deployed: str | None = None
    ttr_target_minutes: float | None = None


@dataclass(frozen=True)
class Decision(Record):
    """One answer to a question of the decision tree."""

    KIND: ClassVar[str] = "decision"
    question_id: str = ""
    question: str = ""
    answer: bool = False
    by: str = ""


@dataclass(frozen=True)
class DecisionRetracted(Record):
    """An answer withdrawn with Back."""

    KIND: ClassVar[str] = "decision_retracted"
    question_id: str = ""
    question: str = ""
    answer: bool | None = None
    by: str = ""


@dataclass(frozen=True)
class Outcome(Record):
    """The decision: rollback, config_hotfix or code_hotfix."""

    KIND: ClassVar[str] = "outcome"
    outcome: str = ""
    path: list = field(default_factory=list)  # [{question_id, answer}]
    overridden: bool = False
    reason: str | None = None
    tree_outcome: str | None = None
    matrix_agrees: bool | None = None
    by: str = ""


@dataclass(frozen=True)
class Override(Record):
    KIND: ClassVar[str] = "override"
    outcome: str = ""
    reason: str | None = None
    by: str = ""


@dataclass(frozen=True)
class MatrixMark(Record):
    KIND: ClassVar[str] = "matrix_mark"
    condition: str = ""
    condition_id: str | None = None
    column: str = ""
    marked: bool = False
    by: str = ""


@dataclass(frozen=True)
class ChecklistMark(Record):
    """A tick, an untick or a waiver of a checklist item (prerequisites, verification, follow-up)."""

    KIND: ClassVar[str] = "checklist"
    item_id: str = ""
    group: str = ""
    title: str = ""
    status: str = ""  # done | pending | waived | failed ...
    how: str = "manual"  # auto | manual
    by: str = ""
    detail: str = ""
    reason: str = ""


# -- the procedure -------------------------------------------------------------------------


@dataclass(frozen=True)
class ProcedureStarted(Record):
    KIND: ClassVar[str] = "procedure_started"
    procedure: str = ""
    incident_id: str = ""
    steps: list = field(default_factory=list)  # [{id, title, destructive, command, host?}]
    from_tag: str | None = None
    to_tag: str | None = None
    dry_run: bool = False
    options: dict = field(default_factory=dict)  # what resume needs to rebuild the procedure
    resumed: bool = False
    pid: int | None = None  # the console running it (see console.incident.liveness): a SIGKILLed
    pid_started: int | None = None  # console's incident is told from a running one
    machine: str = ""


@dataclass(frozen=True)
class ProcedureFinished(Record):
    KIND: ClassVar[str] = "procedure_finished"
    procedure: str = ""
    outcome: str = ""  # succeeded | failed | aborted (interrupted: see ProcedureInterrupted)
    duration: float = 0.0
    from_tag: str | None = None
    to_tag: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class ProcedureInterrupted(ProcedureFinished):
    """Cancelled part-way (Ctrl-C, quit, left): no outcome, resumable. Listeners that watch for
    ``ProcedureFinished`` see it too, with ``outcome == "interrupted"``."""

    KIND: ClassVar[str] = "procedure_interrupted"
    outcome: str = "interrupted"
    step_id: str | None = None
    message: str = ""
    remote_may_still_run: str | None = None  # a cancelled command whose process group was never reported
    running_together: list | None = None  # steps running at once (a group, a fleet wave); step_id is the first


@dataclass(frozen=True)
class StepStarted(Record):
    KIND: ClassVar[str] = "step_started"
    step_id: str = ""
    title: str = ""
    command: str = ""  # exact command, secrets redacted ("" for built-in checks)
    destructive: bool = False
    argv: list | None = None
    host: str = "target"


@dataclass(frozen=True)
class StepFinished(Record):
    KIND: ClassVar[str] = "step_finished"
    step_id: str = ""
    exit_code: int | None = None
    duration: float = 0.0
    summary: str = ""
    output: str | None = None  # side file under outputs/
    sha256: str = ""
    detail: dict = field(default_factory=dict)


@dataclass(frozen=True)
class StepFailed(Record):
    KIND: ClassVar[str] = "step_failed"
    step_id: str = ""
    reason: FailureReason | str = FailureReason.NON_ZERO_EXIT
    message: str = ""
    exit_code: int | None = None
    duration: float = 0.0
    output: str | None = None
    sha256: str = ""
    detail: dict = field(default_factory=dict)

    @property
    def reason_label(self) -> str:
        return str(getattr(self.reason, "value", self.reason)).replace("_", " ")


@dataclass(frozen=True)
class StepSkipped(Record):
    KIND: ClassVar[str] = "step_skipped"
    step_id: str = ""
    reason: str = ""
    by: str = ""
    optional: bool = False  # the runbook marks the step optional and the operator chose to skip it


@dataclass(frozen=True)
class StepConfirmed(Record):
    KIND: ClassVar[str] = "step_confirmed"
    step_id: str = ""
    confirmed: bool = False
    by: str = ""


@dataclass(frozen=True)
class StepChoice(Record):
    """After a failure: retry, skip or abort."""

    KIND: ClassVar[str] = "step_choice"
    step_id: str = ""
    action: str = ""
    reason: str = ""
    by: str = ""


@dataclass(frozen=True)
class LockEvent(Record):
    KIND: ClassVar[str] = "lock"
    action: str = ""  # acquired | released | refused | failed | release_failed | force_unlocked | taken_over
    lock_dir: str = ""
    holder: dict | None = None
    error: str | None = None
    by: str | None = None
    reason: str | None = None  # taken_over: why (resume --take-over-lock REASON)
    previous_console: dict | None = None  # taken_over: {pid, machine} of the console that held it
    host: str | None = None  # a fleet host's lock (None: the target's)


@dataclass(frozen=True)
class Handoff(Record):
    """Another console (machine or operator) took the incident over: a resume from a second machine,
    the journal fetched from the host copy when ``fetched`` is set."""

    KIND: ClassVar[str] = "handoff"
    from_operator: str | None = None
    from_machine: str | None = None
    to_operator: str = ""
    to_machine: str = ""
    fetched: bool = False
    reason: str = ""


@dataclass(frozen=True)
class MigrationPlanned(Record):
    """What a migration rollback would undo, as the schema check saw it (resume re-checks it)."""

    KIND: ClassVar[str] = "migration_plan"
    applied: list = field(default_factory=list)  # applied migrations, oldest first
    target_head: str | None = None
    undo: list = field(default_factory=list)  # what a rollback to target_head undoes, newest first
    known: bool = True
    on: str = "target"


@dataclass(frozen=True)
class MigrationDecision(Record):
    KIND: ClassVar[str] = "migration_decision"
    action: str = ""  # rolled_back | none_needed | skipped
    from_head: str | None = None
    to_head: str | None = None
    undone: list = field(default_factory=list)
    reason: str | None = None
    by: str = ""


@dataclass(frozen=True)
class Health(Record):
    KIND: ClassVar[str] = "health"
    check: str = ""
    ok: bool = False
    status: int | None = None
    version: str | None = None
    latency_ms: float | None = None
    on: str = "target"


@dataclass(frozen=True)
class Artifact(Record):
    KIND: ClassVar[str] = "artifact"
    tag: str = ""
    file: str = ""
    sha256: str | None = ""  # None: the file was missing where it was checked
    verified: bool = False
    source: str = ""
    on: str = "target"


@dataclass(frozen=True)
class Notification(Record):
    KIND: ClassVar[str] = "notification"
    channel: str = ""
    event: str = ""
    status: str = ""  # queued | sent | failed
    attempts: int = 0
    error: str | None = None


@dataclass(frozen=True)
class ReleaseLogUpdated(Record):
    KIND: ClassVar[str] = "release_log"
    deployed: str | None = None
    marked_bad: str | None = None


@dataclass(frozen=True)
class ResumeCheck(Record):
    KIND: ClassVar[str] = "resume_check"
    ps: list = field(default_factory=list)
    exit_code: int | None = None


@dataclass(frozen=True)
class HostRecheck(Record):
    """The host's state, looked at after the link died mid-step (the step's outcome is UNKNOWN)."""

    KIND: ClassVar[str] = "host_recheck"
    step_id: str = ""
    ps: list = field(default_factory=list)
    exit_code: int | None = None


@dataclass(frozen=True)
class FleetWave(Record):
    """One wave of a fleet rollout: preflight, lock, canary, the health gate, or a batch."""

    KIND: ClassVar[str] = "fleet_wave"
    wave: str = ""  # preflight | lock | canary | gate | batch
    index: int = 0
    hosts: list = field(default_factory=list)
    status: str = ""  # started | passed | failed | stopped
    message: str = ""


@dataclass(frozen=True)
class FleetHostState(Record):
    """Where one fleet host stands; journaled whenever that changes."""

    KIND: ClassVar[str] = "fleet_host"
    host: str = ""
    state: str = ""  # untouched | preflight_ok | running | done | failed | not_started
    release: str | None = None  # what it runs now, when known
    step_id: str | None = None
    message: str = ""


@dataclass(frozen=True)
class Retro(Record):
    KIND: ClassVar[str] = "retro"
    root_cause: str = ""
    detection_gaps: str = ""
    action_items: list = field(default_factory=list)
    by: str = ""


@dataclass(frozen=True)
class IncidentResolved(Record):
    KIND: ClassVar[str] = "incident_resolved"
    ttr_seconds: float | None = None
    by: str = ""
    summary: str = ""


@dataclass(frozen=True)
class Note(Record):
    KIND: ClassVar[str] = "note"
    text: str = ""
    by: str = ""
    torn_file: str | None = None
    torn_bytes: int | None = None


@dataclass(frozen=True)
class MetricsCheck(Record):
    """One ``[[metrics]]`` check's verdict from Prometheus (verification or the hotfix monitor)."""

    KIND: ClassVar[str] = "metrics_check"
    phase: str = ""  # verification | monitor
    on: str = "target"
    name: str = ""
    query: str = ""
    comparison: str = ""
    verdict: str = ""  # pass | fail | unknown
    value: float | None = None
    limit: float | None = None
    baseline: float | None = None
    sampled_at: float | None = None  # unix seconds of the value (``at`` in the check's result;
    # renamed: ``Record.at`` is every record's journal time)
    detail: str = ""
    deployed_at: str | None = None  # when the release being left was deployed (ISO, UTC)
    series: list = field(default_factory=list)  # [[unix_s, value], ...] for the report's chart


@dataclass(frozen=True)
class AlertSilence(Record):
    """The incident's Alertmanager silence: created, expired, kept on resolve, or gone elsewhere."""

    KIND: ClassVar[str] = "alert_silence"
    action: str = ""  # created | expired | kept | gone
    silence_id: str = ""
    matchers: list = field(default_factory=list)
    starts_at: str | None = None
    ends_at: str | None = None
    created_by: str = ""
    comment: str = ""
    alerts: list = field(default_factory=list)
    by: str = ""


@dataclass(frozen=True)
class UnknownRecord(Record):
    """A kind this code does not know (a newer console, another branch): kept and shown."""

    type_name: str = ""

    @property
    def kind(self) -> str:
        return self.type_name

    def fields(self) -> dict[str, Any]:
        return {}

    def to_dict(self) -> dict[str, Any]:
        return {"event": self.kind, **scrub(dict(self.extra))}


# -- transient events: emitted to listeners, never journaled --------------------------------


@dataclass(frozen=True)
class StepOutput(Record):
    KIND: ClassVar[str] = "step_output"
    JOURNALED: ClassVar[bool] = False
    step_id: str = ""
    stream: str = "stdout"
    lines: list = field(default_factory=list)


@dataclass(frozen=True)
class AwaitingConfirmation(Record):
    KIND: ClassVar[str] = "awaiting_confirmation"
    JOURNALED: ClassVar[bool] = False
    step_id: str = ""
    prompt: str = ""


@dataclass(frozen=True)
class WouldRun(Record):
    """Dry run: the exact command a step would run; nothing is changed."""

    KIND: ClassVar[str] = "would_run"
    JOURNALED: ClassVar[bool] = False
    step_id: str = ""
    title: str = ""
    command: str = ""
    destructive: bool = False


@dataclass(frozen=True)
class Notice(Record):
    """Something the coordinator should read (lock holder, reconnecting, migration plan)."""

    KIND: ClassVar[str] = "notice"
    JOURNALED: ClassVar[bool] = False
    message: str = ""
    level: str = "info"  # info | warning | error


# -- reading lines -----------------------------------------------------------------------------


def _journaled_kinds() -> dict[str, type[Record]]:
    kinds: dict[str, type[Record]] = {}
    pending = list(Record.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.KIND and cls.JOURNALED:
            kinds[cls.KIND] = cls
    return kinds


KINDS: dict[str, type[Record]] = _journaled_kinds()

# Fields renamed since version 1 lines: kind -> {old name: new name}.
_ALIASES: dict[str, dict[str, str]] = {
    "note": {"message": "text"},  # IncidentRun wrote its release-log warning as message=
    "metrics_check": {"at": "sampled_at"},  # the observe branch's lines, before the typed record
}


def _decode(cls: type[Record], name: str, value: Any) -> Any:
    if cls is StepFailed and name == "reason" and isinstance(value, str):
        try:
            return FailureReason(value)
        except ValueError:
            return value
    return value


def build(kind: str, fields: Mapping[str, Any], *, seq: int = 0, ts: str = "") -> Record:
    """The typed record of ``kind`` from its fields (what ``journal.record(kind, **fields)`` and
    old lines give); fields the class does not declare go to ``extra``."""
    return _build(kind, fields, seq, ts, ())


def _build(kind: str, fields: Mapping[str, Any], seq: int, ts: str, skip: tuple[str, ...]) -> Record:
    cls = KINDS.get(kind)
    if cls is None:
        return UnknownRecord(type_name=kind, seq=seq, ts=ts, extra={k: v for k, v in fields.items() if k not in skip})
    aliases = _ALIASES.get(kind)
    names = _field_names(cls)
    known: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in fields.items():
        if key in skip:
            continue
        target = aliases.get(key, key) if aliases else key
        if target in names and target not in known:
            known[target] = _decode(cls, target, value) if cls is StepFailed else value
        else:
            extra[key] = value
    return cls(**known, seq=seq, ts=ts, extra=extra)


def from_line(line: Mapping[str, Any]) -> Record:
    """One parsed journal line (any schema version) → its record."""
    seq = line.get("seq", 0)
    return _build(
        str(line["type"]), line, int(seq) if isinstance(seq, (int, float)) else 0, str(line.get("ts") or ""), _ENVELOPE
    )


_NAMES: dict[type, frozenset[str]] = {}


def _field_names(cls: type[Record]) -> frozenset[str]:
    names = _NAMES.get(cls)
    if names is None:
        names = _NAMES[cls] = frozenset(f.name for f in dataclasses.fields(cls)) - {"seq", "ts", "extra"}
    return names


def as_record(item: Record | Mapping[str, Any]) -> Record:
    """A record, or a journal line already parsed from JSON (fixtures, other tools) as its record."""
    return item if isinstance(item, Record) else from_line(item)


def record_fields(record: Record) -> dict[str, Any]:
    """Every field of ``record`` including those kept in ``extra`` (for generic display)."""
    return {**record.fields(), **scrub(dict(record.extra))}
