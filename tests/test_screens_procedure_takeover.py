"""Pilot tests: resuming in the TUI takes over the lock a dead console left, as the CLI's resume.

The lock directory is real (this machine plays the host for the lock's commands); every other
command answers 'not here' as on the stand-in host.
"""

from __future__ import annotations

import dataclasses
import subprocess

import pytest

from _screens_support import HostStandIn, fixed_clock, keep_notifications, make_config, records, wait_for
from console.commands.lock import LOCK_NAME
from console.engine.incident import open_new_incident
from console.engine.procedure import ActionResult, Procedure, Step
from console.incident.liveness import this_console
from console.transport.local import LocalTransport
from screens.app import make_app
from screens.home import HomeScreen
from screens.modals import ReasonDialog
from screens.procedure import ProcedureScreen


class LockOnThisMachine(HostStandIn):
    """The lock's commands run here (on the test's project dir); the rest answer 'not here'."""

    def __init__(self) -> None:
        super().__init__()
        self.local = LocalTransport()

    async def run(self, argv, *, timeout=None, on_output=None, stdin=None, capture=False):
        if any(LOCK_NAME in part for part in argv):
            self.commands.append(list(argv))
            return await self.local.run(argv, timeout=timeout, on_output=on_output, stdin=stdin, capture=capture)
        return await super().run(argv, timeout=timeout, on_output=on_output, stdin=stdin, capture=capture)


async def _quick(ctx) -> ActionResult:
    return ActionResult(True, "checked")


QUICK = Procedure(
    "rollback", [Step("check", "A quick check", action=_quick, display="check", read_only=True)], "v2", "v1"
)


def dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def setup(tmp_path, lock_incident: str | None = None, *, console: dict | None = None):
    """An incident whose procedure was started by a console now gone, and its lock left on the host."""
    config = make_config(tmp_path)
    project = tmp_path / "project"
    project.mkdir()
    config = dataclasses.replace(config, target=dataclasses.replace(config.target, project_dir=str(project)))
    journal = open_new_incident(config, "v2")
    journal.record("outcome", outcome="rollback", path=[], overridden=False, reason="", by="oncall")
    journal.record(
        "procedure_started",
        procedure="rollback",
        from_tag="v2",
        to_tag="v1",
        dry_run=False,
        **(console or {**this_console(), "pid": dead_pid()}),
    )
    lock = project / LOCK_NAME
    lock.mkdir()
    (lock / "info").write_text(
        f"holder=oncall\nincident={lock_incident or journal.incident_id}\nsince=2026-11-29T10:00:00Z\n"
    )
    notes: list = []
    app = make_app(config, transport=LockOnThisMachine(), clock=fixed_clock)
    app._announce = lambda event, **details: None
    return app, journal, lock, notes


async def answer_and_finish(app, pilot, reason: str) -> None:
    """Give the take-over question ``reason`` and wait for the resumed procedure to finish."""
    await pilot.press(*reason)
    await pilot.press("enter")
    await wait_for(
        pilot,
        lambda: isinstance(app.screen, ProcedureScreen) and app.screen.outcome,
        what="the resumed procedure to finish",
    )


def taken_over(journal):
    return [r for r in records(journal, "lock") if r.action == "taken_over"]


@pytest.mark.asyncio
async def test_a_dead_consoles_lock_is_shown_and_taken_over_with_the_reason_given(tmp_path):
    app, journal, lock, notes = setup(tmp_path)
    async with app.run_test(size=(120, 40), message_hook=keep_notifications(notes)) as pilot:
        app.set_incident(journal)
        app.open_procedure(QUICK, set())
        await wait_for(pilot, lambda: isinstance(app.screen, ReasonDialog), what="the take-over question")
        assert "held by oncall" in app.screen.prompt and "gone" in app.screen.prompt
        assert "ago" in app.screen.prompt
        await answer_and_finish(app, pilot, "console crashed")
        assert app.screen.outcome == "succeeded"
    taken = taken_over(journal)
    assert [t.reason for t in taken] == ["console crashed"] and taken[0].by == app.config.operator
    assert records(journal, "resume_check")  # a resume: the host was re-checked first


@pytest.mark.asyncio
async def test_cancelling_the_take_over_does_not_resume(tmp_path):
    app, journal, lock, notes = setup(tmp_path)
    async with app.run_test(size=(120, 40), message_hook=keep_notifications(notes)) as pilot:
        app.set_incident(journal)
        app.open_procedure(QUICK, set())
        await wait_for(pilot, lambda: isinstance(app.screen, ReasonDialog), what="the take-over question")
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen), what="the home screen")
    assert not taken_over(journal)
    assert not [r for r in records(journal, "step_started")] and len(records(journal, "procedure_started")) == 1
    assert (lock / "info").exists()
    assert any("Not resumed" in n.message for n in notes)


@pytest.mark.asyncio
async def test_another_incidents_lock_is_refused_without_asking(tmp_path):
    app, journal, lock, notes = setup(tmp_path, lock_incident="20261129-0900-other")
    async with app.run_test(size=(120, 40), message_hook=keep_notifications(notes)) as pilot:
        app.set_incident(journal)
        app.open_procedure(QUICK, set())
        await wait_for(pilot, lambda: any("another incident" in n.message for n in notes), what="the refusal")
        await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen), what="the home screen")
        assert not any(isinstance(s, ReasonDialog) for s in app.screen_stack)
    assert not taken_over(journal) and len(records(journal, "procedure_started")) == 1


@pytest.mark.asyncio
async def test_a_live_consoles_lock_is_refused(tmp_path):
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        from console.incident.liveness import _start_ticks, machine_name

        alive = {"pid": sleeper.pid, "pid_started": _start_ticks(sleeper.pid), "machine": machine_name()}
        app, journal, lock, notes = setup(tmp_path, console=alive)
        async with app.run_test(size=(120, 40), message_hook=keep_notifications(notes)) as pilot:
            app.set_incident(journal)
            app.open_procedure(QUICK, set())
            await wait_for(pilot, lambda: any("still running" in n.message for n in notes), what="the refusal")
            await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen), what="the home screen")
        assert not taken_over(journal) and len(records(journal, "procedure_started")) == 1
    finally:
        sleeper.kill()
        sleeper.wait()


@pytest.mark.asyncio
async def test_a_fleet_resume_asks_for_the_take_over_reason_once(tmp_path):
    """Each fleet host's lock is taken over with the reason given for the first one (journaled per host)."""
    app, journal, lock, notes = setup(tmp_path)
    second = tmp_path / "project2"
    (second / LOCK_NAME).mkdir(parents=True)
    (second / LOCK_NAME / "info").write_text((lock / "info").read_text())
    async with app.run_test(size=(120, 40), message_hook=keep_notifications(notes)) as pilot:
        app.set_incident(journal)
        app.open_procedure(QUICK, set())
        await wait_for(pilot, lambda: isinstance(app.screen, ReasonDialog), what="the take-over question")
        await answer_and_finish(app, pilot, "console crashed")
        screen = app.screen
        aimed = dataclasses.replace(app.config, target=dataclasses.replace(app.config.target, project_dir=str(second)))
        # the journal as a fleet resume sees it before its run starts: the dead console's procedure
        journal.record(
            "procedure_started",
            procedure="rollback",
            from_tag="v2",
            to_tag="v1",
            **{**this_console(), "pid": dead_pid()},
        )
        # the next host's lock: no second question
        await screen._take_over_lock(screen.transport, journal, aimed)
        assert not any(isinstance(s, ReasonDialog) for s in app.screen_stack)
    assert [(t.reason, t.lock_dir) for t in taken_over(journal)] == [
        ("console crashed", str(lock)),
        ("console crashed", str(second / LOCK_NAME)),
    ]
