"""The procedure screen's panes on the stand-in host: the log pane is fed by console.live.logfollow, and
no control sequence a step prints reaches the step pane."""

from __future__ import annotations

import pytest
from textual.widgets import Log

from _screens_support import records, wait_for
from console.engine.events import StepFailed, StepOutput
from console.engine.procedure import Procedure, Step
from console.failures import FailureReason
from screens.decider import FailureDialog
from screens.modals import ReasonDialog
from screens.procedure import ProcedureScreen
from test_screens_procedure_leave import SLOW, make_recording_app, open_procedure, rollback, rollback_incident
from widgets.log_pane import LogPane
from widgets.step_list import StepList


@pytest.mark.asyncio
async def test_the_log_pane_shows_the_follow_and_its_restart_notice(tmp_path):
    app, _ = make_recording_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_procedure(app, pilot, rollback_incident(app.config), rollback(SLOW))
        pane = screen.query_one(LogPane)

        def texts() -> list[str]:
            pane.drain()
            return [line.text for _, line in pane.buffer]

        # the stand-in host answers `logs -f` with one line and exit 2: the stream ends, restarts
        await wait_for(pilot, lambda: screen.log_restarts >= 1, what="a restart")
        await wait_for(
            pilot, lambda: "[console] log stream ended (exit 2); restarting in 1s" in texts(), what="the restart notice"
        )
        assert any("not available on the stand-in host" in t for t in texts())
        assert isinstance(screen, ProcedureScreen)


@pytest.mark.asyncio
async def test_step_output_reaches_the_step_pane_without_control_sequences(tmp_path):
    app, _ = make_recording_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_procedure(app, pilot, rollback_incident(app.config), rollback(SLOW))
        await wait_for(pilot, lambda: screen.query_one(StepList).selected_id == "wait", what="the step")
        screen._engine_listener(StepOutput("wait", "stdout", ["\x9b2J\x1b[31mred\x1b[0m\x07 ok\x85", "tab\there"]))
        output = screen.query_one("#step-output", Log)
        await wait_for(pilot, lambda: output.lines, what="the output")
        assert output.lines == ["red ok", "tab    here"]
        assert list(screen.query_one(StepList).record("wait").output) == ["red ok", "tab    here"]


@pytest.mark.asyncio
async def test_decision_letters_typed_into_the_log_filter_are_text_not_decisions(tmp_path):
    app, _ = make_recording_app(tmp_path)
    journal = rollback_incident(app.config)
    procedure = Procedure("verify", [Step("fails", "Fail on purpose", argv=["false"])])
    async with app.run_test(size=(120, 40)) as pilot:
        screen = ProcedureScreen(
            config=app.config, transport=app.transport, journal=journal, procedure=procedure, done_steps=None
        )
        await app.push_screen(screen)
        await wait_for(pilot, lambda: isinstance(app.screen, FailureDialog), what="the failure dialog")
        await pilot.press("escape")  # read the logs first; the decision stays pending
        await wait_for(pilot, lambda: app.screen is screen, what="the procedure screen")
        assert screen.check_action("skip", ())
        await pilot.press("slash", *"sarc", "enter")  # skip, abort, retry, continue: none of them
        assert app.screen is screen and records(journal, "step_choice") == []
        assert screen.query_one(LogPane).text_filter == "sarc"
        assert screen.check_action("skip", ())  # the prompt closed: the letters decide again
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, ReasonDialog), what="the reason dialog")


@pytest.mark.asyncio
async def test_a_failure_message_from_the_host_reaches_the_step_header_without_control_sequences(tmp_path):
    app, _ = make_recording_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_procedure(app, pilot, rollback_incident(app.config), rollback(SLOW))
        await wait_for(pilot, lambda: screen.query_one(StepList).selected_id == "wait", what="the step")
        failed = StepFailed("wait", FailureReason.PRECONDITION, "host said \x9b2J\x1b]0;pwned\x07no", 1, 0.1)
        screen.present_event(ProcedureScreen.EngineEvent(failed))
        note = screen.query_one(StepList).record("wait").note
        assert note.endswith("host said no")
        assert "host said no" in str(screen.query_one("#step-header").render())
