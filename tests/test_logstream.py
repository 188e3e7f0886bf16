"""Parsing ``docker compose logs -t`` output and the bounded log buffer of raw lines."""

from __future__ import annotations

import gc
import re

import pytest

from console.live.logstream import (
    MAX_LINE_CHARS,
    PARSE_CACHE_SIZE,
    LogBuffer,
    LogFilter,
    LogLine,
    LogParser,
    LogView,
    TextMatcher,
    parse_lines,
    prepare_lines,
    truncate,
)

TS = "2026-03-01T10:15:30.123456789Z"


def test_parses_compose_v1_and_v2_prefixes():
    lines = parse_lines(
        [
            f"mr-dj_mr-dj-backend_1  | {TS} listening on :3000",
            f"mr-dj-frontend-1  | {TS} GET / 200",
            f"mr-dj_worker_2    | {TS} job done",
        ]
    )
    assert lines == [
        LogLine("mr-dj-backend", TS, "listening on :3000"),
        LogLine("mr-dj-frontend", TS, "GET / 200"),
        LogLine("worker", TS, "job done"),
    ]


def test_known_services_disambiguate_project_prefixed_names():
    parser = LogParser(project="mr-dj", services=["mr-dj-backend", "db"])
    assert parser.service_name("mr-dj-backend-1") == "mr-dj-backend"  # v2, service contains project
    assert parser.service_name("mr-dj-mr-dj-backend-1") == "mr-dj-backend"  # v2 container name
    assert parser.service_name("mr-dj_db_1") == "db"
    assert parser.service_name("mr-dj-db-1") == "db"
    assert LogParser(project="mr-dj").service_name("mr-dj_cache_3") == "cache"


def test_lines_without_timestamp_or_prefix():
    assert parse_lines(["mr-dj-backend-1  | no timestamp here", "Attaching to mr-dj-backend-1", ""]) == [
        LogLine("mr-dj-backend", "", "no timestamp here"),
        LogLine("", "", "Attaching to mr-dj-backend-1"),
        LogLine("", "", ""),
    ]


def test_offset_timestamps_and_text_that_contains_a_pipe():
    [line] = parse_lines(["api-1  | 2026-03-01T10:15:30+01:00 a | b"])
    assert line == LogLine("api", "2026-03-01T10:15:30+01:00", "a | b")


def test_ansi_colours_and_control_characters_are_stripped():
    [line] = parse_lines(
        [
            f"\x1b[36mmr-dj-backend-1  |\x1b[0m {TS} \x1b[31mERROR\x1b[0m boom\x07\r"
            "\x1b]8;;http://x\x07link\x1b]8;;\x07\ttab"
        ]
    )
    assert line == LogLine("mr-dj-backend", TS, "ERROR boomlink    tab")


def test_embedded_newlines_split_into_lines():
    assert [line.text for line in parse_lines([f"a-1  | {TS} one\nb-1  | {TS} two"])] == ["one", "two"]


def test_long_lines_are_truncated_before_parsing():
    long = f"mr-dj-backend-1  | {TS} " + "x" * 1_000_000
    [line] = parse_lines(
        [
            long,
        ]
    )
    assert line.service == "mr-dj-backend"
    assert len(line.text) < MAX_LINE_CHARS + 40
    assert line.text.endswith(f"…[+{len(long) - MAX_LINE_CHARS} chars]")
    assert truncate("short") == "short"


def test_prepare_returns_an_ordinary_batch_as_is():
    batch = [f"mr-dj-backend-1  | {TS} GET / 200 ünïcode ✓", "Attaching to mr-dj-backend-1", ""]
    assert prepare_lines(batch) is batch
    assert prepare_lines(tuple(batch)) == tuple(batch) and prepare_lines(iter(batch)) == batch
    assert prepare_lines([]) == []


def test_prepare_strips_control_characters_splits_newlines_and_cuts_long_lines():
    assert prepare_lines(["a\x1b[31mb\x1b[0m", "tab\there", "ok"]) == ["ab", "tab    here", "ok"]
    assert prepare_lines(["one\ntwo", "three"]) == ["one", "two", "three"]
    assert prepare_lines(["\r\x00\x7f"]) == [""]
    [cut] = prepare_lines(["y" * (MAX_LINE_CHARS + 10)])
    assert cut == "y" * MAX_LINE_CHARS + " …[+10 chars]"


def test_buffer_sequence_numbers_grow_and_oldest_lines_drop():
    buffer = LogBuffer(max_lines=10)
    for batch in range(5):
        first = buffer.extend([f"s-1  | {TS} {batch}-{i}" for i in range(4)])
        assert first == batch * 4
    assert len(buffer) == 10 and buffer.first_seq == 10 and buffer.end_seq == 20
    assert [line.text for _, line in buffer][0] == "2-2"
    assert buffer.get(19).text == "4-3"
    with pytest.raises(IndexError):
        buffer.get(9)
    assert 9 not in buffer and 10 in buffer


def test_buffer_memory_is_bounded_after_millions_of_lines():
    buffer = LogBuffer(max_lines=1000)
    lines = prepare_lines([f"s-1  | {TS} line {i}" for i in range(10_000)])
    for _ in range(300):  # 3 M lines
        buffer.extend(lines, prepared=True)
    assert buffer.end_seq == 3_000_000
    assert len(buffer) == 1000
    assert buffer.capacity_used <= 1250  # never more than max_lines + a quarter
    assert buffer.get(buffer.end_seq - 1).text == "line 9999"


def test_buffer_keeps_every_line_across_chunks_of_any_size_and_stays_bounded():
    buffer = LogBuffer(max_lines=5000)
    sizes = [1, 3, 700, 2000, 1, 1, 1300, 9000, 17, 4000, 600, 600, 600]
    seq = 0
    for size in sizes:
        assert buffer.extend(tuple(f"s-1 | {TS} n{seq + i}" for i in range(size))) == seq
        seq += size
        assert buffer.capacity_used <= 1.25 * 5000
        assert len(buffer) == min(seq, 5000) and buffer.end_seq == seq
    assert [buffer.text(n) for n in range(buffer.first_seq, seq)] == [f"n{n}" for n in range(seq - 5000, seq)]
    assert [line.text for _, line in buffer.since(seq - 3)] == [f"n{n}" for n in range(seq - 3, seq)]
    view = LogView(buffer, LogFilter(text=TextMatcher(r"^n1\d{4}$", regex=True)))
    assert [view.line_at(r).text for r in range(len(view))] == [
        f"n{n}" for n in range(seq - 5000, seq) if 10_000 <= n < 20_000
    ]


def test_the_garbage_collector_never_walks_the_kept_lines():
    buffer = LogBuffer(max_lines=10_000)
    for start in range(0, 30_000, 600):
        buffer.extend([f"s-1 | {TS} line {i}" for i in range(start, start + 600)])
    gc.collect()
    assert buffer._chunks and not any(map(gc.is_tracked, buffer._chunks))


class CountingParser(LogParser):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.parsed = 0

    def parse_line(self, line: str) -> LogLine:
        self.parsed += 1
        return super().parse_line(line)


def test_buffer_keeps_raw_lines_and_parses_only_what_is_looked_at_once():
    parser = CountingParser("mr-dj", ["mr-dj-backend"])
    buffer = LogBuffer(max_lines=100_000, parser=parser)
    buffer.extend([f"mr-dj_mr-dj-backend_1  | {TS} line {i}" for i in range(50_000)])
    assert parser.parsed == 0 and not parser._service_of.keys() - {None, ""}  # ingest parsed nothing
    assert buffer.raw(7) == f"mr-dj_mr-dj-backend_1  | {TS} line 7"
    assert buffer.get(7) == LogLine("mr-dj-backend", TS, "line 7")
    assert buffer.get(7) is buffer.get(7) and parser.parsed == 1  # cached by sequence
    assert buffer.text(8) == "line 8" and buffer.service(9) == "mr-dj-backend"
    for seq in range(2 * PARSE_CACHE_SIZE):
        buffer.get(seq)
    assert len(buffer._parsed) <= PARSE_CACHE_SIZE  # the cache is bounded


def test_buffer_services_in_order_of_first_sight_and_forgotten_when_dropped():
    buffer = LogBuffer(max_lines=4)
    buffer.extend([f"b-1 | {TS} x", f"a-1 | {TS} x", "no prefix", f"b-2 | {TS} x"])
    assert buffer.services() == ["b", "a"]
    buffer.extend([f"c-1 | {TS} x", f"b-1 | {TS} x", f"c-1 | {TS} x"])  # a's only line dropped
    assert buffer.services() == ["b", "c"]
    buffer.extend([f"a-1 | {TS} back"])
    assert buffer.services() == ["b", "c", "a"]


def _view(texts_by_service, max_lines=100, keep=None):
    buffer = LogBuffer(max_lines=max_lines)
    buffer.extend([f"{s}  | {TS} {t}" for s, t in texts_by_service])
    return buffer, LogView(buffer, keep)


def test_view_filters_by_service_and_text_case_insensitively():
    lines = [("api", "GET /health 200"), ("web", "GET / 200"), ("api", "ERROR db timeout"), ("db", "error: deadlock")]
    _, view = _view(lines, keep=LogFilter(services=frozenset({"api"})))
    assert [view.line_at(r).text for r in range(len(view))] == ["GET /health 200", "ERROR db timeout"]
    view.rebuild(LogFilter(text=TextMatcher("error")))
    assert [view.line_at(r).service for r in range(len(view))] == ["api", "db"]
    view.rebuild(LogFilter(services=frozenset({"db"}), text=TextMatcher("ERROR")))
    assert len(view) == 1 and view.line_at(0).text == "error: deadlock"
    view.rebuild(LogFilter(text=TextMatcher(r"GET /\S* 200", regex=True)))
    assert len(view) == 2
    view.rebuild(LogFilter())
    assert len(view) == 4


def test_text_filter_and_search_look_at_the_text_only_never_the_prefix():
    lines = [("api", "GET /health 200"), ("web", "api call failed"), ("api", "2026 report"), ("web", "GET /api 200")]
    _, view = _view(lines, keep=LogFilter(text=TextMatcher("api")))
    assert [view.line_at(r).text for r in range(len(view))] == ["api call failed", "GET /api 200"]
    view.rebuild(LogFilter(text=TextMatcher("^GET", regex=True)))  # anchored at the text
    assert [view.line_at(r).service for r in range(len(view))] == ["api", "web"]
    view.rebuild(LogFilter(text=TextMatcher("2026")))  # not the timestamp
    assert [view.line_at(r).text for r in range(len(view))] == ["2026 report"]
    view.rebuild(LogFilter())
    assert view.search(TextMatcher("web"), -1) is None
    assert view.search(TextMatcher("API"), -1) == 1


def test_filters_match_the_text_as_shown_even_when_escape_codes_split_a_word():
    buffer = LogBuffer()
    buffer.extend([f"api-1  | {TS} \x1b[31mERR\x1b[0mOR: boom", f"api-1  | {TS} fine"])
    view = LogView(buffer, LogFilter(text=TextMatcher("error: boom")))
    assert len(view) == 1 and view.line_at(0).text == "ERROR: boom"


def test_service_filter_maps_v1_and_v2_prefixes_to_one_service():
    buffer = LogBuffer(parser=LogParser("mr-dj", ["mr-dj-backend", "db"]))
    buffer.extend(
        [
            f"mr-dj_mr-dj-backend_1  | {TS} v1",
            f"mr-dj-backend-1  | {TS} v2",
            f"mr-dj-backend-10  | {TS} replica 10",
            f"mr-dj_db_1  | {TS} db",
            "mr-dj-backend-1 but no pipe",
            f"db-1|{TS} tight",
        ]
    )
    view = LogView(buffer, LogFilter(services=frozenset({"mr-dj-backend"})))
    assert [view.line_at(r).text for r in range(len(view))] == ["v1", "v2", "replica 10"]
    view.rebuild(LogFilter(services=frozenset({"db"}), text=TextMatcher("T")))
    assert [view.line_at(r).text for r in range(len(view))] == ["tight"]


def test_switching_back_to_a_recent_filter_only_catches_up(monkeypatch):
    buffer, view = _view([("api", f"a {i}") for i in range(6)] + [("web", "w")], max_lines=10)
    scanned = []
    select = buffer.select
    monkeypatch.setattr(buffer, "select", lambda keep, since: scanned.append(since) or select(keep, since))
    api, web = LogFilter(services=frozenset({"api"})), LogFilter(services=frozenset({"web"}))
    view.rebuild(api)
    view.rebuild(web)
    buffer.extend([f"api  | {TS} a new"] * 5)  # drops 2 api lines
    scanned.clear()
    view.rebuild(LogFilter(services=frozenset({"api"})))  # equal, not the same
    assert scanned == [7]  # only the new lines
    assert [view.line_at(r).text for r in range(len(view))] == ["a 2", "a 3", "a 4", "a 5"] + ["a new"] * 5
    view.rebuild(LogFilter(text=TextMatcher("^w$", regex=True)))  # never seen: full scan
    assert scanned[-1] == buffer.first_seq and len(view) == 1


def test_bad_regex_raises_for_the_caller_to_show():
    with pytest.raises(re.error):
        TextMatcher("(unclosed", regex=True)


def test_view_sync_is_incremental_and_follows_drops():
    buffer, view = _view([("api", f"ok {i}") for i in range(5)], max_lines=8, keep=LogFilter(text=TextMatcher("ok")))
    assert len(view) == 5
    buffer.extend([f"api  | {TS} ok new", f"api  | {TS} skip"] * 3)
    added, dropped = view.sync()
    assert added == 3 and dropped == 3  # 11 lines into 8 slots: seqs 0-2 dropped
    assert view.line_at(0).text == "ok 3" and view.line_at(len(view) - 1).text == "ok new"
    assert view.row_of(view.seq_at(2)) == 2 and view.row_of(0) is None


def test_unfiltered_view_sync_counts_added_and_dropped():
    buffer, view = _view([("a", str(i)) for i in range(8)], max_lines=8)
    buffer.extend([f"a  | {TS} x"] * 4)
    assert view.sync() == (4, 4)
    assert len(view) == 8 and view.line_at(7).text == "x"


def test_search_next_and_previous_with_wrap():
    _, view = _view([("a", t) for t in ["boot", "Error one", "fine", "error two", "fine"]])
    matcher = TextMatcher("ERROR")
    assert view.search(matcher, -1) == 1
    assert view.search(matcher, 1) == 3
    assert view.search(matcher, 3) == 1  # wraps to the top
    assert view.search(matcher, 3, wrap=False) is None
    assert view.search(matcher, 3, backward=True) == 1
    assert view.search(matcher, 1, backward=True) == 3  # wraps to the bottom
    assert view.search(TextMatcher("nowhere"), 0) is None
    assert matcher.spans("error and ERROR") == [(0, 5), (10, 15)]
