"""Hostile host output becomes plain text before any terminal or widget sees it."""

from __future__ import annotations

import io

import pytest

from console.cli.output import EventPrinter
from console.engine.events import StepFailed, StepOutput
from console.failures import FailureReason
from console.live.logstream import prepare_lines
from console.safetext import plain_line, plain_text

# What a hostile (or just colourful) host prints, as the issue reproduced it.
CLEAR_SCREEN = "\x1b[2J\x1b[3J\x1b[Hmigrated"
FAKE_OK = "ERROR: migration 0042 failed\r\x1b[2K\x1b[1A\x1b[32mok\x1b[0m"
OSC52_CLIPBOARD = "\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\x07done"
OSC52_ST = "\x1b]52;c;Y3VybA==\x1b\\done"
EIGHT_BIT_CSI = "\x9b2J\x9b31mred\x9b0m"
EIGHT_BIT_OSC = "\x9d52;c;Y3VybA==\x9cdone"
DCS = "\x1bPq#0;2;0;0;0#0~~\x1b\\after"
APC_PM_SOS = "\x1b_apc\x1b\\a\x1b^pm\x1b\\b\x1bXsos\x1b\\c\x9fapc8\x9cd"
RESET = "before\x1bcafter"
HOSTILE = [CLEAR_SCREEN, FAKE_OK, OSC52_CLIPBOARD, OSC52_ST, EIGHT_BIT_CSI, EIGHT_BIT_OSC, DCS, APC_PM_SOS, RESET]


def _has_control(text: str) -> bool:
    return any((ord(c) < 0x20 and c != "\t") or 0x7F <= ord(c) <= 0x9F for c in text)


@pytest.mark.parametrize("text", HOSTILE)
def test_no_control_character_survives(text):
    assert not _has_control(plain_line(text))
    assert not _has_control(plain_text(text).replace("\n", ""))


def test_what_is_left_is_the_text():
    assert plain_line(CLEAR_SCREEN) == "migrated"
    # The fake "ok" cannot overwrite the error: both stay on the line, in order.
    assert plain_line(FAKE_OK) == "ERROR: migration 0042 failedok"
    assert plain_line(OSC52_CLIPBOARD) == "done" and plain_line(OSC52_ST) == "done"
    assert plain_line(EIGHT_BIT_CSI) == "red"
    assert plain_line(EIGHT_BIT_OSC) == "done"
    assert plain_line(DCS) == "after"
    assert plain_line(APC_PM_SOS) == "abcd"
    assert plain_line(RESET) == "beforeafter"


def test_printable_unicode_and_tabs_are_kept():
    text = "naïve\tcafé 日本語 😀 — «ok» ©°"
    assert plain_line(text) == text and plain_text(text) == text


def test_an_unterminated_string_sequence_stops_at_the_line_end():
    assert plain_text("\x1b]0;title\nnext line\x1b[0m") == "\nnext line"


def test_the_cli_prints_step_output_as_plain_text():
    out = io.StringIO()
    printer = EventPrinter(as_json=False, stream=out)
    printer(StepOutput("migrate", "stdout", HOSTILE))
    printer(StepOutput("migrate", "stderr", [FAKE_OK]))
    printer(StepFailed("migrate", FailureReason.NON_ZERO_EXIT, "boom \x1b]52;c;eA==\x07", 1, 0.1))
    shown = out.getvalue()
    assert not _has_control(shown.replace("\n", ""))
    assert "   | migrated\n" in shown and "   ! ERROR: migration 0042 failedok\n" in shown


def test_the_log_pane_filter_strips_8_bit_controls():
    # U+009B passed the byte-level fast path (it is two bytes, 0xC2 0x9B, in UTF-8).
    assert prepare_lines(["\x9b2Jcleared", "café"]) == ["cleared", "café"]
    assert prepare_lines([EIGHT_BIT_OSC, "ok"]) == ["done", "ok"]
