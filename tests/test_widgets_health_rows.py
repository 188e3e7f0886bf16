"""The health pane's light row renderer lays rows out exactly as the Rich table it replaced."""

from __future__ import annotations

import pytest
from rich.console import Console
from rich.table import Table
from rich.text import Text

from widgets.health_pane import FIXED_WIDTHS, SPARK_WIDTH
from widgets.health_rows import FOLD, HealthRows, Row, fold, stacked_widths

ROWS = [
    ["backend", "FAIL", "200", "48ms", "▁▃█", "db.ok=false (expected true) FAIL", "v2≠v1"],
    ["frontend", "OK", "200", "12ms", "▁▁", "status ✓", "v1"],
    [
        "a-very-long-check-name",
        "DOWN",
        "",
        "",
        "",
        "cannot connect: Connection refused, and a reason long enough to wrap over several lines of the pane",
        "",
    ],
    ["x", "…", "", "", "", "waiting for first check", "v1-with-a-long-suffix"],
]


def rich_table(rows: list[list[str]]) -> Table:
    """The pane's former render(): what the new layout must match, character for character."""
    table = Table(box=None, expand=True, padding=(0, 1, 0, 0), show_edge=False)
    table.add_column("Check", no_wrap=True, max_width=14, overflow="ellipsis")
    table.add_column("Status", no_wrap=True, width=6)
    table.add_column("HTTP", no_wrap=True, width=4)
    table.add_column("Latency", no_wrap=True, justify="right", width=7)
    table.add_column("Trend", no_wrap=True, width=SPARK_WIDTH)
    table.add_column("Expectations", ratio=1, overflow="fold")
    table.add_column("Version", no_wrap=True, max_width=14, overflow="ellipsis")
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))
    return table


def lines(renderable, width: int) -> list[str]:
    console = Console(width=width, color_system=None)
    return [
        "".join(s.text for s in line)
        for line in console.render_lines(renderable, console.options.update(width=width), pad=True)
    ]


@pytest.mark.parametrize("width", [30, 40, 59, 60, 61, 80, 100, 123, 160])
@pytest.mark.parametrize("count", [1, 2, 4])
def test_rows_match_the_rich_table_where_expectations_have_room_or_nothing_fits(width, count):
    rows = ROWS[:count]
    fast = HealthRows([Row(r, [None] * 7) for r in rows], None, FIXED_WIDTHS)
    widths = fast.widths(width)
    if widths[FOLD] < len("Expectations") and stacked_widths(widths, width) is not None:
        pytest.skip("stacked: test_too_narrow_for_expectations_they_go_under_their_row")
    assert lines(fast, width) == lines(rich_table(rows), width)


def test_too_narrow_for_expectations_they_go_under_their_row():
    fast = HealthRows([Row(r, [None] * 7) for r in ROWS], None, FIXED_WIDTHS)
    assert [line.rstrip() for line in lines(fast, 49)] == [
        "Check    Status HTTP Latency Trend      Version",
        "backend  FAIL   200     48ms ▁▃█        v2≠v1",
        "  db.ok=false (expected true) FAIL",
        "frontend OK     200     12ms ▁▁         v1",
        "  status ✓",
        "a-very-… DOWN",
        "  cannot connect: Connection refused, and a",
        "  reason long enough to wrap over several lines",
        "  of the pane",
        "x        …                              v1-with…",
        "  waiting for first check",
    ]
    assert {len(line) for line in lines(fast, 49)} == {49}


def test_the_side_column_at_120_cells_is_three_lines_not_a_column_of_letters():
    """The home screen's side column at 120x40 (~49 cells): the table squeezed Expectations to one
    cell and folded "waiting for first check" a letter a line, 37 lines down the first frame."""
    row = Row(["backend", "…", "", "", "", "waiting for first check", ""], [None] * 7)
    pending = HealthRows([row], None, FIXED_WIDTHS)
    assert [line.rstrip() for line in lines(pending, 49)] == [
        "Check   Status HTTP Latency Trend      Version",
        "backend …",
        "  waiting for first check",
    ]


def test_fold_wraps_at_spaces_and_cuts_only_words_too_long():
    assert fold("cannot connect: Connection refused", 28) == ["cannot connect: Connection", "refused"]
    assert fold("abcdefghij klm", 4) == ["abcd", "efgh", "ij", "klm"]
    assert fold("", 5) == [""]


def test_styled_segments_match_the_rich_table_so_snapshots_do_not_move():
    from rich.segment import Segment
    from rich.style import Style

    header, fail, trend = Style(bold=True, color="grey50"), Style(bold=True, color="red"), Style(color="cyan")
    styles = [None, fail, None, None, trend, fail, fail]
    table = Table(box=None, expand=True, padding=(0, 1, 0, 0), show_edge=False, header_style=header)
    for column in rich_table([]).columns:
        table.add_column(
            column.header,
            no_wrap=column.no_wrap,
            width=column.width,
            max_width=column.max_width,
            justify=column.justify,
            overflow=column.overflow,
            ratio=column.ratio,
        )
    table.add_row(*(Text(cell, style or "") if style else cell for cell, style in zip(ROWS[0], styles, strict=True)))
    fast = HealthRows([Row(ROWS[0], styles)], header, FIXED_WIDTHS)
    console = Console(width=76, color_system="truecolor")

    def segments(renderable):
        return [
            [(s.text, str(s.style)) for s in Segment.simplify(line)]
            for line in console.render_lines(renderable, console.options.update(width=76), pad=True)
        ]

    assert segments(fast) == segments(table)


@pytest.mark.parametrize("width", [40, 100])
def test_a_frame_lays_the_rows_out_once_per_width(width, monkeypatch):
    """Textual renders a visual for its height, then for its lines: the second pass reuses the first."""
    import widgets.health_rows as health_rows

    fast = HealthRows([Row(r, [None] * 7) for r in ROWS], None, FIXED_WIDTHS)
    first = lines(fast, width)
    monkeypatch.setattr(health_rows, "fold", lambda *_a: pytest.fail("laid out again"))
    monkeypatch.setattr(HealthRows, "table", lambda _self: pytest.fail("laid out again"))
    assert lines(fast, width) == first == lines(rich_table(ROWS), width)
