"""Pick the release a rollback restores: the known-good releases, the automatic choice preselected."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, OptionList, Static
from textual.widgets.option_list import Option

from console.decide.rollback_targets import RollbackCandidate


def candidate_line(c: RollbackCandidate) -> str:
    mark = "✓" if c.hashes_ok else ("?" if c.hashes_ok is None else "✗")
    parts = [
        f"{c.tag:<12} captured {c.age}",
        f"hashes {mark} {c.hashes}",
        f"db snapshot {'verified' if c.db_verified else 'NOT verified'}",
    ]
    if c.bad:
        parts.append(f"BAD: {c.bad.get('reason', 'marked bad')} ({c.bad.get('by', '?')})")
    if c.automatic:
        parts.append("(automatic choice)")
    return "\n  ".join(parts)


class RollbackTargetDialog(ModalScreen[str | None]):
    """Dismisses with the chosen tag, or None when cancelled. Bad releases are shown, not choosable."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="rollback_target.cancel")]

    def __init__(
        self, candidates: list[RollbackCandidate], running: str | None, notes: list[str] | None = None
    ) -> None:
        super().__init__(classes="dialog-screen")
        self.candidates = list(candidates)
        self.running = running
        self.notes = list(notes or [])

    def compose(self) -> ComposeResult:
        runs = self.running or "a build no release captured"
        with Vertical(classes="dialog"):
            yield Static(f"Roll back to which release? The host runs {runs}.", classes="dialog--question")
            for note in self.notes:
                yield Static(f"! {note}", classes="dialog--error")
            if not any(c.selectable for c in self.candidates):
                yield Static(
                    "No known-good release older than what runs: capture one, or use "
                    "`incident-console rollback --to TAG`.",
                    classes="dialog--error",
                    id="no-target",
                )
            yield OptionList(
                *[Option(candidate_line(c), id=c.tag, disabled=not c.selectable) for c in self.candidates], id="targets"
            )
            with Horizontal(classes="buttons"):
                yield Button("Build rollback (enter)", id="ok", variant="primary")
                yield Button("Cancel (esc)", id="cancel")

    def on_mount(self) -> None:
        options = self.query_one("#targets", OptionList)
        automatic = next((i for i, c in enumerate(self.candidates) if c.automatic), None)
        first = next((i for i, c in enumerate(self.candidates) if c.selectable), None)
        options.highlighted = automatic if automatic is not None else first
        options.focus()

    @property
    def chosen(self) -> str | None:
        options = self.query_one("#targets", OptionList)
        if options.highlighted is None:
            return None
        candidate = self.candidates[options.highlighted]
        return candidate.tag if candidate.selectable else None

    @on(OptionList.OptionSelected, "#targets")
    @on(Button.Pressed, "#ok")
    def _submit(self) -> None:
        if self.chosen is not None:
            self.dismiss(self.chosen)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
