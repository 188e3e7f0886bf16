"""Pilot tests of the TUI's configuration hotfix dialog: masked values, feature flag, undo."""

from __future__ import annotations

import pytest
from textual.app import App
from textual.widgets import Input, Label, Select

from console.config import load_config
from console.engine.hotfix import build_config_hotfix
from console.secrets import Secret
from screens.procedure_inputs import ConfigChange, ConfigHotfixDialog
from test_config import EXAMPLE

SECRET = "s3cret-typed-value"


class DialogHost(App):
    def __init__(self, environ: dict[str, str] | None = None) -> None:
        super().__init__()
        self.environ = environ or {}
        self.result: object = "open"

    def on_mount(self) -> None:
        self.push_screen(ConfigHotfixDialog(["mr-dj-backend", "mr-dj-frontend"], environ=self.environ), self.closed)

    def closed(self, change) -> None:
        self.result = change


async def type_text(pilot, text: str) -> None:
    for char in text:
        await pilot.press({" ": "space", "-": "minus", "_": "underscore", ".": "full_stop"}.get(char, char))


@pytest.mark.asyncio
async def test_values_are_typed_masked_and_kept_as_secrets():
    app = DialogHost(environ={"FROM_ENV": "exported-before"})
    async with app.run_test(size=(100, 30)) as pilot:
        dialog = app.screen
        assert dialog.query_one("#value", Input).password
        await type_text(pilot, "FEATURE_X")
        await pilot.press("enter")
        assert dialog.focused is dialog.query_one("#value", Input)
        await type_text(pilot, SECRET)
        assert SECRET not in app.export_screenshot()  # masked on screen
        await pilot.press("enter")
        await type_text(pilot, "FROM_ENV")
        await pilot.press("enter", "enter")  # no value typed: the environment's
        assert SECRET not in app.export_screenshot()
        await pilot.press("enter")  # an empty KEY: build
        await pilot.pause()
    change = app.result
    assert isinstance(change, ConfigChange)
    assert (change.service, change.keys) == ("mr-dj-backend", ["FEATURE_X", "FROM_ENV"])
    assert change.values == {"FEATURE_X": Secret(SECRET)} and SECRET not in repr(change)
    # The typed value is what the procedure writes (on stdin), the other comes from the environment.
    procedure = build_config_hotfix(
        load_config(EXAMPLE),
        service=change.service,
        env_file=None,
        keys=change.keys,
        flag_command=None,
        undo_incident=None,
        incident_id="20261129-120000-abcd",
        environ={"FROM_ENV": "exported-before"},
        values=change.values,
    )
    step = next(s for s in procedure.steps if s.id == "set_env_keys")
    assert step.stdin.reveal() == f"FEATURE_X={SECRET}\nFROM_ENV=exported-before\n".encode()
    assert SECRET not in repr(procedure)


@pytest.mark.asyncio
async def test_a_key_without_a_value_or_an_export_is_refused():
    app = DialogHost()
    async with app.run_test(size=(100, 30)) as pilot:
        await type_text(pilot, "MISSING")
        await pilot.press("enter", "enter")
        error = str(app.screen.query_one("#keys-error", Label).render())
        assert "MISSING" in error and "export" in error
        await pilot.press("ctrl+b")
        assert app.result == "open"
        await type_text(pilot, "bad")  # the value field still has focus
        await pilot.press("enter")
        await pilot.press("ctrl+b")
        await pilot.pause()
    assert app.result.keys == ["MISSING"] and app.result.values["MISSING"].reveal() == "bad"


@pytest.mark.asyncio
async def test_a_feature_flag_command():
    app = DialogHost()
    async with app.run_test(size=(100, 30)) as pilot:
        app.screen.query_one("#mode", Select).value = "flag"
        await pilot.pause()
        assert app.screen.focused is app.screen.query_one("#flag", Input)
        await pilot.press("enter")
        assert "feature-flag command" in str(app.screen.query_one("#keys-error", Label).render())
        await type_text(pilot, "npm run flag:set -- checkout off")
        await pilot.press("enter")
        await pilot.pause()
    assert app.result.flag_command == ["npm", "run", "flag:set", "--", "checkout", "off"]
    assert app.result.keys == [] and app.result.undo_incident is None


@pytest.mark.asyncio
async def test_undo_an_earlier_hotfix():
    app = DialogHost()
    async with app.run_test(size=(100, 30)) as pilot:
        app.screen.query_one("#mode", Select).value = "undo"
        await pilot.pause()
        await type_text(pilot, "../etc")
        await pilot.press("enter")
        assert "refusing incident id" in str(app.screen.query_one("#keys-error", Label).render())
        app.screen.query_one("#undo", Input).value = "20261129-120000-abcd"
        await pilot.press("enter")
        await pilot.pause()
    assert app.result.undo_incident == "20261129-120000-abcd" and app.result.flag_command is None
    procedure = build_config_hotfix(
        load_config(EXAMPLE),
        service="mr-dj-backend",
        env_file=None,
        keys=[],
        flag_command=None,
        undo_incident=app.result.undo_incident,
    )
    assert procedure.steps[0].id == "restore_env"
