"""The Textual app: wiring only. Screens do the work; this moves between them.

``make_app(config)`` is the one factory the CLI and the tests share.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from console.config import Config
from console.targets import target_label
from screens import flow
from screens.base import notify_worker_failure
from screens.home import HomeScreen
from screens.keys_help import KeysHelp, active_keys
from screens.preferences import load_theme, save_theme
from widgets.ttr_clock import utc_now

# Only the home screen is needed for the first paint. The engine and the other screens are
# imported when first used (bench/bench_startup.py measures start-up against a bare Textual
# app); their messages are handled by name (on_<screen>_<message>) for that reason.
if TYPE_CHECKING:
    from console.decide.runbook import Runbook
    from console.incident.journal import Journal
    from console.incident.session import IncidentSession
    from screens.decision import DecisionScreen
    from screens.verification import VerificationScreen

THEMES = ("textual-dark", "textual-light")


class IncidentConsoleApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "incident-console"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    BINDINGS = [
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("ctrl+q", "quit", "Quit", id="app.quit_ctrl", show=False, priority=True),
        Binding("f2", "toggle_theme", "Theme", id="app.toggle_theme"),
        # Not in the footer (it is full on narrow terminals); listed in the palette.
        Binding("question_mark", "show_keys", "Keys", id="app.show_keys", show=False),
    ]

    def __init__(
        self,
        config: Config,
        *,
        transport: Any = None,
        clock: Callable[[], datetime] = utc_now,
        runbook: Runbook | None = None,
        freeze_gc: bool = False,
    ) -> None:
        super().__init__()
        self.config = config
        self.freeze_gc = freeze_gc
        self.clock = clock
        self.transport = transport  # one SSH connection for the whole app, made on first use
        self._transport_connected = False
        self._transport_lock = asyncio.Lock()
        self._runbook = runbook  # loaded on first use: the home screen does not need it (bench_startup)
        self.journal: Journal | None = None
        self.session: IncidentSession | None = None  # the open incident's session (headless core)
        self._procedure_name: str | None = None
        self.incident_opened_at: datetime | None = None
        self._fetched: dict[str, bool] = {}  # incident id -> its journal came from the host's copy
        remembered = load_theme(config.paths.state_dir)
        self.theme = remembered if remembered in self.available_themes else THEMES[0]

    @property
    def runbook(self) -> Runbook:
        """The runbook (decision tree, matrix, checklists), read on first use; ``RunbookError`` if malformed."""
        if self._runbook is None:
            from console.decide.runbook import load_runbook

            config = self.config
            self._runbook = load_runbook(
                config.paths.runbook,
                {
                    "impact_window_minutes": config.thresholds.impact_window_minutes,
                    "validation_window_minutes": config.thresholds.validation_window_minutes,
                },
            )
        return self._runbook

    def runbook_readable(self) -> bool:
        """Read the runbook if not yet; a malformed one is notified (no incident can be walked through)."""
        from console.decide.runbook import RunbookError

        try:
            _ = self.runbook  # a property: reads the file the first time
        except RunbookError as exc:
            self.notify(f"{exc}", title="runbook unreadable", severity="error", timeout=15)
            return False
        return True

    @property
    def target(self) -> str:
        return target_label(self.config)

    def get_default_screen(self) -> Screen:
        # Home is the first screen on the stack, not pushed over Textual's blank default screen:
        # that one was composed, styled and laid out before home (bench/bench_startup.py).
        return HomeScreen()

    def on_mount(self) -> None:
        self.theme_changed_signal.subscribe(self, lambda theme: save_theme(self.config.paths.state_dir, theme.name))
        if self.freeze_gc:
            # Everything built at start-up lives as long as the app: keep it out of the collector's
            # full passes, which otherwise cost 15-25 ms of key latency while logs flood (bench/).
            self.call_after_refresh(_freeze_and_collect)

    async def connected_transport(self) -> Any:
        """The app's transport, connected on first use (call from a worker, never the UI path)."""
        async with self._transport_lock:
            if self.transport is None:
                from console.engine.incident import make_transport

                self.transport = make_transport(self.config)
            if not self._transport_connected:
                await self.transport.connect()
                self._transport_connected = True
                from console.incident.session import ask_host_compose

                await ask_host_compose(self.transport, self.config)  # once, at connect
            return self.transport

    async def on_unmount(self) -> None:
        if self.transport is not None and self._transport_connected:
            await self.transport.close()

    # -- the incident ------------------------------------------------------------

    def set_incident(self, journal: Journal | None) -> None:
        self.journal = journal
        self.session = None
        if journal is not None:
            from console.incident.session import IncidentSession

            self.session = IncidentSession(self.config, journal, background=self._in_background)
        self.incident_opened_at = flow.opened_at(journal) if journal else None
        if hasattr(self.screen, "sync_incident"):
            self.screen.sync_incident()

    def start_incident(self) -> None:
        # A broken release log must not stop the incident (and its clock): the decision tree does
        # not need it, and the checklist refuses to build a procedure from it with the reason.
        from console.engine.incident import open_new_incident
        from console.release.release_log import ReleaseLog, ReleaseLogError

        if not self.runbook_readable():
            return
        try:
            deployed = ReleaseLog.load(self.config.paths.release_log).deployed
        except ReleaseLogError as exc:
            deployed = None
            self.notify(
                f"{exc}\nThe incident is opened with the deployed release unknown.",
                title="release log unreadable",
                severity="error",
                timeout=15,
            )
        self.set_incident(open_new_incident(self.config, deployed))
        self.show_stage(flow.DECISION)
        self._announce("incident_opened")

    def resume_incident(self, incident_id: str) -> None:
        from console.engine.incident import load_incident

        if not self.runbook_readable():
            return
        journal = load_incident(self.config, incident_id)
        self.set_incident(journal)
        self.show_stage(flow.next_stage(journal))

    @property
    def open_journal(self) -> Journal:
        """The open incident's journal; the incident stages are only shown with one open."""
        if self.journal is None:
            raise RuntimeError("no incident is open")
        return self.journal

    def show_stage(self, stage: str, outcome: str | None = None) -> None:
        from screens.checklist import ChecklistScreen
        from screens.decision import DecisionScreen
        from screens.followup import FollowupScreen
        from screens.verification import VerificationScreen

        journal = self.open_journal
        if stage == flow.DECISION:
            self.push_screen(DecisionScreen(journal))
        elif stage == flow.CHECKLIST:
            self.push_screen(ChecklistScreen(journal, flow.last_outcome(journal) or "rollback"))
        elif stage == flow.PROCEDURE:
            from console.engine.incident import rebuild_procedure

            try:
                procedure, done = rebuild_procedure(self.config, journal)
            except ValueError as exc:
                self.notify(str(exc), title="cannot resume", severity="error", timeout=15)
                return
            self.open_procedure(procedure, done)
        elif stage == flow.VERIFICATION:
            self.push_screen(VerificationScreen(journal, outcome or "succeeded"))
        else:
            self.push_screen(FollowupScreen(journal))

    @work(exclusive=True, group="open-procedure", exit_on_error=False)
    async def open_procedure(self, procedure: Any, done_steps: set[str] | None) -> None:
        from console.host_facts import flavour_for
        from screens.procedure import ProcedureScreen

        assumed = flavour_for(self.config.target)
        transport = await self.connected_transport()
        if flavour_for(self.config.target) != assumed and self.journal is not None:
            # built before the host said which compose it has: build it again for that one
            from console.engine.incident import rebuild_procedure

            try:
                procedure, done_steps = rebuild_procedure(self.config, self.journal)
            except ValueError:
                self.notify(
                    f"the host runs {flavour_for(self.config.target)}, not {assumed}: "
                    "leave and open the procedure again",
                    severity="warning",
                    timeout=15,
                )
        self._procedure_name = procedure.name
        # done_steps comes with a resume (rebuilt from the journal): re-check, take over a dead lock
        screen = ProcedureScreen(
            config=self.config,
            transport=transport,
            journal=self.journal,
            procedure=procedure,
            done_steps=done_steps,
            resume=done_steps is not None,
            fetched=self._fetched.pop(self.journal.incident_id, False) if self.journal else False,
        )
        self._procedure = procedure
        # The session announces the start and the outcome from the procedure screen's run.
        self.push_screen(screen, callback=self._procedure_finished)

    def _procedure_finished(self, outcome: str | None) -> None:
        if outcome == "interrupted":
            self._procedure_left()
            return
        if self._procedure_name == "verify":
            return  # the verification screen underneath reloads its results when it resumes
        self.show_stage(flow.VERIFICATION, outcome=outcome or "aborted")

    def _procedure_left(self) -> None:
        """The coordinator left a running procedure: it has no outcome, so nothing is announced.

        A verification run returns to the verification screen underneath; the incident's own
        procedure goes home, where the incident is listed to be resumed.
        """
        if self._procedure_name == "verify":
            return
        incident = self.journal.incident_id if self.journal is not None else None
        self.go_home()
        if incident:
            self.notify(
                f"Incident {incident} is still open: resume it here when ready.",
                title="procedure interrupted",
                timeout=10,
            )

    def go_home(self) -> None:
        while len(self.screen_stack) > 1 and not isinstance(self.screen, HomeScreen):
            self.pop_screen()
        self.set_incident(None)

    # -- messages up from the screens ----------------------------------------------------

    @on(HomeScreen.StartIncident)
    def _start(self) -> None:
        self.start_incident()

    def on_verification_screen_resume_procedure(self) -> None:
        if self.journal is not None:
            self.show_stage(flow.PROCEDURE)

    @on(HomeScreen.ResumeIncident)
    def _resume(self, message: HomeScreen.ResumeIncident) -> None:
        if message.fetched:  # the resume is journaled as a handoff (IncidentSession.fetched_from_host)
            self._fetched[message.incident_id] = True
        self.resume_incident(message.incident_id)

    def on_decision_screen_decided(self, message: DecisionScreen.Decided) -> None:
        from screens.checklist import ChecklistScreen

        self.push_screen(ChecklistScreen(self.open_journal, message.outcome))
        self._announce("decision_made", outcome=message.outcome)

    def _announce(self, event: str, **details: Any) -> None:
        """Slack #ops and the status page hear of it; the outbox retries, never blocking."""
        if self.session is not None:
            self.run_worker(self.session.announce(event, **details), group=f"notify-{event}", exit_on_error=False)

    def _in_background(self, job: Any) -> None:
        self.run_worker(job, group="notify-session", exit_on_error=False)

    def on_checklist_screen_procedure_chosen(self, message: Any) -> None:
        self.open_procedure(message.procedure, None)

    def on_verification_screen_done(self) -> None:
        from screens.followup import FollowupScreen

        self.push_screen(FollowupScreen(self.open_journal))

    def on_verification_screen_run_verification(self, message: VerificationScreen.RunVerification) -> None:
        self.open_procedure(message.procedure, None)

    def on_followup_screen_home(self) -> None:
        self.go_home()

    # -- app-wide actions ---------------------------------------------------------

    def procedure_running(self) -> bool:
        """A ProcedureScreen is on the stack with a worker still running."""
        return any(getattr(s, "running", False) for s in self.screen_stack if type(s).__name__ == "ProcedureScreen")

    def capture_running(self) -> bool:
        """A CaptureScreen is on the stack with a capture (build, push, upload) still running."""
        return any(getattr(s, "running", False) for s in self.screen_stack if type(s).__name__ == "CaptureScreen")

    async def action_quit(self) -> None:
        if self.procedure_running():
            # Cancelling the engine's worker journals the interruption; the incident stays resumable.
            question = (
                "A procedure is running. Quit anyway?\nThe step in progress is interrupted and the "
                "incident can be resumed later."
            )
        elif self.capture_running():
            # A capture records the release only once everything is pushed and uploaded.
            question = (
                "A release capture is running. Quit anyway?\nThe push or upload in progress is "
                "stopped and nothing is recorded; capture the release again later."
            )
        else:
            self.exit()
            return
        from screens.modals import ConfirmDialog

        def answered(really: bool | None) -> None:
            if really:
                self.exit()

        self.push_screen(ConfirmDialog(question, yes_label="Quit", no_label="Stay", danger=True), answered)

    def action_toggle_theme(self) -> None:
        self.theme = THEMES[1] if self.theme == THEMES[0] else THEMES[0]

    def action_show_keys(self) -> None:
        if isinstance(self.screen, KeysHelp):
            self.screen.dismiss(None)
            return
        name = type(self.screen).__name__.removesuffix("Screen") or "This screen"
        self.push_screen(KeysHelp(f"Keys: {name}", active_keys(self, self.screen)))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        # Every footer action of the current screen is in the palette too.
        seen = {"quit", "command_palette", "toggle_theme", "show_keys"}
        for node, binding, _enabled, _tip in screen.active_bindings.values():
            if not binding.description or binding.action in seen:
                continue
            seen.add(binding.action)
            yield SystemCommand(binding.description, f"key: {binding.key}", _runner(self, node, binding.action))
        yield SystemCommand("Toggle light / dark theme", "key: f2", self.action_toggle_theme)
        yield SystemCommand("Show the keys of this screen", "key: ?", self.action_show_keys)

    # -- one place where any worker's failure becomes visible -----------------------

    # (Worker.StateChanged does not bubble: each ConsoleScreen notifies its own workers' failures.)

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            notify_worker_failure(self, event.worker)


def _freeze_and_collect() -> None:
    """After the first frame: keep the start-up objects out of every later pass and turn the collector
    back on (the CLI turns it off while the app imports and draws; enabling it again is harmless)."""
    gc.freeze()
    gc.enable()


def _runner(app: App, node: Any, action: str) -> Callable[[], Any]:
    async def run() -> None:
        await app.run_action(action, node)

    return run


def make_app(config: Config, **options: Any) -> IncidentConsoleApp:
    return IncidentConsoleApp(config, **options)
