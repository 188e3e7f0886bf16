"""Typed events the engine emits; the TUI and the CLI only present these."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from console.failures import FailureReason


@dataclass(frozen=True)
class Event:
    @property
    def kind(self) -> str:
        name = type(self).__name__
        return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")

    def to_dict(self) -> dict:
        data = {"event": self.kind, **asdict(self)}
        for key, value in list(data.items()):
            if isinstance(value, FailureReason):
                data[key] = value.value
        return data


@dataclass(frozen=True)
class ProcedureStarted(Event):
    procedure: str
    incident_id: str
    steps: list[dict] = field(default_factory=list)   # [{id, title, destructive, command}]
    from_tag: str | None = None
    to_tag: str | None = None
    dry_run: bool = False


@dataclass(frozen=True)
class StepStarted(Event):
    step_id: str
    title: str
    command: str          # exact command, secrets redacted ("" for built-in checks)
    destructive: bool = False


@dataclass(frozen=True)
class StepOutput(Event):
    step_id: str
    stream: str
    lines: list[str]


@dataclass(frozen=True)
class StepFinished(Event):
    step_id: str
    exit_code: int | None
    duration: float
    summary: str = ""
    detail: dict = field(default_factory=dict)   # a built-in check's findings (e.g. metrics values)


@dataclass(frozen=True)
class StepFailed(Event):
    step_id: str
    reason: FailureReason
    message: str
    exit_code: int | None = None
    duration: float = 0.0
    detail: dict = field(default_factory=dict)


@dataclass(frozen=True)
class StepSkipped(Event):
    step_id: str
    reason: str


@dataclass(frozen=True)
class AwaitingConfirmation(Event):
    step_id: str
    prompt: str


@dataclass(frozen=True)
class WouldRun(Event):
    """Dry run: the exact command a step would run; nothing is changed."""

    step_id: str
    title: str
    command: str
    destructive: bool = False


@dataclass(frozen=True)
class Notice(Event):
    """Something the coordinator should read (lock holder, reconnecting, migration plan)."""

    message: str
    level: str = "info"   # info | warning | error


@dataclass(frozen=True)
class ProcedureFinished(Event):
    procedure: str
    outcome: str          # succeeded | failed | aborted | interrupted (cancelled part-way: resumable,
                          # journaled as procedure_interrupted, not procedure_finished)
    duration: float
    from_tag: str | None = None
    to_tag: str | None = None
