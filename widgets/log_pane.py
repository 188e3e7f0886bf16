"""The live log pane: ``docker compose logs -f`` for the whole stack, flood-proof.

A Line API widget (as Toolong's ``LogLines``): only the rows on screen are ever
rendered, from a bounded :class:`~console.live.logstream.LogBuffer` of raw lines.
``ingest_batch`` (a follower's batch), ``ingest_chunk`` (raw bytes of whole lines, kept
unsplit) and ``ingest`` (lines) may be called from any thread as often as they like; they
only make the output safe to keep (:func:`~console.live.logstream.prepare_chunk`,
:func:`~console.live.logstream.prepare_lines`) and park it under a lock, and a timer
moves it into the buffer in one batch with one refresh (a flood at most once a second),
so a crash-looping service printing a million lines costs a refresh a second, not a
million. The procedure screen reads the stream on a thread of its own
(:mod:`console.live.logthread`), so the UI's loop never reads it at all. A line is parsed (service, timestamp, text)
only when its row is drawn; column widths grow with the rows drawn.

The filter and search prompt is a real ``Input``
(:class:`~widgets.log_prompt.LogPrompt`) docked over the pane's bottom row: the
pane's one child, so the keys typed into it are text, never the pane's bindings.

A fleet's pane (``hosts=[...]``) takes every host's follower: ``ingest(lines, host=)``
tags a whole batch, the buffer keeps the host per chunk (no per-line work), a host
column shows it and ``H`` cycles the host filter (all, then each host alone).
"""

from __future__ import annotations

import re
import threading
import time
import zlib
from collections.abc import Collection, Sequence
from typing import NamedTuple

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from console.live.logfollow import LogBatch
from console.live.logstream import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_LINES,
    LogBuffer,
    LogFilter,
    LogParser,
    LogView,
    TextMatcher,
    prepare_chunk,
    prepare_lines,
)
from widgets.log_prompt import LogPrompt

INGEST_CHUNK = 1000  # lines prepared per GIL slice in ingest()
GIL_YIELD = 0.0001  # seconds a producer thread sleeps per chunk (see ingest)
# Seconds; the ceiling on how often floods refresh the pane. Each refresh costs more than its
# frame: Textual draws the next frame 17-33 ms after it (its 60 fps timer), so a key pressed
# then waits, and each frame's strips feed the full GC passes. 10 Hz halves both (bench/).
DRAIN_INTERVAL = 0.1
# A flood (this many lines queued at a drain tick, 20 000 a second) is shown at most once a
# second: every drain's frame costs a key pressed in the next 20-40 ms its wait (the frame,
# then Textual's frame pacing), so at 10 Hz ~30 % of keys waited; at 1 Hz ~3 % (bench/).
FLOOD_LINES = 2_000
FLOOD_DRAIN_INTERVAL = 1.0
SERVICE_COLUMN_MAX = 20
HOST_COLUMN_MAX = 16
REGEX_PREFIX = "re:"
# Foreground colours for service names; a service keeps its colour across runs (crc32, not hash()).
PALETTE = (
    "cyan",
    "magenta",
    "green",
    "yellow",
    "bright_blue",
    "bright_red",
    "bright_cyan",
    "bright_magenta",
    "bright_green",
    "orange1",
)


class QueuedOutput(NamedTuple):
    """One batch waiting in the pane's queue for the next drain.

    Its lines stay one string (as :class:`~console.live.logstream.LogBuffer` keeps them),
    so a flood's queue holds a few hundred of these, not a million strings.
    """

    text: str  # the lines, each followed by "\n"
    line_count: int  # lines in ``text``
    size: int  # characters without the newlines: a flood of long lines is bounded by bytes too
    host: str  # the fleet host that printed them ("" for a single host)


def service_colour(service: str) -> str:
    return PALETTE[zlib.crc32(service.encode()) % len(PALETTE)]


def parse_prompt(value: str) -> TextMatcher | None:
    """``re:<pattern>`` is a regex, anything else a case-insensitive substring."""
    if not value:
        return None
    if value.startswith(REGEX_PREFIX):
        return TextMatcher(value[len(REGEX_PREFIX) :], regex=True)
    return TextMatcher(value)


class LogPane(ScrollView, can_focus=True):
    """Follows the stack's logs; pause, filter, search and copy without losing lines."""

    BINDINGS = [
        Binding("f", "toggle_follow", "Follow/pause", id="log-pane.follow"),
        Binding("end", "follow", "Follow", show=False, id="log-pane.end"),
        Binding("slash", "prompt('filter')", "Filter", id="log-pane.filter"),
        Binding("s", "prompt('search')", "Search", id="log-pane.search"),
        Binding("n", "next_match", "Next match", id="log-pane.next-match"),
        Binding("N", "previous_match", "Prev match", id="log-pane.previous-match"),
        Binding("v", "cycle_service", "Service", id="log-pane.service"),
        Binding("c", "copy", "Copy", id="log-pane.copy"),
        Binding("t", "toggle_timestamps", "Timestamps", id="log-pane.timestamps"),
        # A fleet's only (check_action): cycles all hosts, then each one alone.
        Binding("H", "cycle_host", "Host", id="log-pane.host"),
    ]

    COMPONENT_CLASSES = {
        "log-pane--timestamp",
        "log-pane--separator",
        "log-pane--match",
        "log-pane--current-match",
        "log-pane--indicator",
    }

    DEFAULT_CSS = """
    LogPane {
        height: 1fr;
        border: round $panel;
        border-title-color: $text-muted;
        border-subtitle-color: $text-muted;
        &:focus, &:focus-within { border: round $accent; }
        & > .log-pane--timestamp { color: $text-muted; }
        & > .log-pane--separator { color: $text-disabled; }
        & > .log-pane--match { background: $warning 60%; color: $text; }
        & > .log-pane--current-match { background: $accent 30%; }
        & > .log-pane--indicator { background: $warning; color: $background; text-style: bold; }
    }
    """

    follow: reactive[bool] = reactive(True, init=False)
    show_timestamps: reactive[bool] = reactive(True, init=False)
    text_filter: reactive[str] = reactive("", init=False)
    service_filter: reactive[frozenset[str] | None] = reactive(None, init=False)
    host_filter: reactive[str | None] = reactive(None, init=False)
    search_term: reactive[str] = reactive("", init=False)
    new_lines: reactive[int] = reactive(0, init=False)

    class FollowChanged(Message):
        """Following the end of the log was switched on or off."""

        def __init__(self, log_pane: LogPane, follow: bool) -> None:
            super().__init__()
            self.log_pane = log_pane
            self.follow = follow

        @property
        def control(self) -> LogPane:
            return self.log_pane

    class FilterChanged(Message):
        """The rows shown changed because the service or text filter did."""

        def __init__(
            self, log_pane: LogPane, services: frozenset[str] | None, text: str, rows: int, host: str | None = None
        ) -> None:
            super().__init__()
            self.log_pane = log_pane
            self.services = services
            self.text = text
            self.rows = rows
            self.host = host

        @property
        def control(self) -> LogPane:
            return self.log_pane

    class SearchMoved(Message):
        """``n``/``N`` moved to a match (``row`` None: no line matches)."""

        def __init__(self, log_pane: LogPane, term: str, row: int | None) -> None:
            super().__init__()
            self.log_pane = log_pane
            self.term = term
            self.row = row

        @property
        def control(self) -> LogPane:
            return self.log_pane

    def __init__(
        self,
        *,
        max_lines: int = DEFAULT_MAX_LINES,
        max_bytes: int = DEFAULT_MAX_BYTES,
        project: str | None = None,
        services: Collection[str] = (),
        hosts: Sequence[str] = (),
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self.buffer = LogBuffer(max_lines, LogParser(project, services), max_bytes=max_bytes)
        self.view = LogView(self.buffer)
        self.hosts = tuple(hosts)  # a fleet's host names: the host column and filter are shown
        self._host_width = min(max(map(len, self.hosts), default=0), HOST_COLUMN_MAX)
        self._pending: list[QueuedOutput] = []
        self._pending_count = 0  # lines in the queue
        self._pending_bytes = 0  # their characters, see QueuedOutput.size
        self._pending_lock = threading.Lock()
        self._pending_skipped = 0
        self._drained_at = 0.0  # monotonic time of the last drain
        self._ui_thread = threading.get_ident()
        self._matcher: TextMatcher | None = None
        self._match_seq: int | None = None
        self._service_width = 0
        self._text_width = 0
        self._style_sets: dict[bool, dict[str, Style]] = {}
        self.border_title = "logs"

    @property
    def is_container(self) -> bool:
        # A Line API widget draws its own rows and has no children, but this one has the
        # prompt docked over its bottom row; as a container the compositor places it.
        return True

    def compose(self) -> ComposeResult:
        yield LogPrompt()

    @property
    def prompt_open(self) -> bool:
        """The filter or search prompt is open (and has the focus while the operator types)."""
        return self.query_one(LogPrompt).is_open

    # -- ingest ------------------------------------------------------------------------------

    def ingest(self, raw_lines: list[str], host: str = "") -> None:
        """Queue raw ``docker compose logs`` lines; safe from any thread, never refreshes.

        ``host``: the fleet host whose follower printed them (one tag for the batch).

        The only per-line work, making them safe to keep, happens here in the
        caller's thread or worker (a few tens of ns a line, in C); parsing waits
        until a row is drawn. A producer thread yields the GIL after every chunk:
        otherwise CPython lets it run 5 ms slices while the event loop waits for
        the GIL at each of the many hops a key press makes.
        """
        off_ui_thread = threading.get_ident() != self._ui_thread
        for start in range(0, len(raw_lines), INGEST_CHUNK):
            lines = prepare_lines(raw_lines[start : start + INGEST_CHUNK])
            if lines:
                self._queue("\n".join(lines) + "\n", len(lines), host)
            if off_ui_thread:
                time.sleep(GIL_YIELD)

    def ingest_chunk(self, data: bytes, host: str = "") -> None:
        """Queue raw output bytes holding whole lines (a transport's chunk, cut after its last
        newline); safe from any thread, never refreshes. Kept unsplit
        (:func:`~console.live.logstream.prepare_chunk`): no per-line work at all."""
        # No GIL_YIELD sleep here (ingest has one): a chunk's reader blocks on the socket or
        # pipe between chunks, which hands the GIL to the UI's thread anyway, and a 0.1 ms sleep
        # per 64 KiB chunk (~600 lines) cost a follower thread two thirds of its rate (bench/).
        self._queue(*prepare_chunk(data), host)

    def ingest_batch(self, batch: LogBatch, host: str = "") -> None:
        """Queue what :func:`~console.live.logfollow.follow_logs` yielded (chunks and lines)."""
        for data in batch.chunks:
            self.ingest_chunk(data, host)
        if batch.lines:
            self.ingest(batch.lines, host)

    def _queue(self, text: str, count: int, host: str = "") -> None:
        if not count:
            return
        size = len(text) - count
        with self._pending_lock:
            pending = self._pending
            pending.append(QueuedOutput(text, count, size, host))
            self._pending_count += count
            self._pending_bytes += size
            max_lines, max_bytes = self.buffer.max_lines, self.buffer.max_bytes
            if self._pending_count > max_lines + max_lines // 4 or self._pending_bytes > max_bytes:
                # The buffer would drop the oldest on arrival anyway; drop them before they cost anything.
                while len(pending) > 1 and (
                    self._pending_count - pending[0].line_count >= max_lines or self._pending_bytes > max_bytes
                ):
                    oldest = pending.pop(0)
                    self._pending_count -= oldest.line_count
                    self._pending_bytes -= oldest.size
                    self._pending_skipped += oldest.line_count

    def on_mount(self) -> None:
        super().on_mount()
        self._update_title()
        self.set_interval(DRAIN_INTERVAL, self._drain_tick)

    def _drain_tick(self) -> None:
        """The drain timer: every tick, but a flood at most every FLOOD_DRAIN_INTERVAL (the
        queue stays bounded meanwhile, see ``_queue``)."""
        if self._pending_count >= FLOOD_LINES and time.monotonic() - self._drained_at < FLOOD_DRAIN_INTERVAL:
            return
        self.drain()

    def drain(self) -> int:
        """Move queued lines into the buffer with at most one refresh; returns their count.

        Paused, the rows on screen stay put unless lines were dropped above them
        (rows added change ``virtual_size``, which repaints the pane by itself).
        """
        self._drained_at = time.monotonic()
        with self._pending_lock:
            batches = self._pending
            if not batches:
                return 0
            count = self._pending_count
            self._pending, self._pending_count, self._pending_bytes = [], 0, 0
            skipped, self._pending_skipped = self._pending_skipped, 0
        if skipped:
            # Lines trimmed in the queue still get sequence numbers, so counts stay honest.
            self.buffer.skip(skipped)
        if len({batch.host for batch in batches}) <= 1:
            for batch in batches:
                self.buffer.extend_text(batch.text, batch.line_count, host=batch.host)
        else:
            # Several hosts' followers: one batch per host per drain, so the buffer's chunks
            # (one host each) stay large; within a drain (0.1 s) the hosts' lines come in turn.
            by_host: dict[str, list[QueuedOutput]] = {}
            for batch in batches:
                by_host.setdefault(batch.host, []).append(batch)
            for host, host_batches in by_host.items():
                text = "".join(batch.text for batch in host_batches)
                self.buffer.extend_text(text, sum(batch.line_count for batch in host_batches), host=host)
        added, dropped = self.view.sync()
        self._update_virtual_size()
        if self.follow:
            self._scroll_to_end()
            self.refresh()
        else:
            self.new_lines += added
            if dropped:
                # Rows vanished above the viewport: move with the text so it stays still.
                self.scroll_to(y=max(0, self.scroll_y - dropped), animate=False, immediate=True, force=True)
                self.refresh()
        return count

    # -- rendering ---------------------------------------------------------------------------

    def _prefix_width(self) -> int:
        host = self._host_width + 1 if self._host_width else 0
        return (13 if self.show_timestamps else 0) + host + self._service_width + 3

    def _update_virtual_size(self) -> None:
        self.virtual_size = Size(self._prefix_width() + self._text_width, len(self.view))

    def _scroll_to_end(self) -> None:
        self.scroll_to(
            y=max(0, len(self.view) - self.scrollable_content_region.height), animate=False, immediate=True, force=True
        )

    def render_lines(self, crop: Region) -> list[Strip]:
        self._measure(self.visible_rows())
        return super().render_lines(crop)

    def _measure(self, rows: range) -> None:
        """Widen the service column and the scrollable width to fit the rows about to be drawn.

        Lines are parsed only when drawn, so the widths grow with the rows seen,
        never shrink (a column that jumped back and forth would be worse).
        """
        service_width, text_width = self._service_width, self._text_width
        for row in rows:
            line = self.view.line_at(row)
            service_width = max(service_width, min(len(line.service), SERVICE_COLUMN_MAX))
            text_width = max(text_width, len(line.text))
        if (service_width, text_width) == (self._service_width, self._text_width):
            return
        self._service_width, self._text_width = service_width, text_width
        self._update_virtual_size()

    def _styles(self, current: bool = False) -> dict[str, Style]:
        """The row styles, worked out once per style change (looking them up per row was
        a third of a frame); ``current``: for the row of the current search match."""
        styles = self._style_sets.get(current)
        if styles is None:
            part = self.get_component_rich_style
            base = self.rich_style
            if current:
                base = base + part("log-pane--current-match")
            styles = self._style_sets[current] = {"": base} | {
                name: base + part(f"log-pane--{name}") for name in ("timestamp", "separator", "match", "indicator")
            }
        return styles

    def _service_style(self, styles: dict[str, Style], service: str) -> Style:
        style = styles.get("service:" + service)
        if style is None:
            style = styles["service:" + service] = styles[""] + Style(color=service_colour(service))
        return style

    def render_line(self, y: int) -> Strip:
        region = self.scrollable_content_region
        width, height = region.width, region.height
        styles = self._styles()
        if y == height - 1 and not self.follow and self.new_lines:
            label = f" ↓ {self.new_lines:,} new lines, f to follow "
            style = styles["indicator"]
            return Strip([Segment(label, style)]).crop_extend(0, width, style)
        scroll_x, scroll_y = self.scroll_offset
        row = scroll_y + y
        if row >= len(self.view):
            return Strip.blank(width, styles[""])
        # Rows are styled afresh each frame from the parsed-line cache, not kept as strips: a
        # Strip is ~15 objects for the collector, and one kept a frame or two reaches the old
        # generation, where a flood's worth of them makes full GC passes frequent and slow.
        # Built at the pane's width directly: crop_extend would make two more strips a row.
        segments = self._row_segments(self.view.seq_at(row))
        cells = sum(map(cell_len, [segment.text for segment in segments]))
        if scroll_x == 0 and cells <= width:
            segments.append(Segment(" " * (width - cells), styles[""]))
            return Strip(segments, width)
        return Strip(segments, cells).crop_extend(scroll_x, scroll_x + width, styles[""])

    def _row_segments(self, seq: int) -> list[Segment]:
        line = self.buffer.get(seq)
        styles = self._styles(current=seq == self._match_seq)
        base = styles[""]
        segments = []
        if self.show_timestamps:
            # "2026-03-01T10:15:30.123456789Z" -> "10:15:30.123": the date rarely matters mid-incident.
            stamp = line.timestamp[11:23].ljust(12)
            segments.append(Segment(stamp + " ", styles["timestamp"]))
        if self._host_width:
            host = line.host[:HOST_COLUMN_MAX].ljust(self._host_width)
            segments.append(Segment(host + " ", self._service_style(styles, line.host)))
        service = line.service[:SERVICE_COLUMN_MAX].ljust(self._service_width)
        segments.append(Segment(service, self._service_style(styles, line.service)))
        segments.append(Segment(" │ ", styles["separator"]))
        text = line.text
        spans = self._matcher.spans(text) if self._matcher else []
        if spans:
            match = styles["match"]
            at = 0
            for start, end in spans:
                if start > at:
                    segments.append(Segment(text[at:start], base))
                segments.append(Segment(text[start:end], match))
                at = end
            if at < len(text):
                segments.append(Segment(text[at:], base))
        else:
            segments.append(Segment(text, base))
        return segments

    def plain_row(self, row: int) -> str:
        """A row as text, the way it is shown (for copying)."""
        line = self.view.line_at(row)
        stamp = f"{line.timestamp} " if self.show_timestamps and line.timestamp else ""
        stamp += f"{line.host} " if line.host else ""
        return f"{stamp}{line.service} | {line.text}" if line.service else f"{stamp}{line.text}"

    def visible_rows(self) -> range:
        top = int(self.scroll_y)
        return range(top, min(len(self.view), top + self.scrollable_content_region.height))

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._style_sets.clear()

    # -- filters and search ------------------------------------------------------------------

    def _apply_filter(self) -> None:
        try:
            matcher = parse_prompt(self.text_filter)
        except re.error as exc:
            self.notify(f"Bad filter regex: {exc}", severity="error")
            return
        hosts = frozenset({self.host_filter}) if self.host_filter is not None else None
        self.view.rebuild(LogFilter(services=self.service_filter, text=matcher, hosts=hosts))
        self._update_virtual_size()
        if self.follow:
            self._scroll_to_end()
        self.refresh()
        self.post_message(
            self.FilterChanged(self, self.service_filter, self.text_filter, len(self.view), self.host_filter)
        )
        self._update_title()

    def _update_title(self) -> None:
        parts = ["logs"]
        if self.host_filter is not None:
            parts.append(f"host: {self.host_filter}")
        if self.service_filter is not None:
            parts.append("service: " + ",".join(sorted(self.service_filter)))
        if self.text_filter:
            parts.append(f"filter: {self.text_filter}")
        if self.search_term:
            parts.append(f"search: {self.search_term}")
        self.border_title = " · ".join(parts)
        self.border_subtitle = "following" if self.follow else "paused"

    def _move_to_match(self, backward: bool) -> int | None:
        if self._matcher is None:
            self.notify("No search term: press s to search", severity="warning")
            return None
        start = None
        if self._match_seq is not None:
            start = self.view.row_of(self._match_seq)
        if start is None:
            start = int(self.scroll_y) + (self.scrollable_content_region.height if backward else -1)
        row = self.view.search(self._matcher, start, backward=backward)
        if row is None:
            self._match_seq = None
            self.notify(f"No line matches {self.search_term!r}", severity="warning")
        else:
            self._match_seq = self.view.seq_at(row)
            self.follow = False  # a match we jump to must not scroll away
            height = self.scrollable_content_region.height
            if not int(self.scroll_y) <= row < int(self.scroll_y) + height - 1:
                self.scroll_to(y=max(0, row - height // 2), animate=False, immediate=True, force=True)
        self.refresh()
        self.post_message(self.SearchMoved(self, self.search_term, row))
        return row

    # -- prompt ------------------------------------------------------------------------------

    @on(LogPrompt.Submitted)
    def _prompt_submitted(self, event: LogPrompt.Submitted) -> None:
        event.stop()
        kind, value = event.kind, event.value
        try:
            parse_prompt(value)
        except re.error as exc:
            self.notify(f"Bad regex: {exc}", severity="error")  # the prompt stays open to fix it
            return
        self._close_prompt()
        if kind == "filter":
            self.text_filter = value
        else:
            self.search_term = value
            if value:
                self.action_next_match()

    @on(LogPrompt.Dismissed)
    def _prompt_dismissed(self, event: LogPrompt.Dismissed) -> None:
        event.stop()
        self._close_prompt()

    def _close_prompt(self) -> None:
        prompt = self.query_one(LogPrompt)
        had_focus = prompt.has_focus_within
        prompt.close()
        if had_focus:
            self.focus()

    # -- actions -----------------------------------------------------------------------------

    def action_toggle_follow(self) -> None:
        self.follow = not self.follow

    def action_follow(self) -> None:
        self.follow = True

    def action_prompt(self, kind: str) -> None:
        self.query_one(LogPrompt).open(kind, self.text_filter if kind == "filter" else self.search_term)

    def action_next_match(self) -> None:
        self._move_to_match(backward=False)

    def action_previous_match(self) -> None:
        self._move_to_match(backward=True)

    def action_cycle_service(self) -> None:
        """All services, then each one alone, then all again."""
        services = self.buffer.services()
        if not services:
            return
        if self.service_filter is None:
            self.service_filter = frozenset({services[0]})
            return
        current = next(iter(self.service_filter))
        at = services.index(current) + 1 if current in services else len(services)
        self.service_filter = frozenset({services[at]}) if at < len(services) else None

    def action_cycle_host(self) -> None:
        """A fleet's logs: all hosts, then each one alone (in the config's order), then all again."""
        hosts = list(self.hosts) + [h for h in self.buffer.hosts() if h not in self.hosts]
        if not hosts:
            return
        at = hosts.index(self.host_filter) + 1 if self.host_filter in hosts else 0
        self.host_filter = hosts[at] if at < len(hosts) else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cycle_host":
            return bool(self.hosts)
        return True

    def action_copy(self) -> None:
        rows = self.visible_rows()
        match_row = self.view.row_of(self._match_seq) if self._match_seq is not None else None
        if match_row is not None and match_row in rows:
            rows = range(match_row, match_row + 1)
        text = "\n".join(self.plain_row(r) for r in rows)
        self.app.copy_to_clipboard(text)
        self.notify(f"Copied {len(rows)} line{'s' if len(rows) != 1 else ''}")

    def action_toggle_timestamps(self) -> None:
        self.show_timestamps = not self.show_timestamps

    # -- watchers ----------------------------------------------------------------------------

    def watch_follow(self, follow: bool) -> None:
        if follow:
            self.new_lines = 0
            self._match_seq = None
            self._scroll_to_end()
        self.refresh()
        self._update_title()
        self.post_message(self.FollowChanged(self, follow))

    def watch_show_timestamps(self) -> None:
        self._update_virtual_size()
        self.refresh()

    def watch_text_filter(self) -> None:
        self._apply_filter()

    def watch_service_filter(self) -> None:
        self._apply_filter()

    def watch_host_filter(self) -> None:
        self._apply_filter()

    def watch_search_term(self, term: str) -> None:
        try:
            self._matcher = parse_prompt(term)
        except re.error as exc:
            self._matcher = None
            self.notify(f"Bad search regex: {exc}", severity="error")
        self._match_seq = None
        self._update_title()
        self.refresh()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        # Scrolling up (wheel, keys, scrollbar) means the operator wants to read: stop following.
        # A shrinking view clamps scroll_y too; that is not the operator, so stay at the end.
        if self.follow and new_value < old_value and new_value < self.max_scroll_y:
            self.follow = False

    def watch_new_lines(self) -> None:
        if not self.follow:
            self.refresh_line(int(self.scroll_y) + self.scrollable_content_region.height - 1)
