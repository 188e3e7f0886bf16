"""Parsing ``docker compose logs -t`` output and the bounded log buffer."""

from __future__ import annotations

import re

import pytest

from console.logstream import (MAX_LINE_CHARS, LogBuffer, LogFilter, LogLine, LogParser, LogView,
                               TextMatcher, parse_lines, truncate)

TS = "2026-03-01T10:15:30.123456789Z"


def test_parses_compose_v1_and_v2_prefixes():
    lines = parse_lines([
        f"mr-dj_mr-dj-backend_1  | {TS} listening on :3000",
        f"mr-dj-frontend-1  | {TS} GET / 200",
        f"mr-dj_worker_2    | {TS} job done",
    ])
    assert lines == [
        LogLine("mr-dj-backend", TS, "listening on :3000"),
        LogLine("mr-dj-frontend", TS, "GET / 200"),
        LogLine("worker", TS, "job done"),
    ]


def test_known_services_disambiguate_project_prefixed_names():
    parser = LogParser(project="mr-dj", services=["mr-dj-backend", "db"])
    assert parser.service_name("mr-dj-backend-1") == "mr-dj-backend"    # v2, service contains project
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
    [line] = parse_lines([f"\x1b[36mmr-dj-backend-1  |\x1b[0m {TS} \x1b[31mERROR\x1b[0m boom\x07\r"
                          "\x1b]8;;http://x\x07link\x1b]8;;\x07\ttab"])
    assert line == LogLine("mr-dj-backend", TS, "ERROR boomlink    tab")


def test_embedded_newlines_split_into_lines():
    assert [l.text for l in parse_lines([f"a-1  | {TS} one\nb-1  | {TS} two"])] == ["one", "two"]


def test_long_lines_are_truncated_before_parsing():
    long = f"mr-dj-backend-1  | {TS} " + "x" * 1_000_000
    [line] = parse_lines([long, ])
    assert line.service == "mr-dj-backend"
    assert len(line.text) < MAX_LINE_CHARS + 40
    assert line.text.endswith(f"…[+{len(long) - MAX_LINE_CHARS} chars]")
    assert truncate("short") == "short"


def test_buffer_sequence_numbers_grow_and_oldest_lines_drop():
    buffer = LogBuffer(max_lines=10)
    parser = LogParser()
    for batch in range(5):
        first = buffer.extend_columns(*parser.columns([f"s-1  | {TS} {batch}-{i}" for i in range(4)]))
        assert first == batch * 4
    assert len(buffer) == 10 and buffer.first_seq == 10 and buffer.end_seq == 20
    assert [line.text for _, line in buffer][0] == "2-2"
    assert buffer.get(19).text == "4-3"
    with pytest.raises(IndexError):
        buffer.get(9)
    assert 9 not in buffer and 10 in buffer


def test_buffer_memory_is_bounded_after_millions_of_lines():
    buffer = LogBuffer(max_lines=1000)
    columns = LogParser().columns([f"s-1  | {TS} line {i}" for i in range(10_000)])
    for _ in range(300):                          # 3 M lines
        buffer.extend_columns(*columns)
    assert buffer.end_seq == 3_000_000
    assert len(buffer) == 1000
    assert buffer.capacity_used <= 1250           # never more than max_lines + a quarter
    assert buffer.get(buffer.end_seq - 1).text == "line 9999"


def test_extend_accepts_loglines():
    buffer = LogBuffer(max_lines=3)
    buffer.extend([LogLine("a", "", "1"), LogLine("b", "", "2")])
    assert buffer.get(1) == LogLine("b", "", "2") and buffer.services() == ["a", "b"]


def _view(texts_by_service, max_lines=100, keep=None):
    buffer = LogBuffer(max_lines=max_lines)
    buffer.extend([LogLine(s, TS, t) for s, t in texts_by_service])
    return buffer, LogView(buffer, keep)


def test_view_filters_by_service_and_text_case_insensitively():
    lines = [("api", "GET /health 200"), ("web", "GET / 200"), ("api", "ERROR db timeout"),
             ("db", "error: deadlock")]
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


def test_bad_regex_raises_for_the_caller_to_show():
    with pytest.raises(re.error):
        TextMatcher("(unclosed", regex=True)


def test_view_sync_is_incremental_and_follows_drops():
    buffer, view = _view([("api", f"ok {i}") for i in range(5)], max_lines=8,
                         keep=LogFilter(text=TextMatcher("ok")))
    assert len(view) == 5
    buffer.extend([LogLine("api", TS, "ok new"), LogLine("api", TS, "skip")] * 3)
    added, dropped = view.sync()
    assert added == 3 and dropped == 3           # 11 lines into 8 slots: seqs 0-2 dropped
    assert view.line_at(0).text == "ok 3" and view.line_at(len(view) - 1).text == "ok new"
    assert view.row_of(view.seq_at(2)) == 2 and view.row_of(0) is None


def test_unfiltered_view_sync_counts_added_and_dropped():
    buffer, view = _view([("a", str(i)) for i in range(8)], max_lines=8)
    buffer.extend([LogLine("a", TS, "x")] * 4)
    assert view.sync() == (4, 4)
    assert len(view) == 8 and view.line_at(7).text == "x"


def test_search_next_and_previous_with_wrap():
    _, view = _view([("a", t) for t in ["boot", "Error one", "fine", "error two", "fine"]])
    matcher = TextMatcher("ERROR")
    assert view.search(matcher, -1) == 1
    assert view.search(matcher, 1) == 3
    assert view.search(matcher, 3) == 1                   # wraps to the top
    assert view.search(matcher, 3, wrap=False) is None
    assert view.search(matcher, 3, backward=True) == 1
    assert view.search(matcher, 1, backward=True) == 3    # wraps to the bottom
    assert view.search(TextMatcher("nowhere"), 0) is None
    assert matcher.spans("error and ERROR") == [(0, 5), (10, 15)]
