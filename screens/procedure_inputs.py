"""What a hotfix procedure needs before it can be built: HOTFIX_TAG, or the configuration change.

A configuration value is typed into a masked input (or taken from the environment the
console was started with) and kept as a Secret: it never reaches the screen, the journal
or a repr.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, ContentSwitcher, Input, Label, Select, Static

from console.secrets import Secret
from console.validate import UnsafeValue, is_valid_tag, require_env_key, require_incident_id


class HotfixTagDialog(ModalScreen[str | None]):
    """Asks for HOTFIX_TAG (validated as a release tag)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="hotfix_tag.cancel")]

    def __init__(self, candidates: list[str] | None = None) -> None:
        super().__init__(classes="dialog-screen")
        self.candidates = list(candidates or [])  # captured after the deployed release, newest first

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static("HOTFIX_TAG: the captured hotfix release to deploy", classes="dialog--question")
            if self.candidates:
                yield Static(
                    "Captured since the deployed release: " + ", ".join(self.candidates[:6]), id="tag-candidates"
                )
            else:
                yield Static(
                    "Nothing captured since the deployed release: build and capture the fix first "
                    "(home screen: c, or `incident-console capture --build --tag TAG`).",
                    id="tag-candidates",
                )
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
    """What the configuration hotfix dialog decided: one of set keys, feature flag, undo."""

    service: str
    keys: list[str] = field(default_factory=list)
    # values typed in the dialog (masked); a key without one takes its value from the environment
    values: dict[str, Secret] = field(default_factory=dict)
    flag_command: list[str] | None = None
    undo_incident: str | None = None


MODES = [
    ("Set keys in the env file", "set"),
    ("Run a feature-flag command", "flag"),
    ("Undo an earlier hotfix (restore its kept env file)", "undo"),
]


class ConfigHotfixDialog(ModalScreen[ConfigChange | None]):
    """The CLI's ``config-hotfix`` on screen: set keys (each value typed masked, or taken from the
    environment), run a feature-flag command in the service, or undo an earlier hotfix."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="config_hotfix.cancel"),
        Binding("ctrl+b", "build", "Build procedure", id="config_hotfix.build"),
    ]
    DEFAULT_CSS = """
    ConfigHotfixDialog {
        & .config-hotfix--row { height: auto; }
        & .config-hotfix--row Input { width: 1fr; }
        & ContentSwitcher { height: auto; }
        & ContentSwitcher > Vertical { height: auto; }
    }
    """

    def __init__(self, services: list[str], environ: dict[str, str] | None = None) -> None:
        super().__init__(classes="dialog-screen")
        self.services = services
        self.environ = os.environ if environ is None else environ
        self.keys: list[str] = []
        self.values: dict[str, Secret] = {}

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static("Configuration hotfix: which service, and what change?", classes="dialog--question")
            yield Select([(s, s) for s in self.services], value=self.services[0], allow_blank=False, id="service")
            yield Select(MODES, value="set", allow_blank=False, id="mode")
            with ContentSwitcher(initial="set-pane", id="panes"):
                with Vertical(id="set-pane"):
                    with Horizontal(classes="config-hotfix--row"):
                        yield Input(placeholder="KEY", id="key")
                        yield Input(
                            placeholder="new value (masked; empty: from the environment)", password=True, id="value"
                        )
                    yield Static("", id="keys-added")
                with Vertical(id="flag-pane"):
                    yield Input(
                        placeholder="command run in the service, e.g. npm run flag:set -- checkout off", id="flag"
                    )
                with Vertical(id="undo-pane"):
                    yield Input(placeholder="incident id whose kept env file is put back", id="undo")
            yield Label("", id="keys-error", classes="dialog--error")
            with Horizontal(classes="buttons"):
                yield Button("Build procedure (ctrl+b)", id="ok", variant="primary")
                yield Button("Cancel (esc)", id="cancel")

    def on_mount(self) -> None:
        self._show_keys()
        self.query_one("#key", Input).focus()

    @property
    def mode(self) -> str:
        return str(self.query_one("#mode", Select).value)

    @on(Select.Changed, "#mode")
    def _mode_changed(self) -> None:
        self.query_one("#panes", ContentSwitcher).current = f"{self.mode}-pane"
        self._error("")
        self.query_one({"set": "#key", "flag": "#flag", "undo": "#undo"}[self.mode], Input).focus()

    @on(Input.Submitted, "#key")
    def _key_entered(self) -> None:
        if not self.query_one("#key", Input).value.strip() and self.keys:
            self.action_build()  # enter on an empty key: done adding
        else:
            self.query_one("#value", Input).focus()

    @on(Input.Submitted, "#value")
    def _add_key(self) -> None:
        key_input, value_input = self.query_one("#key", Input), self.query_one("#value", Input)
        key = key_input.value.strip()
        try:
            require_env_key(key)
        except UnsafeValue as exc:
            self._error(str(exc))
            key_input.focus()
            return
        if value_input.value:
            self.values[key] = Secret(value_input.value, source="typed")
        elif key not in self.environ:
            self._error(f"{key}: type its new value, or export {key} before starting the console")
            value_input.focus()
            return
        else:
            self.values.pop(key, None)
        if key not in self.keys:
            self.keys.append(key)
        key_input.value = value_input.value = ""
        self._error("")
        self._show_keys()
        key_input.focus()

    @on(Input.Submitted, "#flag")
    @on(Input.Submitted, "#undo")
    @on(Button.Pressed, "#ok")
    def action_build(self) -> None:
        service = str(self.query_one("#service", Select).value)
        if self.mode == "flag":
            try:
                command = shlex.split(self.query_one("#flag", Input).value)
            except ValueError as exc:
                self._error(f"cannot read the command: {exc}")
                return
            if not command:
                self._error("Give the feature-flag command to run in the service.")
                return
            self.dismiss(ConfigChange(service, flag_command=command))
        elif self.mode == "undo":
            incident = self.query_one("#undo", Input).value.strip()
            try:
                require_incident_id(incident)
            except UnsafeValue as exc:
                self._error(str(exc))
                return
            self.dismiss(ConfigChange(service, undo_incident=incident))
        else:
            if self.query_one("#key", Input).value.strip():
                self._add_key()
                if self.query_one("#key", Input).value.strip():
                    return  # the pending key was refused; the error says why
            if not self.keys:
                self._error("Name at least one key (KEY, its value, enter).")
                return
            self.dismiss(ConfigChange(service, keys=list(self.keys), values=dict(self.values)))

    def _show_keys(self) -> None:
        shown = ", ".join(f"{k} ({'typed, masked' if k in self.values else 'from the environment'})" for k in self.keys)
        self.query_one("#keys-added", Static).update(
            f"Keys: {shown}. Enter on an empty KEY builds."
            if shown
            else "Type KEY, enter, its new value (masked), enter; repeat; then ctrl+b."
        )

    def _error(self, text: str) -> None:
        self.query_one("#keys-error", Label).update(text)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
