"""Pilot tests of what every console screen shares (screens/base.py)."""

from __future__ import annotations

import pytest
from textual.app import ComposeResult
from textual.widgets import Button

from screens.app import make_app
from screens.base import ConsoleScreen
from screens.checklist import ChecklistScreen
from screens.decision import DecisionScreen
from screens.followup import FollowupScreen
from screens.verification import VerificationScreen
from tests._screens_support import HostStandIn, fixed_clock, make_config


class ButtonsScreen(ConsoleScreen):
    BUTTON_ACTIONS = {"ping": "ping", "say-hi": "say('hi')"}

    def __init__(self) -> None:
        super().__init__()
        self.ran: list[str] = []

    def compose(self) -> ComposeResult:
        yield Button("Ping", id="ping")
        yield Button("Hi", id="say-hi")
        yield Button("Other", id="other")

    def action_ping(self) -> None:
        self.ran.append("ping")

    def action_say(self, word: str) -> None:
        self.ran.append(word)


@pytest.mark.asyncio
async def test_a_button_in_button_actions_runs_its_action_and_any_other_button_none(tmp_path):
    app = make_app(make_config(tmp_path), transport=HostStandIn(), clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = ButtonsScreen()
        await app.push_screen(screen)
        for button in ("#ping", "#other", "#say-hi"):
            await pilot.click(button)
            await pilot.pause()
        assert screen.ran == ["ping", "hi"]


@pytest.mark.parametrize("screen", [ChecklistScreen, DecisionScreen, FollowupScreen, VerificationScreen])
def test_every_screen_button_names_an_action_the_screen_has(screen):
    assert screen.BUTTON_ACTIONS
    for action in screen.BUTTON_ACTIONS.values():
        assert callable(getattr(screen, f"action_{action.split('(', 1)[0]}", None)), action
