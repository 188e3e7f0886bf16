"""The health pane: one row per configured health check, refreshed by the poller.

It shows what the runbook's ``curl -f .../api/health | jq`` would, for every
check at once: OK/FAIL, the HTTP code, the latency with a trend of the last
rounds, which JSON expectation failed, and the version the service reports
(compared with the release the procedure is putting back).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from textual.message import Message
from textual.widget import Widget

from widgets.health_rows import HealthRows, Row

if TYPE_CHECKING:  # results arrive already made: the pane needs no httpx at import
    from console.live.health import HealthResult

BLOCKS = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 10
FIXED_WIDTHS = {1: 6, 2: 4, 3: 7, 4: SPARK_WIDTH}  # Status, HTTP, Latency, Trend


def sparkline(values: Sequence[float], width: int = SPARK_WIDTH) -> str:
    """Unicode-block trend of the last ``width`` values (one character each)."""
    recent = list(values)[-width:]
    if not recent:
        return ""
    low, high = min(recent), max(recent)
    span = high - low
    if span <= 0:
        return BLOCKS[0] * len(recent)
    top = len(BLOCKS) - 1
    return "".join(BLOCKS[round((v - low) / span * top)] for v in recent)


def status_label(result: HealthResult | None) -> str:
    if result is None:
        return "…"
    if result.ok:
        return "OK"
    if result.http_status is None:
        return "DOWN"
    return "FAIL"


def expectation_summary(result: HealthResult) -> str:
    """The failing expectations first (that is what the operator needs), else a tick."""
    if result.error and not result.expectations:
        return result.error
    failed = result.failed_expectations
    if failed:
        return "; ".join(e.describe() for e in failed)
    if not result.status_ok:
        return f"HTTP {result.http_status} ≠ {result.expected_status}"
    if result.expectations:
        return ", ".join(f"{e.key} ✓" for e in result.expectations)
    return "—"


class HealthPane(Widget):
    """Rows of health results; ``update_results`` is the only way data comes in."""

    COMPONENT_CLASSES = {
        "health-pane--ok",
        "health-pane--fail",
        "health-pane--pending",
        "health-pane--header",
        "health-pane--trend",
    }

    DEFAULT_CSS = """
    HealthPane {
        height: auto;
        min-height: 3;
        border: round $panel;
        border-title-color: $text-muted;
        padding: 0 1;
        & > .health-pane--ok { color: $success; text-style: bold; }
        & > .health-pane--fail { color: $error; text-style: bold; }
        & > .health-pane--pending { color: $text-muted; }
        & > .health-pane--header { color: $text-muted; text-style: bold; }
        & > .health-pane--trend { color: $accent; }
    }
    """

    class StatusChanged(Message):
        """Every check passing became true or false (None: no results yet)."""

        def __init__(self, health_pane: HealthPane, healthy: bool | None) -> None:
            super().__init__()
            self.health_pane = health_pane
            self.healthy = healthy

        @property
        def control(self) -> HealthPane:
            return self.health_pane

    def __init__(
        self, checks: Iterable[str] = (), *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._order: list[str] = list(checks)
        self._results: dict[str, HealthResult] = {}
        self._history: dict[str, list[float]] = {}
        self._healthy: bool | None = None
        self.border_title = "health"

    @property
    def healthy(self) -> bool | None:
        return self._healthy

    @property
    def results(self) -> dict[str, HealthResult]:
        return dict(self._results)

    def update_results(self, results: list[HealthResult], history: Mapping[str, Sequence[float]] | None = None) -> None:
        for result in results:
            if result.check not in self._order:
                self._order.append(result.check)
            self._results[result.check] = result
        if history is not None:
            self._history = {name: list(values) for name, values in history.items()}
        healthy = all(r.ok for r in self._results.values()) if self._results else None
        if healthy != self._healthy:
            self._healthy = healthy
            self.post_message(self.StatusChanged(self, healthy))
        stamp = max((r.checked_at for r in self._results.values()), default=None)
        self.border_title = "health" + (f" · {stamp:%H:%M:%S}" if stamp else "")
        self.refresh(layout=True)

    def row_cells(self, name: str) -> list[str]:
        """A row as plain text cells (what the table shows, without colour)."""
        result = self._results.get(name)
        if result is None:
            return [name, "…", "", "", "", "waiting for first check", ""]
        latency = "" if result.latency_ms is None else f"{result.latency_ms:.0f}ms"
        version = result.version or ""
        if result.version_ok is False:
            version = f"{version or '?'}≠{result.expected_version}"
        return [
            name,
            status_label(result),
            "" if result.http_status is None else str(result.http_status),
            latency,
            sparkline(self._history.get(name, [])),
            expectation_summary(result),
            version,
        ]

    def render(self) -> HealthRows:
        style = self.get_component_rich_style
        rows = []
        for name in self._order:
            cells = self.row_cells(name)
            result = self._results.get(name)
            kind = "pending" if result is None else ("ok" if result.ok else "fail")
            status_style = style(f"health-pane--{kind}")
            rows.append(
                Row(
                    cells,
                    [
                        None,
                        status_style,
                        None,
                        None,
                        style("health-pane--trend"),
                        status_style if kind == "fail" else None,
                        status_style if result is not None and result.version_ok is False else None,
                    ],
                )
            )
        return HealthRows(rows, style("health-pane--header"), FIXED_WIDTHS)
