"""What a hotfix procedure needs before it can be built: HOTFIX_TAG, or the service and keys.

Values of configuration keys are never typed here: they come from the
environment the console was started with, so they never reach the screen.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from console.validate import is_valid_tag


class HotfixTagDialog(ModalScreen[str | None]):
    """Asks for HOTFIX_TAG (validated as a release tag)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="hotfix_tag.cancel")]

    def __init__(self, candidates: list[str] | None = None) -> None:
        super().__init__(classes="dialog-screen")
        self.candidates = list(candidates or [])   # captured after the deployed release, newest first

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static("HOTFIX_TAG: the captured hotfix release to deploy", classes="dialog--question")
            if self.candidates:
                yield Static("Captured since the deployed release: " + ", ".join(self.candidates[:6]),
                             id="tag-candidates")
            else:
                yield Static("Nothing captured since the deployed release: build and capture the fix first "
                             "(home screen: c, or `incident-console capture --build --tag TAG`).",
                             id="tag-candidates")
            yield Input(self.candidates[0] if self.candidates else "", placeholder="e.g. v2.0.1-hotfix1", id="tag")
            yield Label("", id="tag-error", classes="dialog--error")
            with Horizontal(classes="buttons"):
                yield Button("Build procedure (enter)", id="ok", variant="primary")
                yield Button("Cancel (esc)", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#tag", Input).focus()

    @on(Input.Submitted, "#tag")
    @on(Button.Pressed, "#ok")
    def _submit(self) -> None:
        tag = self.query_one("#tag", Input).value.strip()
        if not is_valid_tag(tag):
            self.query_one("#tag-error", Label).update("Not a valid release tag (letters, digits, . _ -).")
            return
        self.dismiss(tag)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


@dataclass(frozen=True)
class ConfigChange:
    service: str
    keys: list[str]


class ConfigHotfixDialog(ModalScreen[ConfigChange | None]):
    """Asks which service's env file changes and which keys (values from the environment)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="config_hotfix.cancel")]

    def __init__(self, services: list[str]) -> None:
        super().__init__(classes="dialog-screen")
        self.services = services

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static("Configuration hotfix: which service, which keys?", classes="dialog--question")
            yield Select([(s, s) for s in self.services], value=self.services[0], allow_blank=False, id="service")
            yield Input(placeholder="KEY1 KEY2 (values are read from the environment)", id="keys")
            yield Label("", id="keys-error", classes="dialog--error")
            with Horizontal(classes="buttons"):
                yield Button("Build procedure (enter)", id="ok", variant="primary")
                yield Button("Cancel (esc)", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#keys", Input).focus()

    @on(Input.Submitted, "#keys")
    @on(Button.Pressed, "#ok")
    def _submit(self) -> None:
        keys = self.query_one("#keys", Input).value.replace(",", " ").split()
        if not keys:
            self.query_one("#keys-error", Label).update("Name at least one key.")
            return
        self.dismiss(ConfigChange(str(self.query_one("#service", Select).value), keys))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
