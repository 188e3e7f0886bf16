"""Pilot tests of the home screen, the TTR clock, resuming, theme toggle and quitting mid-procedure."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from textual.app import App, ComposeResult

from console.engine.incident import open_new_incident
from console.engine.procedure import ActionResult, Procedure, Step
from screens.app import make_app
from screens.checklist import ChecklistScreen
from screens.decision import DecisionScreen
from screens.home import HomeScreen
from screens.modals import ConfirmDialog
from tests._http_support import JSONServer
from tests._screens_support import FIXED_NOW, HostStandIn, fixed_clock, make_config, records, wait_for
from widgets.health_pane import HealthPane
from widgets.ttr_clock import TTRClock, ttr_level


@pytest.fixture
def health_url():
    with JSONServer() as http:
        yield http.answer("/api/health", 200, {"status": "ok", "version": "v2"})


def facts(app) -> str:
    return str(app.screen.query_one("#home-facts").render())


@pytest.mark.asyncio
async def test_home_shows_target_release_and_what_the_host_reports(tmp_path, health_url):
    app = make_app(make_config(tmp_path, health_url=health_url), transport=HostStandIn(), clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        assert isinstance(app.screen, HomeScreen)
        assert "deploy@127.0.0.1:9" in facts(app)
        assert "Deployed (release log): v2" in facts(app) and "Previous known-good:    v1" in facts(app)
        pane = app.screen.query_one(HealthPane)
        await wait_for(pilot, lambda: pane.healthy is True, what="a health round")
        await wait_for(pilot, lambda: "Host reports:           v2" in facts(app), what="the host version")
        rounds = app.screen._poller.rounds
        await wait_for(pilot, lambda: app.screen._poller.rounds > rounds, what="the poll to re-arm")
        assert not app.screen.query_one(TTRClock).display or app.screen.query_one(TTRClock).has_class("-idle")


@pytest.mark.asyncio
async def test_a_hand_edited_release_log_is_reported_on_home_and_the_console_still_starts(tmp_path):
    config = make_config(tmp_path)
    text = config.paths.release_log.read_text()
    config.paths.release_log.write_text(text.replace('tag = "v1"\n', 'tag = "v1"\nbad = "yes, see #ops"\n', 1))
    app = make_app(config, transport=HostStandIn(), clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)
        assert "Release log unreadable" in facts(app) and "bad must be a table" in facts(app)


@pytest.mark.asyncio
async def test_start_incident_opens_the_journal_and_the_clock_follows_every_screen(tmp_path):
    app = make_app(make_config(tmp_path), transport=HostStandIn(), clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, DecisionScreen), what="the decision screen")
        opened = records(app.journal, "incident_opened")
        assert len(opened) == 1 and opened[0].deployed == "v2" and opened[0].operator == "oncall"
        clock = app.screen.query_one(TTRClock)
        assert clock.opened_at == app.incident_opened_at and not clock.has_class("-idle")
        await pilot.press("y", "c")
        await wait_for(pilot, lambda: isinstance(app.screen, ChecklistScreen), what="the checklist")
        assert app.screen.query_one(TTRClock).opened_at == app.incident_opened_at


@pytest.mark.asyncio
async def test_an_open_incident_is_listed_and_resumes_where_it_stopped(tmp_path):
    config = make_config(tmp_path)
    journal = open_new_incident(config, "v2")
    journal.record("outcome", outcome="rollback", path=[], overridden=False, reason="", by="oncall")
    app = make_app(config, transport=HostStandIn(), clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        # the list is filled right after the first paint (the journals are read off the first frame's path)
        await wait_for(pilot, lambda: [i.id for i in app.screen.incidents] == [journal.incident_id], what="the list")
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, ChecklistScreen), what="the checklist")
        assert app.journal.incident_id == journal.incident_id and app.screen.outcome == "rollback"


@pytest.mark.asyncio
async def test_theme_toggles_between_dark_and_light_and_actions_are_in_the_palette(tmp_path):
    app = make_app(make_config(tmp_path), transport=HostStandIn(), clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.theme == "textual-dark"
        await pilot.press("f2")
        assert app.theme == "textual-light"
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert {"Start incident", "Resume", "Refresh", "Toggle light / dark theme"} <= set(titles)


class Clocked(App):
    def compose(self) -> ComposeResult:
        yield TTRClock(now=fixed_clock)


@pytest.mark.asyncio
@pytest.mark.parametrize("minutes, level", [(5, "ok"), (12, "warning"), (16, "over")])
async def test_ttr_clock_colours_follow_the_target(minutes, level):
    app = Clocked()
    async with app.run_test(size=(40, 3)) as pilot:
        clock = app.query_one(TTRClock)
        assert clock.has_class("-idle")
        clock.target_minutes = 15
        clock.opened_at = FIXED_NOW - timedelta(minutes=minutes)
        await pilot.pause()
        assert clock.level == level and clock.has_class(f"-{level}")
        assert [c for c in ("-ok", "-warning", "-over", "-idle") if clock.has_class(c)] == [f"-{level}"]
        assert f"{minutes}m 00s" in clock.render().plain
        assert ("OVER" in clock.render().plain) == (level == "over")


@pytest.mark.asyncio
async def test_ttr_clock_stops_at_the_recovery():
    app = Clocked()
    async with app.run_test(size=(60, 3)) as pilot:
        clock = app.query_one(TTRClock)
        clock.target_minutes = 15
        clock.opened_at = FIXED_NOW - timedelta(minutes=40)  # follow-up went on long after
        clock.recovered_seconds = 250.0
        await pilot.pause()
        assert clock.render().plain == "TTR 4m 10s / 15m recovered"
        assert clock.level == "ok"


def test_ttr_level_boundaries():
    assert ttr_level(0, 15) == "ok"
    assert ttr_level(15 * 60 * 0.75, 15) == "warning"
    assert ttr_level(15 * 60, 15) == "warning"
    assert ttr_level(15 * 60 + 1, 15) == "over"


async def _slow(ctx) -> ActionResult:
    await asyncio.sleep(30)
    return ActionResult(True, "slept")


@pytest.mark.asyncio
async def test_quitting_while_a_procedure_runs_asks_first(tmp_path):
    from screens.procedure import ProcedureScreen

    app = make_app(make_config(tmp_path), transport=HostStandIn(), clock=fixed_clock)
    procedure = Procedure("verify", [Step("wait", "A long check", action=_slow, display="sleep", read_only=True)])
    async with app.run_test(size=(80, 24)) as pilot:
        screen = ProcedureScreen(
            config=app.config, transport=app.transport, journal=None, procedure=procedure, done_steps=None
        )
        await app.push_screen(screen)
        await wait_for(pilot, lambda: app.procedure_running(), what="the procedure to run")
        await pilot.press("ctrl+q")
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("n")
        assert app.screen is screen and app.procedure_running() and app.is_running
        await pilot.press("ctrl+q")
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("y")
        await wait_for(pilot, lambda: not app.is_running, what="the app to exit")


@pytest.mark.asyncio
async def test_quitting_with_no_procedure_running_does_not_ask(tmp_path):
    app = make_app(make_config(tmp_path), transport=HostStandIn(), clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running, what="the app to exit")


@pytest.mark.asyncio
@pytest.mark.parametrize("freeze", [True, False])
async def test_the_real_app_freezes_start_up_objects_out_of_the_collector(tmp_path, monkeypatch, freeze):
    import gc

    calls = []
    monkeypatch.setattr(gc, "freeze", lambda: calls.append("freeze"))
    app = make_app(make_config(tmp_path), transport=HostStandIn(), clock=fixed_clock, freeze_gc=freeze)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.pause()
    assert calls == (["freeze"] if freeze else [])
