"""Pilot tests: `?` lists the current screen's keys; the chosen theme is remembered."""

from __future__ import annotations

import pytest

from screens.app import make_app
from screens.home import HomeScreen
from screens.keys_help import KeysHelp
from tests._screens_support import HostStandIn, fixed_clock, make_config


def _rows(screen) -> dict[str, str]:
    table = screen.query_one("#keys-help-table")
    return {str(table.get_row_at(i)[1]): str(table.get_row_at(i)[0]) for i in range(table.row_count)}


@pytest.mark.asyncio
async def test_question_mark_shows_the_keys_of_the_current_screen(tmp_path):
    app = make_app(make_config(tmp_path), transport=HostStandIn(), clock=fixed_clock)
    async with app.run_test(size=(100, 30)) as pilot:
        assert isinstance(app.screen, HomeScreen)
        await pilot.press("question_mark")
        assert isinstance(app.screen, KeysHelp)
        rows = _rows(app.screen)
        assert {"Start incident", "Theme", "Quit"} <= set(rows)
        assert rows["Theme"] == "f2"
        await pilot.press("escape")
        assert isinstance(app.screen, HomeScreen)
        await pilot.press("question_mark")
        await pilot.press("question_mark")  # ? again closes it
        assert isinstance(app.screen, HomeScreen)


@pytest.mark.asyncio
async def test_the_chosen_theme_is_remembered_in_the_state_dir(tmp_path):
    config = make_config(tmp_path)
    app = make_app(config, transport=HostStandIn(), clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.theme == "textual-dark"
        await pilot.press("f2")
        await pilot.pause()
        assert app.theme == "textual-light"
    assert (config.paths.state_dir / "ui.json").exists()
    again = make_app(config, transport=HostStandIn(), clock=fixed_clock)
    async with again.run_test(size=(80, 24)):
        assert again.theme == "textual-light"
