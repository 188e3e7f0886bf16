"""What every console screen shares: the incident header (with the TTR clock), the footer, and
worker failures made visible."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Button, Footer, Static
from textual.worker import Worker, WorkerState

from widgets.ttr_clock import TTRClock

if TYPE_CHECKING:
    from textual.app import App
    from textual.widget import Widget

    from console.incident.session import IncidentSession
    from screens.app import IncidentConsoleApp


class IncidentHeader(Horizontal):
    """Screen title, target, incident id and the TTR clock, on one line."""

    DEFAULT_CSS = """
    IncidentHeader {
        height: 1;
        dock: top;
        background: $panel;
        & > .incident-header--title { width: auto; text-style: bold; padding: 0 1; }
        & > .incident-header--target { width: 1fr; color: $text-muted; padding: 0 1; }
        & > .incident-header--incident { width: auto; color: $text-muted; padding: 0 1; }
    }
    """

    def __init__(self, title: str) -> None:
        super().__init__(id="incident-header")
        self.title = title

    def compose(self) -> ComposeResult:
        app: IncidentConsoleApp = self.app  # type: ignore[assignment]
        yield Static(self.title, classes="incident-header--title")
        yield Static(app.target, classes="incident-header--target")
        yield Static("", id="incident-id", classes="incident-header--incident")
        yield TTRClock(now=app.clock, id="ttr-clock")


class ConsoleScreen(Screen):
    """A screen with the incident header; keeps its TTR clock in step with the app's incident,
    and runs the action a button in ``BUTTON_ACTIONS`` stands for.

    ``Worker.StateChanged`` does not bubble: the app's handler never sees a screen's workers, so
    each screen turns its own workers' failures into a notification here.
    """

    SCREEN_TITLE = ""
    # Buttons that do what a binding does: button id -> the action it runs, so a click and the
    # key take the same path (one handler below serves every screen).
    BUTTON_ACTIONS: ClassVar[dict[str, str]] = {}

    @property
    def console_app(self) -> IncidentConsoleApp:
        return self.app  # type: ignore[return-value]

    @property
    def session(self) -> IncidentSession:
        """The incident session of this screen's journal (the app's own when it is the same incident)."""
        from console.incident.session import IncidentSession

        app = self.console_app
        journal = getattr(self, "journal", None)
        session = getattr(app, "session", None)
        if session is not None and session.journal is journal:
            return session
        return IncidentSession(app.config, journal)

    def compose_header(self) -> ComposeResult:
        yield IncidentHeader(self.SCREEN_TITLE)

    def compose_footer(self) -> ComposeResult:
        yield Footer()

    def on_mount(self) -> None:
        self.sync_incident()

    def on_screen_resume(self) -> None:
        self.sync_incident()

    def sync_incident(self) -> None:
        """Pass the app's incident (opened time, target) down to the header."""
        app = self.console_app
        recovered = app.journal.state.ttr_seconds if app.journal is not None else None
        for clock in self.query(TTRClock):
            clock.target_minutes = app.config.thresholds.ttr_target_minutes
            clock.opened_at = app.incident_opened_at
            clock.recovered_seconds = recovered
        for label in self.query("#incident-id").results(Static):
            label.update(f"incident {app.journal.incident_id}" if app.journal else "no open incident")

    @on(Button.Pressed)
    async def _button_action(self, event: Button.Pressed) -> None:
        if event.button.id in self.BUTTON_ACTIONS:
            await self.run_action(self.BUTTON_ACTIONS[event.button.id])

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            notify_worker_failure(self, event.worker)


def notify_worker_failure(node: Widget | App, worker: Worker) -> None:
    """An error notification naming the worker and its error (both may hold brackets: no markup)."""
    error = worker.error
    node.notify(
        f"{type(error).__name__}: {error}",
        title=f"{worker.name or worker.group} failed",
        severity="error",
        timeout=15,
        markup=False,
    )
