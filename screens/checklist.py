"""The runbook's prerequisites before a rollback or hotfix, in its three groups.

Machine-checkable items are checked in a worker; the rest are ticked by hand
(who and when are journaled) or waived with a reason. The procedure cannot be
started until every required item is done or waived.
"""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Button, DataTable, Static

from console.engine.announce import incident_notifier
from console.engine.hotfix import build_code_hotfix, build_config_hotfix
from console.engine.incident import build_rollback
from console.engine.procedure import Procedure
from console.incident.journal import Journal
from console.incident.prerequisites import BackupNeedsProof, Checklist, ItemState
from console.release.release_log import ReleaseLog, ReleaseLogError
from screens.base import ConsoleScreen
from screens.modals import ReasonDialog
from screens.procedure_inputs import ConfigChange, ConfigHotfixDialog, HotfixTagDialog

STATUS_MARKS = {"pending": "[ ]", "done": "[✓]", "waived": "[~]", "failed": "[✗]"}
GROUP_PREFIX = "group:"


def describe_state(state: ItemState, clock_format: str = "%H:%M:%S") -> str:
    """Who settled it and when, and what the check said."""
    parts = []
    if state.status == "waived":
        parts.append(f"waived: {state.reason}")
    if state.by and state.status != "pending":
        when = f" {state.at:{clock_format}}" if state.at else ""
        parts.append(f"{state.how} by {state.by}{when}")
    if state.detail:
        parts.append(state.detail)
    return " · ".join(parts)


class ChecklistScreen(ConsoleScreen):
    SCREEN_TITLE = "Prerequisites"

    BINDINGS = [
        Binding("space", "tick", "Tick", id="checklist.tick"),
        Binding("w", "waive", "Waive…", id="checklist.waive"),
        Binding("a", "run_checks", "Run checks", id="checklist.run_checks"),
        Binding("p", "start_procedure", "Start procedure", id="checklist.start"),
        Binding("escape", "back", "Back", id="checklist.back", show=False),
    ]
    BUTTON_ACTIONS = {"tick": "tick", "waive": "waive", "run-checks": "run_checks", "start": "start_procedure"}

    class ProcedureChosen(Message):
        """The checklist is ready and the procedure for the outcome is built."""

        def __init__(self, procedure: Procedure) -> None:
            super().__init__()
            self.procedure = procedure

    def __init__(self, journal: Journal, outcome: str) -> None:
        super().__init__()
        self.journal = journal
        self.outcome = outcome
        self.checklist: Checklist | None = None
        self.checking = False  # the machine checks are running: the status line says so

    def compose(self) -> ComposeResult:
        yield from self.compose_header()
        with VerticalScroll(id="checklist-main", classes="split--main"):
            yield Static("", id="checklist-outcome", classes="section-title")
            yield DataTable(id="checklist-table", cursor_type="row", zebra_stripes=False)
            yield Static("", id="checklist-detail", classes="muted")
            yield Static("", id="checklist-status")
            with Horizontal(classes="buttons"):
                yield Button("Tick (space)", id="tick")
                yield Button("Waive (w)", id="waive")
                yield Button("Run checks (a)", id="run-checks")
                yield Button("Start procedure (p)", id="start", variant="success", disabled=True)
        yield from self.compose_footer()

    def on_mount(self) -> None:
        super().on_mount()
        app = self.console_app
        self.checklist = Checklist(app.runbook, self.journal, app.config.operator)
        title = app.runbook.outcomes[self.outcome].title if self.outcome in app.runbook.outcomes else self.outcome
        self.query_one("#checklist-outcome", Static).update(f"Before the {title.lower()}: prerequisites")
        table = self.query_one("#checklist-table", DataTable)
        table.add_column("", key="status", width=3)
        table.add_column("Item", key="item")
        table.add_column("Who / when / detail", key="detail")
        for group, items in app.runbook.prerequisite_groups().items():
            table.add_row("", f"── {group} ──", "", key=GROUP_PREFIX + group)
            for item in items:
                optional = "" if item.required else " (optional)"
                table.add_row("", item.title + optional, "", key=item.id)
        self.checking = True  # from the first frame: "Blocked by" before the checks ran would mislead
        self.show_states()
        table.move_cursor(row=1)
        table.focus()
        self.run_auto_checks()

    def show_states(self) -> None:
        checklist = self.checklist
        if checklist is None:
            return
        table = self.query_one("#checklist-table", DataTable)
        for item in checklist.items:
            state = checklist.state(item.id)
            auto = " (auto)" if item.check and state.status == "pending" else ""
            table.update_cell(item.id, "status", STATUS_MARKS.get(state.status, "?"))
            table.update_cell(item.id, "detail", describe_state(state) + auto, update_width=True)
        ready = checklist.ready()
        status = self.query_one("#checklist-status", Static)
        status.set_class(ready, "-ready")
        status.set_class(not ready, "-blocked")
        if self.checking and not ready:
            status.update("Running the automatic checks…")
        elif ready:
            status.update("Ready: every required item is done or waived. Start the procedure (p).")
        else:
            names = ", ".join(item.title.split(":")[0] for item in checklist.blocking()[:3])
            more = len(checklist.blocking()) - 3
            status.update(
                f"Blocked by {len(checklist.blocking())} item(s): {names}" + (f" and {more} more" if more > 0 else "")
            )
        self.query_one("#start", Button).disabled = not ready
        self.show_selected()
        self.refresh_bindings()

    def show_selected(self) -> None:
        """The full state of the item under the cursor (the table may be cut at 80 columns)."""
        item_id = self.selected_item()
        text = ""
        if item_id is not None and self.checklist is not None:
            state = self.checklist.state(item_id)
            text = f"{self.checklist.item(item_id).title}: {state.status}"
            described = describe_state(state)
            text += f" · {described}" if described else ""
        self.query_one("#checklist-detail", Static).update(text)

    @on(DataTable.RowHighlighted, "#checklist-table")
    def _highlighted(self) -> None:
        self.show_selected()

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "start_procedure":
            return bool(self.checklist and self.checklist.ready()) or None
        return True

    def selected_item(self) -> str | None:
        table = self.query_one("#checklist-table", DataTable)
        if not table.row_count:
            return None
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        key = str(row_key.value)
        return None if key.startswith(GROUP_PREFIX) else key

    # -- ticks and waivers -------------------------------------------------------------------

    def action_tick(self) -> None:
        item_id = self.selected_item()
        if item_id is None or self.checklist is None:
            return
        if self.checklist.state(item_id).status == "done":
            self.checklist.untick(item_id, by=self.console_app.config.operator)
        else:
            try:
                self.checklist.tick(item_id, by=self.console_app.config.operator)
            except BackupNeedsProof as refused:
                self.notify(str(refused), title="the backup needs proof", severity="warning", timeout=10)
                return
        self.show_states()

    def action_waive(self) -> None:
        item_id = self.selected_item()
        if item_id is None or self.checklist is None:
            return
        title = self.checklist.item(item_id).title

        def reasoned(reason: str | None) -> None:
            if reason and self.checklist is not None:
                self.checklist.waive(item_id, reason, by=self.console_app.config.operator)
                self.show_states()

        self.app.push_screen(ReasonDialog(f"Why waive “{title}”?"), reasoned)

    @on(DataTable.RowSelected, "#checklist-table")
    def _row_selected(self) -> None:
        self.action_tick()

    # -- machine checks ----------------------------------------------------------------------

    def action_run_checks(self) -> None:
        self.run_auto_checks()

    @work(exclusive=True, group="prerequisites", exit_on_error=False)
    async def run_auto_checks(self) -> None:
        if self.checklist is None:
            return
        app = self.console_app
        self.checking = True
        self.show_states()
        try:
            await self.checklist.run_auto_checks(app.config, app.transport, incident_notifier(app.config, self.journal))
        finally:
            self.checking = False
            self.show_states()

    # -- the procedure -----------------------------------------------------------------------

    def action_start_procedure(self) -> None:
        if self.checklist is None or not self.checklist.ready():
            self.notify("The checklist is not complete yet.", severity="warning")
            return
        config = self.console_app.config
        if self.outcome == "code_hotfix":
            self.choose_hotfix_tag()
        elif self.outcome == "config_hotfix":

            def changed(change: ConfigChange | None) -> None:
                if change is not None:
                    self.build(
                        lambda: build_config_hotfix(
                            config,
                            service=change.service,
                            env_file=None,
                            keys=change.keys,
                            flag_command=change.flag_command,
                            undo_incident=change.undo_incident,
                            incident_id=self.journal.incident_id,
                            values=change.values,
                        )
                    )

            self.app.push_screen(ConfigHotfixDialog([s.name for s in config.services]), changed)
        else:
            self.choose_rollback_target()

    @work(exclusive=True, group="rollback_target", exit_on_error=False)
    async def choose_rollback_target(self) -> None:
        """Offer the known-good releases older than what the host runs, the automatic one preselected."""
        from console.decide.rollback_targets import read_host_sums, rollback_candidates
        from console.failures import TransportError
        from console.release.deployed import gather_deployment
        from screens.rollback_target import RollbackTargetDialog

        config = self.console_app.config
        status = self.query_one("#checklist-status", Static)
        try:
            log = ReleaseLog.load(config.paths.release_log)
        except ReleaseLogError as exc:
            self.cannot_build(exc)
            return
        status.update("Reading what the host runs…")
        notes: list[str] = []
        deployment, sums = None, None
        try:
            transport = await self.console_app.connected_transport()
            deployment = await gather_deployment(config, transport, log, with_health=False)
            sums = await read_host_sums(transport, config.target.artifacts_dir)
        except TransportError as exc:
            notes.append(f"cannot reach the host: {exc}")
        if deployment is not None and deployment.services_read:
            running = deployment.release
            notes += deployment.disagreements
        else:
            # Unreadable host: the release log's idea, said out loud (the procedure needs the host anyway).
            running = log.deployed
            if deployment is not None:
                notes += deployment.errors[:1]
            notes.append(f"the host was not read: assuming the release log's {running or 'nothing'} runs")
        status.update("")
        candidates = rollback_candidates(log, running, sums, now=self.console_app.clock())

        def chosen(tag: str | None) -> None:
            if tag:
                self.build(lambda: build_rollback(config, tag, running=running))

        self.app.push_screen(RollbackTargetDialog(candidates, running, notes), chosen)

    @work(exclusive=True, group="hotfix_tag", exit_on_error=False)
    async def choose_hotfix_tag(self) -> None:
        """HOTFIX_TAG, offered from the releases captured after what the host runs; the hotfix
        replaces that release (not the release log's idea of it)."""
        from console.failures import TransportError
        from console.release.deployed import gather_deployment, hotfix_candidates

        config = self.console_app.config
        try:
            log = ReleaseLog.load(config.paths.release_log)
        except ReleaseLogError as exc:
            self.cannot_build(exc)
            return
        running = log.deployed
        try:
            transport = await self.console_app.connected_transport()
            deployment = await gather_deployment(config, transport, log, with_health=False)
            if deployment.services_read:
                running = deployment.release
        except TransportError:
            pass  # the release log's idea; the procedure's first step needs the host anyway

        def chosen(tag: str | None) -> None:
            if tag:
                self.build(lambda: build_code_hotfix(config, tag, running=running))

        self.app.push_screen(HotfixTagDialog([r.tag for r in hotfix_candidates(log, running)]), chosen)

    def build(self, builder) -> None:
        try:
            procedure = builder()
        except ValueError as exc:  # RollbackTargetError and UnsafeValue are ValueErrors
            self.cannot_build(exc)
            return
        self.post_message(self.ProcedureChosen(procedure))

    def cannot_build(self, exc: Exception) -> None:
        self.query_one("#checklist-status", Static).update(f"Cannot build the procedure: {exc}")
        self.notify(str(exc), title="cannot build the procedure", severity="error", timeout=15)

    def action_back(self) -> None:
        self.app.pop_screen()
