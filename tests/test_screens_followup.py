"""Pilot tests of verification and follow-up: results read from the journal, manual ticks,
the retro saved, the incident resolved with its TTR, and the report written."""

from __future__ import annotations

from datetime import timedelta

import pytest
from textual.widgets import Button, DataTable, TextArea

import screens.followup as followup_screen
from console.engine.incident import open_new_incident
from screens.app import make_app
from screens.followup import FollowupScreen
from screens.modals import ReasonDialog
from screens.verification import GROUP, VerificationScreen
from tests._screens_support import (
    FIXED_NOW,
    HostStandIn,
    fixed_clock,
    keep_notifications,
    make_config,
    records,
    wait_for,
)


async def incident_app(tmp_path, pilot_size=(80, 24)):
    config = make_config(tmp_path)
    journal = open_new_incident(config, "v2")
    app = make_app(config, transport=HostStandIn(), clock=fixed_clock)
    return app, journal


@pytest.mark.asyncio
async def test_verification_shows_the_journaled_checks_and_ticks_manual_ones(tmp_path):
    app, journal = await incident_app(tmp_path)
    journal.record("step_finished", step_id="verify_ps", exit_code=None, duration=0.4, detail={})
    journal.record(
        "step_failed",
        step_id="verify_health",
        reason="health",
        message="backend: HTTP 500",
        exit_code=None,
        duration=90.0,
        detail={},
    )
    journal.record("step_skipped", step_id="smoke_frontend", reason="no frontend tests yet", by="oncall")
    async with app.run_test(size=(80, 24)) as pilot:
        app.set_incident(journal)
        screen = VerificationScreen(journal, "succeeded")
        await app.push_screen(screen)
        checks = screen.query_one("#verify-table", DataTable)
        assert checks.get_cell("verify_ps", "result") == "passed"
        assert checks.get_cell("verify_health", "result") == "FAILED"
        assert checks.get_cell("verify_health", "detail") == "backend: HTTP 500"
        assert checks.get_cell("smoke_frontend", "result") == "skipped"
        assert checks.get_cell("verify_logs", "result") == "not run"
        await pilot.press("space")
        ticks = records(journal, "checklist")
        assert [(t.item_id, t.group, t.status, t.by) for t in ticks] == [
            ("manual_smoke_booking", GROUP, "done", "oncall")
        ]
        assert screen.query_one("#manual-table", DataTable).get_cell("manual_smoke_booking", "status") == "[✓]"
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, FollowupScreen), what="follow-up")


@pytest.mark.asyncio
async def test_retro_is_saved_the_incident_resolved_and_the_report_written(tmp_path):
    app, journal = await incident_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        app.set_incident(journal)
        app.incident_opened_at = FIXED_NOW - timedelta(minutes=11)
        screen = FollowupScreen(journal)
        await app.push_screen(screen)
        await pilot.press("space")  # first follow-up item
        assert records(journal, "checklist")[0].item_id == "resolution_posted"
        screen.query_one("#root-cause", TextArea).text = "v2 image read a renamed env key"
        screen.query_one("#detection-gaps", TextArea).text = "no alert on 500s from /api/health"
        screen.query_one("#action-items", TextArea).text = "alert on health 500\n\nrename keys with a fallback\n"
        await pilot.press("ctrl+s")
        retro = records(journal, "retro")
        assert len(retro) == 1
        assert retro[0].root_cause == "v2 image read a renamed env key"
        assert retro[0].action_items == ["alert on health 500", "rename keys with a fallback"]
        assert retro[0].by == "oncall"

        await pilot.press("ctrl+o")  # nothing resolved yet: nothing posted
        await pilot.press("ctrl+r")
        assert isinstance(app.screen, ReasonDialog)
        await pilot.press("enter")
        assert isinstance(app.screen, ReasonDialog)  # a summary is required
        await pilot.press(*"rolled back to v1", "enter")
        resolved = records(journal, "incident_resolved")
        assert len(resolved) == 1
        assert resolved[0].ttr_seconds == 660.0 and resolved[0].summary == "rolled back to v1"

        await pilot.press("ctrl+o")
        assert "no notifications are configured" in str(screen.query_one("#notify-note").render())

        await pilot.press("ctrl+e")
        report = journal.directory / "report.md"
        assert report.exists()
        text = report.read_text()
        assert "v2 image read a renamed env key" in text and "- [ ] alert on health 500" in text
        assert str(report) in str(screen.query_one("#report-path").render())


@pytest.mark.asyncio
async def test_followup_reloads_a_saved_retro(tmp_path):
    app, journal = await incident_app(tmp_path)
    journal.record("retro", root_cause="cause", detection_gaps="gaps", action_items=["one", "two"], by="oncall")
    async with app.run_test(size=(80, 24)) as pilot:
        app.set_incident(journal)
        screen = FollowupScreen(journal)
        await app.push_screen(screen)
        await pilot.pause()
        assert screen.query_one("#action-items", TextArea).text == "one\ntwo"
        await pilot.press("ctrl+b")
        await pilot.pause()
        assert app.journal is None and len(app.screen_stack) == 1


@pytest.mark.asyncio
async def test_followup_ticks_what_the_journal_proves_and_a_person_can_untick_it(tmp_path):
    app, journal = await incident_app(tmp_path)
    journal.record("release_log", deployed="v1", marked_bad="v2")
    journal.record("notification", channel="slack", event="incident_resolved", status="sent", attempts=1, error=None)
    journal.record(
        "notification", channel="statuspage", event="incident_resolved", status="failed", attempts=5, error="HTTP 401"
    )
    async with app.run_test(size=(120, 40)) as pilot:
        app.set_incident(journal)
        screen = FollowupScreen(journal)
        await app.push_screen(screen)
        await pilot.pause()
        table = screen.query_one("#followup-table", DataTable)
        assert table.get_cell("resolution_posted", "status") == "[✓]"
        assert table.get_cell("release_log_updated", "status") == "[✓]"
        assert "v2 marked bad" in table.get_cell("release_log_updated", "by")
        assert table.get_cell("status_page_resolved", "status") == "[ ]"  # failed delivery proves nothing
        assert table.get_cell("retro_created", "status") == "[ ]"
        auto = [(t.item_id, t.how, t.by) for t in records(journal, "checklist")]
        assert sorted(auto) == [
            ("release_log_updated", "auto", "incident-console"),
            ("resolution_posted", "auto", "incident-console"),
        ]

        screen.query_one("#root-cause", TextArea).text = "bad image"
        screen.query_one("#action-items", TextArea).text = "add an alert"
        await pilot.press("ctrl+s")
        assert table.get_cell("retro_created", "status") == "[✓]"

        table.focus()
        table.move_cursor(row=0)
        await pilot.press("space")  # a person disagrees: unticked, and it stays unticked
        screen.show_items()
        assert table.get_cell("resolution_posted", "status") == "[ ]"
        assert records(journal, "checklist")[-1].how == "manual"


def test_automatic_evidence_needs_a_delivered_message_and_a_real_retro(tmp_path):
    from console.incident.followup import automatic_evidence
    from console.incident.journal import Journal

    journal = Journal.create(tmp_path)
    journal.record("notification", channel="slack", event="incident_opened", status="sent", attempts=1, error=None)
    journal.record(
        "notification", channel="slack", event="incident_resolved", status="queued", attempts=1, error="timeout"
    )
    journal.record("retro", root_cause="", detection_gaps="", action_items=[], by="oncall")
    assert automatic_evidence(journal) == {}


class BrokenNotifier:
    async def notify(self, event, **details):
        raise RuntimeError("outbox directory is not writable")


@pytest.mark.asyncio
async def test_a_resolution_post_that_fails_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(followup_screen, "incident_notifier", lambda config, journal: BrokenNotifier())
    app, journal = await incident_app(tmp_path)
    journal.record("incident_resolved", ttr_seconds=600.0, by="oncall", summary="rolled back to v1")
    notices: list = []
    async with app.run_test(size=(80, 24), message_hook=keep_notifications(notices)) as pilot:
        app.set_incident(journal)
        await app.push_screen(FollowupScreen(journal))
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: notices, what="a notification")
        assert [(n.severity, n.title, n.message) for n in notices] == [
            ("error", "post_resolution failed", "RuntimeError: outbox directory is not writable")
        ]


@pytest.mark.asyncio
@pytest.mark.parametrize("focus", ["#followup-table", "#root-cause", "#action-items"])
async def test_home_and_write_report_are_in_reach_at_80_columns_with_focus_anywhere(tmp_path, focus):
    app, journal = await incident_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        app.set_incident(journal)
        screen = FollowupScreen(journal)
        await app.push_screen(screen)
        screen.query_one(focus).focus()
        # The footer recomposes after a focus change; on a busy machine that takes more than one pause.
        await wait_for(
            pilot,
            lambda: (
                screen.query("Footer FooterKey.-command-palette")
                and {"write_report", "home"} <= {key.action for key in screen.query("Footer FooterKey")}
            ),
            what="the footer's keys",
        )
        keys = {key.action: key for key in screen.query("Footer FooterKey")}
        palette = screen.query_one("Footer FooterKey.-command-palette")
        for action in ("write_report", "home"):  # whole, left of the palette key
            assert keys[action].region.right <= palette.region.x, action
        for button in screen.query(Button):
            button.scroll_visible(animate=False)
            await pilot.pause()
            assert button.region.right <= screen.scrollable_content_region.right, button.id

        await pilot.press("ctrl+e")
        report = journal.directory / "report.md"
        assert report.exists()
        assert str(report) in str(screen.query_one("#report-path").render())
        await pilot.press("ctrl+b")
        await wait_for(pilot, lambda: app.journal is None and len(app.screen_stack) == 1, what="home")
