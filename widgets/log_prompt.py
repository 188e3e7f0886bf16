"""The log pane's filter and search prompt: a real ``Input`` on the pane's bottom row.

Shaped after Toolong's ``FindDialog``: a small widget around an ``Input`` that is
hidden until opened and says what happened with messages (``Submitted``,
``Dismissed``), so the pane above it decides what a value means. Being an
``Input``, it brings editing, paste and cursor keys, and it keeps the keys
typed into it from reaching the pane's own bindings.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Input, Label

PROMPT_LABELS = {"filter": "filter", "search": "search"}


class LogPrompt(Widget, can_focus_children=True):
    """Asks for a filter or search term; ``re:`` makes it a regex."""

    BINDINGS = [
        Binding("escape", "dismiss", "Close", id="log-prompt.dismiss"),
    ]

    DEFAULT_CSS = """
    LogPrompt {
        dock: bottom;
        height: 1;
        layout: horizontal;
        display: none;
        background: $boost;
        &.-open { display: block; }
        & > Label { width: auto; color: $text-muted; }
        & > Input { width: 1fr; background: $boost; }
    }
    """

    class Submitted(Message):
        """Enter was pressed: ``value`` is meant as the new filter or search term."""

        def __init__(self, log_prompt: LogPrompt, kind: str, value: str) -> None:
            super().__init__()
            self.log_prompt = log_prompt
            self.kind = kind
            self.value = value

        @property
        def control(self) -> LogPrompt:
            return self.log_prompt

    class Dismissed(Message):
        """Escape was pressed: nothing changes."""

        def __init__(self, log_prompt: LogPrompt) -> None:
            super().__init__()
            self.log_prompt = log_prompt

        @property
        def control(self) -> LogPrompt:
            return self.log_prompt

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.kind = "filter"

    def compose(self) -> ComposeResult:
        yield Label(id="log-prompt-label")
        yield Input(compact=True, select_on_focus=False, id="log-prompt-input")

    @property
    def is_open(self) -> bool:
        return self.has_class("-open")

    @property
    def input(self) -> Input:
        return self.query_one(Input)

    def open(self, kind: str, value: str) -> None:
        """Show the prompt holding ``value`` (the term now in force) with the cursor after it."""
        self.kind = kind
        self.query_one(Label).update(f" {PROMPT_LABELS.get(kind, kind)} (re: regex, ^U clear) › ")
        field = self.input
        field.value = value
        field.cursor_position = len(value)
        self.add_class("-open")
        field.focus()

    def close(self) -> None:
        self.remove_class("-open")

    def allow_focus_children(self) -> bool:
        return self.is_open

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.post_message(self.Submitted(self, self.kind, event.value))

    def action_dismiss(self) -> None:
        self.post_message(self.Dismissed(self))
