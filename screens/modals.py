"""Modal questions: confirm, give a reason, pick one of a few choices.

Each returns its answer through ``dismiss`` so callers use ``push_screen(...,
callback)`` or ``await push_screen_wait(...)`` from a worker.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.widgets.option_list import Option


class ConfirmDialog(ModalScreen[bool]):
    """Yes / no; ``escape`` and ``n`` say no. ``detail`` explains what yes will do."""

    # Every question asked so far stops or quits something: a stray Enter must say no.
    AUTO_FOCUS = "#no"
    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no"),
    ]

    def __init__(
        self, question: str, *, detail: str = "", yes_label: str = "Yes", no_label: str = "No", danger: bool = False
    ) -> None:
        super().__init__(classes="dialog-screen")
        self.question = question
        self.detail = detail
        self.yes_label = yes_label
        self.no_label = no_label
        self.danger = danger

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.question, classes="dialog--question", markup=False)
            if self.detail:
                yield Static(self.detail, classes="dialog--detail", markup=False)
            with Horizontal(classes="dialog--buttons"):
                yield Button(f"{self.yes_label} [y]", id="yes", variant="error" if self.danger else "primary")
                yield Button(f"{self.no_label} [n]", id="no")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)

    @on(Button.Pressed, "#yes")
    def _yes(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#no")
    def _no(self) -> None:
        self.dismiss(False)


class ReasonDialog(ModalScreen[str | None]):
    """A written reason; empty is refused. ``escape`` cancels (None)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="reason.cancel")]

    def __init__(self, prompt: str, *, placeholder: str = "why (required)") -> None:
        super().__init__(classes="dialog-screen")
        self.prompt = prompt
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.prompt, classes="dialog--question")
            yield Input(placeholder=self.placeholder, id="reason")
            yield Label("", id="reason-error", classes="dialog--error")
            with Horizontal(classes="dialog--buttons"):
                yield Button("Record (enter)", id="ok", variant="primary")
                yield Button("Cancel (esc)", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#reason", Input).focus()

    @on(Input.Submitted, "#reason")
    @on(Button.Pressed, "#ok")
    def _submit(self) -> None:
        reason = self.query_one("#reason", Input).value.strip()
        if not reason:
            self.query_one("#reason-error", Label).update("A reason is required.")
            return
        self.dismiss(reason)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class ChoiceDialog(ModalScreen[str | None]):
    """Pick one of ``choices`` ((id, label) pairs); ``escape`` cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="choice.cancel")]

    def __init__(self, prompt: str, choices: list[tuple[str, str]]) -> None:
        super().__init__(classes="dialog-screen")
        self.prompt = prompt
        self.choices = choices

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.prompt, classes="dialog--question")
            yield OptionList(*[Option(label, id=choice_id) for choice_id, label in self.choices], id="choices")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
