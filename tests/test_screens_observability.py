"""Pilot: resolving an incident asks whether to expire its alert silence, and keeping it is journaled."""

from __future__ import annotations

import dataclasses

import pytest

from console.engine.incident import open_new_incident
from console.observability.settings import AlertmanagerSettings
from console.observability.silences import active_silence
from screens.app import make_app
from screens.followup import FollowupScreen
from screens.modals import ConfirmDialog
from tests._screens_support import HostStandIn, fixed_clock, make_config, records, wait_for


def config_with_alertmanager(tmp_path):
    config = make_config(tmp_path)
    return dataclasses.replace(config, observability=dataclasses.replace(
        config.observability, alertmanager=AlertmanagerSettings(url="http://127.0.0.1:9", timeout=1)))


@pytest.mark.asyncio
@pytest.mark.parametrize("answer", ["n", "y"])
async def test_resolve_asks_to_expire_the_silence(tmp_path, answer):
    config = config_with_alertmanager(tmp_path)
    journal = open_new_incident(config, "v2")
    journal.record("alert_silence", action="created", silence_id="abc-1", matchers=['env="production"'],
                   ends_at="2026-03-14T04:00:00.000Z", created_by="oncall")
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
            assert [r["action"] for r in records(journal, "alert_silence")] == ["created", "kept"]
        else:   # Alertmanager is unreachable here: the silence stays active and the coordinator is told
            await wait_for(pilot, lambda: any("not expired" in n.message for n in app._notifications),
                           what="the failure notice")
            assert active_silence(journal)["silence_id"] == "abc-1"
