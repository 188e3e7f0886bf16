"""The procedure screen's step pane shows host output as plain text (Pilot, stand-in host)."""

from __future__ import annotations

import pytest
from textual.widgets import Log

from _screens_support import wait_for
from console.engine.procedure import ActionResult, Procedure, Step
from test_safetext import FAKE_OK, HOSTILE, _has_control
from test_screens_procedure_leave import make_recording_app, open_procedure, rollback_incident


async def _hostile(ctx) -> ActionResult:
    ctx.emit_output("stdout", HOSTILE)
    ctx.emit_output("stderr", [FAKE_OK])
    return ActionResult(True, "\x9b2J\x1b]52;c;eA==\x07checked")


@pytest.mark.asyncio
async def test_the_step_pane_strips_escape_sequences_from_host_output(tmp_path):
    app, _ = make_recording_app(tmp_path)
    step = Step("smoke", "Smoke tests", action=_hostile, display="smoke", read_only=True)
    async with app.run_test(size=(120, 40)) as pilot:
        journal = rollback_incident(app.config)
        screen = await open_procedure(app, pilot, journal, Procedure("rollback", [step], "v2", "v1"))
        await wait_for(pilot, lambda: screen.outcome is not None, what="the procedure to end")
        await pilot.pause(0.1)
        shown = list(screen.query_one("#step-output", Log).lines)
        assert "migrated" in shown and "checked" in shown
        assert "ERROR: migration 0042 failedok" in shown
        assert not any(_has_control(line) for line in shown)


async def _maintenance(ctx) -> ActionResult:
    return ActionResult(True, "maintenance on")


@pytest.mark.asyncio
async def test_an_optional_step_is_skipped_at_its_confirmation_with_a_reason(tmp_path):
    from _screens_support import records
    from screens.decider import StepConfirmDialog
    from screens.modals import ReasonDialog

    app, _ = make_recording_app(tmp_path)
    optional = Step(
        "maintenance_on",
        "Switch traffic to maintenance",
        action=_maintenance,
        display="npm run maintenance:on",
        destructive=True,
        mutating=True,
        optional="Runbook 3.1: switch traffic to maintenance (if required).",
    )
    after = Step("check", "A quick check", action=_maintenance, display="check", read_only=True)
    async with app.run_test(size=(120, 40)) as pilot:
        journal = rollback_incident(app.config)
        screen = await open_procedure(app, pilot, journal, Procedure("rollback", [optional, after], "v2", "v1"))
        await wait_for(pilot, lambda: isinstance(app.screen, StepConfirmDialog), what="the confirmation")
        details = str(app.screen.query_one("#confirm-details").render())
        assert "(if required)" in details
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, ReasonDialog), what="the reason dialog")
        await pilot.press("escape")  # back to the question, nothing decided
        await wait_for(pilot, lambda: isinstance(app.screen, StepConfirmDialog), what="the confirmation again")
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, ReasonDialog), what="the reason dialog")
        for key in "low traffic":
            await pilot.press("space" if key == " " else key)
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.outcome is not None, what="the procedure to end")
        assert screen.outcome == "succeeded"
        [skipped] = records(journal, "step_skipped")
        assert (skipped.step_id, skipped.reason, skipped.optional) == ("maintenance_on", "low traffic", True)
        assert [r.step_id for r in records(journal, "step_finished")] == ["check"]
