"""Home's buttons carry only the part of Button's stylesheet they use: in every state they look as Button does."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult
from textual.widgets import Button

from widgets.home_button import HomeButton

PROPERTIES = (
    "background",
    "color",
    "border_top",
    "border_bottom",
    "border_left",
    "border_right",
    "text_style",
    "tint",
    "background_tint",
    "text_opacity",
    "width",
    "height",
    "min_width",
    "content_align_horizontal",
    "content_align_vertical",
    "text_align",
    "line_pad",
)


class Pair(App[None]):
    AUTO_FOCUS = None  # each state on both, focus last

    def __init__(self, variant: str) -> None:
        super().__init__()
        self.variant = variant

    def compose(self) -> ComposeResult:
        yield Button("Start incident (s)", variant=self.variant, id="button")
        yield HomeButton("Start incident (s)", variant=self.variant, id="home")


def looks(widget) -> dict:
    return {name: getattr(widget.styles, name) for name in PROPERTIES}


@pytest.mark.asyncio
@pytest.mark.parametrize("theme", ["textual-dark", "textual-light"])
@pytest.mark.parametrize("variant", ["default", "error"])
async def test_home_button_looks_as_button_does_in_every_state(variant, theme):
    app = Pair(variant)
    async with app.run_test(size=(60, 10)) as pilot:
        app.theme = theme
        button, home = app.query_one("#button", Button), app.query_one("#home", HomeButton)
        states = {
            "idle": lambda w: None,
            "hover": lambda w: setattr(w, "mouse_hover", True),
            "active": lambda w: w.add_class("-active"),
            "disabled": lambda w: setattr(w, "disabled", True),
        }
        seen = []
        for state, put in states.items():
            for widget in (button, home):
                widget.mouse_hover = False
                widget.remove_class("-active")
                widget.disabled = False
                put(widget)
                widget.update_node_styles()  # the app does so as the pointer moves
            await pilot.pause()
            assert looks(home) == looks(button), state
            seen.append(looks(button))
        assert all(a != b for i, a in enumerate(seen) for b in seen[i + 1 :])  # four states, four looks
        for widget in (button, home):
            widget.disabled = False
            widget.mouse_hover = False
            widget.focus()
            await pilot.pause()
        home.focus()
        await pilot.pause()
        focused_home = looks(home)
        button.focus()
        await pilot.pause()
        assert focused_home == looks(button), "focus"


@pytest.mark.asyncio
async def test_home_button_presses_as_button_does():
    pressed = []

    class Pressing(App[None]):
        def compose(self) -> ComposeResult:
            yield HomeButton("Start incident (s)", id="start", variant="error")

        def on_button_pressed(self, event: Button.Pressed) -> None:
            pressed.append(event.button.id)

    app = Pressing()
    async with app.run_test(size=(40, 6)) as pilot:
        await pilot.click("#start")
        await pilot.pause()
    assert pressed == ["start"]
