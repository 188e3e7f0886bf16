"""What the engine emits: the same typed records it journals (``console.incident.records``),
plus the transient events that are shown but never journaled. The TUI and the CLI only present these.
"""

from console.incident.records import (
    AwaitingConfirmation,
    Event,
    LockEvent,
    MigrationPlanned,
    Notice,
    ProcedureFinished,
    ProcedureInterrupted,
    ProcedureStarted,
    StepChoice,
    StepConfirmed,
    StepFailed,
    StepFinished,
    StepOutput,
    StepSkipped,
    StepStarted,
    WouldRun,
)

__all__ = [
    "AwaitingConfirmation",
    "Event",
    "LockEvent",
    "MigrationPlanned",
    "Notice",
    "ProcedureFinished",
    "ProcedureInterrupted",
    "ProcedureStarted",
    "StepChoice",
    "StepConfirmed",
    "StepFailed",
    "StepFinished",
    "StepOutput",
    "StepSkipped",
    "StepStarted",
    "WouldRun",
]
