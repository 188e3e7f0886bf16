"""The rolling fleet engine: preflight everywhere, every lock or none, canary, gate, batches, stop."""

from __future__ import annotations

import asyncio
import tomllib

import pytest

from console.config import parse_config
from console.engine.context import StepContext
from console.engine.fleet import FleetEngine
from console.engine.fleet_procedure import fleet_procedure
from console.engine.procedure import ActionResult, Procedure, Step
from console.engine.runner import Choice
from console.incident.journal import Journal
from console.incident.records import FleetWave, LockEvent, StepSkipped
from console.transport.base import CommandResult
from tests._screens_support import ROOT, write_release_log


class Host:
    """A host's link: lock commands answer like the real script; ``refuse_lock`` answers 'held'."""

    def __init__(self, name: str, log: list) -> None:
        self.name = name
        self.log = log
        self.refuse_lock = False
        self.commands: list[list[str]] = []

    async def run(self, argv, *, timeout=None, on_output=None, stdin=None, capture=False):
        self.commands.append(list(argv))
        script = " ".join(argv)
        if "mkdir" in script and self.refuse_lock:
            if "cat" in script or "holder=" not in script:
                return CommandResult(list(argv), 0, 0.0, "holder=other\nincident=20260101-000000-zzzz\n", "")
            return CommandResult(list(argv), 75, 0.0, "", "")
        if "holder=" not in script and "exit 3" in script and self.refuse_lock:
            return CommandResult(list(argv), 0, 0.0, "holder=other\nincident=20260101-000000-zzzz\n", "")
        self.log.append((self.name, "lock" if "mkdir" in script else "unlock" if "rm -rf" in script else script))
        return CommandResult(list(argv), 0, 0.0, "", "")

    async def close(self) -> None:
        pass


class Decider:
    def __init__(self, confirm: bool = True) -> None:
        self.prompts: list[str] = []
        self.answer = confirm

    async def confirm(self, step, prompt):
        self.prompts.append(prompt)
        return self.answer

    async def on_failure(self, step, failure):
        return Choice("abort")


def fleet_config(tmp_path, *, pause: float = 0, batch_size: int = 2, health_port: int | None = None):
    data = tomllib.loads((ROOT / "config.example.toml").read_text())
    data["target"].update(identity_file=str(tmp_path / "k"), known_hosts=str(tmp_path / "kh"))
    del data["target"]["host"]
    data.pop("notifications", None)
    data.pop("health", None)
    data["paths"] = {"state_dir": str(tmp_path / "state"), "release_log": str(tmp_path / "releases.toml")}
    url = f"http://127.0.0.1:{health_port or 9}/health"
    data["hosts"] = [
        {"name": n, "host": f"10.0.0.{i}", "roles": r, "health": [{"name": "app", "url": url, "version_key": "v"}]}
        for i, (n, r) in enumerate(
            [("web1", ["web", "migrations"]), ("web2", ["web"]), ("web3", ["web"]), ("web4", ["web"])], 1
        )
    ]
    data["fleet"] = {"batch_size": batch_size, "canary_pause_seconds": pause, "gate_interval_seconds": 0.05}
    write_release_log(tmp_path / "releases.toml")
    return parse_config(data, ROOT / "config.example.toml", environ={"USER": "tester"})


def single(log: list, fail: dict[str, str] | None = None):
    """One host's procedure: a preflight check, a schema step, a change, a check after it."""
    fail = fail or {}

    def act(name: str):
        async def action(ctx: StepContext) -> ActionResult:
            log.append((ctx.host, name))
            await asyncio.sleep(0.01)
            return ActionResult(fail.get(ctx.host) != name, f"{name} on {ctx.host}")

        return action

    def build(config) -> Procedure:
        return Procedure(
            "rollback",
            [
                Step("verify_artifacts", "Verify", action=act("verify"), read_only=True, preflight=True),
                Step("migrate_rollback", "Migrations", action=act("migrate"), mutating=True, destructive=True),
                Step("compose_up", "Up", action=act("up"), mutating=True, destructive=True),
                Step("verify_health", "Health", action=act("health"), read_only=True),
            ],
            "v2",
            "v1",
        )

    return build


def run_fleet(tmp_path, config, *, fail=None, decider=None, done=None, refuse=(), assume_yes=True):
    log: list = []
    procedure = fleet_procedure(config, single(log, fail))
    journal = Journal.create(config.paths.state_dir, "20261129-150000-abcd")
    links = {h: Host(h, log) for h in config.host_names}
    for name in refuse:
        links[name].refuse_lock = True
    context = StepContext(config, links["web1"], journal, operator="tester", fleet_transports=links)
    engine = FleetEngine(
        procedure, context, decider or Decider(), assume_yes=assume_yes, done_steps=done or set(), listeners=[]
    )
    outcome = asyncio.run(engine.run())
    return outcome, log, journal


def of(journal, kind):
    return [r for r in journal.records() if isinstance(r, kind)]


def test_waves_run_canary_then_batches_with_the_migrations_host_last(tmp_path):
    config = fleet_config(tmp_path)
    outcome, log, journal = run_fleet(tmp_path, config)
    assert outcome == "succeeded"
    changes = [(h, what) for h, what in log if what in ("up", "migrate")]
    assert changes[0] == ("web2", "up")  # the canary, alone
    assert {c for c in changes[1:3]} == {("web3", "up"), ("web4", "up")}  # a batch of two, in parallel
    assert changes[3:] == [("web1", "migrate"), ("web1", "up")]  # the migrations host goes last
    # every preflight ran before any lock, every lock before any change
    first_lock = log.index(next(e for e in log if e[1] == "lock"))
    assert all(log.index(e) < first_lock for e in log if e[1] == "verify")
    assert [h for h, what in log if what == "lock"] == ["web1", "web2", "web3", "web4"]  # name order
    assert sorted(h for h, what in log if what == "unlock") == ["web1", "web2", "web3", "web4"]
    skipped = {r.step_id: r.reason for r in of(journal, StepSkipped)}
    assert set(skipped) == {"web2:migrate_rollback", "web3:migrate_rollback", "web4:migrate_rollback"}
    assert "once, on web1" in skipped["web2:migrate_rollback"]
    assert journal.state.fleet_hosts["web3"].state == "done" and journal.state.fleet_hosts["web3"].release == "v1"
    assert [(w.wave, w.status) for w in of(journal, FleetWave) if w.status != "started"] == [
        ("preflight", "passed"),
        ("lock", "passed"),
        ("canary", "passed"),
        ("batch", "passed"),
        ("batch", "passed"),
    ]


def test_a_failed_canary_stops_the_rollout_and_leaves_the_others_untouched(tmp_path):
    config = fleet_config(tmp_path)
    outcome, log, journal = run_fleet(tmp_path, config, fail={"web2": "up"})
    assert outcome == "failed"
    assert [e for e in log if e[1] in ("up", "migrate") and e[0] != "web2"] == []
    hosts = journal.state.fleet_hosts
    assert hosts["web2"].state == "failed" and hosts["web2"].step_id == "web2:compose_up"
    assert {hosts[h].state for h in ("web1", "web3", "web4")} == {"not_started"}
    assert hosts["web3"].release == "v2"
    assert sorted(h for h, what in log if what == "unlock") == ["web1", "web2", "web3", "web4"]


def test_a_preflight_failure_anywhere_refuses_with_nothing_changed_and_no_lock(tmp_path):
    config = fleet_config(tmp_path)
    outcome, log, journal = run_fleet(tmp_path, config, fail={"web4": "verify"})
    assert outcome == "failed"
    assert [e for e in log if e[1] in ("up", "migrate", "lock")] == []
    hosts = journal.state.fleet_hosts
    assert hosts["web4"].state == "failed" and hosts["web1"].state == "untouched"


def test_the_locks_are_taken_on_every_host_or_on_none(tmp_path):
    config = fleet_config(tmp_path)
    outcome, log, journal = run_fleet(tmp_path, config, refuse=("web3",))
    assert outcome == "failed"
    assert [h for h, what in log if what == "lock"] == ["web1", "web2"]
    assert sorted(h for h, what in log if what == "unlock") == ["web1", "web2"]
    assert [e for e in log if e[1] in ("up", "migrate")] == []
    refused = [r for r in of(journal, LockEvent) if r.action == "refused"]
    assert refused and refused[0].host == "web3"


def test_each_wave_is_confirmed_once_and_a_no_stops_before_it(tmp_path):
    config = fleet_config(tmp_path)
    decider = Decider(confirm=False)
    outcome, log, journal = run_fleet(tmp_path, config, decider=decider, assume_yes=False)
    assert outcome == "aborted"
    assert len(decider.prompts) == 1 and "Canary" in decider.prompts[0] and "web2" in decider.prompts[0]
    assert [e for e in log if e[1] in ("up", "migrate")] == []
    assert {h.state for h in journal.state.fleet_hosts.values()} == {"not_started"}


def test_a_resume_continues_with_the_hosts_not_done(tmp_path):
    config = fleet_config(tmp_path)
    done = {"web2:migrate_rollback", "web2:compose_up", "web3:compose_up", "web3:migrate_rollback"}
    outcome, log, journal = run_fleet(tmp_path, config, done=done)
    assert outcome == "succeeded"
    changed = [(h, what) for h, what in log if what in ("up", "migrate")]
    assert ("web2", "up") not in changed and ("web3", "up") not in changed
    assert ("web4", "up") in changed and ("web1", "migrate") in changed


def test_the_health_gate_stops_the_rollout_when_the_canary_is_unhealthy(tmp_path):
    config = fleet_config(tmp_path, pause=0.3)  # health URL on a closed port: the canary fails the gate
    outcome, log, journal = run_fleet(tmp_path, config)
    assert outcome == "failed"
    gate = [w for w in of(journal, FleetWave) if w.wave == "gate"]
    assert gate[-1].status == "failed" and "web2" in gate[-1].message
    assert [h for h, what in log if what == "up"] == ["web2"]
    assert journal.state.fleet_hosts["web3"].state == "not_started"


def test_a_dry_run_shows_every_host_s_steps_and_changes_nothing(tmp_path):
    config = fleet_config(tmp_path)
    log: list = []
    procedure = fleet_procedure(config, single(log))
    links = {h: Host(h, log) for h in config.host_names}
    context = StepContext(config, links["web1"], None, dry_run=True, operator="t", fleet_transports=links)
    events: list = []
    engine = FleetEngine(procedure, context, Decider(), assume_yes=True, listeners=[events.append])
    assert asyncio.run(engine.run()) == "succeeded"
    would = [e.step_id for e in events if e.kind == "would_run"]
    assert "web4:compose_up" in would and "web1:migrate_rollback" in would
    assert [e for e in log if e[1] in ("up", "migrate", "lock")] == []


@pytest.mark.parametrize("bad", ["web1"])
def test_fleet_steps_name_their_host(tmp_path, bad):
    procedure = fleet_procedure(fleet_config(tmp_path), single([]))
    ids = [s.id for s in procedure.steps]
    assert ids[:4] == ["web2:verify_artifacts", "web2:migrate_rollback", "web2:compose_up", "web2:verify_health"]
    assert {s.host for s in procedure.steps} == {"web1", "web2", "web3", "web4"}
    assert procedure.options["fleet"]["waves"] == [["web2"], ["web3", "web4"], [bad]]


def test_a_fleet_hotfix_validates_on_staging_once_then_rolls_every_host(tmp_path):
    from console.engine.hotfix import build_code_hotfix
    from tests.test_fleet_deployed import config_with_log

    config = config_with_log(tmp_path)
    assert config.staging is not None and config.fleet is not None
    procedure = build_code_hotfix(config, "v2", running="v1")
    staging = [s.id for s in procedure.steps if s.host == "staging"]
    assert staging and all(":" not in step for step in staging) and len(staging) == len(set(staging))
    hosts = {s.host for s in procedure.steps if s.host != "staging"}
    assert hosts == {"web1", "web2", "web3"}
    per_host = {h: [s.id.split(":", 1)[1] for s in procedure.steps if s.host == h] for h in hosts}
    assert per_host["web1"] == per_host["web2"] == per_host["web3"]
    assert procedure.options["fleet"]["waves"][0] == ["web2"]
