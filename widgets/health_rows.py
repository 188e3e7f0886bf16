"""The health pane's rows as one light renderable: fixed columns laid out once per frame.

A ``rich.table.Table`` measured and rendered every cell through padding and cropping: with
100 checks a frame took ~40 ms of the UI's event loop (bench/bench_health.py). The pane's
columns are known, so the layout is the table's (widths, one space of padding right of every
column, the Expectations column takes the rest and wraps), computed directly.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from rich.cells import cell_len, set_cell_size
from rich.console import Console, ConsoleOptions, RenderResult
from rich.segment import Segment
from rich.style import Style
from rich.table import Table
from rich.text import Text

HEADERS = ("Check", "Status", "HTTP", "Latency", "Trend", "Expectations", "Version")
FOLD = 5  # the Expectations column: folds instead of cutting
RIGHT = {3}  # Latency is right-aligned
MAX_WIDTH = {0: 14, 6: 14}  # Check and Version are cut with an ellipsis past these widths


@dataclass(frozen=True)
class Row:
    cells: Sequence[str]
    styles: Sequence[Style | None]


def fit(text: str, width: int, right: bool = False) -> str:
    """``text`` in exactly ``width`` cells: padded, or cut with an ellipsis."""
    if cell_len(text) > width:
        return set_cell_size(text, width - 1) + "…" if width > 1 else set_cell_size(text, width)
    return set_cell_size(text, width) if not right else " " * (width - cell_len(text)) + text


def fold(text: str, width: int) -> list[str]:
    """``text`` wrapped at spaces into lines of ``width`` cells (a longer word is cut); at least one line."""
    if width <= 0:
        return [""]
    lines: list[str] = []
    line = ""
    for word in text.split(" "):
        candidate = f"{line} {word}" if line else word
        if cell_len(candidate) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        while cell_len(word) > width:
            head = set_cell_size(word, width)
            lines.append(head)
            word = word[len(head) :]
        line = word
    return lines + [line]


def stacked_widths(widths: list[int], total: int, narrowest: int = 5) -> list[int] | None:
    """The columns but Expectations in ``total`` cells, Check and Version cut (widest first) down to
    ``narrowest``; None when even that does not fit."""
    stacked = list(widths)
    stacked[FOLD] = 0
    over = sum(stacked) + len(HEADERS) - 1 - total  # one space right of each of the six columns
    while over > 0:
        column = 0 if stacked[0] >= stacked[6] else 6
        if stacked[column] <= narrowest:
            return None
        stacked[column] -= 1
        over -= 1
    return stacked


class HealthRows:
    """A header and one row per check; ``fixed`` gives the widths of the fixed-width columns."""

    def __init__(self, rows: Sequence[Row], header_style: Style | None, fixed: dict[int, int]) -> None:
        self.rows = rows
        self.header_style = header_style
        self.fixed = fixed
        # Textual renders a widget's visual twice for one frame (its height, then its lines): the
        # segments are kept per width (the table fallback costs ~3 ms a pass; bench_startup.py).
        self._rendered: dict[int, list[Segment]] = {}

    def widths(self, total: int) -> list[int]:
        widths = []
        for column, header in enumerate(HEADERS):
            if column in self.fixed:
                widths.append(self.fixed[column])
            elif column == FOLD:
                widths.append(0)
            else:
                measured = max([cell_len(header), *(cell_len(r.cells[column]) for r in self.rows)])
                widths.append(min(measured, MAX_WIDTH.get(column, measured)))
        widths[FOLD] = max(1, total - sum(widths) - len(HEADERS))  # every column pads one space on its right
        return widths

    def table(self) -> Table:
        """The same rows as a Rich table, which squeezes every column when the pane is too narrow."""
        table = Table(box=None, expand=True, padding=(0, 1, 0, 0), show_edge=False, header_style=self.header_style)
        for column, header in enumerate(HEADERS):
            table.add_column(
                header,
                no_wrap=column != FOLD,
                width=self.fixed.get(column),
                max_width=MAX_WIDTH.get(column),
                justify="right" if column in RIGHT else "left",
                overflow="fold" if column == FOLD else "ellipsis",
                ratio=1 if column == FOLD else None,
            )
        for row in self.rows:
            table.add_row(*(Text(cell, style or "") for cell, style in zip(row.cells, row.styles, strict=True)))
        return table

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        rendered = self._rendered.get(options.max_width)
        if rendered is None:
            rendered = self._rendered[options.max_width] = list(self._segments(console, options))
        yield from rendered

    def _segments(self, console: Console, options: ConsoleOptions) -> Iterator[Segment]:
        widths = self.widths(options.max_width)
        if widths[FOLD] < cell_len(HEADERS[FOLD]):
            stacked = stacked_widths(widths, options.max_width)
            if stacked is not None:
                yield from self._stacked(stacked, options.max_width)
            else:  # not even the other columns fit: the table squeezes them all
                yield from console.render(self.table(), options)
            return
        header = Row(HEADERS, [self.header_style] * len(HEADERS))
        blank = Style()  # what the table gave padding and empty cells (the same SVG, segment for segment)
        for row in (header, *self.rows):
            pad = self.header_style if row is header else blank
            folded = fold(row.cells[FOLD], widths[FOLD])
            for line_no, folded_line in enumerate(folded):
                for column, width in enumerate(widths):
                    if column == FOLD:
                        yield Segment(fit(folded_line, width), row.styles[column])
                    elif line_no == 0:
                        yield Segment(fit(row.cells[column], width, column in RIGHT), row.styles[column])
                    else:
                        yield Segment(" " * width, pad)
                    yield Segment(" ", pad)
                yield Segment.line()

    def _stacked(self, widths: list[int], total: int) -> Iterator[Segment]:
        """Too narrow for an Expectations column (the side column at 120 cells): each row's expectations
        go on the line under it, across the pane. The table squeezed that column to 1-3 cells and folded
        "waiting for first check" one character a line, down the whole screen."""
        columns = [c for c in range(len(HEADERS)) if c != FOLD]
        header = Row(HEADERS, [self.header_style] * len(HEADERS))
        blank = Style()
        for row in (header, *self.rows):
            pad = self.header_style if row is header else blank
            used = 0
            for column in columns:
                yield Segment(fit(row.cells[column], widths[column], column in RIGHT), row.styles[column])
                yield Segment(" ", pad)
                used += widths[column] + 1
            yield Segment(" " * (total - used), pad)
            yield Segment.line()
            if row is header or not row.cells[FOLD]:
                continue
            for line in fold(row.cells[FOLD], total - 2):
                yield Segment("  ", blank)
                yield Segment(fit(line, total - 2), row.styles[FOLD])
                yield Segment.line()
