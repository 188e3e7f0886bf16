"""Every command the console ran on the host, with its exit code and duration.

Fed from the engine's StepStarted / StepFinished / StepFailed events, so it is
the same list the journal holds; a retried step shows one row per attempt.
"""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.widgets import DataTable

COMMAND_MAX_CHARS = 400


class CommandLog(DataTable):
    """Rows of (time, step, exit, duration, command); the newest attempt of a step is completed in place."""

    DEFAULT_CSS = """
    CommandLog {
        height: 1fr;
        border: round $panel;
        border-title-color: $text-muted;
        &:focus { border: round $accent; }
    }
    """

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes, cursor_type="row", zebra_stripes=True)
        self._open: dict[str, str] = {}  # step id -> row key of its running attempt
        self._count = 0
        self.border_title = "commands run on the host"
        self.add_column("time", key="time")
        self.add_column("step", key="step")
        self.add_column("exit", key="exit")
        self.add_column("took", key="took")
        self.add_column("command", key="command")

    @property
    def row_texts(self) -> list[list[str]]:
        """Rows as plain text (what the table shows), oldest first."""
        return [[str(cell) for cell in self.get_row_at(i)] for i in range(self.row_count)]

    def command_started(self, step_id: str, command: str) -> None:
        if not command:
            return  # a built-in check with nothing of its own to show
        self._count += 1
        key = f"cmd-{self._count}"
        self._open[step_id] = key
        shown = command if len(command) <= COMMAND_MAX_CHARS else command[:COMMAND_MAX_CHARS] + "…"
        self.add_row(datetime.now().strftime("%H:%M:%S"), step_id, Text("…", "yellow"), "", shown, key=key)
        self.move_cursor(row=self.row_count - 1)

    def command_ended(self, step_id: str, exit_code: int | None, duration: float) -> None:
        key = self._open.pop(step_id, None)
        if key is None:
            return
        if exit_code is None:
            code = Text("?", "bold red")  # the link died: the outcome is unknown
        else:
            code = Text(str(exit_code), "green" if exit_code == 0 else "bold red")
        self.update_cell(key, "exit", code)
        self.update_cell(key, "took", f"{duration:.1f}s")
