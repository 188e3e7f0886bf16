"""Pilot tests of the procedure screen on a fleet: the host table fed by the engine's events,
every host's logs in one pane (host column, host filter) over each host's own link, and health
per host. The engine's events are synthetic; hosts are stand-ins on 127.0.0.1."""

from __future__ import annotations

import asyncio

import pytest

from _fleet_support import HOSTS, make_fleet_config
from _http_support import JSONServer
from _screens_support import HostStandIn, fixed_clock, wait_for
from console.engine.procedure import Procedure
from console.incident.records import (
    FleetHostState,
    FleetWave,
    Health,
    ProcedureStarted,
    StepFailed,
    StepFinished,
    StepSkipped,
    StepStarted,
)
from screens.app import make_app
from screens.keys_help import active_keys
from screens.procedure import ProcedureScreen
from test_screens_procedure_leave import SLOW
from widgets.health_pane import HealthPane
from widgets.host_table import HostTable
from widgets.log_pane import LogPane
from widgets.step_list import StepList

TS = "2026-03-14T03:00:01.000000000Z"


class FollowingHost:
    """One fleet host's link: ``logs -f`` prints a line naming the host, then follows (blocks)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.commands: list[list[str]] = []
        self.closed = False

    async def connect(self) -> None:
        pass

    async def close(self) -> None:
        self.closed = True

    async def run(self, argv, *, timeout=None, on_output=None, stdin=None, capture=False):
        self.commands.append(list(argv))
        if on_output is not None:
            on_output("stdout", [f"mr-dj-backend-1  | {TS} hello from {self.name}"])
        await asyncio.Event().wait()


def fleet_steps() -> list[dict]:
    return [
        {"id": f"{host}:{step}", "title": title, "command": "", "destructive": False}
        for host in ("web2", "web1", "web3")
        for step, title in (("compose_down", "Stop the stack"), ("compose_up", "Start the stack"))
    ]


async def open_fleet_screen(app, pilot, links) -> ProcedureScreen:
    screen = ProcedureScreen(
        config=app.config,
        transport=app.transport,
        journal=None,
        procedure=Procedure("verify", [SLOW]),
        host_transports=links,
    )
    await app.push_screen(screen)
    await wait_for(pilot, lambda: app.screen is screen, what="the procedure screen")
    return screen


def event(screen: ProcedureScreen, record) -> None:
    screen.present_event(ProcedureScreen.EngineEvent(record))


@pytest.mark.asyncio
async def test_the_host_table_follows_each_hosts_steps_state_and_release(tmp_path):
    app = make_app(make_fleet_config(tmp_path), transport=HostStandIn(), clock=fixed_clock)
    links = {h: FollowingHost(h) for h in HOSTS}
    async with app.run_test(size=(140, 45)) as pilot:
        screen = await open_fleet_screen(app, pilot, links)
        table = screen.query_one(HostTable)
        assert [r.cells() for r in table.rows.values()] == [
            ["web1", "web,migrations", "untouched", "?", "…", ""],
            ["web2", "web", "untouched", "?", "…", ""],
            ["web3", "web", "untouched", "?", "…", ""],
        ]
        event(screen, ProcedureStarted(procedure="rollback", steps=fleet_steps()))
        event(screen, FleetWave(wave="canary", index=0, hosts=["web2"], status="started"))
        assert table.border_title == "hosts · canary web2 started"
        event(screen, FleetHostState(host="web2", state="running", release="v2", step_id="web2:compose_down"))
        event(screen, StepStarted(step_id="web2:compose_down", title="Stop the stack", host="web2"))
        event(screen, StepFinished(step_id="web2:compose_down", duration=1.0))
        event(screen, StepStarted(step_id="web2:compose_up", title="Start the stack", host="web2"))
        event(screen, StepFailed(step_id="web2:compose_up", message="exit 1", exit_code=1))
        event(screen, FleetHostState(host="web2", state="failed", step_id="web2:compose_up", message="stopped"))
        event(screen, FleetHostState(host="web1", state="not_started", release="v2"))
        event(screen, StepSkipped(step_id="web3:compose_down", reason="not reached"))
        event(screen, Health(check="backend", ok=False, on="web2"))
        event(screen, Health(check="backend", ok=True, on="target"))  # not a fleet host's: ignored
        await pilot.pause()
        assert table.row("web2").cells() == ["web2", "web", "failed", "v2", "FAIL backend", "✗ compose_up"]
        web1 = table.row("web1").cells()
        assert web1[:4] + web1[5:] == ["web1", "web,migrations", "not started", "v2", ""]  # health: the poller's
        assert table.row("web3").cells()[5] == "↷ compose_down"
        rendered = app.screen._compositor.render_strips()
        text = "\n".join(strip.text for strip in rendered)
        assert "✗ compose_up" in text and "not started" in text
        # the step list stays readable: every host's copy of a step is labelled with its host
        steps = screen.query_one(StepList)
        prompts = [str(steps.get_option(s["id"]).prompt).split("\n")[0] for s in fleet_steps()]
        assert prompts[:2] == ["✓ web2 Stop the stack", "✗ web2 Start the stack"]
        assert prompts[2] == "· web1 Stop the stack"
        assert steps.host_progress() == {"web2": (1, 2), "web1": (0, 2), "web3": (1, 2)}
        assert steps.border_title == "steps · web2 1/2 · web1 0/2 · web3 1/2"
        steps.focus()
        steps.highlighted = steps.get_option_index("web2:compose_up")
        await pilot.pause()
        header = str(screen.query_one("#step-header").render())
        assert header.startswith("web2 · Start the stack [failed")


@pytest.mark.asyncio
async def test_every_hosts_logs_come_over_its_own_link_into_one_pane_with_a_host_filter(tmp_path):
    app = make_app(make_fleet_config(tmp_path), transport=HostStandIn(), clock=fixed_clock)
    links = {h: FollowingHost(h) for h in HOSTS}
    async with app.run_test(size=(140, 45)) as pilot:
        screen = await open_fleet_screen(app, pilot, links)
        pane = screen.query_one(LogPane)

        def lines() -> list[tuple[str, str]]:
            pane.drain()
            return sorted((line.host, line.text) for _, line in pane.buffer)

        await wait_for(pilot, lambda: len(lines()) == 3, what="a line from every host")
        assert lines() == [(h, f"hello from {h}") for h in HOSTS]
        for host, link in links.items():
            # each host's own project dir: the follower ran on that host's link, for that host
            assert link.commands and f"/opt/fleet/{host}/mr-dj" in " ".join(link.commands[0])
            assert "logs" in link.commands[0]
        assert app.transport.commands == [] or all("logs" not in c for c in app.transport.commands)
        screen.query_one(StepList).focus()
        assert ("H", "Log host") in active_keys(app, screen)  # said in `?` help
        await pilot.press("H")
        assert pane.host_filter == "web1" and len(pane.view) == 1
        assert pane.render_line(0).text.startswith("03:00:01.000 web1 mr-dj-backend │ hello from web1")
        await pilot.press("H", "H", "H")
        assert pane.host_filter is None and len(pane.view) == 3


@pytest.mark.asyncio
async def test_health_is_shown_per_host_in_the_pane_and_the_host_table(tmp_path):
    with JSONServer() as server:
        urls = {h: server.answer(f"/{h}", 200, {"status": "ok", "version": "v1"}) for h in ("web1", "web2")}
        urls["web3"] = server.answer("/web3", 503, {"status": "down"})
        app = make_app(make_fleet_config(tmp_path, urls), transport=HostStandIn(), clock=fixed_clock)
        links = {h: FollowingHost(h) for h in HOSTS}
        async with app.run_test(size=(140, 45)) as pilot:
            screen = await open_fleet_screen(app, pilot, links)
            pane = screen.query_one(HealthPane)
            await wait_for(pilot, lambda: len(pane.results) == 3, what="a round of every host's checks")
            assert [pane.row_cells(n)[:3] for n in ("web1/backend", "web2/backend", "web3/backend")] == [
                ["web1/backend", "OK", "200"],
                ["web2/backend", "OK", "200"],
                ["web3/backend", "FAIL", "503"],
            ]
            table = screen.query_one(HostTable)
            assert [table.row(h).health for h in HOSTS] == ["OK 1/1", "OK 1/1", "FAIL backend"]


@pytest.mark.asyncio
async def test_a_single_host_procedure_screen_has_no_host_table_nor_host_key(tmp_path):
    from _screens_support import make_config

    app = make_app(make_config(tmp_path), transport=HostStandIn(), clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = ProcedureScreen(
            config=app.config, transport=app.transport, journal=None, procedure=Procedure("verify", [SLOW])
        )
        await app.push_screen(screen)
        await wait_for(pilot, lambda: app.screen is screen, what="the procedure screen")
        assert not screen.query(HostTable) and screen.fleet is None
        assert not screen.check_action("cycle_log_host", ())
        assert "Log host" not in [d for _, d in active_keys(app, screen)]


@pytest.mark.asyncio
async def test_home_polls_every_hosts_health_so_a_half_rolled_fleet_shows_two_versions(tmp_path):
    from screens.home import HomeScreen

    with JSONServer() as server:
        urls = {"web1": server.answer("/web1", 200, {"status": "ok", "version": "v1"})}
        urls |= {h: server.answer(f"/{h}", 200, {"status": "ok", "version": "v2"}) for h in ("web2", "web3")}
        app = make_app(make_fleet_config(tmp_path, urls), transport=HostStandIn(), clock=fixed_clock)
        async with app.run_test(size=(100, 30)) as pilot:
            assert isinstance(app.screen, HomeScreen)
            pane = app.screen.query_one(HealthPane)
            await wait_for(pilot, lambda: len(pane.results) == 3, what="every host's checks")
            assert sorted(pane.results) == ["web1/backend", "web2/backend", "web3/backend"]
            facts = lambda: str(app.screen.query_one("#home-facts").render())  # noqa: E731
            await wait_for(pilot, lambda: "Host reports:           v1, v2" in facts(), what="both versions")


@pytest.mark.asyncio
async def test_at_80_columns_the_host_table_shows_every_host_and_the_steps_stay_visible(tmp_path):
    app = make_app(make_fleet_config(tmp_path), transport=HostStandIn(), clock=fixed_clock)
    links = {h: FollowingHost(h) for h in HOSTS}
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_fleet_screen(app, pilot, links)
        event(screen, ProcedureStarted(procedure="rollback", steps=fleet_steps()))
        event(screen, FleetHostState(host="web2", state="running", release="v2", step_id="web2:compose_down"))
        await pilot.pause()
        rows = [strip.text for strip in app.screen._compositor.render_strips()]
        table = screen.query_one(HostTable)
        assert table.region.height == 6  # border, header, three hosts
        for host in HOSTS:
            assert any(row.lstrip("│ ").startswith(host) for row in rows[table.region.y : table.region.bottom])
        assert screen.query_one(StepList).region.height >= 6
