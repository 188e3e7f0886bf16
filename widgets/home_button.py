"""The home screen's two buttons: Textual's Button with only the stylesheet they use.

Button's own stylesheet (7 KB: five variants, flat and ANSI styles) was parsed and matched on the
home screen's first frame, ~4 ms of the console's start-up (bench/bench_startup.py). The rules below
are Button's (Textual 8.2) for what home draws: the default style, its focus, hover, active and
disabled states, and the error variant. They give the same cells; should Button's own rules load
later (another screen's buttons), they say the same for these states.
"""

from __future__ import annotations

from textual.widgets import Button


class HomeButton(Button, inherit_css=False):
    """A Button (same messages, keys and look) for the default style and the default/error variants."""

    DEFAULT_CSS = """
    HomeButton {
        width: auto;
        min-width: 16;
        height: auto;
        line-pad: 1;
        text-align: center;
        content-align: center middle;
        pointer: pointer;
        &.-style-default {
            text-style: bold;
            color: $button-foreground;
            background: $surface;
            border: none;
            border-top: tall $surface-lighten-1;
            border-bottom: tall $surface-darken-1;
            &:disabled {
                text-opacity: 0.6;
                pointer: not-allowed;
            }
            &:focus {
                text-style: $button-focus-text-style;
                background-tint: $foreground 5%;
            }
            &:hover {
                border-top: tall $surface;
                background: $surface-darken-1;
            }
            &.-active {
                background: $surface;
                border-bottom: tall $surface-lighten-1;
                border-top: tall $surface-darken-1;
                tint: $background 30%;
            }
            &.-error {
                color: $button-color-foreground;
                background: $error;
                border-top: tall $error-lighten-2;
                border-bottom: tall $error-darken-3;
                &:hover {
                    background: $error-darken-1;
                    border-top: tall $error;
                }
                &.-active {
                    background: $error;
                    border-bottom: tall $error-lighten-2;
                    border-top: tall $error-darken-2;
                }
            }
        }
    }
    """
