"""Host output as plain text: nothing a remote command prints may drive the operator's terminal.

Whatever ``compose logs``, a smoke test or ``migrate:status`` prints is data. Before
it reaches a terminal (the CLI) or a widget (the TUI), every control sequence goes
(CSI, OSC, DCS, SOS, PM, APC, in their 7-bit ``ESC x`` and 8-bit C1 forms, so
U+009B as well as ``ESC [``), and so does every other C0/C1 control character
except tab: a carriage return or a cursor move could otherwise overwrite a line
with a fake "ok", an OSC 52 could write the operator's clipboard, a clear-screen
could hide what ran. Printable Unicode is kept as it came.
"""

from __future__ import annotations

import re

_ST = r"(?:\x1b\\|\x9c|\x07)"  # string terminator (BEL ends OSC in xterm's dialect)
_SEQUENCE = re.compile(
    # CSI: ESC [ or U+009B, parameters, intermediates, one final byte (or the end of the text)
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    # OSC, DCS, SOS, PM, APC: a string up to its terminator; unterminated, the rest of the line
    # (a line's end stops it too, so one bad line cannot swallow the next)
    r"|(?:\x1b[\]PX^_]|[\x9d\x90\x98\x9e\x9f])[^\x1b\x9c\x07\n]*" + _ST + "?"
    # any other escape: intermediates and one final byte (ESC c resets the terminal)
    r"|\x1b[ -/]*[0-~]?"
    # the remaining C0 and C1 controls and DEL; tab stays
    r"|[\x00-\x08\x0a-\x1f\x7f-\x9f]"
)
_SEQUENCE_KEEP_NEWLINES = re.compile(_SEQUENCE.pattern.replace(r"\x0a-\x1f", r"\x0b-\x1f"))
# Any character the sanitiser would touch: a fast "is this line already plain?"
_UNSAFE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")
_C1 = re.compile(r"[\x80-\x9f]")


def is_plain(text: str) -> bool:
    """True when ``text`` holds no control character (tab allowed): nothing to strip."""
    return _UNSAFE.search(text) is None


def has_c1_controls(text: str) -> bool:
    """True when ``text`` holds an 8-bit control (U+0080..U+009F), e.g. U+009B, the 8-bit CSI."""
    return _C1.search(text) is not None


def plain_line(text: str) -> str:
    """``text`` as one line of plain text: control sequences and controls (newlines too) removed."""
    if _UNSAFE.search(text) is None:
        return text
    return _SEQUENCE.sub("", text)


def plain_text(text: str) -> str:
    """Like :func:`plain_line` but newlines are kept (a multi-line message)."""
    return _SEQUENCE_KEEP_NEWLINES.sub("", text)


def plain_lines(lines: list[str]) -> list[str]:
    return [plain_line(line) for line in lines]
