"""The runbook's action matrix as a table whose conditions the coordinator marks.

Each row is a condition that favours rollback or hotfix; marking the ones that
hold tells whether the matrix agrees with the decision tree's outcome.
"""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable

from console.decide.runbook import MatrixRow

MARK = "✓"
MARK_WIDTH = 1
FAVOURS_WIDTH = 8
CONDITION_MIN_WIDTH = 16


class MatrixTable(DataTable):
    """Rows keyed by condition id; ``space`` toggles the mark on the cursor row."""

    BINDINGS = [Binding("space", "toggle_mark", "Mark condition", id="matrix.toggle_mark")]

    COMPONENT_CLASSES = DataTable.COMPONENT_CLASSES | {
        "matrix-table--rollback",
        "matrix-table--hotfix",
        "matrix-table--mark",
    }

    DEFAULT_CSS = """
    MatrixTable {
        height: auto;
        & > .matrix-table--rollback { color: $warning; }
        & > .matrix-table--hotfix { color: $accent; }
        & > .matrix-table--mark { color: $success; text-style: bold; }
    }
    """

    class Marked(Message):
        """A condition was marked or unmarked."""

        def __init__(self, matrix_table: MatrixTable, row: MatrixRow, marked: bool) -> None:
            super().__init__()
            self.matrix_table = matrix_table
            self.row = row
            self.marked = marked

        @property
        def control(self) -> MatrixTable:
            return self.matrix_table

    def __init__(
        self, rows: list[MatrixRow], *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes, cursor_type="row", zebra_stripes=False)
        self.rows_by_id = {row.id: row for row in rows}
        self.marked: set[str] = set()
        self._laid_out_for = 0

    def on_mount(self) -> None:
        self._lay_out(self._condition_width())

    def on_resize(self) -> None:
        width = self._condition_width()
        if width != self._laid_out_for:
            self._lay_out(width)

    def _condition_width(self) -> int:
        """What the conditions get of the table's width: the rest after the mark and "Favours"
        columns, so "Favours" is never cut off; a long condition wraps onto a second line."""
        padding = 2 * self.cell_padding * 3
        return max(CONDITION_MIN_WIDTH, self.scrollable_content_region.width - MARK_WIDTH - FAVOURS_WIDTH - padding)

    def _lay_out(self, condition_width: int) -> None:
        """(Re)build the rows for a condition column this wide, keeping the marks and the cursor."""
        self._laid_out_for = condition_width
        cursor = self.cursor_row
        self.clear(columns=True)
        self.add_column(" ", key="mark", width=MARK_WIDTH)
        self.add_column("Condition", key="condition", width=condition_width)
        self.add_column("Favours", key="favours", width=FAVOURS_WIDTH)
        for row in self.rows_by_id.values():
            self.add_row("", row.condition, self._favours(row), key=row.id, height=None)
        for row_id in self.marked:
            self.set_marked(row_id, True, announce=False)
        self.move_cursor(row=cursor, animate=False)

    def _favours(self, row: MatrixRow) -> Text:
        return Text(row.favours, self.get_component_rich_style(f"matrix-table--{row.favours}", partial=True))

    def set_marked(self, row_id: str, marked: bool, *, announce: bool = True) -> None:
        """Mark or unmark a row; ``announce=False`` restores a mark without posting :class:`Marked`."""
        row = self.rows_by_id[row_id]
        if marked:
            self.marked.add(row_id)
        else:
            self.marked.discard(row_id)
        mark = Text(MARK, self.get_component_rich_style("matrix-table--mark", partial=True)) if marked else ""
        self.update_cell(row_id, "mark", mark)
        if announce:
            self.post_message(self.Marked(self, row, marked))

    def action_toggle_mark(self) -> None:
        if not self.row_count:
            return
        row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        row_id = str(row_key.value)
        self.set_marked(row_id, row_id not in self.marked)
