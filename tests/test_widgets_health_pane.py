"""Pilot tests of the health pane at 80 columns."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult

from console.live.health import ExpectationResult, HealthResult
from widgets.health_pane import HealthPane, sparkline


class PaneApp(App):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list = []

    def compose(self) -> ComposeResult:
        yield HealthPane(["backend", "frontend"])


def healthy() -> HealthResult:
    return HealthResult(
        check="frontend",
        url="http://127.0.0.1:8080/",
        ok=True,
        http_status=200,
        latency_ms=12.4,
        version="v1",
        expected_version="v1",
        expectations=[ExpectationResult("status", "ok", "ok", True)],
    )


def failing() -> HealthResult:
    return HealthResult(
        check="backend",
        url="http://127.0.0.1:8081/api/health",
        ok=False,
        http_status=200,
        latency_ms=48.0,
        version="v2",
        expected_version="v1",
        expectations=[ExpectationResult("status", "ok", "ok", True), ExpectationResult("db.ok", True, False, False)],
    )


def pane_text(pane: HealthPane) -> str:
    """What the pane draws on screen, as text."""
    return "\n".join(pane.render_line(y).text for y in range(pane.size.height))


def sent(app: PaneApp, kind: type) -> list:
    return list({id(m): m for m in app.messages if isinstance(m, kind)}.values())


@pytest.mark.asyncio
async def test_rows_wait_for_first_results():
    app = PaneApp()
    async with app.run_test(size=(80, 24)):
        pane = app.query_one(HealthPane)
        assert pane.row_cells("backend")[1] == "…"
        assert pane.healthy is None


@pytest.mark.asyncio
async def test_failing_check_shows_fail_expectation_and_version():
    app = PaneApp()
    async with app.run_test(size=(80, 24), message_hook=app.messages.append) as pilot:
        pane = app.query_one(HealthPane)
        pane.update_results([failing(), healthy()], {"backend": [10, 20, 48], "frontend": [12, 12]})
        await pilot.pause()
        cells = pane.row_cells("backend")
        assert cells[:4] == ["backend", "FAIL", "200", "48ms"]
        assert cells[4] == "▁▃█"
        assert cells[5] == "db.ok=false (expected true) FAIL"
        assert cells[6] == "v2≠v1"
        assert pane.row_cells("frontend")[1:3] == ["OK", "200"]
        assert pane.row_cells("frontend")[5] == "status ✓"
        # and it is really on screen, at 80 columns
        text = pane_text(pane)
        assert "FAIL" in text and "db.ok=false" in text and "v2≠v1" in text and "OK" in text
        assert pane.outer_size.width == 80
        assert [m.healthy for m in sent(app, HealthPane.StatusChanged)] == [False]
        healed = HealthResult(
            check="backend", url="x", ok=True, http_status=200, latency_ms=9.0, version="v1", expected_version="v1"
        )
        pane.update_results([healed])
        await pilot.pause()
        assert [m.healthy for m in sent(app, HealthPane.StatusChanged)] == [False, True]


@pytest.mark.asyncio
async def test_down_check_shows_the_error():
    app = PaneApp()
    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.query_one(HealthPane)
        down = HealthResult(check="backend", url="x", ok=False, error="cannot connect: Connection refused")
        pane.update_results([down])
        await pilot.pause()
        cells = pane.row_cells("backend")
        assert cells[1] == "DOWN" and cells[2] == "" and cells[3] == ""
        assert cells[5] == "cannot connect: Connection refused"
        text = pane_text(pane)
        assert "DOWN" in text and "Connection" in text and "refused" in text


def test_sparkline_scales_between_min_and_max():
    assert sparkline([]) == ""
    assert sparkline([5, 5, 5]) == "▁▁▁"
    assert sparkline([0, 7]) == "▁█"
    assert len(sparkline(range(100))) == 10
