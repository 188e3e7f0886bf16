"""The live procedure screen: the steps as they run, the stack's logs and health beside them.

Three kinds of worker, each in its own group so one never cancels another: the
engine (``procedure``), ``docker compose logs -f`` over the same SSH connection
(``procedure-logs``, consuming :func:`console.live.logfollow.follow_logs`, which restarts
it whenever it ends, as it does when the rollback takes the stack down), and the
health poller (``procedure-health``).
The engine's listener only posts messages; output lines are parked and drained
in one batch per message so a noisy step never costs one widget update per line.

On a fleet (``config.fleet``) the screen also shows the host table, follows every host's logs
over its own link and polls every host's health (screens/procedure_fleet.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping
from functools import partial

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widgets import Button, ContentSwitcher, Footer, Log, Static
from textual.worker import Worker, WorkerState

from console.config import Config
from console.engine.events import (
    AwaitingConfirmation,
    Event,
    Notice,
    ProcedureFinished,
    ProcedureStarted,
    StepFailed,
    StepFinished,
    StepOutput,
    StepSkipped,
    StepStarted,
    WouldRun,
)
from console.engine.fleet_ids import split_step_id
from console.engine.procedure import Procedure
from console.incident.journal import Journal
from console.incident.records import FleetHostState, Health
from console.incident.session import IncidentSession
from console.live.follow_command import follow_command
from console.live.health import HealthPoller, HealthResult
from console.live.logfollow import FollowRestart, follow_logs
from console.live.logstream import prepare_lines
from console.live.logthread import LogFollowThread, has_own_link
from console.safetext import plain_line
from console.transport.base import Transport
from screens.decider import ScreenDecider
from screens.flow import opened_at
from screens.modals import ConfirmDialog
from screens.procedure_fleet import FleetWatch, logs_argv
from widgets.command_log import CommandLog
from widgets.health_pane import HealthPane
from widgets.host_table import HostTable
from widgets.log_pane import LogPane
from widgets.metrics_pane import MetricsPane
from widgets.step_list import OUTPUT_KEEP_LINES, StepList
from widgets.ttr_clock import TTRClock, utc_now

LOG_TAIL = 50
SHOWN_LINE_MAX = 2000
NARROW_WIDTH = 110
NOTICE_SEVERITY: dict[str, SeverityLevel] = {"warning": "warning", "error": "error"}
METRICS_REFRESH_SECONDS = 5.0
OUTCOME_WORDS = {"succeeded": "SUCCEEDED", "failed": "FAILED", "aborted": "ABORTED", "interrupted": "INTERRUPTED"}


class ProcedureCommands(Provider):
    """The screen's actions in the command palette (only those that apply right now)."""

    ENTRIES = [
        ("retry", "Retry the failed step"),
        ("skip", "Skip the failed step (with a reason)"),
        ("abort", "Abort the procedure (it stays resumable)"),
        ("continue", "Continue to verification / follow-up"),
        ("toggle_follow", "Follow / pause the logs"),
        ("filter_logs", "Filter the logs"),
        ("toggle_command_log", "Show the commands run on the host / the logs"),
        ("toggle_health", "Show / hide the health pane"),
        ("cycle_log_host", "Show one host's logs / every host's (a fleet)"),
        ("leave", "Leave the procedure screen"),
    ]

    def _entries(self):
        screen = self.screen
        if not isinstance(screen, ProcedureScreen):
            return
        for action, help_text in self.ENTRIES:
            if screen.check_action(action, ()):
                yield action, help_text, partial(screen.run_action, action)

    async def discover(self) -> Hits:
        for action, help_text, callback in self._entries():
            yield DiscoveryHit(help_text, callback, help=action)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for action, help_text, callback in self._entries():
            score = matcher.match(help_text)
            if score > 0:
                yield Hit(score, matcher.highlight(help_text), callback, help=action)


class ProcedureScreen(Screen[str]):
    """Runs one procedure and dismisses with its outcome (succeeded | failed | aborted).

    Left part-way (``q``, confirmed) it dismisses with ``interrupted``: the procedure has
    no outcome yet and the incident stays open to be resumed.
    """

    CSS_PATH = "procedure.tcss"
    COMMANDS = {ProcedureCommands}
    # Decision keys are priority bindings (the log pane binds `s` to search and `c` to copy)
    # gated by check_action, so outside a decision the key reaches the focused widget as usual.
    # Typed into a text field (the log pane's filter/search Input) they are text: Textual drops
    # every binding, priority ones included, for a key the focused Input consumes.
    BINDINGS = [
        Binding("r", "retry", "Retry", id="procedure.retry", priority=True),
        Binding("s", "skip", "Skip…", id="procedure.skip", priority=True),
        Binding("a", "abort", "Abort", id="procedure.abort", priority=True),
        Binding("c", "continue", "Continue", id="procedure.continue", priority=True),
        # before the log pane's keys: at 80 columns the footer must still show how to leave
        Binding("q", "leave", "Leave", id="procedure.leave"),
        Binding("f", "toggle_follow", "Follow logs", id="procedure.follow"),
        Binding("slash", "filter_logs", "Filter", id="procedure.filter"),
        Binding("l", "toggle_command_log", "Commands", id="procedure.command-log"),
        Binding("h", "toggle_health", "Health", id="procedure.health"),
        Binding("H", "cycle_log_host", "Log host", id="procedure.log-host"),  # a fleet's only
    ]

    class EngineEvent(Message):
        """One engine event, other than step output, for the UI to present."""

        bubble = False

        def __init__(self, event: Event) -> None:
            super().__init__()
            self.event = event

    class OutputReady(Message):
        """Step output is parked; draining it takes every line that arrived meanwhile."""

        bubble = False

    class Finished(Message):
        """The procedure ended (the screen stays up so the operator can read the outcome)."""

        def __init__(self, procedure_screen: ProcedureScreen, outcome: str) -> None:
            super().__init__()
            self.procedure_screen = procedure_screen
            self.outcome = outcome

        @property
        def control(self) -> ProcedureScreen:
            return self.procedure_screen

    def __init__(
        self,
        config: Config,
        transport: Transport,
        journal: Journal | None,
        procedure: Procedure,
        done_steps: set[str] | None = None,
        *,
        assume_yes: bool = False,
        dry_run: bool = False,
        resume: bool = False,
        fetched: bool = False,
        host_transports: Mapping[str, Transport] | None = None,
        name: str | None = None,
        id: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id)
        self.config = config
        self.transport = transport
        self.journal = journal
        self.procedure = procedure
        self.done_steps = set(done_steps or ())
        self.assume_yes = assume_yes
        self.dry_run = dry_run
        self.resume = resume  # a resume: the host is re-checked, a dead console's lock taken over
        self.fetched = fetched  # the journal came from the host's copy (the resume is a handoff)
        self._refused = False  # the resume did not go on (the lock was not taken over)
        self._take_over_reason: str | None = None  # given once: a fleet's other hosts' locks reuse it
        self.decider = ScreenDecider(None, self._decision_changed)
        self.outcome: str | None = None
        self.current_step: str | None = None
        self.log_restarts = 0
        self._parked: list[tuple[str, list[str]]] = []
        self._drain_posted = False
        self._started_at = time.monotonic()
        self._finished_at: float | None = None
        self._engine: Worker | None = None
        self._poller: HealthPoller | None = None
        self._metrics_due = asyncio.Event()  # set: refresh the metrics charts now
        self._leaving = False
        # A fleet's hosts: their own links for the logs (``host_transports`` in tests), their health.
        self.fleet = FleetWatch(config, host_transports) if config.fleet is not None else None

    # -- layout --------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Horizontal(id="procedure-header"):
            yield Static(id="procedure-status", markup=False)
            # The incident's time to recover, as on every other screen (the app's clock, when it has one).
            yield TTRClock(now=getattr(self.app, "clock", utc_now), id="ttr-clock")
        yield Static(id="procedure-outcome")
        yield Static(id="decision-bar")
        if self.fleet is not None:
            yield self.fleet.host_table()
        with Horizontal(id="procedure-main"):
            with Vertical(id="procedure-left"):
                yield StepList(id="steps")
                yield Static(id="step-header", markup=False)
                yield Log(id="step-output", max_lines=OUTPUT_KEEP_LINES, highlight=False)
            with Vertical(id="procedure-right"):
                yield HealthPane([c.name for c in self._health_checks()], id="health")
                if self.config.observability.metrics:
                    yield MetricsPane([m.name for m in self.config.observability.metrics], id="metrics")
                with ContentSwitcher(initial="logs", id="right-switcher"):
                    yield LogPane(
                        project=self.config.target.project_name,
                        services=[s.name for s in self.config.services],
                        hosts=self.fleet.hosts if self.fleet is not None else (),
                        id="logs",
                    )
                    yield CommandLog(id="commands")
        with Horizontal(id="outcome-actions"):
            yield Button("Continue to verification / follow-up (c)", id="continue", variant="success")
        yield Footer()

    def on_mount(self) -> None:
        self.decider.app = self.app
        steps = self.query_one(StepList)
        steps.set_steps([s.describe() for s in self.procedure.steps])
        self._show_done_before()
        steps.focus()
        clock = self.query_one(TTRClock)
        clock.target_minutes = self.config.thresholds.ttr_target_minutes
        clock.opened_at = opened_at(self.journal) if self.journal is not None else None
        self._update_status()
        self.set_interval(1.0, self._update_status)
        self._engine = self.run_procedure()
        self.stream_logs()
        if self._health_checks():
            self.poll_health()
        else:
            self.query_one(HealthPane).display = False
        if self.config.observability.metrics:
            self.poll_metrics()

    def on_resize(self) -> None:
        self.set_class(self.size.width < NARROW_WIDTH, "-narrow")
        self._update_status()

    def on_unmount(self) -> None:
        self._stop_watchers()

    # -- the engine ----------------------------------------------------------------------

    @work(exclusive=True, group="procedure", exit_on_error=False)
    async def run_procedure(self) -> str:
        session = IncidentSession(
            self.config,
            self.journal,
            transport=self.transport,
            background=lambda job: self.app.run_worker(job, group="notify-procedure", exit_on_error=False),
            announcer=getattr(self.app, "_announce", None),
        )
        session.fetched_from_host = self.fetched
        from console.engine.takeover import TakeOverRefused

        try:
            return await session.run(
                self.procedure,
                self.decider,
                listeners=[self._engine_listener],
                done_steps=self.done_steps or None,
                assume_yes=self.assume_yes,
                dry_run=self.dry_run,
                resume=self.resume and self.journal is not None,
                take_over_lock=self._take_over_lock,
            )
        except TakeOverRefused as exc:
            self._refused = True
            self.notify(
                "Not resumed: the lock was left as it is." if exc.needs_reason else str(exc),
                title="lock not taken over",
                severity="warning" if exc.needs_reason else "error",
                timeout=20,
            )
            return "interrupted"
        finally:
            await session.close_fleet_links()  # the app keeps the first host's link

    async def _take_over_lock(self, transport: Transport, journal: Journal, aimed: Config | None = None) -> None:
        """The lock a dead console left (as the CLI's resume): shown with its holder, machine and
        age in a dialog that asks for the reason; cancelled, the resume does not go on."""
        from console.engine.takeover import take_over_lock_for_resume
        from screens.modals import ReasonDialog

        said: list[str] = []

        async def ask(prompt: str) -> str:
            shown = "\n".join(said)
            reason = await self.app.push_screen_wait(
                ReasonDialog(
                    f"{shown}\n\nIts console is gone. Take the lock over to resume? Give the reason "
                    "(it is journaled); cancel leaves the lock and the incident as they are.",
                    placeholder="reason to take over the lock (required)",
                )
            )
            self._take_over_reason = (reason or "").strip() or None
            return reason or ""

        await take_over_lock_for_resume(
            aimed or self.config, transport, journal, self._take_over_reason, ask, said.append
        )

    def _engine_listener(self, event: Event) -> None:
        if isinstance(event, StepOutput):
            self._parked.append((event.step_id, event.lines))
            if not self._drain_posted:
                self._drain_posted = True
                self.post_message(self.OutputReady())
            return
        self.post_message(self.EngineEvent(event))

    @on(OutputReady)
    def drain_output(self) -> None:
        self._drain_posted = False
        parked, self._parked = self._parked, []
        if not parked:
            return
        steps = self.query_one(StepList)
        selected = steps.selected_id
        shown: list[str] = []
        for step_id, lines in parked:
            # Host output is hostile text: no escape sequence or control character may reach the terminal.
            lines = [
                line if len(line) <= SHOWN_LINE_MAX else line[:SHOWN_LINE_MAX] + " …" for line in prepare_lines(lines)
            ]
            steps.add_output(step_id, lines)
            if step_id == selected:
                shown.extend(lines)
        if shown:
            self.query_one("#step-output", Log).write_lines(shown)

    @on(EngineEvent)
    def present_event(self, message: EngineEvent) -> None:
        self.drain_output()  # output first, so a step never reads "done" above its last lines
        event = message.event
        steps = self.query_one(StepList)
        commands = self.query_one(CommandLog)
        if self.fleet is not None:
            self.query_one(HostTable).apply(event)
        if isinstance(event, (FleetHostState, Health)):
            pass  # the host table's alone
        elif isinstance(event, ProcedureStarted):
            steps.set_steps(event.steps)
        elif isinstance(event, StepStarted):
            self.current_step = event.step_id
            record = steps.record(event.step_id)
            if record is not None:
                record.attempts += 1
                record.duration = None
                record.note = ""
            # Steps that run together start at once: the cursor stays on the one it follows
            # (its output stays in the pane) instead of jumping to each newcomer.
            following = steps.record(steps.selected_id) if steps.selected_id else None
            steps.update_step(event.step_id, state="running", command=event.command)
            if following is None or following.state != "running" or following.id == event.step_id:
                steps.follow(event.step_id)
            commands.command_started(event.step_id, event.command)
        elif isinstance(event, StepFinished):
            steps.update_step(event.step_id, state="done", duration=event.duration, note=plain_line(event.summary))
            commands.command_ended(event.step_id, event.exit_code, event.duration)
        elif isinstance(event, StepFailed):
            steps.update_step(
                event.step_id,
                state="failed",
                duration=event.duration,
                note=plain_line(f"{event.reason_label}: {event.message}"),
            )
            commands.command_ended(event.step_id, event.exit_code, event.duration)
        elif isinstance(event, StepSkipped):
            # A step done before the resume keeps what _show_done_before said: the engine's
            # "already done" skip must not read as if it never ran.
            if event.step_id not in self.done_steps:
                steps.update_step(event.step_id, state="skipped", note=event.reason)
        elif isinstance(event, AwaitingConfirmation):
            steps.update_step(event.step_id, state="confirm")
            steps.follow(event.step_id)
        elif isinstance(event, WouldRun):
            steps.update_step(event.step_id, state="would_run", command=event.command)
        elif isinstance(event, Notice):
            severity = NOTICE_SEVERITY.get(event.level, "information")
            self.notify(plain_line(event.message), severity=severity, timeout=8 if severity == "information" else 20)
        elif isinstance(event, ProcedureFinished):
            self._procedure_ended(event.outcome)
        self._show_selected()
        self._update_status()

    @on(Worker.StateChanged)
    def worker_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group == "procedure":
            if self._refused and event.state == WorkerState.SUCCESS:
                self._stop_watchers()  # nothing ran: leave as the coordinator leaving part-way
                if self.is_current:
                    self.dismiss("interrupted")
            elif event.state == WorkerState.SUCCESS and self.outcome is None:
                self._procedure_ended(worker.result or "failed")
            elif event.state == WorkerState.ERROR:
                self.notify(f"The procedure stopped on an error: {worker.error}", severity="error", timeout=30)
                if self.outcome is None:
                    self._procedure_ended("failed")
            elif event.state == WorkerState.CANCELLED:
                if self.outcome is None:
                    self._procedure_ended("interrupted")
                if self._leaving:
                    self._dismiss_now()
        elif event.state == WorkerState.ERROR:
            # A watcher (logs, health) failing must be seen, never kill the screen.
            self.notify(f"{worker.group}: {worker.error}", severity="warning", timeout=10)

    def _procedure_ended(self, outcome: str) -> None:
        if self.outcome is not None:
            return
        self.outcome = outcome
        self._finished_at = time.monotonic()
        # The charts at once, not up to a refresh later: the metrics step may just have passed,
        # and a chart still saying FAIL beside "succeeded" would mislead.
        self._metrics_due.set()
        if self.journal is not None and not self.dry_run:  # a successful end is the recovery: the clock stops
            self.query_one(TTRClock).recovered_seconds = self.journal.state.ttr_seconds
        steps = self.query_one(StepList)
        for record in steps.records.values():
            if record.state in ("confirm", "running"):
                # Confirmed, then the run stopped before it (lock refused, interrupted): it did not run.
                steps.update_step(
                    record.id,
                    state="pending" if record.state == "confirm" else "failed",
                    note="interrupted" if record.state == "running" else "not run",
                )
        self.set_class(True, f"-{outcome}")
        self.set_class(True, "-finished")
        took = self._finished_at - self._started_at
        name = self.procedure.name.replace("_", " ").upper()
        mark = {"succeeded": "✓", "failed": "✗", "aborted": "■", "interrupted": "■"}.get(outcome, "")
        word = OUTCOME_WORDS.get(outcome, outcome.upper())
        if self.dry_run:
            word = f"DRY RUN {'DONE' if outcome == 'succeeded' else word} (nothing was changed)"
        tags = f" {self.procedure.from_tag or '?'} → {self.procedure.to_tag}" if self.procedure.to_tag else ""
        resumable = " · the incident can be resumed" if outcome != "succeeded" and not self.dry_run else ""
        self.query_one("#procedure-outcome", Static).update(
            Content(f"{mark} {name}{tags} {word} in {took:.1f}s{resumable}")
        )
        self.post_message(self.Finished(self, outcome))
        self.refresh_bindings()
        self._update_status()
        self.query_one("#continue", Button).focus()

    def _show_done_before(self) -> None:
        """Steps settled before a resume are shown settled from the start, as the journal has them.

        The engine does not run them again; listed as pending, a migration rollback would
        invite someone to run it a second time by hand.
        """
        if not self.done_steps:
            return
        skipped: dict[str, str] = {}
        if self.journal is not None:
            for step_id, record in self.journal.state.settled_steps().items():
                if step_id in self.done_steps and isinstance(record, StepSkipped):
                    skipped[step_id] = record.reason or ""
        steps = self.query_one(StepList)
        for step_id in self.done_steps:
            if step_id in skipped:
                reason = f": {skipped[step_id]}" if skipped[step_id] else ""
                steps.update_step(step_id, state="skipped", note=f"skipped before the resume{reason}")
            else:
                steps.update_step(step_id, state="done", note="done before the resume")

    # -- decisions -----------------------------------------------------------------------

    def _decision_changed(self) -> None:
        bar = self.query_one("#decision-bar", Static)
        if self.decider.awaiting_failure_choice and self.decider.pending_step is not None:
            # after steps ran together, their failures are asked one by one: show the one asked about
            self.query_one(StepList).follow(self.decider.pending_step.id)
            bar.update(
                Content(f"✗ {self.decider.pending_step.title} failed — r retry · s skip (with a reason) · a abort")
            )
            self.set_class(True, "-deciding")
        else:
            self.set_class(False, "-deciding")
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("retry", "skip", "abort"):
            return self.decider.awaiting_failure_choice
        if action == "continue":
            return self.outcome is not None
        if action == "cycle_log_host":
            return self.fleet is not None
        return True

    def action_retry(self) -> None:
        self.decider.choose("retry")

    def action_skip(self) -> None:
        self.decider.choose("skip")

    def action_abort(self) -> None:
        self.decider.choose("abort")

    def action_continue(self) -> None:
        if self.outcome is not None:
            self._dismiss_now()

    @on(Button.Pressed, "#continue")
    def continue_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_continue()

    # -- panes ---------------------------------------------------------------------------

    @on(StepList.Selected)
    def step_selected(self) -> None:
        self._show_selected(rewrite=True)

    def _show_selected(self, rewrite: bool = False) -> None:
        steps = self.query_one(StepList)
        step_id = steps.selected_id
        record = steps.record(step_id) if step_id else None
        header = self.query_one("#step-header", Static)
        if record is None:
            header.update("")
            return
        note = f" · {record.note}" if record.note else ""
        took = f" · {record.duration:.1f}s" if record.duration is not None else ""
        host = split_step_id(record.id)[0]
        title = f"{host} · {record.title}" if host else record.title  # a fleet's: which host's copy
        header.update(f"{title} [{record.label}{took}{note}]\n$ {record.command or '(built-in check)'}")
        if rewrite:
            output = self.query_one("#step-output", Log)
            output.clear()
            output.write_lines(list(record.output))

    def action_toggle_follow(self) -> None:
        self.query_one(LogPane).action_toggle_follow()

    def action_filter_logs(self) -> None:
        self.query_one("#right-switcher", ContentSwitcher).current = "logs"
        pane = self.query_one(LogPane)
        pane.focus()
        pane.action_prompt("filter")

    def action_cycle_log_host(self) -> None:
        self.query_one("#right-switcher", ContentSwitcher).current = "logs"
        self.query_one(LogPane).action_cycle_host()

    def action_toggle_command_log(self) -> None:
        switcher = self.query_one("#right-switcher", ContentSwitcher)
        switcher.current = "commands" if switcher.current == "logs" else "logs"

    def action_toggle_health(self) -> None:
        pane = self.query_one(HealthPane)
        pane.display = not pane.display

    # -- logs and health -----------------------------------------------------------------

    @work(exclusive=True, group="procedure-logs", exit_on_error=False)
    async def stream_logs(self) -> None:
        """The stack's logs, followed through every restart the rollback causes (console.live.logfollow)."""
        pane = self.query_one(LogPane)
        if self.fleet is not None:
            await self.fleet.follow_logs(pane, logs_argv(LOG_TAIL))
            return
        argv = follow_command(self.config, LOG_TAIL)  # compose logs -f, or each swarm service's
        if has_own_link(self.transport):
            from console.engine.incident import make_transport

            # Its own thread, loop and link: a flood never queues ahead of a key (console.live.logthread).
            await LogFollowThread(
                lambda: make_transport(self.config), argv, pane.ingest_batch, on_restart=self._log_restarted
            ).follow()
            return
        async for batch in follow_logs(self.transport, argv, chunks=True):
            pane.ingest_batch(batch)
            if isinstance(batch, FollowRestart):
                self._log_restarted(batch)

    def _log_restarted(self, restart: FollowRestart) -> None:
        self.log_restarts = restart.restarts

    @work(exclusive=True, group="procedure-health", exit_on_error=False)
    async def poll_health(self) -> None:
        self._poller = HealthPoller(self._health_checks(), self._health_results, expected_version=self.procedure.to_tag)
        await self._poller.run()

    def _health_checks(self) -> list:
        """The single target's checks, or every fleet host's (named ``"<host>/<check>"``)."""
        return self.fleet.health_checks() if self.fleet is not None else self.config.health

    def _health_results(self, results: list[HealthResult]) -> None:
        history = self._poller.latency_history() if self._poller is not None else None
        self.query_one(HealthPane).update_results(results, history)
        if self.fleet is not None:
            table = self.query_one(HostTable)
            for host, checks in self.fleet.split_health(results).items():
                table.health_results(host, checks)

    @work(exclusive=True, group="procedure-metrics", exit_on_error=False)
    async def poll_metrics(self) -> None:
        """The metrics charts, refreshed after each round (rounds never overlap)."""
        from console.incident.records import ProcedureStarted, iso
        from console.observability.live import chart_data

        began = iso(utc_now())  # this run's moment on the charts, without re-reading the journal
        kind = {"rollback": "rollback", "code_hotfix": "code_hotfix", "config_hotfix": "config_hotfix"}
        moments = (
            [ProcedureStarted(procedure=kind[self.procedure.name], ts=began)]
            if self.procedure.name in kind and not self.dry_run
            else []
        )
        pane = self.query_one(MetricsPane)
        while True:
            self._metrics_due.clear()  # an end during this round asks for one more
            pane.update_charts(await chart_data(self.config, moments, self.procedure.to_tag))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._metrics_due.wait(), METRICS_REFRESH_SECONDS)

    def _stop_watchers(self) -> None:
        if self._poller is not None:
            self._poller.stop()
        self.workers.cancel_group(self, "procedure-logs")
        self.workers.cancel_group(self, "procedure-health")
        self.workers.cancel_group(self, "procedure-metrics")
        if self.fleet is not None:
            # The links the fleet's log followers opened: closed once the followers are stopped.
            self.app.run_worker(self.fleet.close(), group="procedure-fleet-links", exit_on_error=False)

    # -- leaving -------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._engine is not None and self._engine.state in (WorkerState.PENDING, WorkerState.RUNNING)

    def action_leave(self) -> None:
        """Ended: move on with the outcome. Still running: ask, then stop it part-way (resumable)."""
        if not self.running:
            self._dismiss_now()
            return

        def answered(leave: bool | None) -> None:
            if not leave:
                return
            if self.running and self._engine is not None:
                self._leaving = True
                # The engine journals the interruption (not an outcome) and releases the lock;
                # the screen then dismisses with "interrupted".
                self._engine.cancel()
            elif self.outcome is not None:
                self._dismiss_now()  # it ended while the question was up: leave with its outcome

        self.app.push_screen(
            ConfirmDialog(
                "The procedure is still running. Leave it here?",
                detail="The step in progress is stopped and the lock released. The incident stays open: "
                "resume it from the home screen or with `incident-console resume`.",
                yes_label="Leave",
                no_label="Stay",
                danger=True,
            ),
            answered,
        )

    def _dismiss_now(self) -> None:
        self._stop_watchers()
        if self.is_current:
            self.dismiss(self.outcome or ("interrupted" if self._leaving else "aborted"))

    # -- status --------------------------------------------------------------------------

    def _update_status(self) -> None:
        counts = self.query_one(StepList).counts()
        total = len(self.procedure.steps)
        settled = sum(counts.get(k, 0) for k in ("done", "skipped", "would_run"))
        end = self._finished_at or time.monotonic()
        elapsed = int(end - self._started_at)
        tags = f" {self.procedure.from_tag or '?'} → {self.procedure.to_tag}" if self.procedure.to_tag else ""
        mode = " · DRY RUN" if self.dry_run else ""
        # At 80 columns the incident id gives way to the TTR clock beside this line.
        narrow = self.size.width < NARROW_WIDTH
        incident = f" · incident {self.journal.incident_id}" if self.journal is not None and not narrow else ""
        running = counts.get("running", 0)
        state = (
            OUTCOME_WORDS.get(self.outcome or "", "running")
            if self.outcome
            else (
                "waiting for you"
                if self.decider.awaiting_failure_choice or counts.get("confirm")
                else (f"{running} steps running" if running > 1 else "running")
            )
        )
        # Most telling first: if the line is cut (a long hotfix tag at 80 columns), the state survives.
        self.query_one("#procedure-status", Static).update(
            f"{self.procedure.name}{tags}{mode} · {state} · {settled}/{total} steps · "
            f"{elapsed // 60:02d}:{elapsed % 60:02d}{incident}"
        )
