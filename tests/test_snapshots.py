"""SVG snapshots of the main screens at 80x24 and 120x40, with a fixed clock and fixed data.

Update only after reading the diff report: pytest tests/test_snapshots.py --snapshot-update
"""

from __future__ import annotations

from datetime import timedelta

import pytest

import console.incident.journal
from console.engine.incident import target_label
from console.incident.journal import Journal
from screens.app import make_app
from screens.checklist import ChecklistScreen
from screens.decision import DecisionScreen
from tests._screens_support import FIXED_NOW, HostStandIn, fixed_clock, make_config, wait_for
from widgets.evidence_panel import EvidencePanel

SIZES = [(80, 24), (120, 40)]
INCIDENT_ID = "20260314-025600-0001"


@pytest.fixture
def config(tmp_path, monkeypatch):
    # Checklist times are the journal's timestamps: freeze the journal's clock too.
    monkeypatch.setattr(console.incident.journal, "utc_now", fixed_clock)
    return make_config(tmp_path)


def fixed_incident(app) -> Journal:
    journal = Journal.create(app.config.paths.state_dir, INCIDENT_ID)
    journal.record(
        "incident_opened",
        incident_id=INCIDENT_ID,
        operator="oncall",
        target=target_label(app.config),
        project="mr-dj",
        deployed="v2",
        ttr_target_minutes=15,
    )
    app.set_incident(journal)
    app.incident_opened_at = FIXED_NOW - timedelta(minutes=4)
    return journal


async def settle(pilot, screen) -> None:
    await wait_for(pilot, lambda: all(w.is_finished for w in screen.workers), what="the screen's workers")
    screen.sync_incident()
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
def test_home(snap_compare, config, size):
    app = make_app(config, transport=HostStandIn(), clock=fixed_clock)

    async def run_before(pilot) -> None:  # the host's answer is in the facts before the shot
        await wait_for(pilot, lambda: app.screen.host_problem is not None, what="the host read")
        await settle(pilot, app.screen)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_decision_question(snap_compare, config, size):
    app = make_app(config, transport=HostStandIn(), clock=fixed_clock)

    async def run_before(pilot) -> None:
        screen = DecisionScreen(fixed_incident(app))
        await app.push_screen(screen)
        await pilot.press("n")
        await wait_for(pilot, lambda: screen.query_one(EvidencePanel).evidence is not None, what="evidence")
        await settle(pilot, screen)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_decision_outcome(snap_compare, config, size):
    app = make_app(config, transport=HostStandIn(), clock=fixed_clock)

    async def run_before(pilot) -> None:
        screen = DecisionScreen(fixed_incident(app))
        await app.push_screen(screen)
        await pilot.press("n", "n", "n", "space", "down", "down", "space")
        await wait_for(pilot, lambda: screen.query_one(EvidencePanel).evidence is not None, what="evidence")
        await settle(pilot, screen)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_checklist(snap_compare, config, size):
    app = make_app(config, transport=HostStandIn(), clock=fixed_clock)

    async def run_before(pilot) -> None:
        journal = fixed_incident(app)
        screen = ChecklistScreen(journal, "rollback")
        await app.push_screen(screen)
        await settle(pilot, screen)

    assert snap_compare(app, terminal_size=size, run_before=run_before)
