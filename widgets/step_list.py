"""The steps of a running procedure, each with its state, duration and output so far.

The list is the model as well as the view: :class:`StepRecord` keeps what the
engine reported about one step (bounded output included), so the screen can
show the selected step's exact command and output without asking the engine.
"""

from __future__ import annotations

import zlib
from collections import deque
from dataclasses import dataclass, field

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from console.engine.fleet_ids import split_step_id

HOST_PALETTE = ("cyan", "magenta", "green", "yellow", "bright_blue", "orange1")
SETTLED = ("done", "skipped", "would_run")
OUTPUT_KEEP_LINES = 2000  # per step, on screen; the journal's side file keeps the full output

# state -> (mark, label, style); labels are the words the operator reads.
STATES = {
    "pending": ("·", "pending", "dim"),
    "running": ("▶", "running", "bold yellow"),
    "done": ("✓", "done", "green"),
    "failed": ("✗", "failed", "bold red"),
    "skipped": ("↷", "skipped", "cyan"),
    "would_run": ("○", "would run", "magenta"),
    "confirm": ("?", "waiting for confirmation", "bold reverse yellow"),
}


def host_colour(host: str) -> str:
    """A host keeps its colour (crc32, not hash(), which changes per run)."""
    return HOST_PALETTE[zlib.crc32(host.encode()) % len(HOST_PALETTE)]


@dataclass
class StepRecord:
    id: str
    title: str
    command: str
    destructive: bool = False
    state: str = "pending"
    duration: float | None = None
    note: str = ""  # a failure message or skip reason
    attempts: int = 0
    output: deque[str] = field(default_factory=lambda: deque(maxlen=OUTPUT_KEEP_LINES))

    @property
    def label(self) -> str:
        return STATES.get(self.state, ("", self.state, ""))[1]


class StepList(OptionList):
    """One row per step; highlighting a row selects it for the detail view."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False, id="step-list.down"),
        Binding("k", "cursor_up", "Up", show=False, id="step-list.up"),
    ]

    DEFAULT_CSS = """
    StepList {
        height: 1fr;
        border: round $panel;
        border-title-color: $text-muted;
        &:focus { border: round $accent; }
    }
    """

    class Selected(Message):
        """The operator moved to another step."""

        def __init__(self, step_list: StepList, step_id: str) -> None:
            super().__init__()
            self.step_list = step_list
            self.step_id = step_id

        @property
        def control(self) -> StepList:
            return self.step_list

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.records: dict[str, StepRecord] = {}
        self.border_title = "steps"

    # -- data in ------------------------------------------------------------------------

    def set_steps(self, steps: list[dict]) -> None:
        """``steps`` as ProcedureStarted carries them: [{id, title, destructive, command}]."""
        old = self.records
        self.records = {}
        for s in steps:
            record = old.get(s["id"]) or StepRecord(s["id"], s["title"], s["command"], s.get("destructive", False))
            self.records[s["id"]] = record
        self.set_options([Option(self._prompt(r), id=r.id) for r in self.records.values()])
        if self.records and self.highlighted is None:
            self.highlighted = 0
        self._update_title()

    def record(self, step_id: str) -> StepRecord | None:
        return self.records.get(step_id)

    def update_step(
        self,
        step_id: str,
        *,
        state: str | None = None,
        duration: float | None = None,
        note: str | None = None,
        command: str | None = None,
    ) -> None:
        record = self.records.get(step_id)
        if record is None:
            return
        if state is not None:
            record.state = state
        if duration is not None:
            record.duration = duration
        if note is not None:
            record.note = note
        if command:
            record.command = command
        self.replace_option_prompt(step_id, self._prompt(record))
        if state is not None:
            self._update_title()

    def add_output(self, step_id: str, lines: list[str]) -> None:
        record = self.records.get(step_id)
        if record is not None:
            record.output.extend(lines)

    def follow(self, step_id: str) -> None:
        """Move the cursor to the step the engine is on."""
        if step_id in self.records:
            self.highlighted = self.get_option_index(step_id)

    @property
    def selected_id(self) -> str | None:
        option = self.highlighted_option
        return option.id if option is not None else None

    def running_ids(self) -> list[str]:
        """The steps running now, in the procedure's order (several when steps run together)."""
        return [r.id for r in self.records.values() if r.state == "running"]

    def counts(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for r in self.records.values():
            totals[r.state] = totals.get(r.state, 0) + 1
        return totals

    def host_progress(self) -> dict[str, tuple[int, int]]:
        """A fleet's steps per host: ``{host: (settled, total)}`` in the steps' order ({} on a single host)."""
        progress: dict[str, tuple[int, int]] = {}
        for record in self.records.values():
            host, _ = split_step_id(record.id)
            if host is None:
                continue
            settled, total = progress.get(host, (0, 0))
            progress[host] = (settled + (record.state in SETTLED), total + 1)
        return progress

    # -- presentation --------------------------------------------------------------------

    def _update_title(self) -> None:
        progress = self.host_progress()
        hosts = " · ".join(f"{host} {settled}/{total}" for host, (settled, total) in progress.items())
        running = len(self.running_ids())
        together = f" · {running} running at once" if running > 1 else ""
        self.border_title = (f"steps · {hosts}" if hosts else "steps") + together

    @staticmethod
    def _prompt(record: StepRecord) -> Text:
        mark, label, style = STATES.get(record.state, ("?", record.state, ""))
        text = Text()
        text.append(f"{mark} ", style)
        host, _ = split_step_id(record.id)
        if host is not None:
            # A fleet runs the same ~19 steps on every host: the host first, so a glance tells them apart.
            text.append(f"{host} ", f"bold {host_colour(host)}")
        text.append(record.title)
        if record.destructive:
            text.append(" ⚠", "yellow")
        text.append("\n  ")
        text.append(label, style)
        if record.duration is not None:
            text.append(f" · {record.duration:.1f}s", "dim")
        if record.attempts > 1:
            text.append(f" · attempt {record.attempts}", "dim")
        if record.note:
            text.append(f" · {record.note[:60]}", "dim italic")
        return text

    def watch_highlighted(self, highlighted: int | None) -> None:
        super().watch_highlighted(highlighted)
        if highlighted is not None and 0 <= highlighted < self.option_count:
            option = self.get_option_at_index(highlighted)
            if option.id is not None:
                self.post_message(self.Selected(self, option.id))
