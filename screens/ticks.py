"""Hand-ticked items in a table (verification's manual checks, follow-up): journaled with who and when.

One table shape for both screens: a status mark, the item, and who ticked it when.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.widgets import DataTable

from console.incident.journal import Journal
from console.incident.records import ChecklistMark
from console.incident.session import IncidentSession
from screens.checklist import STATUS_MARKS


def manual_states(journal: Journal, item_ids: set[str]) -> dict[str, ChecklistMark]:
    return {item_id: tick for item_id, tick in journal.state.ticks.items() if item_id in item_ids}


def add_tick_rows(table: DataTable, items, heading: str) -> None:
    table.add_column("", key="status", width=3)
    table.add_column(heading, key="title")
    table.add_column("By / when", key="by")
    for item in items:
        table.add_row("", item.title, "", key=item.id)


def who_and_when(record: ChecklistMark) -> str:
    return f"{record.by} {record.at:%H:%M:%S}"


def show_ticks(
    table: DataTable, items, states: dict[str, ChecklistMark], describe: Callable[[ChecklistMark], str] = who_and_when
) -> None:
    """Each item's mark, and ``describe(record)`` of its latest tick (blank while pending)."""
    for item in items:
        record = states.get(item.id)
        status = record.status if record else "pending"
        table.update_cell(item.id, "status", STATUS_MARKS.get(status, "?"))
        table.update_cell(item.id, "by", describe(record) if record and status != "pending" else "", update_width=False)


def toggle_selected(table: DataTable, items, session: IncidentSession, group: str, by: str) -> bool:
    """Toggle the tick of the item under the cursor (journaled with who and when by the incident's
    session); False when the table is empty."""
    if not table.row_count:
        return False
    row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
    item = {i.id: i for i in items}[str(row_key.value)]
    session.toggle_tick(item.id, group, item.title, by=by)
    return True
