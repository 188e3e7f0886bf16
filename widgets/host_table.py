"""The fleet's hosts at a glance: host, role, state, release, health and the step each is on.

Fed only by what the engine emits (``StepStarted``/``StepFinished``/``StepFailed``/``StepSkipped``
with ``"<host>:<step>"`` ids, ``FleetHostState``, ``Health`` records with ``on = <host>``) and
by the screen's per-host health pollers (:meth:`HostTable.health_results`). The rows are the
model (:class:`HostRow`), so a test asks them, not the rendering.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from rich.table import Table
from rich.text import Text
from textual.widget import Widget

from console.engine.fleet_ids import split_step_id
from console.incident.records import (
    Event,
    FleetHostState,
    FleetWave,
    Health,
    StepFailed,
    StepFinished,
    StepSkipped,
    StepStarted,
)

HEADERS = ("Host", "Role", "State", "Release", "Health", "Step")
# state -> component class part; the words are the engine's (FLEET.md), shown as they are
STATE_KIND = {
    "untouched": "pending",
    "not_started": "pending",
    "preflight_ok": "pending",
    "running": "running",
    "done": "ok",
    "failed": "fail",
}
STEP_MARKS = {"running": "▶", "done": "✓", "failed": "✗", "skipped": "↷"}


@dataclass
class HostRow:
    name: str
    roles: tuple[str, ...] = ()
    state: str = "untouched"
    release: str | None = None
    step: str = ""  # the host's step, its own id ("compose_up")
    step_state: str = ""  # running | done | failed | skipped
    message: str = ""
    checks: dict[str, bool] = field(default_factory=dict)  # check -> passing, the latest of each
    running: dict[str, None] = field(default_factory=dict)  # its steps running now (several run at once)

    @property
    def health(self) -> str:
        """``OK 2/2``, ``FAIL frontend`` or ``…`` before any check came back."""
        if not self.checks:
            return "…"
        failing = [name for name, ok in self.checks.items() if not ok]
        if failing:
            return "FAIL " + ",".join(failing)
        return f"OK {len(self.checks)}/{len(self.checks)}"

    @property
    def healthy(self) -> bool | None:
        return all(self.checks.values()) if self.checks else None

    @property
    def step_label(self) -> str:
        if not self.step:
            return ""
        more = f" +{len(self.running) - 1}" if self.step_state == "running" and len(self.running) > 1 else ""
        return f"{STEP_MARKS.get(self.step_state, '')} {self.step}{more}".strip()

    def cells(self) -> list[str]:
        return [
            self.name,
            ",".join(self.roles),
            self.state.replace("_", " "),
            self.release or "?",
            self.health,
            self.step_label,
        ]


class HostTable(Widget):
    """One row per fleet host; ``apply`` (engine events) and ``health_results`` bring the data."""

    COMPONENT_CLASSES = {
        "host-table--header",
        "host-table--ok",
        "host-table--fail",
        "host-table--running",
        "host-table--pending",
    }

    DEFAULT_CSS = """
    HostTable {
        height: auto;
        border: round $panel;
        border-title-color: $text-muted;
        padding: 0 1;
        & > .host-table--header { color: $text-muted; text-style: bold; }
        & > .host-table--ok { color: $success; }
        & > .host-table--fail { color: $error; text-style: bold; }
        & > .host-table--running { color: $warning; text-style: bold; }
        & > .host-table--pending { color: $text-muted; }
    }
    """

    def __init__(
        self,
        hosts: Iterable[tuple[str, Iterable[str]]] = (),
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        """``hosts``: ``(name, roles)`` in the config's order."""
        super().__init__(name=name, id=id, classes=classes)
        self.rows: dict[str, HostRow] = {host: HostRow(host, tuple(roles)) for host, roles in hosts}
        self.wave = ""  # the latest wave, in words
        self.border_title = "hosts"

    def row(self, host: str) -> HostRow | None:
        return self.rows.get(host)

    # -- data in ------------------------------------------------------------------------

    def apply(self, event: Event) -> bool:
        """Take one engine event; True when it changed a row (and the table was refreshed)."""
        changed = self._apply(event)
        if changed:
            self.refresh(layout=True)
        return changed

    def _apply(self, event: Event) -> bool:
        if isinstance(event, FleetWave):
            # The rollout's outline: where it is now, in the border ("hosts · canary web2 passed").
            wave = f"batch {event.index}" if event.wave == "batch" else event.wave
            hosts = ",".join(str(h) for h in event.hosts)
            self.wave = f"{wave} {hosts} {event.status}".replace("  ", " ")
            self.border_title = f"hosts · {self.wave}"
            return True
        if isinstance(event, FleetHostState):
            row = self._row(event.host)
            row.state = event.state
            if event.release is not None:
                row.release = event.release
            row.message = event.message
            if event.step_id:
                row.step = split_step_id(event.step_id)[1]
            return True
        if isinstance(event, Health):
            if event.on not in self.rows:
                return False  # the single target's, or staging's
            self.rows[event.on].checks[event.check] = event.ok
            return True
        if isinstance(event, (StepStarted, StepFinished, StepFailed, StepSkipped)):
            host, step = split_step_id(event.step_id)
            if host is None and isinstance(event, StepStarted) and event.host in self.rows:
                host = event.host
            if host is None or host not in self.rows:
                return False  # a fleet-wide step (the lock, announcements): no host's own
            row = self.rows[host]
            if isinstance(event, StepStarted):
                row.running[step] = None
            else:
                row.running.pop(step, None)
            if not isinstance(event, (StepStarted, StepFailed)):
                # steps run together: one ended while the others still run, or after one of them
                # failed (its decision comes once they all end): the row keeps saying so
                if row.step_state == "failed" and row.step != step:
                    return True
                if row.running:
                    row.step, row.step_state = next(iter(row.running)), "running"
                    return True
            row.step = step
            row.step_state = {
                StepStarted: "running",
                StepFinished: "done",
                StepFailed: "failed",
                StepSkipped: "skipped",
            }[type(event)]
            return True
        return False

    def health_results(self, host: str, results: Iterable[tuple[str, bool]]) -> None:
        """The live poller's latest round for ``host``: ``(check, passing)`` pairs."""
        row = self._row(host)
        for check, ok in results:
            row.checks[check] = ok
        self.refresh(layout=True)

    def _row(self, host: str) -> HostRow:
        row = self.rows.get(host)
        if row is None:  # a host the config no longer lists (an older incident's): still shown
            row = self.rows[host] = HostRow(host)
        return row

    # -- presentation --------------------------------------------------------------------

    def render(self) -> Table:
        style = self.get_component_rich_style
        table = Table(
            box=None, expand=True, padding=(0, 1, 0, 0), show_edge=False, header_style=style("host-table--header")
        )
        for header in HEADERS:
            table.add_column(header, no_wrap=True, overflow="ellipsis", ratio=1 if header == "Step" else None)
        for row in self.rows.values():
            state_style = style(f"host-table--{STATE_KIND.get(row.state, 'pending')}")
            healthy = row.healthy
            health_style = style(
                "host-table--pending" if healthy is None else f"host-table--{'ok' if healthy else 'fail'}"
            )
            cells = row.cells()
            failed_step = style("host-table--fail") if row.step_state == "failed" else None
            styles = [None, None, state_style, None, health_style, failed_step]
            table.add_row(*(Text(c, s or "") for c, s in zip(cells, styles, strict=True)))
        return table
