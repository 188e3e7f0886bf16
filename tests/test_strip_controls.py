"""Host output on its way to a widget: no escape sequence or control character gets through."""

from __future__ import annotations

from console.live.logstream import prepare_lines, strip_controls

C0_C1 = "".join(chr(c) for c in [*range(0x00, 0x20), *range(0x7F, 0xA0)])


def test_every_c0_and_c1_control_but_tab_and_newline_is_dropped():
    for char in C0_C1:
        expected = {"\t": "a    ", "\n": "a\n"}.get(char, "a")  # tabs become four spaces
        assert strip_controls(f"a{char}") == expected, hex(ord(char))


def test_eight_bit_csi_and_osc_sequences_are_dropped_whole():
    assert strip_controls("\x9b31mred\x9b0m plain") == "red plain"
    assert strip_controls("\x9b2J\x9b1;1H") == ""
    assert strip_controls("\x9d0;title\x9cafter") == "after"
    assert strip_controls("\x9d8;;http://x\x07link") == "link"
    assert strip_controls("lone \x9b") == "lone "


def test_seven_bit_sequences_are_still_dropped():
    # ESC c (RIS, a full terminal reset) is a two-character sequence: dropped whole
    assert strip_controls("\x1b[31mred\x1b[0m \x1b]0;t\x07x \x1bc") == "red x "


def test_a_batch_with_only_a_c1_control_takes_the_slow_path():
    assert prepare_lines(["fine", "a\x9b31mb", "c\x85d"]) == ["fine", "ab", "cd"]


def test_printable_latin1_is_kept_and_a_clean_batch_comes_back_as_is():
    batch = ["© 2026 · 21°C", "« naïve » µs ±1"]
    assert prepare_lines(batch) is batch
