"""The metrics pane: one ``MetricChart`` per ``[[metrics]]`` check, fed by the screen's poller."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical

from widgets.metric_chart import MetricChart


class MetricsPane(Vertical):
    DEFAULT_CSS = """
    MetricsPane {
        height: auto;
        border: round $primary-lighten-2;
        border-title-color: $text;
    }
    """

    def __init__(self, names: list[str], **kwargs) -> None:
        super().__init__(**kwargs)
        self.names = list(names)
        self.border_title = "Metrics (Prometheus) · D deploy · R rollback · H hotfix"

    def compose(self) -> ComposeResult:
        for i, name in enumerate(self.names):
            yield MetricChart(name, id=f"metric-{i}")

    def update_charts(self, charts) -> None:
        """``charts``: ChartData in the order of ``names`` (extra or missing entries are ignored)."""
        by_name = {c.name: c for c in charts}
        for i, name in enumerate(self.names):
            if name in by_name:
                self.query_one(f"#metric-{i}", MetricChart).data = by_name[name]
