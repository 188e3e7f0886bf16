"""Pilot tests of leaving and resuming the procedure screen and of its decision dialogs, on the
stand-in host.

Leaving part-way asks first; confirmed, the procedure is interrupted (not finished), the
coordinator lands on the home screen and the incident is listed there to be resumed. Resumed,
the steps done before are shown done, never pending, so nobody runs them a second time.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

import console.incident.journal
from _screens_support import FIXED_NOW, HostStandIn, fixed_clock, make_config, records, wait_for
from console.engine.incident import load_incident, open_new_incident, rebuild_procedure
from console.engine.procedure import ActionResult, Procedure, Step
from screens import flow
from screens.app import make_app
from screens.decider import FailureDialog
from screens.home import HomeScreen
from screens.modals import ConfirmDialog, ReasonDialog
from screens.procedure import ProcedureScreen
from screens.verification import VerificationScreen
from widgets.step_list import StepList
from widgets.ttr_clock import TTRClock


async def _slow(ctx) -> ActionResult:
    await asyncio.sleep(30)
    return ActionResult(True, "slept")


async def _quick(ctx) -> ActionResult:
    return ActionResult(True, "checked")


def rollback(step: Step) -> Procedure:
    return Procedure("rollback", [step], "v2", "v1")


SLOW = Step("wait", "A long check", action=_slow, display="sleep", read_only=True)
QUICK = Step("check", "A quick check", action=_quick, display="check", read_only=True)


def rollback_incident(config):
    journal = open_new_incident(config, "v2")
    journal.record("outcome", outcome="rollback", path=[], overridden=False, reason="", by="oncall")
    return journal


def make_recording_app(tmp_path):
    app = make_app(make_config(tmp_path), transport=HostStandIn(), clock=fixed_clock)
    announced: list[str] = []
    app._announce = lambda event, **details: announced.append(event)
    return app, announced


async def open_procedure(app, pilot, journal, procedure: Procedure) -> ProcedureScreen:
    app.set_incident(journal)
    # the worker connects and builds the screen: wait for it to end, not for a fixed deadline
    # (a loaded CI machine once took more than 5 s)
    await asyncio.wait_for(app.open_procedure(procedure, None).wait(), timeout=120)

    def pushed() -> ProcedureScreen | None:  # a confirmation may already be on top of it
        return next((s for s in app.screen_stack if isinstance(s, ProcedureScreen) and s.is_mounted), None)

    await wait_for(pilot, lambda: pushed() is not None, what="the procedure screen")
    await pilot.pause()  # its on_mount ran: the panes are there
    screen = pushed()
    assert screen is not None
    return screen


@pytest.mark.asyncio
async def test_leaving_mid_procedure_asks_then_goes_home_with_the_incident_resumable(tmp_path):
    app, announced = make_recording_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        journal = rollback_incident(app.config)
        screen = await open_procedure(app, pilot, journal, rollback(SLOW))
        await wait_for(
            pilot, lambda: screen.running and records(journal, "procedure_started"), what="the procedure to run"
        )
        await pilot.press("q")
        assert isinstance(app.screen, ConfirmDialog)
        assert "Leave it here?" in app.screen.question
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen), what="the home screen")

        assert app.journal is None
        listed = [(i.id, i.state, i.resumable) for i in app.screen.incidents]
        assert listed == [(journal.incident_id, "interrupted", True)]
        assert app.screen.query_one("#incidents").row_count == 1
        # Left, not ended: nothing says the procedure finished, and nobody is told it did.
        assert records(journal, "procedure_finished") == []
        assert [r.step_id for r in records(journal, "procedure_interrupted")] == ["wait"]
        assert "procedure_started" in announced and "procedure_finished" not in announced
        assert not any(isinstance(s, VerificationScreen) for s in app.screen_stack)

        # `incident-console resume ID` finds it and rebuilds the same procedure...
        procedure, done = rebuild_procedure(app.config, load_incident(app.config, journal.incident_id))
        assert (procedure.name, procedure.from_tag, procedure.to_tag, done) == ("rollback", "v2", "v1", set())
        # ...and so does the home screen's resume: back to the procedure.
        assert flow.next_stage(journal) == flow.PROCEDURE
        await pilot.press("r")
        await wait_for(
            pilot, lambda: any(isinstance(s, ProcedureScreen) for s in app.screen_stack), what="the resumed procedure"
        )
        assert app.journal.incident_id == journal.incident_id


@pytest.mark.asyncio
@pytest.mark.parametrize("answer", ["n", "escape", "enter"])
async def test_declining_to_leave_keeps_the_procedure_running(tmp_path, answer):
    app, announced = make_recording_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        journal = rollback_incident(app.config)
        screen = await open_procedure(app, pilot, journal, rollback(SLOW))
        await wait_for(pilot, lambda: screen.running, what="the procedure to run")
        await pilot.press("q")
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press(answer)  # a stray Enter says no as well
        await pilot.pause(0.2)
        assert app.screen is screen and screen.running and screen.outcome is None
        assert records(journal, "procedure_interrupted") == records(journal, "procedure_finished") == []
        assert "procedure_finished" not in announced


@pytest.mark.asyncio
async def test_leaving_after_the_procedure_ended_moves_on_to_verification(tmp_path):
    app, announced = make_recording_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        journal = rollback_incident(app.config)
        screen = await open_procedure(app, pilot, journal, rollback(QUICK))
        await wait_for(pilot, lambda: screen.outcome is not None, what="the procedure to end")
        assert screen.outcome == "succeeded"
        await pilot.press("q")  # ended: no question
        await wait_for(pilot, lambda: isinstance(app.screen, VerificationScreen), what="verification")
        assert app.screen.outcome == "succeeded"
        assert announced[-1] == "procedure_finished"
        assert [r.outcome for r in records(journal, "procedure_finished")] == ["succeeded"]


@pytest.mark.asyncio
async def test_skipping_a_failed_step_needs_a_reason_and_escape_goes_back(tmp_path):
    app, _ = make_recording_app(tmp_path)
    journal = rollback_incident(app.config)
    procedure = Procedure("verify", [Step("fails", "Fail on purpose", argv=["false"])])
    async with app.run_test(size=(120, 40)) as pilot:
        screen = ProcedureScreen(
            config=app.config, transport=app.transport, journal=journal, procedure=procedure, done_steps=None
        )
        await app.push_screen(screen)
        await wait_for(pilot, lambda: isinstance(app.screen, FailureDialog), what="the failure dialog")
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, ReasonDialog), what="the reason dialog")
        assert "Skip Fail on purpose" in app.screen.prompt
        await pilot.press("enter")  # an empty reason is refused, visibly
        await pilot.pause(0.1)
        assert isinstance(app.screen, ReasonDialog)
        assert "required" in str(app.screen.query_one("#reason-error").render())
        await pilot.press("escape")  # back to retry / skip / abort, nothing decided
        await wait_for(pilot, lambda: isinstance(app.screen, FailureDialog), what="the choices again")
        assert records(journal, "step_choice") == []
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, ReasonDialog), what="the reason dialog")
        await pilot.press(*"flaky", "enter")
        await wait_for(pilot, lambda: screen.outcome is not None, what="the procedure to end")
        assert screen.outcome == "succeeded"
    assert [(r.action, r.reason) for r in records(journal, "step_choice")] == [("skip", "flaky")]
    assert [r.reason for r in records(journal, "step_skipped")] == ["flaky"]


MIGRATE = Step("migrate", "Roll the migrations back", action=_quick, display="migrate", destructive=True, mutating=True)
DOWN = Step("down", "Stop the stack", action=_quick, display="down", destructive=True, mutating=True)


@pytest.mark.asyncio
@pytest.mark.parametrize("order", ["engine not there yet", "engine went past them"])
async def test_a_resumed_procedure_shows_the_steps_done_before_as_done(tmp_path, order):
    app, _ = make_recording_app(tmp_path)
    journal = rollback_incident(app.config)
    journal.record(
        "procedure_started",
        procedure="rollback",
        from_tag="v2",
        to_tag="v1",
        dry_run=False,
        options={},
        resumed=False,
        steps=[],
    )
    journal.record("step_finished", step_id="migrate", exit_code=0, duration=1.0)
    journal.record("step_skipped", step_id="down", reason="the stack was already down", by="oncall")
    journal.record(
        "procedure_interrupted", procedure="rollback", step_id="wait", from_tag="v2", to_tag="v1", duration=5
    )
    steps = [SLOW, MIGRATE, DOWN] if order == "engine not there yet" else [MIGRATE, DOWN, SLOW]
    async with app.run_test(size=(80, 24)) as pilot:
        app.set_incident(journal)
        app.open_procedure(Procedure("rollback", steps, "v2", "v1"), {"migrate", "down"})
        await wait_for(pilot, lambda: isinstance(app.screen, ProcedureScreen), what="the procedure screen")
        screen = app.screen
        listed = screen.query_one(StepList)
        # the list is filled when the procedure starts: until then there is no record to look at
        await wait_for(
            pilot, lambda: getattr(listed.record("wait"), "state", None) == "running", what="the long step to run"
        )
        status = screen.query_one("#procedure-status")
        # the status line is redrawn on its own tick: wait for it rather than for a fixed pause
        await wait_for(pilot, lambda: "2/3 steps" in str(status.render()), what="the step count")
        migrate, down = listed.record("migrate"), listed.record("down")
        assert (migrate.state, migrate.note) == ("done", "done before the resume")
        assert (down.state, down.note) == ("skipped", "skipped before the resume: the stack was already down")


@pytest.mark.asyncio
@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_the_ttr_clock_is_in_the_procedure_status_line_and_fits(tmp_path, monkeypatch, size):
    opened = FIXED_NOW - timedelta(minutes=20)
    monkeypatch.setattr(console.incident.journal, "utc_now", lambda: opened)
    app, _ = make_recording_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        journal = rollback_incident(app.config)
        screen = await open_procedure(app, pilot, journal, rollback(SLOW))
        await wait_for(pilot, lambda: screen.running, what="the procedure to run")
        await pilot.pause()
        clock = screen.query_one(TTRClock)
        assert clock.opened_at == opened and clock.level == "over"
        assert str(clock.render()) == "TTR 20m 00s / 15m OVER"
        status = screen.query_one("#procedure-status")
        line = str(status.render())
        # Both on the top line, side by side, whole: nothing cut off at the right edge.
        assert clock.region.y == status.region.y == 0
        assert clock.region.x >= status.region.right and clock.region.right <= size[0]
        assert clock.region.width >= len("TTR 20m 00s / 15m OVER")
        assert len(line) <= status.content_region.width
        assert line.startswith("rollback v2 → v1 · running · 0/1 steps · 00:")
        assert (journal.incident_id in line) == (size[0] >= 110)


@pytest.mark.asyncio
async def test_the_clock_stops_when_the_procedure_succeeds_and_stays_stopped_on_the_next_screen(tmp_path):
    app, _ = make_recording_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        journal = rollback_incident(app.config)
        screen = await open_procedure(app, pilot, journal, rollback(QUICK))
        await wait_for(pilot, lambda: screen.outcome == "succeeded", timeout=30, what="the end")
        recovered = journal.state.ttr_seconds
        assert recovered is not None
        assert screen.query_one(TTRClock).recovered_seconds == recovered
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, VerificationScreen), timeout=30, what="verification")
        assert app.screen.query_one(TTRClock).recovered_seconds == recovered
