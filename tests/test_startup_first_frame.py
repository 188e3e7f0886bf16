"""What the first frame costs (bench/bench_startup.py): the home screen is drawn once, as the app's first screen.

Pushed over Textual's blank default screen, home came after that screen was composed, styled, laid
out and resized (~30 ms of CPU before the first frame).
"""

from __future__ import annotations

import pytest

from screens.app import make_app
from screens.home import HomeScreen
from tests._screens_support import HostStandIn, fixed_clock, make_config, wait_for


@pytest.mark.asyncio
async def test_home_is_the_first_screen_on_the_stack_not_pushed_over_a_blank_one(tmp_path):
    app = make_app(make_config(tmp_path), transport=HostStandIn(), clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert len(app.screen_stack) == 1 and isinstance(app.screen, HomeScreen)


@pytest.mark.asyncio
async def test_the_runbook_is_read_after_the_first_paint_and_a_malformed_one_is_notified(tmp_path):
    from dataclasses import replace

    config = make_config(tmp_path)
    broken = tmp_path / "runbook.toml"
    broken.write_text("[[questions]]\nid = 'q1'\n")  # no text, no branches
    config = replace(config, paths=replace(config.paths, runbook=broken))
    app = make_app(config, transport=HostStandIn(), clock=fixed_clock)
    assert app._runbook is None  # not read to draw home
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(
            pilot, lambda: any(n.title == "runbook unreadable" for n in app._notifications), what="the notice"
        )
        await pilot.press("s")  # no incident is opened on a runbook that cannot be walked through
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen) and app.journal is None


@pytest.mark.asyncio
async def test_the_shipped_runbook_is_read_after_the_first_paint(tmp_path):
    app = make_app(make_config(tmp_path), transport=HostStandIn(), clock=fixed_clock)
    assert app._runbook is None
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app._runbook is not None, what="the runbook")
        assert app.runbook.questions


@pytest.mark.asyncio
async def test_the_health_pane_in_the_side_column_at_120_cells_takes_a_few_lines(tmp_path):
    """Before branch `start` the pane's table folded "waiting for first check" one letter a line there."""
    from widgets.health_pane import HealthPane

    config = make_config(tmp_path, health_url="http://127.0.0.1:9/api/health")  # nothing listens: DOWN
    app = make_app(config, transport=HostStandIn(), clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = app.screen.query_one(HealthPane)
        await pilot.pause()
        assert pane.size.height <= 3  # header, the pending row, "waiting for first check"
        await wait_for(pilot, lambda: pane.healthy is False, what="the first round")
        await pilot.pause()
        assert pane.size.height <= 4  # header, the DOWN row, why (one or two lines)


def test_the_theme_is_remembered_and_json_is_read_only_when_there_is_a_file(tmp_path):
    from tests.test_startup_imports import loaded_after

    code = f"from screens.preferences import load_theme; assert load_theme({str(tmp_path)!r}) is None"
    assert loaded_after(code, ("json",)) == []
    from screens.preferences import load_theme, save_theme

    save_theme(tmp_path, "textual-light")
    assert load_theme(tmp_path) == "textual-light"
    (tmp_path / "ui.json").write_text("{not json")
    assert load_theme(tmp_path) is None


def test_the_engine_is_imported_off_the_ui_thread_after_the_first_paint(tmp_path):
    """Reading the host needs the engine and the SSH transport (~100 ms of imports): on the UI thread,
    where the readers' workers run, the home screen took no keys meanwhile."""
    import subprocess
    import sys
    import textwrap

    from tests.conftest import ROOT

    probe = textwrap.dedent(
        f"""
        import asyncio, sys, threading
        from pathlib import Path
        from tests._screens_support import HostStandIn, fixed_clock, make_config, wait_for

        class Spy:
            threads = {{}}
            def find_spec(self, name, path=None, target=None):
                if name in ("console.engine.incident", "console.release.deployed"):
                    self.threads[name] = threading.current_thread() is threading.main_thread()
                return None
        spy = Spy()
        sys.meta_path.insert(0, spy)
        from screens.app import make_app

        async def main():
            app = make_app(make_config(Path({str(tmp_path)!r})), transport=HostStandIn(), clock=fixed_clock)
            async with app.run_test(size=(120, 40)) as pilot:
                await wait_for(pilot, lambda: app.screen.host_problem is not None, what="the host read")
        asyncio.run(main())
        print(sorted(spy.threads.items()))
        """
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split("\n")[-2] == "[('console.engine.incident', False), ('console.release.deployed', False)]"
