"""Pilot tests of the app's wiring: starting and resuming an incident when the release log is broken."""

from __future__ import annotations

import pytest
from textual.notifications import Notify

from console.engine.incident import open_new_incident
from screens.app import make_app
from screens.decision import DecisionScreen
from screens.home import HomeScreen
from tests._screens_support import HostStandIn, fixed_clock, make_config, records, wait_for


def notified(messages: list) -> list[tuple[str | None, str]]:
    return [(m.notification.title, m.notification.message) for m in messages if isinstance(m, Notify)]


@pytest.mark.asyncio
async def test_starting_an_incident_with_an_unreadable_release_log_says_so_and_opens_it_anyway(tmp_path):
    config = make_config(tmp_path)
    config.paths.release_log.write_text("deployed = 'v2'\n[[releases]\ntag=")  # a half-saved log
    app = make_app(config, transport=HostStandIn(), clock=fixed_clock)
    messages: list = []
    async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, DecisionScreen), what="the decision screen")
        assert [r.deployed for r in records(app.journal, "incident_opened")] == [None]
        titles = {title: message for title, message in notified(messages)}
        assert "not valid TOML" in titles["release log unreadable"]
    assert app.return_code in (None, 0)


@pytest.mark.asyncio
async def test_resuming_when_the_release_log_names_an_unknown_deployed_release_says_why(tmp_path):
    config = make_config(tmp_path)
    journal = open_new_incident(config, "v2")
    journal.record("outcome", outcome="rollback", path=[], overridden=False, reason="", by="oncall")
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
    journal.record("procedure_finished", procedure="rollback", outcome="failed", from_tag="v2", to_tag="v1", duration=1)
    config.paths.release_log.write_text("deployed = 'v9'\n")
    app = make_app(config, transport=HostStandIn(), clock=fixed_clock)
    messages: list = []
    async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
        await pilot.press("r")
        await wait_for(pilot, lambda: notified(messages), what="a notification")
        assert isinstance(app.screen, HomeScreen)
        [(title, message)] = notified(messages)
        assert title == "cannot resume" and "deployed = 'v9' is not a release in the log" in message
    assert app.return_code in (None, 0)
