"""Pilot tests of the live log pane in a tiny host app at 80x24."""

from __future__ import annotations

import threading

import pytest
from textual import events
from textual.app import App, ComposeResult

from widgets.log_pane import LogPane, service_colour
from widgets.log_prompt import LogPrompt

TS = "2026-03-01T10:15:30.123456789Z"


class PaneApp(App):
    def __init__(self, **pane_options) -> None:
        super().__init__()
        self.pane_options = pane_options
        self.messages: list = []

    def compose(self) -> ComposeResult:
        yield LogPane(id="logs", **self.pane_options)

    def on_mount(self) -> None:
        self.query_one(LogPane).focus()


def lines(n: int, service: str = "mr-dj-backend-1", start: int = 0, text: str = "line") -> list[str]:
    return [f"{service}  | {TS} {text} {i}" for i in range(start, start + n)]


def screen_rows(pane: LogPane) -> list[str]:
    return [pane.render_line(y).text for y in range(pane.scrollable_content_region.height)]


def bottom_row(app: App) -> str:
    """The last row inside the pane's border, as the terminal shows it (prompt included)."""
    return app.screen._compositor.render_strips()[-2].text


async def flush(pilot, pane: LogPane) -> None:
    pane.drain()
    await pilot.pause()


def sent(app: PaneApp, kind: type) -> list:
    """Messages of ``kind``, once each (the hook sees a bubbling message at every level)."""
    return list({id(m): m for m in app.messages if isinstance(m, kind)}.values())


def run(**options):
    app = PaneApp(**options)
    return app, app.run_test(size=(80, 24), message_hook=app.messages.append)


@pytest.mark.asyncio
async def test_ingested_lines_become_visible_rows_and_follow_the_end():
    app, ctx = run()
    async with ctx as pilot:
        pane = app.query_one(LogPane)
        pane.ingest(lines(100))
        await flush(pilot, pane)
        rows = screen_rows(pane)
        assert len(pane.view) == 100
        assert rows[-1].startswith("10:15:30.123 mr-dj-backend │ line 99")
        assert "line 99" in rows[-1] and "line 78" in rows[0]  # 22 rows inside the border
        assert pane.follow and pane.scroll_y == pane.max_scroll_y


@pytest.mark.asyncio
async def test_ingest_from_a_thread_is_coalesced_by_the_timer():
    app, ctx = run()
    async with ctx as pilot:
        pane = app.query_one(LogPane)
        refreshes = 0
        original = pane.refresh

        def counting_refresh(*args, **kwargs):
            nonlocal refreshes
            refreshes += 1
            return original(*args, **kwargs)

        pane.refresh = counting_refresh
        threads = [
            threading.Thread(target=lambda k=k: [pane.ingest(lines(1, start=k * 1000 + i)) for i in range(500)])
            for k in range(4)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        await pilot.pause(0.2)  # a few timer ticks
        assert len(pane.buffer) == 2000
        assert refreshes < 20  # not one per line


@pytest.mark.asyncio
async def test_ingest_parses_nothing_only_the_rows_drawn_are_parsed():
    app, ctx = run()
    async with ctx as pilot:
        pane = app.query_one(LogPane)
        parsed = []
        parse_line = pane.buffer.parser.parse_line
        pane.buffer.parser.parse_line = lambda line: parsed.append(line) or parse_line(line)
        worker = threading.Thread(target=pane.ingest, args=(lines(20_000),))
        worker.start()
        worker.join()
        assert parsed == []
        await flush(pilot, pane)
        screen_rows(pane)
        assert len(pane.buffer) == 20_000
        assert 0 < len(parsed) <= 2 * 22 and parsed[-1].endswith("line 19999")


@pytest.mark.asyncio
async def test_service_column_widens_for_the_widest_service_drawn():
    app, ctx = run()
    async with ctx as pilot:
        pane = app.query_one(LogPane)
        pane.ingest(lines(3, service="db-1"))
        await flush(pilot, pane)
        assert screen_rows(pane)[0].startswith("10:15:30.123 db │ line 0")
        pane.ingest(lines(3, service="mr-dj-backend-1"))
        await flush(pilot, pane)
        rows = screen_rows(pane)
        assert rows[0].startswith("10:15:30.123 db            │ line 0")  # redrawn, aligned
        assert rows[3].startswith("10:15:30.123 mr-dj-backend │ line 0")
        pane.ingest(lines(1, service="a-service-name-far-longer-than-twenty-1"))
        await flush(pilot, pane)
        assert screen_rows(pane)[6].startswith("10:15:30.123 a-service-name-far-l │ line 0")


@pytest.mark.asyncio
async def test_paused_view_stays_put_and_counts_new_lines():
    app, ctx = run()
    async with ctx as pilot:
        pane = app.query_one(LogPane)
        pane.ingest(lines(100))
        await flush(pilot, pane)
        await pilot.press("f")
        assert pane.follow is False
        before = screen_rows(pane)[:-1]
        top = pane.scroll_y
        pane.ingest(lines(50, start=100))
        await flush(pilot, pane)
        assert pane.scroll_y == top and screen_rows(pane)[:-1] == before
        assert "50 new lines" in screen_rows(pane)[-1]
        await pilot.press("f")
        assert pane.follow and pane.new_lines == 0
        assert "line 149" in screen_rows(pane)[-1]
        follow_messages = [m.follow for m in sent(app, LogPane.FollowChanged)]
        assert follow_messages == [False, True]


@pytest.mark.asyncio
async def test_paused_view_with_room_shows_new_lines_on_screen():
    app, ctx = run()
    async with ctx as pilot:
        pane = app.query_one(LogPane)
        pane.ingest(lines(3))
        await flush(pilot, pane)
        await pilot.press("f")
        pane.ingest(lines(2, start=3, text="fresh"))
        await flush(pilot, pane)
        shown = app.export_screenshot().replace("&#160;", " ")  # what the terminal got, not render_line
        assert "fresh 3" in shown and "fresh 4" in shown


@pytest.mark.asyncio
async def test_scrolling_up_pauses_following():
    app, ctx = run()
    async with ctx as pilot:
        pane = app.query_one(LogPane)
        pane.ingest(lines(100))
        await flush(pilot, pane)
        await pilot.press("up")
        assert pane.follow is False


@pytest.mark.asyncio
async def test_text_filter_typed_in_the_prompt():
    app, ctx = run()
    async with ctx as pilot:
        pane = app.query_one(LogPane)
        pane.ingest(lines(30) + lines(3, text="ERROR boom"))
        await flush(pilot, pane)
        await pilot.press("slash", *"error", "enter")
        assert pane.text_filter == "error"
        assert len(pane.view) == 3
        assert all("ERROR boom" in r for r in screen_rows(pane)[:3])
        changed = sent(app, LogPane.FilterChanged)
        assert changed[-1].rows == 3 and changed[-1].control is pane
        await pilot.press("slash", "ctrl+u", *"re:boom [02]", "enter")  # regex form
        assert len(pane.view) == 2
        await pilot.press("slash", "ctrl+u", *"re:(", "enter")  # bad regex: prompt stays open
        assert pane.prompt_open and pane.text_filter == "re:boom [02]"
        prompt = pane.query_one(LogPrompt)
        assert app.focused is prompt.input and prompt.input.value == "re:("
        assert "filter (re: regex" in bottom_row(app)
        await pilot.press("escape")
        assert not pane.prompt_open and app.focused is pane


@pytest.mark.asyncio
async def test_service_filter_and_cycling():
    app, ctx = run(project="mr-dj", services=["mr-dj-backend", "mr-dj-frontend"])
    async with ctx as pilot:
        pane = app.query_one(LogPane)
        pane.ingest(lines(5) + lines(7, service="mr-dj_mr-dj-frontend_1"))
        await flush(pilot, pane)
        pane.service_filter = frozenset({"mr-dj-frontend"})
        await pilot.pause()
        assert len(pane.view) == 7
        assert "mr-dj-frontend" in screen_rows(pane)[0]
        pane.service_filter = None
        await pilot.press("v")
        assert pane.service_filter == frozenset({"mr-dj-backend"}) and len(pane.view) == 5
        await pilot.press("v")
        assert pane.service_filter == frozenset({"mr-dj-frontend"})
        await pilot.press("v")
        assert pane.service_filter is None and len(pane.view) == 12
        # new lines respect the active filter
        pane.service_filter = frozenset({"mr-dj-backend"})
        pane.ingest(lines(2, start=5) + lines(2, service="mr-dj-frontend-1", start=7))
        await flush(pilot, pane)
        assert len(pane.view) == 7


@pytest.mark.asyncio
async def test_search_moves_to_the_match_and_highlights_it():
    app, ctx = run()
    async with ctx as pilot:
        pane = app.query_one(LogPane)
        pane.ingest(
            lines(10)
            + lines(1, text="needle A")
            + lines(200, start=20)
            + lines(1, text="needle B")
            + lines(100, start=300)
        )
        await flush(pilot, pane)
        await pilot.press("s", *"needle", "enter")
        assert pane.follow is False
        moved = sent(app, LogPane.SearchMoved)
        assert moved[-1].row is not None
        row = moved[-1].row
        assert pane.view.line_at(row).text.startswith("needle")
        assert any("needle" in r for r in screen_rows(pane))
        first = pane.view.line_at(row).text
        await pilot.press("n")
        second = pane.view.line_at(pane.view.row_of(pane._match_seq)).text
        assert {first, second} == {"needle A 0", "needle B 0"}
        assert any(second in r for r in screen_rows(pane))
        await pilot.press("N")
        assert pane.view.line_at(pane.view.row_of(pane._match_seq)).text == first
        # the match itself is styled differently from the rest of its row
        y = pane.view.row_of(pane._match_seq) - int(pane.scroll_y)
        segments = list(pane.render_line(y))
        match_styles = {s.style for s in segments if s.text == "needle"}
        other_styles = {s.style for s in segments if s.text.startswith(" A") or s.text.startswith(" B")}
        assert match_styles and other_styles and match_styles.isdisjoint(other_styles)


@pytest.mark.asyncio
async def test_search_without_match_reports_none():
    app, ctx = run()
    async with ctx as pilot:
        pane = app.query_one(LogPane)
        pane.ingest(lines(10))
        await flush(pilot, pane)
        await pilot.press("s", *"absent", "enter")
        assert [m.row for m in sent(app, LogPane.SearchMoved)] == [None]


@pytest.mark.asyncio
async def test_bounded_buffer_drops_oldest_lines():
    app, ctx = run(max_lines=50)
    async with ctx as pilot:
        pane = app.query_one(LogPane)
        for k in range(4):
            pane.ingest(lines(50, start=k * 50))
            await flush(pilot, pane)
        assert len(pane.buffer) == 50 and len(pane.view) == 50
        assert pane.view.line_at(0).text == "line 150"
        # a single burst bigger than the buffer is trimmed in the queue, numbers stay honest
        pane.ingest(lines(500, start=200))
        await flush(pilot, pane)
        assert pane.buffer.end_seq == 700 and pane.view.line_at(0).text == "line 650"
        assert "line 699" in screen_rows(pane)[-1]


@pytest.mark.asyncio
async def test_a_fleet_burst_trimmed_in_the_queue_keeps_each_line_with_its_host():
    app, ctx = run(max_lines=50, hosts=("a", "b"))
    async with ctx as pilot:
        pane = app.query_one(LogPane)
        pane.ingest(lines(40), host="a")
        pane.ingest(lines(40, start=40), host="b")
        pane.ingest(lines(40, start=80), host="a")  # the first batch (a's) is trimmed in the queue
        await flush(pilot, pane)
        assert pane.buffer.end_seq == 120
        held = [pane.view.line_at(row) for row in range(len(pane.view))]
        numbers = {int(line.text.split()[-1]): line.host for line in held}
        assert numbers and min(numbers) >= 40
        assert all(host == ("b" if n < 80 else "a") for n, host in numbers.items())


@pytest.mark.asyncio
async def test_paused_view_holds_still_while_old_lines_drop():
    app, ctx = run(max_lines=100)
    async with ctx as pilot:
        pane = app.query_one(LogPane)
        pane.ingest(lines(100))
        await flush(pilot, pane)
        await pilot.press("f")
        pane.scroll_to(y=50, animate=False, immediate=True)
        await pilot.pause()
        top_text = screen_rows(pane)[0]
        pane.ingest(lines(30, start=100))  # drops line 0..29
        await flush(pilot, pane)
        assert screen_rows(pane)[0] == top_text


@pytest.mark.asyncio
async def test_long_line_is_truncated():
    app, ctx = run()
    async with ctx as pilot:
        pane = app.query_one(LogPane)
        pane.ingest([f"mr-dj-backend-1  | {TS} " + "x" * 2_000_000])
        await flush(pilot, pane)
        text = pane.view.line_at(0).text
        assert len(text) < 4200 and text.endswith("chars]")
        assert len(text) < pane.virtual_size.width < 4300
        assert screen_rows(pane)[0].endswith("x" * 40)
        pane.scroll_to(x=pane.max_scroll_x, animate=False, immediate=True)  # its end can be reached
        await pilot.pause()
        assert screen_rows(pane)[0].rstrip().endswith("chars]")


@pytest.mark.asyncio
async def test_timestamps_toggle_and_copy_visible_lines():
    app, ctx = run()
    async with ctx as pilot:
        pane = app.query_one(LogPane)
        pane.ingest(lines(3))
        await flush(pilot, pane)
        await pilot.press("t")
        assert pane.show_timestamps is False
        assert screen_rows(pane)[0].startswith("mr-dj-backend │ line 0")
        await pilot.press("c")
        assert app.clipboard == "\n".join(f"mr-dj-backend | line {i}" for i in range(3))
        await pilot.press("t", "c")
        assert app.clipboard.splitlines()[0] == f"{TS} mr-dj-backend | line 0"


def test_service_colour_is_stable():
    assert service_colour("mr-dj-backend") == service_colour("mr-dj-backend")
    assert len({service_colour(f"svc{i}") for i in range(50)}) > 3


@pytest.mark.asyncio
async def test_keys_typed_into_the_prompt_are_text_never_the_panes_bindings():
    app, ctx = run()
    async with ctx as pilot:
        pane = app.query_one(LogPane)
        pane.ingest(lines(5) + lines(2, text="fatal: vent closed"))
        await flush(pilot, pane)
        await pilot.press("slash", *"fvtcnNs/", "end", "backspace")
        prompt = pane.query_one(LogPrompt)
        assert prompt.input.value == "fvtcnNs"
        assert pane.follow and pane.show_timestamps and pane.service_filter is None
        assert pane.search_term == "" and sent(app, LogPane.SearchMoved) == []
        await pilot.press("ctrl+u", *"vent", "enter")
        assert pane.text_filter == "vent" and len(pane.view) == 2
        assert app.focused is pane and not pane.prompt_open


@pytest.mark.asyncio
async def test_the_prompt_opens_with_the_term_in_force_and_escape_changes_nothing():
    app, ctx = run()
    async with ctx as pilot:
        pane = app.query_one(LogPane)
        pane.ingest(lines(20) + lines(1, text="needle"))
        await flush(pilot, pane)
        await pilot.press("slash", *"line", "enter")
        await pilot.press("slash")
        prompt = pane.query_one(LogPrompt)
        assert prompt.input.value == "line" and prompt.input.cursor_position == 4
        await pilot.press(*"s 1", "escape")
        assert pane.text_filter == "line" and len(pane.view) == 20
        await pilot.press("s")
        assert prompt.kind == "search" and prompt.input.value == ""
        assert "search (re: regex" in bottom_row(app)
        assert [(m.kind, m.value, m.control) for m in sent(app, LogPrompt.Submitted)] == [("filter", "line", prompt)]


@pytest.mark.asyncio
async def test_a_paste_into_the_prompt_takes_its_first_line():
    app, ctx = run()
    async with ctx as pilot:
        pane = app.query_one(LogPane)
        pane.ingest(lines(3) + lines(1, text="ERROR boom"))
        await flush(pilot, pane)
        await pilot.press("slash")
        prompt = pane.query_one(LogPrompt)
        prompt.input.post_message(events.Paste("boom\nrm -rf /\n"))
        await pilot.pause()
        assert prompt.input.value == "boom"
        await pilot.press("enter")
        assert pane.text_filter == "boom" and len(pane.view) == 1


@pytest.mark.asyncio
async def test_the_closed_prompt_takes_no_focus_and_the_bottom_row_is_the_log_again():
    app, ctx = run()
    async with ctx as pilot:
        pane = app.query_one(LogPane)
        pane.ingest(lines(40))
        await flush(pilot, pane)
        await pilot.press("tab")
        assert app.focused is pane  # the hidden prompt is not in the focus chain
        await pilot.press("slash", "escape")
        assert bottom_row(app).startswith("│10:15:30.123 mr-dj-backend │ line 39")
