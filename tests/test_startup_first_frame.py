"""What the first frame costs (bench/bench_startup.py): the home screen is drawn once, as the app's first screen.

Pushed over Textual's blank default screen, home came after that screen was composed, styled, laid
out and resized (~30 ms of CPU before the first frame).
"""

from __future__ import annotations

import pytest

from screens.app import make_app
from screens.home import HomeScreen
from tests._screens_support import HostStandIn, fixed_clock, make_config


@pytest.mark.asyncio
async def test_home_is_the_first_screen_on_the_stack_not_pushed_over_a_blank_one(tmp_path):
    app = make_app(make_config(tmp_path), transport=HostStandIn(), clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert len(app.screen_stack) == 1 and isinstance(app.screen, HomeScreen)
