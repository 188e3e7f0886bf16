"""The CLI turns the collector off while the TUI imports and draws; the app turns it back on after its first frame."""

from __future__ import annotations

import gc

from screens.app import make_app
from tests._screens_support import HostStandIn, make_config


async def test_the_collector_is_on_again_after_the_first_frame(tmp_path):
    gc.disable()  # as console.cli.main.main does before importing the TUI
    try:
        app = make_app(make_config(tmp_path), transport=HostStandIn(), freeze_gc=True)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            assert gc.isenabled()
            assert gc.get_freeze_count() > 0
    finally:
        gc.enable()
        gc.unfreeze()
