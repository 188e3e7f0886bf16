"""A fleet rollback on the sandbox's three "VPS" hosts (web1..web3: own sshd, dockerd, project dir).

web1 runs the migrations (so it goes last), web2 is the canary, batches of two. Every test works
on a copy of ``sandbox/.state/fleet.toml`` (its own release log and state dir) and puts the hosts
back with ``sandbox/ctl reset``.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
import tomllib
from pathlib import Path

import httpx
import pytest
import tomli_w

from console.config import load_config
from console.incident.journal import Journal, list_incidents
from tests.conftest import ROOT, _ctl, sandbox_env
from tests.test_capture_sandbox import CLI, cli

pytestmark = [pytest.mark.sandbox, pytest.mark.fleet]

FLEET = ROOT / "sandbox" / ".state" / "fleet.toml"
ADDRESSES = {"web1": "127.0.0.11", "web2": "127.0.0.12", "web3": "127.0.0.13"}


@pytest.fixture
def fleet(sandbox_config_path, tmp_path) -> Path:
    """A copy of the sandbox's fleet config with its own release log and state dir; v2 everywhere."""
    _ctl("reset")
    data = tomllib.loads(FLEET.read_text())
    copy = tmp_path / "releases.toml"
    copy.write_bytes(Path(data["paths"]["release_log"]).read_bytes())
    data["paths"].update(release_log=str(copy), state_dir=str(tmp_path / "state"))
    data["paths"]["host_state"] = False  # the test's release log copy is the record, not the hosts'
    data.setdefault("fleet", {}).update(canary="web2", batch_size=2, canary_pause_seconds=2, gate_interval_seconds=0.5)
    path = tmp_path / "fleet.toml"
    path.write_text(tomli_w.dumps(data))
    yield path
    _ctl("reset")


def edit(path: Path, change) -> Path:
    data = tomllib.loads(path.read_text())
    change(data)
    path.write_text(tomli_w.dumps(data))
    return path


def start_rollback(config_path: Path) -> subprocess.Popen:
    """``rollback --to v1 --yes --json`` in the background, its events read line by line."""
    return subprocess.Popen(
        [*CLI, "--config", str(config_path), "rollback", "--to", "v1", "--yes", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**sandbox_env(), "PYTHONUNBUFFERED": "1"},
    )


def versions() -> dict[str, tuple[str | None, str | None]]:
    def version(address: str, port: int) -> str | None:
        try:
            return httpx.get(f"http://{address}:{port}/api/health", timeout=5, trust_env=False).json().get("version")
        except (httpx.HTTPError, ValueError):
            return None

    return {name: (version(a, 18081), version(a, 18082)) for name, a in ADDRESSES.items()}


def only_incident(config_path) -> Journal:
    config = load_config(config_path)
    incidents = list_incidents(config.paths.state_dir)
    assert len(incidents) == 1
    return incidents[0]


def lock_dirs(config_path) -> list[str]:
    config = load_config(config_path)
    return [h.name for h in config.fleet.hosts if Path(h.target.project_dir, ".incident-console.lock").exists()]


def test_fleet_rollback_goes_host_by_host_and_ends_healthy_everywhere(fleet):
    assert set(versions().values()) == {("v2", "v2")}
    result = cli(fleet, "rollback", "--to", "v1", "--yes", "--json")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-3000:]
    assert versions() == {name: ("v1", "v1") for name in ADDRESSES}

    state = only_incident(fleet).state
    assert {h: s.state for h, s in state.fleet_hosts.items()} == {"web1": "done", "web2": "done", "web3": "done"}
    waves = [(w.wave, w.hosts) for w in state.fleet_waves if w.status == "passed"]
    assert waves == [
        ("preflight", ["web2", "web3", "web1"]),
        ("lock", ["web1", "web2", "web3"]),
        ("canary", ["web2"]),
        ("gate", ["web2"]),
        ("batch", ["web3", "web1"]),
    ]
    ran = {r.step_id for r in state.records if r.kind == "step_finished"}
    assert "web1:migrate_rollback" in ran and "web2:migrate_rollback" not in ran
    assert state.migration_decision is not None and state.migration_decision.action == "rolled_back"
    assert lock_dirs(fleet) == []
    # each host's steps ran on that host
    started = {r.step_id: r.host for r in state.records if r.kind == "step_started"}
    assert started["web3:compose_up"] == "web3" and started["web1:compose_up"] == "web1"

    # the rest of the flow, headless, on the fleet: verify every host, status per host, the report
    verified = cli(fleet, "verify")
    assert verified.returncode == 0, verified.stdout[-3000:] + verified.stderr[-3000:]
    assert "web3:verify_health" in verified.stdout
    status = cli(fleet, "status", "--json")
    assert status.returncode == 0, status.stdout[-3000:] + status.stderr[-3000:]
    assert json.loads(status.stdout.splitlines()[-1]).get("disagreements") == []
    report = cli(fleet, "report", only_incident(fleet).incident_id)
    assert report.returncode == 0
    for name in ADDRESSES:
        assert f"### Timeline of {name}" in report.stdout, report.stdout[-3000:]


def test_an_unreachable_host_refuses_the_rollback_with_nothing_changed(fleet):
    edit(fleet, lambda d: d["hosts"][2].update(port=2299))  # web3: nothing listens there
    result = cli(fleet, "rollback", "--to", "v1", "--yes")
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    assert "web3" in result.stderr
    assert set(versions().values()) == {("v2", "v2")}
    assert lock_dirs(fleet) == []


def test_a_canary_that_breaks_during_the_pause_stops_the_rollout(fleet):
    edit(fleet, lambda d: d["fleet"].update(canary_pause_seconds=30))
    config = load_config(fleet)
    canary_state = Path(config.on_host("web2").target.project_dir, "state")
    console = start_rollback(fleet)
    flag = canary_state / "maintenance.on"
    try:
        for line in console.stdout:
            event = json.loads(line)
            if event["event"] == "fleet_wave" and event["wave"] == "gate" and event["status"] == "started":
                flag.write_text("broken by the test\n")  # the canary's v1 now answers 503
                break
        console.wait(120)
    finally:
        if console.poll() is None:
            console.kill()
        flag.unlink(missing_ok=True)
    assert console.returncode == 1
    state = only_incident(fleet).state
    assert state.fleet_hosts["web2"].state == "failed"
    assert state.fleet_hosts["web3"].state == "not_started" and state.fleet_hosts["web1"].state == "not_started"
    assert versions()["web3"] == ("v2", "v2") and versions()["web1"] == ("v2", "v2")
    gate = [w for w in state.fleet_waves if w.wave == "gate"][-1]
    assert gate.status == "failed" and "web2" in gate.message
    assert lock_dirs(fleet) == []
    assert state.migration_decision is None or state.migration_decision.action != "rolled_back"

    # a new rollback on the half-rolled fleet: every host asked, it starts from the newest release
    edit(fleet, lambda d: d["fleet"].update(canary_pause_seconds=0))
    again = cli(fleet, "rollback", "--yes")
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "the hosts disagree (web2 runs v1; web1/web3 run v2): starting from v2" in again.stderr
    assert versions() == {name: ("v1", "v1") for name in ADDRESSES}


def test_a_console_killed_mid_rollout_is_resumed_and_finishes_the_remaining_hosts(fleet):
    edit(fleet, lambda d: d["fleet"].update(batch_size=1, canary_pause_seconds=0))
    console = start_rollback(fleet)
    incident = None
    try:
        for line in console.stdout:
            event = json.loads(line)
            incident = incident or event.get("incident_id")
            if event["event"] == "step_started" and event["step_id"] == "web3:compose_down":
                time.sleep(0.5)
                console.send_signal(signal.SIGKILL)
                break
        console.wait(20)
    finally:
        if console.poll() is None:
            console.kill()
    assert console.returncode == -signal.SIGKILL and incident
    assert versions()["web2"] == ("v1", "v1") and versions()["web1"] == ("v2", "v2")

    resumed = cli(fleet, "resume", incident, "--yes", "--take-over-lock", "the first console was killed")
    assert resumed.returncode == 0, resumed.stdout[-4000:] + resumed.stderr[-3000:]
    assert versions() == {name: ("v1", "v1") for name in ADDRESSES}
    state = only_incident(fleet).state
    assert {s.state for s in state.fleet_hosts.values()} == {"done"}
    # the canary was not rolled back twice
    downs = [r for r in state.records if r.kind == "step_started" and r.step_id == "web2:compose_down"]
    assert len(downs) == 1
    assert lock_dirs(fleet) == []


def test_a_fleet_dry_run_shows_every_command_per_host_and_changes_nothing(fleet):
    result = cli(fleet, "rollback", "--to", "v1", "--dry-run")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for name in ADDRESSES:
        for step in ("compose_down", "restore_bundle", "compose_up", "maintenance_on"):
            assert f"{name}:{step}" in result.stdout
    assert "web1:migrate_rollback" in result.stdout
    assert set(versions().values()) == {("v2", "v2")}
    assert lock_dirs(fleet) == []


def test_capture_v3_for_the_fleet_then_a_rolling_hotfix_to_it(fleet, tmp_path):
    """Capture uploads v3 to every host (each proven by its checksum); ``hotfix --tag v3`` then rolls it
    out canary first, batch after, and every host runs v3."""
    import docker

    env = sandbox_env("fleet-env.sh")  # SANDBOX_FLEET_DATABASE_URL ([capture] database_url)
    data = tomllib.loads(fleet.read_text())
    source = Path(data["capture"]["source_dir"])
    client = docker.DockerClient(base_url=env["DOCKER_HOST"])
    for svc in ("backend", "frontend"):  # as `docker compose build` of the working tree would
        client.images.build(path=str(source / svc), tag=f"mr-dj-{svc}:latest", rm=True)
    client.close()
    edit(fleet, lambda d: d["capture"].update(local_artifacts_dir=str(tmp_path / "artifacts")))

    def run(*args):
        return subprocess.run(
            [*CLI, "-c", str(fleet), *args], capture_output=True, text=True, timeout=900, cwd=ROOT, env=env
        )

    captured = run("capture", "--tag", "v3", "--skip-db")
    assert captured.returncode == 0, captured.stdout[-3000:] + captured.stderr[-3000:]
    config = load_config(fleet)
    for host in config.fleet.hosts:  # on every host, listed in its SHA256SUMS
        sums = Path(host.target.artifacts_dir, "SHA256SUMS.txt").read_text()
        assert "v3-compose.tar.gz" in sums, host.name

    hotfix = run("hotfix", "--tag", "v3", "--yes", "--monitor-minutes", "0.05")
    assert hotfix.returncode == 0, hotfix.stdout[-4000:] + hotfix.stderr[-3000:]
    assert versions() == {name: ("v3", "v3") for name in ADDRESSES}
    incidents = list_incidents(config.paths.state_dir)
    state = incidents[0].state
    assert {h: s.state for h, s in state.fleet_hosts.items()} == {"web1": "done", "web2": "done", "web3": "done"}
    assert [w.hosts for w in state.fleet_waves if w.wave in ("canary", "batch") and w.status == "passed"] == [
        ["web2"],
        ["web3", "web1"],
    ]
