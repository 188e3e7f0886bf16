"""Hand-ticked items in a table (verification's manual checks, follow-up): journaled with who and when.

One table shape for both screens: a status mark, the item, and who ticked it when.
"""

from __future__ import annotations

from typing import Callable

from textual.widgets import DataTable

from console.journal import Journal, parse_iso
from screens.checklist import STATUS_MARKS


def manual_states(journal: Journal, item_ids: set[str]) -> dict[str, dict]:
    states: dict[str, dict] = {}
    for record in journal.records():
        if record["type"] == "checklist" and record.get("item_id") in item_ids:
            states[record["item_id"]] = record
    return states


def toggle_manual_tick(journal: Journal, item, group: str, by: str) -> None:
    """Tick a hand-checked item, or untick it if it is ticked; journaled with who and when."""
    current = manual_states(journal, {item.id}).get(item.id)
    status = "pending" if current and current.get("status") == "done" else "done"
    journal.record("checklist", item_id=item.id, group=group, title=item.title, status=status,
                   how="manual", by=by, detail="", reason="")


def add_tick_rows(table: DataTable, items, heading: str) -> None:
    table.add_column("", key="status", width=3)
    table.add_column(heading, key="title")
    table.add_column("By / when", key="by")
    for item in items:
        table.add_row("", item.title, "", key=item.id)


def who_and_when(record: dict) -> str:
    return f"{record.get('by')} {parse_iso(record['ts']):%H:%M:%S}"


def show_ticks(table: DataTable, items, states: dict[str, dict],
               describe: Callable[[dict], str] = who_and_when) -> None:
    """Each item's mark, and ``describe(record)`` of its latest tick (blank while pending)."""
    for item in items:
        record = states.get(item.id)
        status = record.get("status", "pending") if record else "pending"
        table.update_cell(item.id, "status", STATUS_MARKS.get(status, "?"))
        table.update_cell(item.id, "by", describe(record) if record and status != "pending" else "",
                          update_width=False)


def toggle_selected(table: DataTable, items, journal: Journal, group: str, by: str) -> bool:
    """Toggle the tick of the item under the cursor; False when the table is empty."""
    if not table.row_count:
        return False
    row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
    toggle_manual_tick(journal, {i.id: i for i in items}[str(row_key.value)], group, by)
    return True
