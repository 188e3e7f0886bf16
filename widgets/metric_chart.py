"""A small time-series chart of one metrics check: two rows of block characters, the limit and
the deploy/rollback/hotfix moments marked underneath (D, R, H), the value and verdict on top."""

from __future__ import annotations

import math

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

BLOCKS = " ▁▂▃▄▅▆▇█"
MARKS = {"deploy": "D", "rollback": "R", "hotfix": "H"}


def resample(points: list[tuple[float, float]], start: float, end: float, width: int) -> list[float | None]:
    """One value per column over ``[start, end]``: the worst (highest) point in it, None if empty."""
    columns: list[float | None] = [None] * width
    if width <= 0 or end <= start:
        return columns
    for t, v in points:
        if math.isnan(v) or math.isinf(v):
            continue
        i = min(width - 1, max(0, int((t - start) / (end - start) * width)))
        seen = columns[i]
        columns[i] = v if seen is None else max(seen, v)
    return columns


def two_rows(columns: list[float | None], top: float) -> tuple[str, str]:
    """The upper and lower text rows of a 2-row bar chart scaled to ``top``."""
    upper, lower = [], []
    steps = (len(BLOCKS) - 1) * 2
    for value in columns:
        if value is None:
            upper.append(" ")
            lower.append("·")
            continue
        level = 0 if top <= 0 else max(0, min(steps, round(value / top * steps)))
        if value > 0 and level == 0:
            level = 1  # any non-zero value shows
        lower.append(BLOCKS[min(level, len(BLOCKS) - 1)])
        upper.append(BLOCKS[max(0, level - (len(BLOCKS) - 1))])
    return "".join(upper), "".join(lower)


def marker_row(moments, start: float, end: float, width: int) -> str:
    row = [" "] * max(width, 0)
    for moment in moments:
        if width > 0 and end > start and start <= moment.at <= end:
            i = min(width - 1, int((moment.at - start) / (end - start) * width))
            row[i] = MARKS.get(moment.label, "|")
    return "".join(row)


class MetricChart(Widget):
    """One check's chart; the screen sets ``data`` (a ``ChartData``) and the widget redraws."""

    COMPONENT_CLASSES = {
        "metric-chart--title",
        "metric-chart--pass",
        "metric-chart--fail",
        "metric-chart--unknown",
        "metric-chart--bars",
        "metric-chart--marks",
    }

    DEFAULT_CSS = """
    MetricChart {
        height: 4;
        padding: 0 1;
        & > .metric-chart--title { text-style: bold; }
        & > .metric-chart--pass { color: $success; text-style: bold; }
        & > .metric-chart--fail { color: $error; text-style: bold; }
        & > .metric-chart--unknown { color: $warning; }
        & > .metric-chart--bars { color: $accent; }
        & > .metric-chart--marks { color: $warning; }
    }
    """

    data = reactive(None, layout=False)

    def __init__(self, name: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.check_name = name

    @property
    def verdict(self) -> str:
        result = getattr(self.data, "result", None)
        return result.verdict if result is not None else "unknown"

    def render(self) -> Text:
        width = max(self.size.width - 2, 10)
        data = self.data
        style = lambda part: self.get_component_rich_style(f"metric-chart--{part}")  # noqa: E731
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(self.check_name, style("title"))
        if data is None:
            text.append("  waiting for Prometheus…")
            return text
        result = data.result
        verdict = self.verdict
        shown = "-" if result is None or result.value is None else f"{result.value:.4g}"
        text.append(f"  {shown} {data.comparison}  ")
        text.append(verdict.upper(), style(verdict if verdict in ("pass", "fail") else "unknown"))
        if data.problem:
            text.append(f"  {data.problem}", style("unknown"))
        points = list(data.points)
        times = [t for t, _ in points] + [m.at for m in data.moments]
        if not points:
            text.append("\n(no data)\n\n")
            return text
        start, end = min(times), max(times)
        end = end if end > start else start + 1
        columns = resample(points, start, end, width)
        values = [v for v in columns if v is not None] + ([data.limit] if data.limit is not None else [])
        top = max(values) if values else 0.0
        upper, lower = two_rows(columns, top)
        text.append("\n" + upper, style("bars"))
        text.append("\n" + lower, style("bars"))
        text.append("\n" + marker_row(data.moments, start, end, width), style("marks"))
        return text
