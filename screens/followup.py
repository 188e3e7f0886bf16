"""Communication and follow-up: the runbook's follow-up items, the retro, resolution and the report."""

from __future__ import annotations

from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Button, DataTable, Label, Static, TextArea

from console.engine.announce import incident_notifier
from console.incident.followup import GROUP, record_automatic_ticks
from console.incident.journal import Journal
from console.incident.records import ChecklistMark
from console.incident.report import render_report
from console.notify.messages import INCIDENT_RESOLVED
from console.observability.report_section import write_charts
from screens.base import ConsoleScreen
from screens.modals import ConfirmDialog, ReasonDialog
from screens.ticks import add_tick_rows, manual_states, show_ticks, toggle_selected, who_and_when

REPORT_NAME = "report.md"


def write_report(journal: Journal) -> Path:
    path = journal.directory / REPORT_NAME
    path.write_text(render_report(journal.state), encoding="utf-8")
    write_charts(journal.state, path)
    return path


class FollowupScreen(ConsoleScreen):
    SCREEN_TITLE = "Follow-up"

    # At 80 columns the footer holds about four keys: space is told in the table's title, and Home
    # comes before the long "Post resolution" (whose key is on its button). ctrl+e and ctrl+b are
    # priority bindings because a retro TextArea has focus most of the time here, and TextArea
    # takes ctrl+e for end of line (the End key still does that).
    BINDINGS = [
        Binding("space", "tick", "Tick", id="followup.tick", show=False),
        Binding("ctrl+s", "save_retro", "Save retro", id="followup.save_retro"),
        Binding("ctrl+r", "resolve", "Resolve", id="followup.resolve"),
        Binding("ctrl+e", "write_report", "Write report", id="followup.write_report", priority=True),
        Binding("ctrl+b", "home", "Home", id="followup.home", priority=True),
        Binding("ctrl+o", "post_resolution", "Post resolution", id="followup.post"),
    ]
    BUTTON_ACTIONS = {
        "save": "save_retro",
        "resolve": "resolve",
        "report": "write_report",
        "post": "post_resolution",
        "home": "home",
    }

    class Home(Message):
        """Back to the home screen (the incident stays in the list until resolved)."""

    def __init__(self, journal: Journal) -> None:
        super().__init__()
        self.journal = journal
        self.report_path: Path | None = None

    def compose(self) -> ComposeResult:
        yield from self.compose_header()
        with VerticalScroll(classes="split--main"):
            yield Static("Follow-up (space to tick)", classes="section-title")
            yield DataTable(id="followup-table", cursor_type="row")
            yield Static("Retro", classes="section-title")
            with Vertical(id="retro"):
                yield Label("Root cause")
                yield TextArea(id="root-cause")
                yield Label("Detection gaps")
                yield TextArea(id="detection-gaps")
                yield Label("Action items (one per line)")
                yield TextArea(id="action-items")
            yield Static("", id="notify-note", classes="hint")
            yield Static("", id="report-path")
            with Horizontal(id="followup-buttons", classes="buttons"):
                yield Button("Save retro (^s)", id="save", variant="primary")
                yield Button("Resolve (^r)", id="resolve", variant="success")
                yield Button("Write report (^e)", id="report")
                yield Button("Post resolution (^o)", id="post")
                yield Button("Home (^b)", id="home")
        yield from self.compose_footer()

    def on_mount(self) -> None:
        super().on_mount()
        table = self.query_one("#followup-table", DataTable)
        add_tick_rows(table, self.console_app.runbook.follow_up, "Item")
        retro = self.journal.state.retro
        if retro:
            self.query_one("#root-cause", TextArea).text = retro.root_cause or ""
            self.query_one("#detection-gaps", TextArea).text = retro.detection_gaps or ""
            self.query_one("#action-items", TextArea).text = "\n".join(retro.action_items or [])
        config = self.console_app.config
        if config.slack is None and config.statuspage is None:
            self.query_one("#notify-note", Static).update(
                "No notifications are configured: post the resolution in #ops and on the status page by hand."
            )
        table.focus()
        self.show_items()

    def show_items(self) -> None:
        items = self.console_app.runbook.follow_up
        ids = {i.id for i in items}
        # what the journal proves done is ticked (and journaled) once; a person can still untick it
        record_automatic_ticks(self.journal, items, manual_states(self.journal, ids))
        show_ticks(self.query_one("#followup-table", DataTable), items, manual_states(self.journal, ids), _how_who_when)

    def action_tick(self) -> None:
        if toggle_selected(
            self.query_one("#followup-table", DataTable),
            self.console_app.runbook.follow_up,
            self.session,
            GROUP,
            self.console_app.config.operator,
        ):
            self.show_items()

    @on(DataTable.RowSelected, "#followup-table")
    def _selected(self) -> None:
        self.action_tick()

    def action_save_retro(self) -> None:
        actions = [line.strip() for line in self.query_one("#action-items", TextArea).text.splitlines() if line.strip()]
        self.session.save_retro(
            self.query_one("#root-cause", TextArea).text, self.query_one("#detection-gaps", TextArea).text, actions
        )
        self.notify("Retro saved to the journal.")
        self.show_items()

    def action_resolve(self) -> None:
        if self.journal.state.resolved is not None:
            self.notify("This incident is already resolved.", severity="warning")
            return

        def summarised(summary: str | None) -> None:
            if not summary:
                return
            self.session.resolve(summary, now=self.console_app.clock(), opened_at=self.console_app.incident_opened_at)
            self.notify(f"Incident {self.journal.incident_id} resolved.")
            self._end_silence()

        self.app.push_screen(
            ReasonDialog(
                "Resolution summary (one line, for #ops and the report):",
                placeholder="what was wrong and what fixed it",
            ),
            summarised,
        )

    def _end_silence(self) -> None:
        """The incident's alert silence ends with it, unless the coordinator keeps it (asked, or by config)."""
        from console.observability.silences import active_silence

        config = self.console_app.config
        if config.observability.alertmanager is None:
            return
        silence = active_silence(self.journal)
        if silence is None:
            return
        if config.observability.alertmanager.keep_silence:
            self.end_silence(keep=True)
            return
        until = str(silence.ends_at)[11:16]
        self.app.push_screen(
            ConfirmDialog(
                f"Expire alert silence {silence.silence_id} now?",
                detail=f"It mutes {' '.join(silence.matchers or [])} until {until} UTC. "
                "Keep it if the services are still being watched.",
                yes_label="Expire",
                no_label="Keep",
            ),
            self._silence_answered,
        )

    def _silence_answered(self, expire: bool | None) -> None:
        self.end_silence(keep=not expire)

    @work(exclusive=True, group="silence", exit_on_error=False)
    async def end_silence(self, keep: bool) -> None:
        from console.observability.silences import end_incident_silence

        action, message = await end_incident_silence(
            self.console_app.config, self.journal, self.console_app.config.operator, keep=keep
        )
        self.notify(
            message, severity="error" if action == "failed" else "information", timeout=15 if action == "failed" else 5
        )

    def action_write_report(self) -> None:
        self.report_path = write_report(self.journal)
        self.query_one("#report-path", Static).update(f"Report written: {self.report_path}")
        self.notify(f"Report written: {self.report_path}")

    def action_post_resolution(self) -> None:
        resolved = self.journal.state.resolved
        if resolved is None:
            self.notify("Resolve the incident first (ctrl+r): the summary goes into the message.", severity="warning")
            return
        self.post_resolution(resolved.summary or "")

    @work(exclusive=True, group="notify", exit_on_error=False)
    async def post_resolution(self, summary: str) -> None:
        notifier = incident_notifier(self.console_app.config, self.journal)
        if notifier is None:
            self.query_one("#notify-note", Static).update(
                "Not posted: no notifications are configured. Post the resolution by hand."
            )
            return
        results = await notifier.notify(INCIDENT_RESOLVED, summary=summary)
        said = ", ".join(f"{channel}: {status}" for channel, status in results.items())
        self.query_one("#notify-note", Static).update(f"Resolution posted ({said}).")
        self.show_items()

    def action_home(self) -> None:
        self.post_message(self.Home())


def _how_who_when(record: ChecklistMark) -> str:
    # follow-up ticks may be the console's own, with the evidence that proved them
    text = f"{record.how} by {who_and_when(record)}"
    return f"{text} · {record.detail}" if record.detail else text
