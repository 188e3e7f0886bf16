"""Pilot tests of the verification screen."""

from __future__ import annotations

import pytest
from textual.notifications import Notify

from console.engine.incident import open_new_incident
from screens.app import make_app
from screens.verification import VerificationScreen
from tests._screens_support import HostStandIn, fixed_clock, make_config


@pytest.mark.asyncio
async def test_running_the_checks_with_an_unreadable_release_log_is_an_error_not_a_crash(tmp_path):
    config = make_config(tmp_path)
    journal = open_new_incident(config, "v2")
    app = make_app(config, transport=HostStandIn(), clock=fixed_clock)
    messages: list = []
    async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
        app.set_incident(journal)
        screen = VerificationScreen(journal, "succeeded")
        await app.push_screen(screen)
        config.paths.release_log.write_bytes(b"\xff\xfe")
        await pilot.press("v")
        await pilot.pause()
        assert app.screen is screen
        assert not [m for m in messages if isinstance(m, VerificationScreen.RunVerification)]
        [note] = [m.notification for m in messages if isinstance(m, Notify)]
        assert note.title == "cannot run the checks" and "not valid TOML" in note.message
    assert app.return_code in (None, 0)


@pytest.mark.asyncio
@pytest.mark.parametrize("outcome, resumes", [("failed", True), ("interrupted", True), ("succeeded", False)])
async def test_r_resumes_an_unfinished_procedure_from_verification(tmp_path, monkeypatch, outcome, resumes):
    config = make_config(tmp_path)
    journal = open_new_incident(config, "v2")
    app = make_app(config, transport=HostStandIn(), clock=fixed_clock)
    stages: list[str] = []
    monkeypatch.setattr(app, "show_stage", lambda stage, outcome=None: stages.append(stage))
    async with app.run_test(size=(80, 24)) as pilot:
        app.set_incident(journal)
        screen = VerificationScreen(journal, outcome)
        await app.push_screen(screen)
        await pilot.press("r")
        await pilot.pause()
        assert stages == (["procedure"] if resumes else [])
        shown = str(screen.query_one("#verify-outcome").render())
        assert ("r resumes it" in shown) is resumes
