"""Raw output kept unsplit: prepare_chunk, the transport's ChunkOutput, LogBuffer.extend_text."""

from __future__ import annotations

import asyncio
import sys

import pytest

from console.live.logfollow import FollowRestart, LogLines, follow_logs
from console.live.logstream import (
    MAX_LINE_CHARS,
    SPLIT_CACHE_SIZE,
    LogBuffer,
    LogFilter,
    LogParser,
    LogView,
    TextMatcher,
    prepare_chunk,
)
from console.transport.local import LocalTransport
from console.transport.streams import LineSplitter

TS = "2026-03-01T10:15:30.123456789Z"


def raw(n: int, start: int = 0, service: str = "mr-dj-backend-1", text: str = "line") -> bytes:
    return "".join(f"{service}  | {TS} {text} {i}\n" for i in range(start, start + n)).encode()


# -- prepare_chunk ---------------------------------------------------------------------------


def test_a_clean_chunk_is_decoded_whole_and_its_newlines_counted():
    text, count = prepare_chunk(raw(3))
    assert count == 3 and text == raw(3).decode()
    assert prepare_chunk(b"") == ("", 0)
    assert prepare_chunk(b"no newline at the end") == ("no newline at the end\n", 1)
    assert prepare_chunk(b"\n\n") == ("\n\n", 2)  # empty lines are lines
    # Unicode line separators are text, not newlines (str.splitlines would count them).
    assert prepare_chunk("a\u2028b\x85c\n".encode()) == ("a\u2028bc\n", 1)


def test_control_bytes_in_the_raw_bytes_are_stripped_and_lines_recounted():
    data = b"ok\n\x1b[2J\x1b]0;pwned\x07clear\n\x00nul\x7fdel\n\ttab\n"
    text, count = prepare_chunk(data)
    assert text == "ok\nclear\nnuldel\n    tab\n" and count == 4
    assert "\x1b" not in text and "\x07" not in text


def test_crlf_lines_lose_their_carriage_return():
    assert prepare_chunk(b"one\r\ntwo\r\n") == ("one\ntwo\n", 2)
    assert prepare_chunk(b"progress 10%\rprogress 90%\n") == ("progress 10%progress 90%\n", 1)


def test_8bit_csi_is_stripped_but_other_accented_text_kept():
    text, count = prepare_chunk("caf\u00e9 \u00a9\nevil \u009b2J here\n".encode())
    assert count == 2 and text == "caf\u00e9 \u00a9\nevil  here\n"


def test_invalid_utf8_becomes_replacement_characters():
    text, count = prepare_chunk(b"bad \xff\xfe here\ncut \xe2\x82\n")
    assert count == 2 and text == "bad \ufffd\ufffd here\ncut \ufffd\n"
    # A lone 0x9b byte (8-bit CSI in Latin-1) is invalid UTF-8: it can never reach a terminal as CSI.
    assert prepare_chunk(b"x\x9b2Jy\n") == ("x\ufffd2Jy\n", 1)


# -- the transport hands whole lines on unsplit ----------------------------------------------


class Collect:
    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.lines: list[str] = []

    def __call__(self, _stream: str, lines: list[str]) -> None:
        self.lines.extend(lines)

    def chunk(self, _stream: str, data: bytes) -> None:
        self.chunks.append(data)


def test_the_splitter_hands_a_chunk_output_whole_lines_joined_across_reads():
    out = Collect()
    splitter = LineSplitter("stdout", out, None)
    splitter.feed(b"one\ntw")
    splitter.feed(b"o\nthr")
    splitter.feed(b"ee")  # no newline: held
    splitter.feed(b"\nfour\n")
    splitter.feed("caf\u00e9\n".encode()[:4])  # a multi-byte character cut between reads
    splitter.feed("caf\u00e9\n".encode()[4:])
    splitter.feed(b"last")
    splitter.finish()
    assert out.chunks == [b"one\n", b"two\n", b"three\nfour\n", "caf\u00e9\n".encode()]
    assert out.lines == ["last"]  # the unterminated end comes as a line
    text, count = prepare_chunk(b"".join(out.chunks))
    assert count == 5 and text.split("\n")[:5] == ["one", "two", "three", "four", "caf\u00e9"]


def test_a_plain_callback_or_a_capture_still_gets_lines():
    seen: list[str] = []
    splitter = LineSplitter("stdout", lambda _s, lines: seen.extend(lines), None)
    splitter.feed(b"a\nb\n")
    assert seen == ["a", "b"]
    out = Collect()
    from console.transport.streams import BoundedCapture

    captured = LineSplitter("stdout", out, BoundedCapture())
    captured.feed(b"a\nb\n")
    assert out.lines == ["a", "b"] and not out.chunks


def test_an_over_long_line_is_cut_by_the_splitter_and_handed_on_as_lines():
    out = Collect()
    splitter = LineSplitter("stdout", out, None, max_line=10)
    splitter.feed(b"x" * 25)  # still open, over the limit: the rest is dropped
    splitter.feed(b"yy\nok\n")
    splitter.feed(b"next\n")
    assert out.lines[0].startswith("x" * 10) and "more bytes" in out.lines[0]
    assert out.lines[1:] == ["ok"] and out.chunks == [b"next\n"]


# -- the buffer keeps chunks unsplit ---------------------------------------------------------


def test_chunks_keep_sequence_numbers_and_split_only_when_looked_at():
    buffer = LogBuffer(max_lines=1000, parser=LogParser("mr-dj", ["mr-dj-backend"]))
    for start in range(0, 600, 200):
        text, count = prepare_chunk(raw(200, start))
        assert buffer.extend_text(text, count) == start
    assert buffer.end_seq == 600 and len(buffer) == 600
    assert not buffer._split  # nothing split yet
    assert buffer.raw(399) == f"mr-dj-backend-1  | {TS} line 399"
    assert buffer.get(450).text == "line 450" and buffer.get(450).service == "mr-dj-backend"
    assert len(buffer._split) <= 2 and all(isinstance(lines, tuple) for lines in buffer._split.values())
    assert [line.text for _, line in buffer.since(598)] == ["line 598", "line 599"]


def test_a_small_chunk_merged_into_the_last_one_is_split_again():
    buffer = LogBuffer(max_lines=10_000)
    buffer.extend_text(*prepare_chunk(raw(3)))
    assert buffer.raw(2).endswith("line 2")  # remembered split: 3 lines
    buffer.extend_text(*prepare_chunk(raw(2, 3)))  # merged: the same chunk now holds 5
    assert buffer.chunks_held == 1
    assert buffer.raw(4).endswith("line 4") and buffer.raw(0).endswith("line 0")


def test_the_split_cache_is_bounded():
    buffer = LogBuffer(max_lines=100_000)
    for start in range(0, 50 * 1500, 1500):
        buffer.extend_text(*prepare_chunk(raw(1500, start)))
    for seq in range(0, 50 * 1500, 1500):
        buffer.raw(seq)
    assert len(buffer._split) <= SPLIT_CACHE_SIZE


def test_memory_cap_by_lines_and_by_bytes_with_whole_chunks():
    buffer = LogBuffer(max_lines=1000)
    text, count = prepare_chunk(raw(600))
    for _ in range(5000):  # 3 M lines
        buffer.extend_text(text, count)
    assert buffer.end_seq == 3_000_000 and len(buffer) == 1000
    assert buffer.capacity_used <= 1250 and buffer.chunks_held <= 8
    big = LogBuffer(max_lines=100_000, max_bytes=1_000_000)
    text, count = prepare_chunk(raw(1000, text="x" * 200))  # ~250 KB a chunk
    for _ in range(100):
        big.extend_text(text, count)
    assert big.bytes_held <= 1_000_000 * 1.25 and len(big) < 10_000


def test_a_chunk_bigger_than_the_buffer_keeps_its_newest_lines():
    buffer = LogBuffer(max_lines=10)
    assert buffer.extend_text(*prepare_chunk(raw(25))) == 0
    assert buffer.first_seq == 15 and buffer.end_seq == 25
    assert [buffer.text(s) for s in range(15, 25)] == [f"line {i}" for i in range(15, 25)]


def test_a_long_line_is_kept_raw_and_cut_when_split_before_any_regex():
    line = f"mr-dj-backend-1  | {TS} " + "y" * (3 * MAX_LINE_CHARS)
    buffer = LogBuffer()
    buffer.extend_text(*prepare_chunk((line + "\nshort\n").encode()))
    assert buffer.raw(0).endswith(" chars]") and len(buffer.raw(0)) < MAX_LINE_CHARS + 40
    assert buffer.raw(1) == "short"
    view = LogView(buffer, LogFilter(text=TextMatcher("y+$", regex=True)))
    assert len(view) == 0  # the regex saw the cut line, whose end is the marker
    assert len(LogView(buffer, LogFilter(text=TextMatcher("yyy")))) == 1


def test_filter_and_search_over_unsplit_chunks():
    buffer = LogBuffer(max_lines=100_000, parser=LogParser("mr-dj", ["mr-dj-backend", "db"]))
    buffer.extend_text(*prepare_chunk(raw(1500, 0)))
    buffer.extend_text(*prepare_chunk(raw(1500, 1500, service="db-1", text="query")))
    buffer.extend_text(*prepare_chunk(raw(1500, 3000, text="LINE")), host="web2")
    substring = LogView(buffer, LogFilter(text=TextMatcher("line 77")))
    assert [substring.line_at(r).text for r in range(len(substring))] == ["line 77"] + [
        f"line 77{i}" for i in range(10)
    ]
    upper = LogView(buffer, LogFilter(text=TextMatcher("line 4499")))  # case-insensitive, chunk and line
    assert [upper.line_at(r).text for r in range(len(upper))] == ["LINE 4499"]
    regex = LogView(buffer, LogFilter(text=TextMatcher(r"^query 150\d$", regex=True)))
    assert [regex.line_at(r).text for r in range(len(regex))] == [f"query {i}" for i in range(1500, 1510)]
    service = LogView(buffer, LogFilter(services=frozenset({"db"})))
    assert len(service) == 1500 and service.seq_at(0) == 1500
    host = LogView(buffer, LogFilter(hosts=frozenset({"web2"}), text=TextMatcher("line 4499")))
    assert [host.seq_at(r) for r in range(len(host))] == [4499]
    assert buffer.services() == ["mr-dj-backend", "db"]
    everything = LogView(buffer)
    row = everything.search(TextMatcher("query 1999"), 0)
    assert row == 1999 and everything.search(TextMatcher("query 1999"), row) == 1999  # wraps to itself
    assert everything.search(TextMatcher("nowhere"), 0) is None


# -- follow_logs hands chunks on -------------------------------------------------------------


@pytest.mark.asyncio
async def test_follow_logs_hands_chunks_when_asked_and_lines_otherwise():
    script = "import sys; sys.stdout.write(''.join(f'l {i}\\n' for i in range(5000))); print('err', file=sys.stderr)"
    argv = [sys.executable, "-c", script]

    async def first_run(chunks: bool) -> tuple[list[bytes], list[str]]:
        got_chunks: list[bytes] = []
        got_lines: list[str] = []
        async for batch in follow_logs(LocalTransport(), argv, chunks=chunks, sleep=lambda _d: asyncio.sleep(0)):
            if isinstance(batch, FollowRestart):
                return got_chunks, got_lines
            assert isinstance(batch, LogLines)
            got_chunks.extend(batch.chunks)
            got_lines.extend(batch.lines)
        raise AssertionError("never restarted")

    chunks, lines = await first_run(True)
    text, count = prepare_chunk(b"".join(chunks))
    assert not lines and count == 5001  # stderr's line comes as a chunk too
    assert sorted(text.split("\n")[:-1]) == sorted([f"l {i}" for i in range(5000)] + ["err"])
    chunks, lines = await first_run(False)
    assert not chunks and len(lines) == 5001 and "err" in lines


@pytest.mark.asyncio
async def test_lines_the_transport_split_join_the_chunks_in_the_order_they_came():
    class Mixed:
        """Hands on a chunk, then lines it had to split (stderr, a cut long line), then a chunk."""

        description = "mixed"

        async def run(self, argv, *, on_output=None, **_options):
            from console.transport.base import CommandResult

            on_output.chunk("stdout", b"first\n")
            on_output("stderr", ["warn \u00e9", "cut \u2026"])
            on_output.chunk("stdout", b"last\n")
            return CommandResult(argv=argv, exit_status=0, duration=0.0)

    batches = follow_logs(Mixed(), ["logs"], chunks=True, sleep=lambda _d: asyncio.sleep(0))
    batch = await anext(batches)
    await batches.aclose()
    assert batch.lines == []
    assert prepare_chunk(b"".join(batch.chunks)) == ("first\nwarn \u00e9\ncut \u2026\nlast\n", 4)
