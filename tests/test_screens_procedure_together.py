"""Pilot: the procedure screen with steps that run at once (``Step.together``), on the stand-in host.

Both steps wait on gates the test opens, so the screen is looked at while both run: both rows
say running, each step's lines land in its own record and the pane shows the selected step's.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict

import pytest
from textual.widgets import Log, Static

from _screens_support import records, wait_for
from console.engine.procedure import ActionResult, Procedure, Step
from screens.decider import FailureDialog
from test_screens_procedure_leave import make_recording_app, open_procedure, rollback_incident
from widgets.step_list import StepList


class Gated:
    def __init__(self) -> None:
        self.gates: defaultdict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self.started: list[str] = []
        self.fail: set[str] = set()

    def step(self, name: str) -> Step:
        async def action(ctx) -> ActionResult:
            self.started.append(name)
            ctx.emit_output("stdout", [f"{name}: first line"])
            await self.gates[name].wait()
            ctx.emit_output("stdout", [f"{name}: last line"])
            return ActionResult(name not in self.fail, f"{name} finished")

        return Step(name, f"Check {name}", action=action, display=name, read_only=True, together="verify")


@pytest.mark.asyncio
async def test_steps_running_together_are_all_shown_running_each_with_its_own_output(tmp_path):
    app, _ = make_recording_app(tmp_path)
    gated = Gated()
    procedure = Procedure("rollback", [gated.step("ps"), gated.step("logs"), gated.step("health")], "v2", "v1")
    async with app.run_test(size=(120, 40)) as pilot:
        journal = rollback_incident(app.config)
        screen = await open_procedure(app, pilot, journal, procedure)
        steps = screen.query_one(StepList)
        await wait_for(
            pilot, lambda: steps.running_ids() == ["ps", "logs", "health"], what="the three steps to run at once"
        )
        await wait_for(pilot, lambda: all(steps.record(s).output for s in ("ps", "logs", "health")), what="output")
        assert "3 running at once" in steps.border_title
        assert "3 steps running" in str(screen.query_one("#procedure-status", Static).render())
        # the cursor stayed on the first step that started: the pane shows its lines only
        assert steps.selected_id == "ps"
        assert list(screen.query_one("#step-output", Log).lines) == ["ps: first line"]

        gated.gates["logs"].set()
        await wait_for(pilot, lambda: steps.record("logs").state == "done", what="logs to end")
        assert steps.running_ids() == ["ps", "health"]
        gated.gates["ps"].set()
        gated.gates["health"].set()
        await wait_for(pilot, lambda: screen.outcome is not None, what="the procedure to end")
        assert screen.outcome == "succeeded"
        for name in ("ps", "logs", "health"):
            assert list(steps.record(name).output) == [f"{name}: first line", f"{name}: last line", f"{name} finished"]
        assert [r.step_id for r in records(journal, "step_started")] == ["ps", "logs", "health"]


@pytest.mark.asyncio
async def test_a_failure_among_steps_run_together_is_asked_about_with_its_own_output_shown(tmp_path):
    app, _ = make_recording_app(tmp_path)
    gated = Gated()
    gated.fail = {"logs"}
    procedure = Procedure("rollback", [gated.step("ps"), gated.step("logs")], "v2", "v1")
    async with app.run_test(size=(120, 40)) as pilot:
        journal = rollback_incident(app.config)
        screen = await open_procedure(app, pilot, journal, procedure)
        steps = screen.query_one(StepList)
        await wait_for(pilot, lambda: len(steps.running_ids()) == 2, what="both steps to run")
        gated.gates["logs"].set()
        await wait_for(pilot, lambda: steps.record("logs").state == "failed", what="logs to fail")
        assert not isinstance(app.screen, FailureDialog)  # nobody is asked while ps still runs
        gated.gates["ps"].set()
        await wait_for(pilot, lambda: isinstance(app.screen, FailureDialog), what="the failure question")
        await pilot.press("escape")  # read first: the failed step is the one shown
        await wait_for(pilot, lambda: steps.selected_id == "logs", what="the cursor on the failed step")
        await pilot.pause(0.1)
        assert list(screen.query_one("#step-output", Log).lines)[:2] == ["logs: first line", "logs: last line"]
        await pilot.press("a")
        await wait_for(pilot, lambda: screen.outcome is not None, what="the procedure to end")
        assert screen.outcome == "failed"
        assert steps.record("ps").state == "done"


@pytest.mark.asyncio
async def test_a_fleet_hosts_row_says_running_while_any_of_its_steps_run_together(tmp_path):
    from _fleet_support import HOSTS, make_fleet_config
    from _screens_support import HostStandIn, fixed_clock
    from console.incident.records import StepFailed, StepFinished, StepStarted
    from screens.app import make_app
    from test_screens_fleet import FollowingHost, event, open_fleet_screen
    from widgets.host_table import HostTable

    app = make_app(make_fleet_config(tmp_path), transport=HostStandIn(), clock=fixed_clock)
    links = {h: FollowingHost(h) for h in HOSTS}
    async with app.run_test(size=(140, 45)) as pilot:
        screen = await open_fleet_screen(app, pilot, links)
        table = screen.query_one(HostTable)
        for step in ("verify_ps", "verify_logs", "verify_health"):
            event(screen, StepStarted(step_id=f"web2:{step}", title=step, host="web2"))
        assert table.row("web2").step_label == "▶ verify_health +2"  # the newest, and how many more
        event(screen, StepFinished(step_id="web2:verify_ps", duration=0.4))
        assert table.row("web2").step_label == "▶ verify_logs +1"
        event(screen, StepFailed(step_id="web2:verify_logs", message="exit 1", exit_code=1))
        event(screen, StepFinished(step_id="web2:verify_health", duration=0.1))
        await pilot.pause()
        assert table.row("web2").step_label == "✗ verify_logs"  # the failure stays in sight
