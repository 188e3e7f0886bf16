"""Home: what is deployed where, is it healthy, which incidents are open; start or resume one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Button, DataTable, Static

from console.incidents import IncidentSummary, all_incidents
from console.releaselog import ReleaseLog, ReleaseLogError
from screens.base import ConsoleScreen
from widgets.health_pane import HealthPane

if TYPE_CHECKING:
    from console.health import HealthPoller, HealthResult


class HomeScreen(ConsoleScreen):
    SCREEN_TITLE = "Home"

    BINDINGS = [
        Binding("s", "start_incident", "Start incident", id="home.start"),
        Binding("r", "resume", "Resume", id="home.resume"),
        Binding("u", "reload", "Refresh", id="home.refresh"),
        Binding("c", "capture", "Capture release", id="home.capture"),
    ]

    class StartIncident(Message):
        """Open a new incident and go to the decision tree."""

    class ResumeIncident(Message):
        def __init__(self, incident_id: str) -> None:
            super().__init__()
            self.incident_id = incident_id

    def __init__(self) -> None:
        super().__init__()
        self.host_version: str | None = None
        self.incidents: list[IncidentSummary] = []
        self._poller: HealthPoller | None = None

    def compose(self) -> ComposeResult:
        yield from self.compose_header()
        with Horizontal(id="home-body", classes="split"):
            with VerticalScroll(id="home-main", classes="split--main"):
                yield Static("", id="home-facts")
                yield Static("Open incidents", classes="section-title")
                yield DataTable(id="incidents", cursor_type="row")
                yield Static("", id="home-empty")
                with Horizontal(classes="buttons"):
                    yield Button("Start incident (s)", id="start", variant="error")
                    yield Button("Resume (r)", id="resume")
            with VerticalScroll(id="home-side", classes="split--side"):
                yield HealthPane([h.name for h in self.console_app.config.health], id="health")
        yield from self.compose_footer()

    def on_mount(self) -> None:
        super().on_mount()
        table = self.query_one("#incidents", DataTable)
        table.add_columns("Incident", "State", "Decision", "Procedure")
        # The screen is drawn (and takes keys) first; the facts come right after the first paint,
        # the health poller's modules (httpx) and the engine's are imported off the UI thread
        # (bench/bench_startup.py: on the UI thread they held back the first frame's write).
        self.call_after_refresh(self._after_first_paint)

    def _after_first_paint(self) -> None:
        self.action_reload()
        self._import_in_background()

    @work(thread=True, group="warm-imports", exit_on_error=False)
    def _import_in_background(self) -> None:
        if self.console_app.config.health:
            import console.health  # noqa: F401
            try:
                self.app.call_from_thread(self._start_health)
            except RuntimeError:   # the app closed meanwhile
                return
        _warm_imports()

    def _start_health(self) -> None:
        config = self.console_app.config
        if self._poller is None and self.is_attached:
            from console.health import HealthPoller
            self._poller = HealthPoller(config.health, self._health_results, expected_version=None)
            self.poll_health()

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        self.action_reload()

    async def on_unmount(self) -> None:
        self.workers.cancel_group(self, "health")
        if self._poller is not None:
            await self._poller.aclose()

    # -- facts -------------------------------------------------------------------------

    def action_reload(self) -> None:
        config = self.console_app.config
        try:
            log = ReleaseLog.load(config.paths.release_log)
            deployed = log.deployed or "(none recorded)"
            previous = log.previous_good(log.deployed) if log.deployed else None
            release = log.get(log.deployed) if log.deployed else None
            when = f" since {release.deployed_at}" if release and release.deployed_at else ""
            facts = [f"Deployed (release log): {deployed}{when}",
                     f"Previous known-good:    {previous.tag if previous else '(none)'}"]
        except ReleaseLogError as exc:
            facts = [f"Release log unreadable: {exc}"]
        host = self.host_version or ("(no health checks)" if not config.health else "…")
        facts.insert(0, f"Target: {self.console_app.target}  ({config.target.project_dir})")
        facts.insert(2, f"Host reports:           {host}")
        box = self.query_one("#home-facts", Static)
        box.update("\n".join(facts))
        box.border_title = "target"
        self.incidents = [i for i in all_incidents(config.paths.state_dir) if i.state != "resolved"]
        table = self.query_one("#incidents", DataTable)
        table.clear()
        for incident in self.incidents:
            table.add_row(incident.id, incident.state, incident.outcome or "—", incident.procedure or "—",
                          key=incident.id)
        table.display = bool(self.incidents)
        self.query_one("#home-empty", Static).update("" if self.incidents else "No open incidents.")

    # -- health, polled in a worker that re-arms itself after each round -----------------

    @work(exclusive=True, group="health", exit_on_error=False)
    async def poll_health(self) -> None:
        try:
            if self._poller is not None:
                await self._poller.poll_once()
        finally:
            if self._poller is not None and self.is_attached:
                self.set_timer(self._poller.interval, self.poll_health)

    def _health_results(self, results: list[HealthResult]) -> None:
        self.query_one(HealthPane).update_results(results, self._poller.latency_history() if self._poller else None)
        versions = sorted({r.version for r in results if r.version})
        if versions != ([self.host_version] if self.host_version else []):
            self.host_version = ", ".join(versions) if versions else "(unreachable)"
            self.action_reload()

    # -- actions ----------------------------------------------------------------------------

    def action_capture(self) -> None:
        from screens.capture import CaptureScreen   # loads the docker SDK: only when asked for
        self.app.push_screen(CaptureScreen(self.console_app.config))

    def action_start_incident(self) -> None:
        self.post_message(self.StartIncident())

    def action_resume(self) -> None:
        table = self.query_one("#incidents", DataTable)
        if not self.incidents or not table.row_count:
            self.notify("No open incident to resume.", severity="warning")
            return
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        self.post_message(self.ResumeIncident(str(row_key.value)))

    @on(DataTable.RowSelected, "#incidents")
    def _selected(self, event: DataTable.RowSelected) -> None:
        self.post_message(self.ResumeIncident(str(event.row_key.value)))

    @on(Button.Pressed, "#start")
    def _start(self) -> None:
        self.action_start_incident()

    @on(Button.Pressed, "#resume")
    def _resume(self) -> None:
        self.action_resume()


def _warm_imports() -> None:
    """Import what starting or resuming an incident needs, off the UI thread, while the coordinator reads."""
    import console.engine.incident  # noqa: F401
    import screens.checklist  # noqa: F401
    import screens.decision  # noqa: F401
