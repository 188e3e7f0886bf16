"""Home: what is deployed where, is it healthy, which incidents are open; start or resume one."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Button, DataTable, Static

from console.live.fleet_health import polled_checks
from console.release.release_log import ReleaseLog, ReleaseLogError
from screens.base import ConsoleScreen
from widgets.health_pane import HealthPane
from widgets.home_button import HomeButton

if TYPE_CHECKING:
    from collections.abc import Callable

    from console.incident.listing import IncidentSummary
    from console.live.health import HealthPoller, HealthResult
    from console.release.deployed import Deployment


FRAME_OUT_S = 0.02  # the background imports wait this long after the first paint: the frame goes out first


class HomeScreen(ConsoleScreen):
    SCREEN_TITLE = "Home"

    BINDINGS = [
        Binding("s", "start_incident", "Start incident", id="home.start"),
        Binding("r", "resume", "Resume", id="home.resume"),
        Binding("u", "refresh", "Refresh", id="home.refresh"),
        Binding("c", "capture", "Capture release", id="home.capture"),
    ]

    class StartIncident(Message):
        """Open a new incident and go to the decision tree."""

    class ResumeIncident(Message):
        def __init__(self, incident_id: str, fetched: bool = False) -> None:
            super().__init__()
            self.incident_id = incident_id
            self.fetched = fetched  # its journal was just fetched from the host (a handoff)

    def __init__(self) -> None:
        super().__init__()
        self.host_version: str | None = None
        self.incidents: list[IncidentSummary] = []
        self.host_incidents: list[IncidentSummary] = []  # on the host, not here (read after the first paint)
        self._poller: HealthPoller | None = None
        self.deployment: Deployment | None = None  # once the host was read
        self.host_problem: str | None = None
        self._painted = False  # the first paint happened: the facts and incidents are read after it
        self._listed = False  # the incident list was read (after the first paint, or at the first "r")

    def compose(self) -> ComposeResult:
        yield from self.compose_header()
        with Horizontal(id="home-body", classes="split"):
            with VerticalScroll(id="home-main", classes="split--main"):
                yield Static("", id="home-facts")
                yield Static("Open incidents", classes="section-title", id="incidents-title")
                yield DataTable(id="incidents", cursor_type="row")
                yield Static("", id="home-empty")
                with Horizontal(classes="buttons"):
                    yield HomeButton("Start incident (s)", id="start", variant="error")
                    yield HomeButton("Resume (r)", id="resume")
            with VerticalScroll(id="home-side", classes="split--side"):
                yield HealthPane([h.name for h in polled_checks(self.console_app.config)], id="health")
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
        # Still before the first frame is written (Textual runs these callbacks in the same idle
        # turn): nothing heavy here. The incident list needs the journals' records (~30 ms of
        # imports), which the background worker loads before it asks for the list.
        self._painted = True
        self._import_in_background()

    @work(thread=True, group="warm-imports", exit_on_error=False)
    def _import_in_background(self) -> None:
        # The driver's writer thread puts the first frame on the terminal; importing at once would
        # hold the GIL that thread needs for its write.
        time.sleep(FRAME_OUT_S)
        import console.incident.listing  # noqa: F401

        if not self._from_thread(self._show_incidents):
            return
        if self.console_app.config.health:
            import console.live.health  # noqa: F401

            if not self._from_thread(self._start_health):
                return
        # What reading the host needs (the SSH transport, the engine): imported here, not on the UI
        # thread where the readers' workers run (it took no keys for ~100 ms after the first paint).
        import console.engine.incident  # noqa: F401
        import console.incident.host_mirror  # noqa: F401
        import console.release.deployed  # noqa: F401

        if not self._from_thread(self._read_the_host):
            return
        _warm_imports()
        # the runbook is read now, not when the first incident opens (a malformed one is notified then)
        self._from_thread(self.console_app.runbook_readable)

    def _from_thread(self, callback: Callable[[], object]) -> bool:
        """Run ``callback`` on the UI thread; False when the app closed meanwhile."""
        try:
            self.app.call_from_thread(callback)
        except RuntimeError:
            return False
        return True

    def _read_the_host(self) -> None:
        if self.is_attached:
            self.read_host()  # what runs on the host: the source of truth, read after the first frame
            self.read_host_incidents()

    def _start_health(self) -> None:
        config = self.console_app.config
        if self._poller is None and self.is_attached:
            from console.live.health import HealthPoller

            # a fleet: every host's checks, so a half-rolled fleet shows as two versions
            self._poller = HealthPoller(polled_checks(config), self._health_results, expected_version=None)
            self.poll_health()

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        if self._painted:  # back from another screen
            self.action_reload()
        else:  # the first resume comes before the first paint: the incidents follow it
            self._show_facts()

    async def on_unmount(self) -> None:
        self.workers.cancel_group(self, "health")
        if self._poller is not None:
            await self._poller.aclose()

    # -- facts -------------------------------------------------------------------------

    def action_reload(self) -> None:
        self._show_facts()
        self._show_incidents()

    def _show_facts(self) -> None:
        config = self.console_app.config
        try:
            log = ReleaseLog.load(config.paths.release_log)
            deployed = log.deployed or "(none recorded)"
            running = self.deployment.release if self.deployment is not None else None
            # the previous known-good release is older than what runs, not than the log's idea
            pivot = running if running and log.get(running) else log.deployed
            previous = log.previous_good(pivot) if pivot else None
            release = log.get(log.deployed) if log.deployed else None
            when = f" since {release.deployed_at}" if release and release.deployed_at else ""
            facts = [
                f"Deployed (release log): {deployed}{when}",
                f"Previous known-good:    {previous.tag if previous else '(none)'}",
            ]
        except ReleaseLogError as exc:
            facts = [f"Release log unreadable: {exc}"]
        host = self.host_version or ("(no health checks)" if not config.health else "…")
        facts.insert(0, f"Target: {self.console_app.target}  ({config.target.project_dir})")
        facts.insert(1, f"Host runs:              {self._host_runs()}")
        facts.insert(3, f"Host reports:           {host}")
        if self.deployment is not None:
            facts += [f"! {line}" for line in self.deployment.disagreements]
        box = self.query_one("#home-facts", Static)
        # one line per fact, cut at the edge: a wrapped fact pushed the last one out of the box
        box.update("\n".join(facts))
        box.border_title = "target"

    def _show_incidents(self) -> None:
        if not self.is_attached:
            return
        from console.incident.listing import all_incidents  # journals and records: after the first paint

        config = self.console_app.config
        local = [i for i in all_incidents(config.paths.state_dir) if i.state != "resolved"]
        here = {i.id for i in local}
        on_host = [i for i in self.host_incidents if i.id not in here and i.state != "resolved"]
        self.incidents = sorted(local + on_host, key=lambda i: i.id, reverse=True)
        table = self.query_one("#incidents", DataTable)
        table.clear()
        for incident in self.incidents:
            where = "  (on host)" if incident in on_host else ""
            table.add_row(
                incident.id + where, incident.state, incident.outcome or "—", incident.procedure or "—", key=incident.id
            )
        table.display = bool(self.incidents)
        self._listed = True
        self.query_one("#home-empty", Static).update("" if self.incidents else "No open incidents.")

    def _host_runs(self) -> str:
        if self.host_problem:  # one line: `incident-console status` gives the whole message
            problem = (
                self.host_problem.split(": ", 1)[-1]
                if self.host_problem.startswith("cannot read")
                else self.host_problem
            )
            return f"(not read: {problem})"
        if self.deployment is None:
            return "…"
        if self.deployment.release:
            return self.deployment.release
        builds = ", ".join(f"{s.service} {s.build}" for s in self.deployment.services.values())
        return builds or "(unknown)"

    def action_refresh(self) -> None:
        self.action_reload()
        self.read_host()

    @work(exclusive=True, group="deployed", exit_on_error=False)
    async def read_host(self) -> None:
        """What runs on the host (container images against the release log): the source of truth."""
        from console.failures import TransportError
        from console.release.deployed import gather_deployment

        try:
            transport = await self.console_app.connected_transport()
            self.deployment = await gather_deployment(self.console_app.config, transport, with_health=False)
            errors = self.deployment.errors
            self.host_problem = errors[0] if errors and not self.deployment.services_read else None
        except TransportError as exc:  # shown in the facts; the evidence screen notifies of the same link
            self.host_problem = str(exc) or type(exc).__name__
        except Exception as exc:
            self.host_problem = str(exc) or type(exc).__name__
            raise
        finally:
            if self.is_attached:
                self.action_reload()

    @work(exclusive=True, group="host-incidents", exit_on_error=False)
    async def read_host_incidents(self) -> None:
        """The incidents the host's shared state has and this machine does not (as `incidents`)."""
        from console.failures import TransportError
        from console.incident import host_mirror
        from console.incident.listing import all_incidents

        config = self.console_app.config
        if not host_mirror.enabled(config):
            return
        here = {i.id for i in all_incidents(config.paths.state_dir)}
        try:
            transport = await self.console_app.connected_transport()
            self.host_incidents = await host_mirror.host_summaries(config, transport, here)
        except (TransportError, host_mirror.HostStateError, OSError) as exc:
            # no notification (an unreachable host is already in the facts): the title keeps saying
            # "Open incidents" (this machine's), its tooltip why the host's are not among them
            if self.is_attached:
                self.query_one("#incidents-title", Static).tooltip = f"the host's incidents are not listed: {exc}"
            return
        if self.is_attached:
            self.query_one("#incidents-title", Static).update("Open incidents (here and on the host)")
            self.action_reload()

    def _resume_id(self, incident_id: str) -> None:
        if (
            any(i.id == incident_id for i in self.host_incidents)
            and not (self.console_app.config.paths.state_dir / "incidents" / incident_id).exists()
        ):
            self.fetch_and_resume(incident_id)
        else:
            self.post_message(self.ResumeIncident(incident_id))

    @work(exclusive=True, group="fetch-incident", exit_on_error=False)
    async def fetch_and_resume(self, incident_id: str) -> None:
        """An incident only on the host: its journal (and the host's release log) first, as `resume`."""
        from console.failures import TransportError
        from console.incident import host_mirror

        config = self.console_app.config
        warnings: list[str] = []
        try:
            transport = await self.console_app.connected_transport()
            fetched = await host_mirror.prepare(config, transport, incident_id, warnings.append)
        except (TransportError, host_mirror.HostStateError, OSError) as exc:
            self.notify(
                f"cannot fetch {incident_id} from the host: {exc}", title="cannot resume", severity="error", timeout=15
            )
            return
        for text in warnings:
            self.notify(text, severity="warning", timeout=10)
        if fetched:
            self.notify(
                f"Incident {incident_id}: journal fetched from the host; resuming it here is journaled as a handoff.",
                timeout=10,
            )
        self.post_message(self.ResumeIncident(incident_id, fetched=fetched))

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
        from screens.capture import CaptureScreen  # loads the docker SDK: only when asked for

        self.app.push_screen(CaptureScreen(self.console_app.config))

    def action_start_incident(self) -> None:
        self.post_message(self.StartIncident())

    def action_resume(self) -> None:
        if not self._listed:  # pressed before the list was read (right after the first paint): read it now
            self._show_incidents()
        table = self.query_one("#incidents", DataTable)
        if not self.incidents or not table.row_count:
            self.notify("No open incident to resume.", severity="warning")
            return
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        self._resume_id(str(row_key.value))

    @on(DataTable.RowSelected, "#incidents")
    def _selected(self, event: DataTable.RowSelected) -> None:
        self._resume_id(str(event.row_key.value))

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
