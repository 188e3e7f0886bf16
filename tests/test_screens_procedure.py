"""Pilot tests of the live procedure screen against the real sandbox (SSH, compose, health)."""

from __future__ import annotations

import time
from collections import Counter

import pytest
from textual.app import App

from console.config import load_config
from console.engine.incident import build_rollback, make_transport, open_new_incident
from console.engine.procedure import Procedure, Step
from console.incident.journal import Journal
from console.release.release_log import ReleaseLog
from screens.decider import FailureDialog, StepConfirmDialog
from screens.modals import ConfirmDialog, ReasonDialog
from screens.procedure import ProcedureScreen
from widgets.command_log import CommandLog
from widgets.health_pane import HealthPane
from widgets.log_pane import LogPane
from widgets.step_list import StepList

pytestmark = pytest.mark.sandbox


class Host(App):
    """Connects the one transport, pushes the screen, keeps what it dismissed with."""

    def __init__(self, config, procedure, journal=None, **options) -> None:
        super().__init__()
        self.config = config
        self.procedure = procedure
        self.journal = journal
        self.options = options
        self.transport = make_transport(config)
        self.dismissed: list[str] = []
        self.finished: list[str] = []

    async def on_mount(self) -> None:
        await self.transport.connect()
        self.push_screen(
            ProcedureScreen(self.config, self.transport, self.journal, self.procedure, **self.options),
            self.dismissed.append,
        )

    def on_procedure_screen_finished(self, message: ProcedureScreen.Finished) -> None:
        self.finished.append(message.outcome)


async def wait_until(pilot, predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        await pilot.pause(0.1)


def procedure_screen(app: App) -> ProcedureScreen:
    return next(s for s in app.screen_stack if isinstance(s, ProcedureScreen))


def by_id(app: App, step_id: str):
    return procedure_screen(app).query_one(StepList).record(step_id)


def make_journal(tmp_path) -> Journal:
    return Journal.create(tmp_path / "state")


@pytest.mark.asyncio
async def test_a_dry_run_shows_every_step_as_would_run_with_its_command_and_streams_logs(sandbox_config_path):
    config = load_config(sandbox_config_path)
    procedure = build_rollback(config, None)
    app = Host(config, procedure, dry_run=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.finished, 60, "the dry run to end")
        screen = procedure_screen(app)
        steps = screen.query_one(StepList)
        for step in procedure.steps:
            record = steps.record(step.id)
            # Read-only preflight checks run for real even in a dry run; everything else only says
            # what it would do, unless its condition says it is not needed (no migration to undo).
            expected = {"done"} if step.preflight else {"would_run", "skipped"} if step.when else {"would_run"}
            assert record.state in expected, (step.id, record.state, record.note)
            assert record.command == step.command
        assert [s for s in procedure.steps if s.destructive], "the rollback has destructive steps"
        assert all(steps.record(s.id).state == "would_run" for s in procedure.steps if s.destructive)
        assert app.finished == ["succeeded"]
        assert "DRY RUN" in str(screen.query_one("#procedure-outcome").render())

        # Selecting a step shows its exact command.
        destructive = next(s for s in procedure.steps if s.destructive)
        steps.highlighted = steps.get_option_index(destructive.id)
        await pilot.pause(0.1)
        assert destructive.command in str(screen.query_one("#step-header").render()).replace("\n", " ")

        # The live log pane follows the stack's real `logs -f` over the same SSH connection.
        pane = screen.query_one(LogPane)
        await wait_until(
            pilot,
            lambda: any(line.service in ("mr-dj-backend", "mr-dj-frontend") for _, line in pane.buffer),
            30,
            "log lines from the stack",
        )
        # And the health pane polls every check, expecting the release the rollback puts back.
        health = screen.query_one(HealthPane)
        await wait_until(pilot, lambda: len(health.results) == len(config.health), 20, "health results")
        assert {r.expected_version for r in health.results.values()} == {procedure.to_tag}

        await pilot.press("c")
        await pilot.pause(0.2)
        assert app.dismissed == ["succeeded"]
    await app.transport.close()


@pytest.mark.asyncio
async def test_a_real_rollback_asks_before_each_destructive_step_and_ends_healthy_on_v1(fresh_sandbox):
    config = load_config(fresh_sandbox)
    procedure = build_rollback(config, None)
    assert (procedure.from_tag, procedure.to_tag) == ("v2", "v1")
    journal = open_new_incident(config, procedure.from_tag)
    app = Host(config, procedure, journal, assume_yes=False)
    confirmed: list[str] = []
    async with app.run_test(size=(120, 40)) as pilot:
        deadline = time.monotonic() + 180
        while not app.finished:
            states = [(r.id, r.state, r.note) for r in procedure_screen(app).query_one(StepList).records.values()]
            assert time.monotonic() < deadline, f"the rollback did not finish in time: {states}"
            assert not isinstance(app.screen, FailureDialog), f"a step failed: {states}"
            if isinstance(app.screen, StepConfirmDialog) and app.screen.step.id not in confirmed:
                confirmed.append(app.screen.step.id)
                await pilot.press("y")
            await pilot.pause(0.1)
        screen = procedure_screen(app)
        assert app.finished == ["succeeded"], [
            (r.id, r.state, r.note) for r in screen.query_one(StepList).records.values()
        ]
        assert confirmed == [s.id for s in procedure.steps if s.destructive]
        records = screen.query_one(StepList).records
        assert {r.state for r in records.values()} <= {"done", "skipped"}
        assert all(records[s].state == "done" for s in confirmed)

        # Every command run on the host is listed with its exit code (a pull the host did not
        # need, its image already there by the captured digest, is skipped and never runs).
        rows = screen.query_one(CommandLog).row_texts
        commands = [s.command for s in procedure.steps if s.argv is not None and records[s.id].state == "done"]
        assert [row[4] for row in rows if row[1] in {s.id for s in procedure.steps if s.argv}] == commands
        assert all(row[2] == "0" for row in rows)

        health = screen.query_one(HealthPane)
        await wait_until(
            pilot,
            lambda: health.results and all(r.ok and r.version == "v1" for r in health.results.values()),
            30,
            "health to show v1",
        )
        assert ReleaseLog.load(config.paths.release_log).deployed == "v1"
        # `logs -f` ended when the stack went down; the restarted stream shows v1 starting.
        pane = screen.query_one(LogPane)
        await wait_until(
            pilot,
            lambda: any("backend v1 listening" in line.text for _, line in pane.buffer),
            30,
            "the restarted log stream to show v1",
        )
        assert screen.log_restarts >= 1
        assert "SUCCEEDED" in str(screen.query_one("#procedure-outcome").render())
    await app.transport.close()
    assert [r.confirmed for r in journal.records() if r.kind == "step_confirmed"] == [True] * len(confirmed)


@pytest.mark.asyncio
async def test_a_failing_step_offers_retry_skip_abort_and_skip_needs_a_reason(sandbox_config_path, tmp_path):
    config = load_config(sandbox_config_path)
    procedure = Procedure("verify", [Step("fails", "Fail on purpose", argv=["sh", "-c", "echo before; exit 3"])])
    journal = make_journal(tmp_path)
    app = Host(config, procedure, journal)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, FailureDialog), 30, "the failure dialog")
        screen = procedure_screen(app)
        assert by_id(app, "fails").state == "failed"
        assert "exited with 3" in by_id(app, "fails").note

        await pilot.press("r")  # retry: the step runs again and fails again
        await wait_until(
            pilot,
            lambda: isinstance(app.screen, FailureDialog) and by_id(app, "fails").attempts == 2,
            30,
            "the second failure",
        )

        await pilot.press("escape")  # read the output first; the decision stays pending
        await pilot.pause(0.2)
        assert app.screen is screen
        assert screen.has_class("-deciding")
        assert screen.check_action("skip", ()) and screen.check_action("abort", ())
        assert "before" in screen.query_one("#step-output").lines

        await pilot.press("s")
        await wait_until(pilot, lambda: isinstance(app.screen, ReasonDialog), 5, "the reason dialog")
        await pilot.press("enter")  # an empty reason is refused
        await pilot.pause(0.2)
        assert isinstance(app.screen, ReasonDialog)
        assert "required" in str(app.screen.query_one("#reason-error").render())
        for key in "known flaky":
            await pilot.press("space" if key == " " else key)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.finished, 30, "the procedure to end")
        assert app.finished == ["succeeded"]
        assert by_id(app, "fails").state == "skipped"
        assert by_id(app, "fails").note == "known flaky"
        assert not screen.check_action("skip", ())
    await app.transport.close()
    choices = [(r.action, r.reason) for r in journal.records() if r.kind == "step_choice"]
    assert choices == [("retry", ""), ("skip", "known flaky")]
    assert [r.reason for r in journal.records() if r.kind == "step_skipped"] == ["known flaky"]


@pytest.mark.asyncio
async def test_abort_after_a_failure_stops_the_procedure_at_that_step(sandbox_config_path, tmp_path):
    config = load_config(sandbox_config_path)
    procedure = Procedure(
        "verify", [Step("fails", "Fail on purpose", argv=["false"]), Step("never", "Never reached", argv=["true"])]
    )
    journal = make_journal(tmp_path)
    app = Host(config, procedure, journal)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, FailureDialog), 30, "the failure dialog")
        await pilot.press("a")
        await wait_until(pilot, lambda: app.finished, 30, "the procedure to end")
        # The engine counts an abort after a failure as the procedure failing at that step.
        assert app.finished == ["failed"]
        assert by_id(app, "never").state == "pending"
        await pilot.press("q")  # finished: leaving needs no question
        await pilot.pause(0.2)
        assert app.dismissed == ["failed"]
    await app.transport.close()
    assert [r.action for r in journal.records() if r.kind == "step_choice"] == ["abort"]


@pytest.mark.asyncio
async def test_quitting_while_running_asks_then_interrupts_and_releases_the_lock(sandbox_config_path, tmp_path):
    config = load_config(sandbox_config_path)
    procedure = Procedure("verify", [Step("slow", "A slow change", argv=["sleep", "60"], mutating=True)])
    journal = make_journal(tmp_path)
    app = Host(config, procedure, journal)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(
            pilot, lambda: by_id(app, "slow") and by_id(app, "slow").state == "running", 30, "the step to start"
        )
        await pilot.press("q")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), 5, "the question")
        await pilot.press("n")  # no: it keeps running
        await pilot.pause(0.3)
        assert procedure_screen(app).running
        await pilot.press("q")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), 5, "the question")
        started = time.monotonic()
        await pilot.press("y")
        await wait_until(pilot, lambda: app.dismissed, 30, "the screen to close")
        assert time.monotonic() - started < 20, "the remote sleep must be killed, not waited for"
        assert app.dismissed == ["interrupted"]
    await app.transport.close()
    records = list(journal.records())
    # Left part-way is not an outcome: interrupted (resumable), never finished.
    assert [r.step_id for r in records if r.kind == "procedure_interrupted"] == ["slow"]
    locks = [r.action for r in records if r.kind == "lock"]
    assert locks == ["acquired", "released"]
    assert [r for r in records if r.kind == "procedure_finished"] == []


@pytest.mark.asyncio
async def test_an_output_flood_is_coalesced_and_kept_bounded(sandbox_config_path):
    config = load_config(sandbox_config_path)
    procedure = Procedure("verify", [Step("flood", "Print a lot", argv=["seq", "1", "50000"])])
    seen: dict[int, object] = {}
    app = Host(config, procedure)
    original = ProcedureScreen._engine_listener

    def hook(message) -> None:
        if isinstance(message, (ProcedureScreen.OutputReady, ProcedureScreen.EngineEvent)):
            seen.setdefault(id(message), message)  # a message may pass the hook more than once

    outputs = 0

    def counting_listener(self, event):
        nonlocal outputs
        outputs += type(event).__name__ == "StepOutput"
        original(self, event)

    ProcedureScreen._engine_listener = counting_listener
    try:
        async with app.run_test(size=(120, 40), message_hook=hook) as pilot:
            await wait_until(pilot, lambda: app.finished, 60, "the flood to end")
            record = by_id(app, "flood")
            assert record.state == "done"
            assert record.output[-1] == "50000"
            assert len(record.output) == record.output.maxlen  # bounded on screen; the journal keeps it all
            assert procedure_screen(app).query_one("#step-output").line_count <= record.output.maxlen
    finally:
        ProcedureScreen._engine_listener = original
        await app.transport.close()
    counts = Counter(type(m).__name__ for m in seen.values())
    assert outputs > 0
    # One drain message per batch that arrived while none was queued: never more than the batches,
    # and never one per line.
    assert 0 < counts["OutputReady"] <= outputs
    assert counts["OutputReady"] < 50000 / 100
    # Non-output engine events: started, step started/finished, finished.
    assert counts["EngineEvent"] == 4
