"""The action matrix table: "Favours" always whole, long conditions wrapped, marks kept on resize."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.containers import Vertical

from console.decide.runbook import MatrixRow
from widgets.matrix_table import MARK, MatrixTable

ROWS = [
    MatrixRow("artifact", "Issue caused by deployment artifact (image/config)", "rollback"),
    MatrixRow("code", "Issue requires code change", "hotfix"),
]


class MatrixApp(App):
    CSS = "Vertical { width: 45; height: auto; }"

    def compose(self) -> ComposeResult:
        with Vertical():
            yield MatrixTable(ROWS)


def lines(table: MatrixTable) -> list[str]:
    return ["".join(segment.text for segment in table.render_line(y)).rstrip() for y in range(table.size.height)]


async def test_favours_stays_whole_and_a_long_condition_wraps_in_a_narrow_column():
    app = MatrixApp()
    async with app.run_test(size=(80, 12)) as pilot:
        await pilot.pause()
        shown = lines(app.query_one(MatrixTable))
        assert shown[0].split() == ["Condition", "Favours"]
        assert shown[1].endswith("rollback") and "Issue caused by deployment" in shown[1]
        assert "(image/config)" in shown[2]  # the rest of the condition, on the row's second line
        assert shown[3].endswith("hotfix")


async def test_marks_and_the_cursor_survive_a_resize():
    app = MatrixApp()
    async with app.run_test(size=(80, 12)) as pilot:
        table = app.query_one(MatrixTable)
        table.focus()
        await pilot.press("down", "space")
        app.query_one(Vertical).styles.width = 70
        await pilot.pause()
        await pilot.pause()
        assert table.marked == {"code"}
        assert table.cursor_row == 1
        shown = lines(table)
        assert shown[1].endswith("rollback") and "(image/config)" in shown[1]  # one line now
        assert shown[2].lstrip().startswith(MARK)
