"""Pilot tests: the home screen lists the host's incidents too (as `incidents`), read after the
first paint, marked "on host"; resuming one fetches its journal first, and the resume is a handoff.

The host's shared state is a real directory on this machine (its commands run here); every other
command answers 'not here' as on the stand-in host.
"""

from __future__ import annotations

import dataclasses
import shutil

import pytest
from textual.widgets import DataTable

from _screens_support import HostStandIn, fixed_clock, make_config, records, wait_for
from console.engine.incident import open_new_incident
from console.incident.journal import JOURNAL_NAME
from console.transport.local import LocalTransport
from screens.app import make_app
from screens.home import HomeScreen
from screens.procedure import ProcedureScreen


class SharedStateOnThisMachine(HostStandIn):
    """Commands on the host's shared state run here; the rest answer 'not here'."""

    def __init__(self, root: str) -> None:
        super().__init__()
        self.root = root
        self.local = LocalTransport()

    async def run(self, argv, *, timeout=None, on_output=None, stdin=None, capture=False):
        if any(self.root in part for part in argv):
            self.commands.append(list(argv))
            return await self.local.run(argv, timeout=timeout, on_output=on_output, stdin=stdin, capture=capture)
        return await super().run(argv, timeout=timeout, on_output=on_output, stdin=stdin, capture=capture)


def host_with_an_incident(tmp_path):
    """A config whose host keeps an interrupted rollback another machine started."""
    artifacts = tmp_path / "artifacts"
    config = make_config(tmp_path)
    config = dataclasses.replace(config, target=dataclasses.replace(config.target, artifacts_dir=str(artifacts)))
    elsewhere = dataclasses.replace(
        config, paths=dataclasses.replace(config.paths, state_dir=tmp_path / "other"), operator="alice"
    )
    journal = open_new_incident(elsewhere, "v2")
    journal.record("outcome", outcome="rollback", path=[], overridden=False, reason="", by="alice")
    journal.record(
        "procedure_started",
        procedure="rollback",
        from_tag="v2",
        to_tag="v1",
        dry_run=False,
        pid=1,
        machine="other-laptop",
    )
    on_host = artifacts / "incident-console" / "incidents" / journal.incident_id
    on_host.mkdir(parents=True)
    shutil.copy(journal.path, on_host / JOURNAL_NAME)
    return config, journal.incident_id, str(artifacts)


@pytest.mark.asyncio
async def test_the_hosts_incidents_are_listed_on_host_and_resuming_one_fetches_it_as_a_handoff(tmp_path):
    config, incident_id, root = host_with_an_incident(tmp_path)
    app = make_app(config, transport=SharedStateOnThisMachine(root), clock=fixed_clock)
    app._announce = lambda event, **details: None
    local = config.paths.state_dir / "incidents" / incident_id / JOURNAL_NAME
    async with app.run_test(size=(120, 40)) as pilot:
        home = app.screen
        assert isinstance(home, HomeScreen)
        table = home.query_one("#incidents", DataTable)
        await wait_for(pilot, lambda: table.row_count == 1, what="the host's incident listed")
        assert table.get_row_at(0)[0] == f"{incident_id}  (on host)"
        assert "on the host" in str(home.query_one("#incidents-title").render())
        assert not local.exists()  # listed, not fetched
        await pilot.press("r")
        await wait_for(
            pilot, lambda: any(isinstance(s, ProcedureScreen) for s in app.screen_stack), what="the resumed procedure"
        )
        assert local.exists() and app.journal.incident_id == incident_id
        await wait_for(pilot, lambda: records(app.journal, "handoff"), what="the handoff journaled")
        handoff = records(app.journal, "handoff")[0]
        assert handoff.fetched  # the journal came from the host
        assert (handoff.from_operator, handoff.to_operator) == ("alice", config.operator)


@pytest.mark.asyncio
async def test_an_unlisted_host_leaves_the_local_list_and_says_why_in_the_titles_tooltip(tmp_path):
    app = make_app(make_config(tmp_path), transport=HostStandIn(), clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        title = app.screen.query_one("#incidents-title")
        await wait_for(pilot, lambda: "not listed: cannot list" in str(title.tooltip or ""), what="the tooltip")
        assert not app.screen.host_incidents and str(title.render()) == "Open incidents"
