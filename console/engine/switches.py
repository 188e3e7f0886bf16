"""Steps a stack switched off in its config (``[commands] maintenance = false``, ``migrations = false``).

They stay in the procedure, so the screen, the dry run and the journal say what was not
done and why, instead of the step silently vanishing.
"""

from __future__ import annotations

from console.engine.procedure import ActionResult, Step

MAINTENANCE_OFF = "maintenance steps are switched off in the config ([commands] maintenance = false)"
MIGRATIONS_OFF = "migration steps are switched off in the config ([commands] migrations = false)"


def switched_off(step_id: str, title: str, reason: str) -> Step:
    return Step(step_id, title, action=_never, display=f"(switched off: {reason})", when=lambda ctx: reason)


async def _never(ctx) -> ActionResult:
    # The step is always skipped by its `when`; never claim it ran.
    return ActionResult(False, "this step is switched off in the config")
