"""Steps that run at once: consecutive steps sharing a ``Step.together`` key (and a host).

Only steps that change nothing may share a group: read-only, neither destructive (no
confirmation to ask in the middle of others) nor mutating (no lock to take, no order on the
host that matters). The engine (console.engine.runner) starts a group's steps together, each
with its own output, and settles their failures in step order once all have ended; a step's
``when`` is asked before the group starts, so no member may depend on another member's result.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from console.engine.procedure import Step


class TogetherRefused(ValueError):
    """A step that changes something was put in a group of steps that run at once."""


def check_together(step: Step) -> None:
    """Refuse a grouped step that is not read-only, or is destructive or mutating."""
    if not step.together:
        return
    flags = (("not read_only", not step.read_only), ("destructive", step.destructive), ("mutating", step.mutating))
    why = [word for word, bad in flags if bad]
    if why:
        raise TogetherRefused(
            f"step {step.id!r} cannot run together with others (group {step.together!r}): it is "
            f"{' and '.join(why)}; only read-only steps that change nothing on the host may share a group"
        )


def check_procedure(steps: Iterable[Step]) -> None:
    """Every step of a procedure, as it is now (fields may have been set after construction)."""
    for step in steps:
        check_together(step)


def runs(steps: list[Step]) -> list[list[Step]]:
    """``steps`` cut into runs: a group of consecutive steps with one key on one host, or one step."""
    cut: list[list[Step]] = []
    for step in steps:
        last = cut[-1][-1] if cut else None
        if last is not None and step.together and (last.together, last.host) == (step.together, step.host):
            cut[-1].append(step)
        else:
            cut.append([step])
    return cut
