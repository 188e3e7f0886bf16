"""A fleet's evidence per host: what each runs, whether it is healthy, and where they disagree
(in words), for the decide screen and ``status``. Hosts are fakes; health is a local server."""

from __future__ import annotations

import asyncio
import json
import shlex

import pytest

from _fleet_support import HOSTS, make_fleet_config
from _http_support import JSONServer
from console.decide.evidence import describe, gather_evidence
from console.decide.fleet_evidence import FleetEvidence, HostEvidence, gather_fleet_evidence
from console.release.release_log import ReleaseLog
from console.transport.base import CommandResult

DIGESTS = {"v1": {"backend": "1" * 64, "frontend": "2" * 64}, "v2": {"backend": "3" * 64, "frontend": "2" * 64}}


class FleetHostLink:
    """One host's link: ``docker inspect`` shows the project's containers of ``release``."""

    def __init__(self, name: str, release: str | None, reachable: bool = True) -> None:
        self.name, self.release, self.reachable = name, release, reachable
        self.commands: list[str] = []
        self.description = name
        self.closed = False

    async def run(self, argv, *, timeout=None, capture=False, **_):
        command = shlex.join(argv)
        self.commands.append(command)
        if not self.reachable:
            from console.failures import TransportError

            raise TransportError(f"{self.name}: connection refused")
        if command.startswith("sh -c"):
            inspect = [
                {
                    "Name": f"/mr-dj-{svc}-1",
                    "Image": f"sha256:{self.release}-{svc}",
                    "State": {"Running": True},
                    "Config": {"Image": "x", "Labels": {"com.docker.compose.service": f"mr-dj-{svc}"}},
                }
                for svc in ("backend", "frontend")
            ]
            return CommandResult(list(argv), 0, 0.0, json.dumps(inspect), "")
        if command.startswith("docker image inspect"):
            images = [
                {"Id": f"sha256:{self.release}-{svc}", "RepoDigests": [f"r/mr-dj-{svc}@sha256:{d}"]}
                for svc, d in DIGESTS[self.release].items()
            ]
            return CommandResult(list(argv), 0, 0.0, json.dumps(images), "")
        return CommandResult(list(argv), 2, 0.0, "", "not on this fake")

    async def close(self) -> None:
        self.closed = True


def fleet(tmp_path, releases: dict[str, str], urls=None, unreachable=()):
    config = make_fleet_config(tmp_path, urls)
    links = {h: FleetHostLink(h, releases.get(h), h not in unreachable) for h in HOSTS}
    return config, links, ReleaseLog.load(config.paths.release_log)


def test_a_half_rolled_fleet_is_said_in_words(tmp_path):
    config, links, log = fleet(tmp_path, {"web1": "v1", "web2": "v2", "web3": "v2"})
    evidence = asyncio.run(gather_fleet_evidence(config, log, links, with_health=False))
    assert evidence.releases == {"web1": "v1", "web2": "v2", "web3": "v2"}
    assert evidence.disagreements == ["web1 runs v1, web2/web3 run v2 (a half-rolled fleet)"]
    for host, link in links.items():  # each host read over its own link, for its own project
        assert any("mr-dj" in c for c in link.commands), host


def test_hosts_that_agree_say_nothing_and_an_unreachable_host_is_unread_not_guessed(tmp_path):
    config, links, log = fleet(tmp_path, {h: "v2" for h in HOSTS}, unreachable=("web3",))
    evidence = asyncio.run(gather_fleet_evidence(config, log, links, with_health=False))
    assert evidence.disagreements == []
    web3 = evidence.host("web3")
    assert not web3.read and web3.runs == "could not be read"
    assert any("connection refused" in e for e in web3.errors)
    assert evidence.lines()[2].startswith("web3: runs could not be read")


def test_some_hosts_healthy_some_not_is_evidence(tmp_path):
    with JSONServer() as server:
        urls = {h: server.answer(f"/{h}", 200, {"status": "ok"}) for h in ("web1", "web2")}
        urls["web3"] = server.answer("/web3", 503, {"status": "down"})
        config, links, log = fleet(tmp_path, {h: "v2" for h in HOSTS}, urls)
        evidence = asyncio.run(gather_fleet_evidence(config, log, links))
    assert [evidence.host(h).healthy for h in HOSTS] == [True, True, False]
    assert evidence.disagreements == ["web3 (backend: HTTP 503, expected 200) is unhealthy, web1/web2 are healthy"]
    data = evidence.to_dict()
    assert data["hosts"]["web3"]["healthy"] is False and data["hosts"]["web1"]["release"] == "v2"


def test_the_decide_screens_evidence_carries_the_fleet_and_says_the_disagreement_first(tmp_path):
    config, links, log = fleet(tmp_path, {"web1": "v2", "web2": "v1", "web3": "v1"})
    first = links.pop("web1")  # the app's one transport is the first host's
    evidence = asyncio.run(gather_evidence(config, first, log, host_transports=links))
    assert evidence.fleet is not None and evidence.deployed_tag == "v2"  # the first host read
    lines = describe(evidence)
    assert "hosts disagree: web1 runs v2, web2/web3 run v1 (a half-rolled fleet)" in lines
    assert lines.index("hosts disagree: web1 runs v2, web2/web3 run v1 (a half-rolled fleet)") == 1
    # health was checked too: every fake host's URL is a closed port
    assert "host web2: runs v1; UNHEALTHY (backend: cannot connect: Connection refused)" in lines


def test_disagreement_words_for_unknown_builds_and_single_hosts():
    from console.release.deployed import Deployment

    def host(name, release):
        return HostEvidence(name, deployment=Deployment(release, {}, None))

    assert FleetEvidence([host("a", "v1"), host("b", None)]).disagreements == [
        "a runs v1, b runs an unknown build (a half-rolled fleet)"
    ]
    assert FleetEvidence([host("a", "v1")]).disagreements == []


def test_status_on_a_fleet_prints_each_host_and_the_disagreement(tmp_path, capsys):
    from console.cli.fleet_status import fleet_status

    config, links, _ = fleet(tmp_path, {"web1": "v1", "web2": "v2", "web3": "v2"})
    assert fleet_status(config, as_json=True, with_health=False, transports=links) == 0
    out = json.loads(capsys.readouterr().out)
    assert sorted(out["hosts"]) == list(HOSTS)
    assert out["hosts"]["web1"]["release"] == "v1"
    assert out["disagreements"] == ["web1 runs v1, web2/web3 run v2 (a half-rolled fleet)"]
    assert fleet_status(config, as_json=False, with_health=False, transports=links) == 0
    text = capsys.readouterr().out
    assert "== web2 (127.0.0.1)" in text and "! web1 runs v1, web2/web3 run v2 (a half-rolled fleet)" in text
    links["web2"].reachable = False
    assert fleet_status(config, as_json=False, with_health=False, transports=links) == 1


@pytest.mark.asyncio
async def test_links_made_for_the_evidence_are_closed(tmp_path, monkeypatch):
    import console.engine.incident as incident

    config, links, log = fleet(tmp_path, {h: "v2" for h in HOSTS})
    made = {}

    def make(host_config):
        name = next(h for h in HOSTS if f"/{h}/" in host_config.target.project_dir)
        made[name] = links[name]
        return links[name]

    monkeypatch.setattr(incident, "make_transport", make)
    evidence = await gather_fleet_evidence(config, log, {"web1": links["web1"]}, with_health=False)
    assert sorted(made) == ["web2", "web3"] and all(link.closed for link in made.values())
    assert not links["web1"].closed and evidence.releases == {h: "v2" for h in HOSTS}


def test_status_with_a_fleet_config_goes_per_host(tmp_path, monkeypatch):
    import console.cli.fleet_status as module
    from console.cli.main import main
    from test_fleet_config import fleet_config

    seen = {}

    def fake(config, *, as_json, with_health, transports=None):
        seen.update(hosts=config.fleet.names, as_json=as_json, with_health=with_health)
        return 1

    monkeypatch.setattr(module, "fleet_status", fake)
    assert main(["--config", str(fleet_config(tmp_path)), "status", "--json", "--no-health"]) == 1
    assert seen == {"hosts": ["web1", "web2", "web3"], "as_json": True, "with_health": False}


@pytest.mark.asyncio
async def test_the_evidence_panel_flags_the_hosts_disagreement(tmp_path):
    from textual.app import App, ComposeResult

    from console.decide.evidence import Evidence
    from widgets.evidence_panel import EvidencePanel

    config, links, log = fleet(tmp_path, {"web1": "v1", "web2": "v2", "web3": "v2"})
    fleet_evidence = await gather_fleet_evidence(config, log, links, with_health=False)

    class PanelApp(App):
        def compose(self) -> ComposeResult:
            yield EvidencePanel(id="evidence")

    app = PanelApp()
    async with app.run_test(size=(100, 30)) as pilot:
        panel = app.query_one(EvidencePanel)
        panel.evidence = Evidence("v2", "v1", fleet=fleet_evidence)
        await pilot.pause()
        text = "\n".join(strip.text for strip in app.screen._compositor.render_strips())
        assert "≠ web1 runs v1, web2/web3 run v2 (a half-rolled fleet)" in text
        assert "web1 runs v1" in text and "web3 runs v2" in text
