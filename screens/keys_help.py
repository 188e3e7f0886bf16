"""``?``: the keys of the screen underneath, in a modal (escape or ``?`` closes it)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static


class KeysHelp(ModalScreen[None]):
    """Lists ``(key, what it does)`` pairs gathered from the active bindings."""

    BINDINGS = [
        Binding("escape,question_mark,q", "close", "Close", id="keys.close"),
    ]
    DEFAULT_CSS = """
    KeysHelp { align: center middle; }
    KeysHelp > .keys-help { width: auto; max-width: 90%; height: auto; max-height: 90%;
                            border: round $accent; background: $panel; padding: 0 1; }
    KeysHelp .keys-help--title { text-style: bold; padding-bottom: 1; }
    KeysHelp DataTable { height: auto; max-height: 30; }
    """

    def __init__(self, title: str, keys: list[tuple[str, str]]) -> None:
        super().__init__()
        self.title_text = title
        self.keys = keys

    def compose(self) -> ComposeResult:
        with Vertical(classes="keys-help"):
            yield Static(self.title_text, classes="keys-help--title", markup=False)
            table: DataTable[str] = DataTable(id="keys-help-table", cursor_type="row", show_cursor=False)
            table.add_columns("Key", "Action")
            for key, description in self.keys:
                table.add_row(key, description)
            yield table

    def action_close(self) -> None:
        self.dismiss(None)


def active_keys(app, screen) -> list[tuple[str, str]]:
    """Every described binding active on ``screen`` (its widgets', its own and the app's), once."""
    seen: set[str] = set()
    keys = []
    for _node, binding, enabled, _tip in screen.active_bindings.values():
        if not binding.description or not enabled or binding.action in seen:
            continue
        seen.add(binding.action)
        keys.append((app.get_key_display(binding), binding.description))
    return keys
