"""Pilot tests of the prerequisites checklist: it blocks the start until ready, ticks and waivers
are journaled with who and when, a waiver needs a reason, bad hotfix input is an error, not a crash."""

from __future__ import annotations

import asyncio

import pytest
from textual.widgets import Button, DataTable

from console.engine.incident import open_new_incident
from console.incident.prerequisites import Checklist
from console.release.release_log import ReleaseLog
from screens.app import make_app
from screens.checklist import ChecklistScreen
from screens.modals import ReasonDialog
from screens.procedure_inputs import HotfixTagDialog
from screens.rollback_target import RollbackTargetDialog
from tests._screens_support import HostStandIn, fixed_clock, keep_notifications, make_config, records, wait_for


async def open_checklist(pilot, app, outcome: str) -> ChecklistScreen:
    journal = open_new_incident(app.config, "v2")
    journal.record("outcome", outcome=outcome, path=[], overridden=False, reason="", by="oncall")
    app.set_incident(journal)
    screen = ChecklistScreen(journal, outcome)
    await app.push_screen(screen)
    await wait_for(
        pilot, lambda: not screen.workers or all(w.is_finished for w in screen.workers), what="the machine checks"
    )
    return screen


async def start_code_hotfix(pilot, app) -> ChecklistScreen:
    """A code-hotfix checklist with everything waived, and `p` pressed: the HOTFIX_TAG dialog is up."""
    screen = await open_checklist(pilot, app, "code_hotfix")
    for item in screen.checklist.blocking():
        screen.checklist.waive(item.id, "test", by="oncall")
    screen.show_states()
    await pilot.press("p")
    await wait_for(pilot, lambda: isinstance(app.screen, HotfixTagDialog), what="the HOTFIX_TAG dialog")
    return screen


def move_to(screen: ChecklistScreen, item_id: str) -> None:
    table = screen.query_one("#checklist-table", DataTable)
    table.move_cursor(row=table.get_row_index(item_id))


@pytest.mark.asyncio
async def test_start_is_blocked_until_every_required_item_is_done_or_waived(tmp_path):
    app = make_app(make_config(tmp_path), transport=HostStandIn(), clock=fixed_clock)
    chosen = {}
    async with app.run_test(
        size=(80, 24),
        message_hook=lambda m: isinstance(m, ChecklistScreen.ProcedureChosen) and chosen.setdefault(id(m), m.procedure),
    ) as pilot:
        screen = await open_checklist(pilot, app, "rollback")
        checklist = screen.checklist
        assert checklist.state("backup_verified").status == "failed"  # `false` exits 1
        assert checklist.state("coordinator_assigned").status == "done"
        assert screen.query_one("#start", Button).disabled
        await pilot.press("p")
        assert not chosen and isinstance(app.screen, ChecklistScreen)
        for item in checklist.blocking():
            move_to(screen, item.id)
            if item.id == "backup_verified":
                # A failed backup check is not overridden by a keystroke: space is refused...
                await pilot.press("space")
                assert checklist.state("backup_verified").status == "failed"
                # ...a waiver with a reason is journaled instead.
                await pilot.press("w")
                for key in "restored":
                    await pilot.press(key)
                await pilot.press("enter")
                await pilot.pause(0.1)
                assert checklist.state("backup_verified").reason == "restored"
            else:
                await pilot.press("space")
        assert checklist.ready()
        assert not screen.query_one("#start", Button).disabled
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, RollbackTargetDialog), what="the target picker")
        await pilot.press("enter")  # the automatic choice is preselected
        await wait_for(pilot, lambda: chosen, what="the procedure")
        procedure = next(iter(chosen.values()))
        assert procedure.name == "rollback" and (procedure.from_tag, procedure.to_tag) == ("v2", "v1")


@pytest.mark.asyncio
async def test_a_manual_tick_records_who_and_when(tmp_path):
    app = make_app(make_config(tmp_path), transport=HostStandIn(), clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_checklist(pilot, app, "rollback")
        move_to(screen, "traffic_plan")
        await pilot.press("space")
        tick = [r for r in records(app.journal, "checklist") if r.item_id == "traffic_plan"]
        assert len(tick) == 1
        assert tick[0].status == "done" and tick[0].how == "manual" and tick[0].by == "oncall"
        assert tick[0].group == "Traffic switch planning" and tick[0].ts
        table = screen.query_one("#checklist-table", DataTable)
        assert "manual by oncall" in str(table.get_cell("traffic_plan", "detail"))
        await pilot.press("enter")  # enter toggles too
        assert screen.checklist.state("traffic_plan").status == "pending"


@pytest.mark.asyncio
async def test_a_waiver_needs_a_reason(tmp_path):
    app = make_app(make_config(tmp_path), transport=HostStandIn(), clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_checklist(pilot, app, "rollback")
        move_to(screen, "support_informed")
        await pilot.press("w")
        assert isinstance(app.screen, ReasonDialog)
        await pilot.press("enter")
        assert isinstance(app.screen, ReasonDialog)
        await pilot.press("escape")
        assert screen.checklist.state("support_informed").status == "pending"
        await pilot.press("w", *"night, nobody on shift", "enter")
        state = screen.checklist.state("support_informed")
        assert state.status == "waived" and state.reason == "night, nobody on shift"
        waived = [r for r in records(app.journal, "checklist") if r.item_id == "support_informed"]
        assert [(r.status, r.reason, r.by) for r in waived] == [("waived", "night, nobody on shift", "oncall")]


@pytest.mark.asyncio
async def test_code_hotfix_offers_the_release_captured_after_the_deployed_one(tmp_path):
    config = make_config(tmp_path)
    log = ReleaseLog.load(config.paths.release_log)
    log.add_release(
        {"tag": "v3", "captured_at": "2026-03-14T03:10:00Z", "pushed": True, "files": {"v3-compose.tar.gz": "c" * 64}}
    )
    log.save()
    app = make_app(config, transport=HostStandIn(), clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await start_code_hotfix(pilot, app)
        assert isinstance(app.screen, HotfixTagDialog)
        assert app.screen.query_one("#tag").value == "v3"
        assert "v3" in str(app.screen.query_one("#tag-candidates").render())


@pytest.mark.asyncio
async def test_code_hotfix_asks_for_a_valid_tag_and_shows_build_errors(tmp_path):
    app = make_app(make_config(tmp_path), transport=HostStandIn(), clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await start_code_hotfix(pilot, app)
        assert isinstance(app.screen, HotfixTagDialog)
        assert app.screen.query_one("#tag").value == ""  # nothing captured after v2: nothing offered
        assert "capture" in str(app.screen.query_one("#tag-candidates").render())
        await pilot.press(*"bad tag!", "enter")
        assert isinstance(app.screen, HotfixTagDialog)
        assert "valid" in str(app.screen.query_one("#tag-error").render())
        app.screen.query_one("#tag").value = ""
        await pilot.press(*"v3-hotfix", "enter")
        await pilot.pause()
        assert app.screen is screen  # not in the release log: an error on screen, no crash
        assert "not in the release log" in str(screen.query_one("#checklist-status").render())


@pytest.mark.asyncio
async def test_a_rollback_from_an_unreadable_release_log_is_an_error_on_screen_not_a_crash(tmp_path):
    app = make_app(make_config(tmp_path), transport=HostStandIn(), clock=fixed_clock)
    chosen = []
    async with app.run_test(
        size=(80, 24), message_hook=lambda m: isinstance(m, ChecklistScreen.ProcedureChosen) and chosen.append(m)
    ) as pilot:
        screen = await open_checklist(pilot, app, "rollback")
        for item in screen.checklist.blocking():
            screen.checklist.waive(item.id, "test", by="oncall")
        screen.show_states()
        app.config.paths.release_log.write_text("releases = 1\n")
        await pilot.press("p")
        await pilot.pause()
        assert app.screen is screen and not chosen
        assert "releases must be an array" in str(screen.query_one("#checklist-status").render())
    assert app.return_code in (None, 0)


@pytest.mark.asyncio
async def test_machine_checks_that_crash_say_so_instead_of_failing_silently(tmp_path, monkeypatch):
    async def crash(self, config, transport=None, notifier=None, client=None):
        raise RuntimeError("outbox unreadable: [Errno 13] Permission denied")

    monkeypatch.setattr(Checklist, "run_auto_checks", crash)
    notices: list = []
    app = make_app(make_config(tmp_path), transport=HostStandIn(), clock=fixed_clock)
    async with app.run_test(size=(80, 24), message_hook=keep_notifications(notices)) as pilot:
        screen = await open_checklist(pilot, app, "rollback")
        await wait_for(pilot, lambda: notices, what="a notification")
        assert [(n.severity, n.title, n.message) for n in notices] == [
            ("error", "run_auto_checks failed", "RuntimeError: outbox unreadable: [Errno 13] Permission denied")
        ]
        assert isinstance(app.screen, ChecklistScreen) and screen.is_attached


@pytest.mark.asyncio
async def test_the_status_says_the_machine_checks_are_running_until_they_are_done(tmp_path, monkeypatch):
    release = asyncio.Event()
    original = Checklist.run_auto_checks

    async def held(self, *args, **kwargs):
        await release.wait()
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(Checklist, "run_auto_checks", held)
    app = make_app(make_config(tmp_path), transport=HostStandIn(), clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        journal = open_new_incident(app.config, "v2")
        journal.record("outcome", outcome="rollback", path=[], overridden=False, reason="", by="oncall")
        app.set_incident(journal)
        screen = ChecklistScreen(journal, "rollback")
        await app.push_screen(screen)
        status = screen.query_one("#checklist-status")
        await pilot.pause()
        # Not "Blocked by" before a check ran: that is what an operator (or the tmux test) waits for.
        assert str(status.render()) == "Running the automatic checks…"
        release.set()
        await wait_for(pilot, lambda: "Blocked by" in str(status.render()), what="the checks to finish")
        assert screen.checklist.state("backup_verified").status == "failed"
