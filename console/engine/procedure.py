"""A procedure is a list of steps; a step is a command on the host or a built-in check."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from console.commands.containers import shown
from console.engine.together import check_together
from console.secrets import SecretBytes

if TYPE_CHECKING:
    from console.engine.context import StepContext


@dataclass
class ActionResult:
    """What a built-in step (a check, a comparison) concluded."""

    ok: bool
    message: str = ""
    detail: dict[str, Any] = field(default_factory=dict)  # journaled with the step


Action = Callable[["StepContext"], Awaitable[ActionResult]]
SKIPPED_OPTIONAL = "skipped_optional"  # StepContext.state key: ids of optional steps skipped this run


@dataclass
class Step:
    id: str
    title: str
    argv: list[str] | None = None  # a command run on the host...
    action: Action | None = None  # ...or a built-in check run by the console
    display: str = ""  # what a built-in check does, for the screen and dry run
    destructive: bool = False  # needs a confirmation (or --yes)
    mutating: bool = False  # changes the host: the lock must be held first
    read_only: bool = False  # changes nothing on the host
    preflight: bool = False  # a read-only check run for real even in a dry run
    timeout: float | None = None
    skip_needs_reason: bool = True  # every skip is recorded with why
    # never journaled, never in a repr (a config hotfix's values): SecretBytes
    stdin: SecretBytes | bytes | None = field(default=None, repr=False)
    when: Callable[[StepContext], str | None] | None = None  # returns a skip reason, or None to run
    host: str = "target"  # "target" (production) or "staging": where the step runs
    optional: str = ""  # the runbook marks it optional (why): skippable at its confirmation
    # what the step will do, worked out just before its confirmation (e.g. the migrations it undoes)
    preview: Callable[[StepContext], str] | None = None
    # consecutive steps with the same key run at once (console.engine.together): read-only ones only
    together: str = ""

    def __post_init__(self) -> None:
        check_together(self)

    @property
    def command(self) -> str:
        """How the step's command is shown; the journal also keeps the exact argv."""
        if self.argv is not None:
            return shown(self.argv)
        return self.display

    def describe(self) -> dict:
        described = {"id": self.id, "title": self.title, "destructive": self.destructive, "command": self.command}
        if self.host != "target":
            described["host"] = self.host
        return described


@dataclass
class Procedure:
    name: str  # rollback | code_hotfix | config_hotfix | verify
    steps: list[Step]
    from_tag: str | None = None
    to_tag: str | None = None
    options: dict[str, Any] = field(default_factory=dict)  # journaled so resume can rebuild it

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)
