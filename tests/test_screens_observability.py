"""Pilot: resolving an incident asks whether to expire its alert silence, and keeping it is journaled."""

from __future__ import annotations

import dataclasses

import pytest

from console.engine.incident import open_new_incident
from console.incident.records import AlertSilence, StepFinished
from console.observability.settings import AlertmanagerSettings
from console.observability.silences import active_silence
from screens.app import make_app
from screens.followup import FollowupScreen
from screens.modals import ConfirmDialog
from tests._screens_support import HostStandIn, fixed_clock, make_config, records, wait_for


def config_with_alertmanager(tmp_path):
    config = make_config(tmp_path)
    return dataclasses.replace(
        config,
        observability=dataclasses.replace(
            config.observability, alertmanager=AlertmanagerSettings(url="http://127.0.0.1:9", timeout=1)
        ),
    )


@pytest.mark.asyncio
@pytest.mark.parametrize("answer", ["n", "y"])
async def test_resolve_asks_to_expire_the_silence(tmp_path, answer):
    config = config_with_alertmanager(tmp_path)
    journal = open_new_incident(config, "v2")
    journal.append(
        AlertSilence(
            action="created",
            silence_id="abc-1",
            matchers=['env="production"'],
            ends_at="2026-03-14T04:00:00.000Z",
            created_by="oncall",
        )
    )
    app = make_app(config, transport=HostStandIn(), clock=fixed_clock)
    async with app.run_test(size=(100, 30)) as pilot:
        app.set_incident(journal)
        await app.push_screen(FollowupScreen(journal))
        await pilot.press("ctrl+r")
        await pilot.press(*"rolled back", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="the silence question")
        assert "abc-1" in app.screen.question
        await pilot.press(answer)
        if answer == "n":
            await wait_for(pilot, lambda: active_silence(journal) is None, what="the kept silence")
            assert [r.action for r in records(journal, "alert_silence")] == ["created", "kept"]
        else:  # Alertmanager is unreachable here: the silence stays active and the coordinator is told
            await wait_for(
                pilot, lambda: any("not expired" in n.message for n in app._notifications), what="the failure notice"
            )
            assert active_silence(journal).silence_id == "abc-1"


def config_with_metrics(tmp_path):
    from console.observability.settings import Endpoint, MetricCheck, parse_comparison

    config = make_config(tmp_path)
    check = MetricCheck("backend error ratio", "sum(rate(x[1m]))", parse_comparison("<= 0.01"), window_minutes=1)
    return dataclasses.replace(
        config,
        observability=dataclasses.replace(
            config.observability, prometheus=Endpoint(url="http://127.0.0.1:9", timeout=1), metrics=[check]
        ),
    )


@pytest.mark.asyncio
@pytest.mark.parametrize("verdict, ticked_by_hand", [("pass", False), ("unknown", True)])
async def test_prometheus_replaces_the_dashboard_tick_only_when_it_answered(tmp_path, verdict, ticked_by_hand):
    from textual.widgets import DataTable

    from screens.verification import VerificationScreen
    from widgets.metric_chart import MetricChart

    config = config_with_metrics(tmp_path)
    journal = open_new_incident(config, "v2")
    journal.append(
        StepFinished(
            step_id="verify_metrics",
            exit_code=0,
            duration=3.0,
            detail={"metrics": [{"name": "backend error ratio", "verdict": verdict}]},
        )
    )
    app = make_app(config, transport=HostStandIn(), clock=fixed_clock)
    async with app.run_test(size=(100, 40)) as pilot:
        app.set_incident(journal)
        screen = VerificationScreen(journal, "succeeded")
        await app.push_screen(screen)
        checks = screen.query_one("#verify-table", DataTable)
        assert checks.get_cell("verify_metrics", "result") == "passed"
        manual = screen.query_one("#manual-table", DataTable)
        assert ("grafana_error_rate" in [row.value for row in manual.rows]) is ticked_by_hand
        chart = screen.query_one(MetricChart)  # Prometheus is not there: the chart says so
        await wait_for(pilot, lambda: chart.data is not None, what="the chart's first round")
        assert "unreachable" in str(chart.render())


@pytest.mark.asyncio
async def test_the_procedure_screens_charts_refresh_round_after_round(tmp_path, monkeypatch):
    import screens.procedure as procedure_screen
    from console.observability import live
    from test_screens_procedure_leave import SLOW, open_procedure, rollback, rollback_incident
    from widgets.metric_chart import MetricChart

    rounds = []
    real = live.chart_data

    async def counted(config, incident, *args, **kwargs):
        rounds.append([m.label for m in live.moments_from(incident)])
        return await real(config, incident, *args, **kwargs)

    monkeypatch.setattr(live, "chart_data", counted)
    monkeypatch.setattr(procedure_screen, "METRICS_REFRESH_SECONDS", 0.05)
    config = config_with_metrics(tmp_path)
    app = make_app(config, transport=HostStandIn(), clock=fixed_clock)
    app._announce = lambda event, **details: None
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_procedure(app, pilot, rollback_incident(config), rollback(SLOW))
        chart = screen.query_one(MetricChart)
        await wait_for(pilot, lambda: len(rounds) >= 3, what="three chart rounds")
        assert rounds[0] == ["rollback"]  # this run's start is marked on the charts
        assert chart.data is not None and "unreachable" in str(chart.render())
        assert screen.workers and all(w.error is None for w in screen.workers if w.group == "procedure-metrics")


@pytest.mark.asyncio
async def test_the_charts_refresh_as_soon_as_the_procedure_ends(tmp_path, monkeypatch):
    # The metrics step may have just passed: a chart left saying FAIL for another refresh beside
    # "succeeded" would mislead, so the end asks for a round at once, not a refresh interval later.
    import asyncio

    import screens.procedure as procedure_screen
    from console.engine.procedure import ActionResult, Procedure, Step
    from console.observability import live
    from test_screens_procedure_leave import open_procedure, rollback_incident

    rounds = []
    first_round = asyncio.Event()
    real = live.chart_data

    async def counted(config, incident, *args, **kwargs):
        rounds.append(screen_outcome())
        first_round.set()
        return await real(config, incident, *args, **kwargs)

    async def after_the_first_round(ctx) -> ActionResult:
        await first_round.wait()
        return ActionResult(True, "checked")

    monkeypatch.setattr(live, "chart_data", counted)
    monkeypatch.setattr(procedure_screen, "METRICS_REFRESH_SECONDS", 600)  # never by the clock here
    config = config_with_metrics(tmp_path)
    app = make_app(config, transport=HostStandIn(), clock=fixed_clock)
    app._announce = lambda event, **details: None

    def screen_outcome():
        return next((s.outcome for s in app.screen_stack if isinstance(s, procedure_screen.ProcedureScreen)), None)

    step = Step("check", "A check", action=after_the_first_round, display="check", read_only=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_procedure(app, pilot, rollback_incident(config), Procedure("rollback", [step], "v2", "v1"))
        await wait_for(pilot, lambda: len(rounds) >= 2, timeout=30, what="a round once the procedure ended")
        assert rounds[:2] == [None, "succeeded"]


@pytest.mark.asyncio
async def test_the_verification_charts_mark_the_deploy_the_procedure_left(tmp_path, monkeypatch):
    # After a rollback to v1 the release log says v1 was deployed just now: without the procedure's
    # target the charts' deploy mark would be the rollback itself, after its own R.
    from console.incident.records import ProcedureStarted
    from console.observability import live
    from screens.verification import VerificationScreen

    asked = []

    async def recorded(config, incident, expected_version=None, *args, **kwargs):
        asked.append(expected_version)
        return []

    monkeypatch.setattr(live, "chart_data", recorded)
    config = config_with_metrics(tmp_path)
    journal = open_new_incident(config, "v2")
    journal.append(ProcedureStarted(procedure="rollback", from_tag="v2", to_tag="v1"))
    app = make_app(config, transport=HostStandIn(), clock=fixed_clock)
    async with app.run_test(size=(100, 40)) as pilot:
        app.set_incident(journal)
        await app.push_screen(VerificationScreen(journal, "succeeded"))
        await wait_for(pilot, lambda: asked, timeout=30, what="the charts' first round")
        assert asked[0] == "v1"
