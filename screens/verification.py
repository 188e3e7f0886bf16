"""Post-rollback verification (runbook section 5): the checks as they ran, and the ones only a person can do.

The automatic checks' results are read back from the journal's step records;
the manual ones (smoke tests by hand, dashboards) are ticked here and
journaled as ``checklist`` records of the "Post-rollback verification" group.
"""

from __future__ import annotations

import asyncio

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Button, DataTable, Static

from console.engine.incident import build_verify
from console.engine.procedure import Procedure
from console.engine.verification import verification_steps
from console.incident.journal import Journal
from console.incident.records import Record, StepFailed, StepFinished, StepSkipped
from screens.base import ConsoleScreen
from screens.ticks import add_tick_rows, manual_states, show_ticks, toggle_selected
from widgets.metrics_pane import MetricsPane

METRICS_REFRESH_SECONDS = 10.0

GROUP = "Post-rollback verification"
STEP_RESULTS = {"step_finished": "passed", "step_failed": "FAILED", "step_skipped": "skipped"}


def verification_results(journal: Journal, step_ids: list[str]) -> dict[str, Record]:
    """The latest result record of each verification step (any procedure that ran it)."""
    return {step_id: r for step_id, r in journal.state.step_results.items() if step_id in step_ids}


def describe_result(record: Record | None) -> tuple[str, str]:
    if record is None:
        return "not run", ""
    kind = record.kind
    if isinstance(record, StepFailed):
        return STEP_RESULTS[kind], str(record.message or record.reason_label or "")
    if isinstance(record, StepSkipped):
        return STEP_RESULTS[kind], str(record.reason or "")
    assert isinstance(record, StepFinished)
    duration = record.duration
    exit_code = record.exit_code
    bits = [f"exit {exit_code}" if exit_code is not None else "", f"{duration:.1f}s" if duration else ""]
    return STEP_RESULTS[kind], ", ".join(b for b in bits if b)


class VerificationScreen(ConsoleScreen):
    SCREEN_TITLE = "Verify"

    BINDINGS = [
        Binding("space", "tick", "Tick", id="verification.tick"),
        Binding("v", "run_verification", "Run checks", id="verification.run"),
        Binding("c", "done", "Follow-up", id="verification.done"),
        Binding("r", "resume_procedure", "Resume procedure", id="verification.resume"),
    ]
    BUTTON_ACTIONS = {"tick": "tick", "run": "run_verification", "done": "done"}

    RESUMABLE = ("failed", "aborted", "interrupted")

    class Done(Message):
        """Go on to communication and follow-up."""

    class ResumeProcedure(Message):
        """Go back to the incident's unfinished procedure, at its interrupted step."""

    class RunVerification(Message):
        def __init__(self, procedure: Procedure) -> None:
            super().__init__()
            self.procedure = procedure

    def __init__(self, journal: Journal, outcome: str) -> None:
        super().__init__()
        self.journal = journal
        self.outcome = outcome

    def compose(self) -> ComposeResult:
        yield from self.compose_header()
        with VerticalScroll(classes="split--main"):
            yield Static("", id="verify-outcome", classes="section-title")
            yield DataTable(id="verify-table", cursor_type="row", show_cursor=False)
            if self.console_app.config.observability.metrics:
                yield MetricsPane([m.name for m in self.console_app.config.observability.metrics], id="verify-metrics")
            yield Static("Checks only a person can do (space to tick)", classes="section-title")
            yield DataTable(id="manual-table", cursor_type="row")
            with Horizontal(classes="buttons"):
                yield Button("Tick (space)", id="tick")
                yield Button("Run checks again (v)", id="run")
                yield Button("Follow-up (c)", id="done", variant="success")
        yield from self.compose_footer()

    def on_mount(self) -> None:
        super().on_mount()
        checks = self.query_one("#verify-table", DataTable)
        checks.add_column("Check", key="check")
        checks.add_column("Result", key="result", width=8)
        checks.add_column("Detail", key="detail")
        for step in verification_steps(self.console_app.config, None):
            checks.add_row(step.title, "", "", key=step.id)
        manual = self.query_one("#manual-table", DataTable)
        self.manual_items = self._manual_items()
        add_tick_rows(manual, self.manual_items, "Check")
        manual.focus()
        self.show_results()
        if self.console_app.config.observability.metrics:
            self.poll_metrics()

    def _manual_items(self) -> list:
        """The hand checks; Prometheus's answer replaces the dashboard review (kept when it could not answer)."""
        from console.observability.steps import DASHBOARD_TICK, metrics_answered

        items = list(self.console_app.runbook.manual_verification)
        if self.console_app.config.observability.metrics and metrics_answered(self.journal.state):
            items = [i for i in items if i.id != DASHBOARD_TICK]
        return items

    @work(exclusive=True, group="verify-metrics", exit_on_error=False)
    async def poll_metrics(self) -> None:
        from console.observability.live import chart_data

        pane = self.query_one(MetricsPane)
        while True:
            state = self.journal.state
            # The release the procedure went to: the charts' deploy mark is the deploy it left,
            # not the rollback's own entry in the release log.
            _, went_to = state.tags()
            pane.update_charts(await chart_data(self.console_app.config, state, went_to))
            await asyncio.sleep(METRICS_REFRESH_SECONDS)

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        self.show_results()

    def show_results(self) -> None:
        words = {
            "succeeded": "succeeded",
            "failed": "FAILED (r resumes it)",
            "aborted": "was aborted (r resumes it)",
            "interrupted": "was interrupted (r resumes it)",
        }
        self.query_one("#verify-outcome", Static).update(
            f"The procedure {words.get(self.outcome, self.outcome)}. Post-rollback verification:"
        )
        step_ids = [s.id for s in verification_steps(self.console_app.config, None)]
        results = verification_results(self.journal, step_ids)
        checks = self.query_one("#verify-table", DataTable)
        for step_id in step_ids:
            result, detail = describe_result(results.get(step_id))
            checks.update_cell(step_id, "result", result)
            checks.update_cell(step_id, "detail", detail, update_width=False)
        items = self.manual_items
        show_ticks(
            self.query_one("#manual-table", DataTable), items, manual_states(self.journal, {i.id for i in items})
        )

    def action_tick(self) -> None:
        if toggle_selected(
            self.query_one("#manual-table", DataTable),
            self.manual_items,
            self.session,
            GROUP,
            self.console_app.config.operator,
        ):
            self.show_results()

    @on(DataTable.RowSelected, "#manual-table")
    def _selected(self) -> None:
        self.action_tick()

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "resume_procedure":
            return self.outcome in self.RESUMABLE  # a finished procedure has nothing to resume
        return True

    def action_resume_procedure(self) -> None:
        if self.outcome in self.RESUMABLE:
            self.post_message(self.ResumeProcedure())

    def action_run_verification(self) -> None:
        try:
            procedure = build_verify(self.console_app.config, None)
        except ValueError as exc:  # ReleaseLogError: the expected version comes from the release log
            self.notify(str(exc), title="cannot run the checks", severity="error", timeout=15)
            return
        self.post_message(self.RunVerification(procedure))

    def action_done(self) -> None:
        self.post_message(self.Done())
