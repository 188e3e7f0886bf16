"""The procedure screen's step pane shows host output as plain text (Pilot, stand-in host)."""

from __future__ import annotations

import pytest
from textual.widgets import Log

from console.engine.procedure import ActionResult, Procedure, Step

from test_screens_procedure_leave import make_recording_app, open_procedure, rollback_incident
from test_safetext import FAKE_OK, HOSTILE, _has_control
from _screens_support import wait_for


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
