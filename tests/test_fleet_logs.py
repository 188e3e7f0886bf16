"""A fleet's logs in one pane: the host kept per chunk, a host column and a host filter."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult

from console.live.logstream import LogBuffer, LogFilter, LogParser, LogView, TextMatcher
from widgets.log_pane import LogPane

TS = "2026-03-01T10:15:30.123456789Z"


def lines(host: str, n: int, service: str = "mr-dj-backend-1") -> list[str]:
    return [f"{service}  | {TS} {host} line {i}" for i in range(n)]


def test_the_host_is_kept_per_batch_and_never_parsed_from_the_line():
    buffer = LogBuffer(1000, LogParser("mr-dj", ["mr-dj-backend"]))
    buffer.extend(lines("web1", 3), host="web1")
    buffer.extend(lines("web2", 2), host="web2")
    buffer.extend(lines("web1", 1), host="web1")
    assert [buffer.get(s).host for s in range(6)] == ["web1"] * 3 + ["web2"] * 2 + ["web1"]
    assert buffer.get(3).service == "mr-dj-backend" and buffer.get(3).text == "web2 line 0"
    assert buffer.hosts() == ["web1", "web2"]
    assert [line.host for _, line in buffer.since(2)] == ["web1", "web2", "web2", "web1"]


def test_small_batches_of_different_hosts_never_share_a_chunk():
    buffer = LogBuffer(1000)
    for i in range(10):
        buffer.extend([f"x | {TS} {i}"], host="web1" if i % 2 else "web2")
    assert [buffer.host(s) for s in range(10)] == ["web2", "web1"] * 5


def test_a_single_hosts_lines_carry_no_host():
    buffer = LogBuffer(100)
    buffer.extend(lines("one", 2))
    assert buffer.get(0).host == "" and buffer.hosts() == []


def test_the_host_filter_keeps_whole_chunks_and_combines_with_the_others():
    buffer = LogBuffer(1000, LogParser("mr-dj", ["mr-dj-backend", "mr-dj-frontend"]))
    buffer.extend(lines("web1", 3), host="web1")
    buffer.extend(lines("web2", 3, service="mr-dj-frontend-1"), host="web2")
    buffer.extend(lines("web1", 2, service="mr-dj-frontend-1"), host="web1")
    view = LogView(buffer, LogFilter(hosts=frozenset({"web2"})))
    assert [view.seq_at(r) for r in range(len(view))] == [3, 4, 5]
    view.rebuild(LogFilter(hosts=frozenset({"web1"}), services=frozenset({"mr-dj-frontend"})))
    assert [view.seq_at(r) for r in range(len(view))] == [6, 7]
    view.rebuild(LogFilter(hosts=frozenset({"web1"}), text=TextMatcher("line 1")))
    assert [view.seq_at(r) for r in range(len(view))] == [1, 7]
    buffer.extend(lines("web2", 1), host="web2")
    view.rebuild(LogFilter(hosts=frozenset({"web2"})))
    assert [view.seq_at(r) for r in range(len(view))] == [3, 4, 5, 8]
    assert LogFilter(hosts=frozenset({"web2"})).accepts(buffer.get(8))
    assert not LogFilter(hosts=frozenset({"web2"})).accepts(buffer.get(0))


def test_the_host_filter_follows_lines_dropped_from_the_buffer():
    buffer = LogBuffer(4)
    view = LogView(buffer, LogFilter(hosts=frozenset({"web2"})))
    buffer.extend(lines("web1", 3), host="web1")
    buffer.extend(lines("web2", 3), host="web2")
    view.sync()
    assert [view.seq_at(r) for r in range(len(view))] == [3, 4, 5]


class PaneApp(App):
    def __init__(self, **options) -> None:
        super().__init__()
        self.options = options
        self.messages: list = []

    def compose(self) -> ComposeResult:
        yield LogPane(id="logs", **self.options)

    def on_mount(self) -> None:
        self.query_one(LogPane).focus()


def rows(pane: LogPane) -> list[str]:
    return [pane.render_line(y).text.rstrip() for y in range(len(pane.view))]


@pytest.mark.asyncio
async def test_a_fleet_pane_shows_a_host_column_and_h_cycles_the_host_filter():
    app = PaneApp(project="mr-dj", services=["mr-dj-backend"], hosts=["web1", "web2", "web3"])
    async with app.run_test(size=(100, 24), message_hook=app.messages.append) as pilot:
        pane = app.query_one(LogPane)
        pane.ingest(lines("a", 2), host="web1")
        pane.ingest(lines("b", 1), host="web3")
        pane.drain()
        await pilot.pause()
        assert rows(pane) == [
            "10:15:30.123 web1 mr-dj-backend │ a line 0",
            "10:15:30.123 web1 mr-dj-backend │ a line 1",
            "10:15:30.123 web3 mr-dj-backend │ b line 0",
        ]
        assert pane.plain_row(2) == f"{TS} web3 mr-dj-backend | b line 0"
        await pilot.press("H")
        assert pane.host_filter == "web1" and len(pane.view) == 2
        assert "host: web1" in pane.border_title
        await pilot.press("H")
        assert pane.host_filter == "web2" and len(pane.view) == 0
        pane.ingest(lines("c", 1), host="web2")  # a new line of the host shown appears
        pane.drain()
        await pilot.pause()
        assert rows(pane) == ["10:15:30.123 web2 mr-dj-backend │ c line 0"]
        await pilot.press("H", "H")
        assert pane.host_filter is None and len(pane.view) == 4
        changed = list({id(m): m for m in app.messages if isinstance(m, LogPane.FilterChanged)}.values())
        assert [m.host for m in changed][:2] == ["web1", "web2"]
        keys = {b.action for _, b, enabled, _ in app.screen.active_bindings.values() if enabled}
        assert "cycle_host" in keys


@pytest.mark.asyncio
async def test_a_single_hosts_pane_has_no_host_column_nor_host_key():
    app = PaneApp(project="mr-dj", services=["mr-dj-backend"])
    async with app.run_test(size=(100, 24)) as pilot:
        pane = app.query_one(LogPane)
        pane.ingest(lines("a", 1))
        pane.drain()
        await pilot.pause()
        assert rows(pane) == ["10:15:30.123 mr-dj-backend │ a line 0"]
        await pilot.press("H")
        assert pane.host_filter is None
        keys = {b.action for _, b, enabled, _ in app.screen.active_bindings.values() if enabled}
        assert "cycle_host" not in keys


@pytest.mark.asyncio
async def test_followers_of_several_hosts_drained_together_keep_each_hosts_order():
    app = PaneApp(hosts=["web1", "web2"])
    async with app.run_test(size=(100, 24)) as pilot:
        pane = app.query_one(LogPane)
        pane.ingest(["x | a1"], host="web1")
        pane.ingest(["x | b1"], host="web2")
        pane.ingest(["x | a2"], host="web1")
        assert pane.drain() == 3
        await pilot.pause()
        got = [(pane.buffer.get(s).host, pane.buffer.get(s).text) for s in range(3)]
        assert got == [("web1", "a1"), ("web1", "a2"), ("web2", "b1")]
