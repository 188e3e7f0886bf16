"""The swarm rollback against the sandbox's single-node swarm (FLEET.md: manager swarm1 on
127.0.0.21, stack mrdj, config sandbox/.state/swarm.toml, release log swarm-releases.toml)."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from console.commands.swarm import SwarmCommands
from console.commands.swarm_state import parse_service_ps, parse_stack_services
from console.config import load_config
from console.incident.journal import Journal
from console.release.release_log import ReleaseLog
from tests.conftest import ROOT, _ctl, host, sandbox_env

pytestmark = [pytest.mark.sandbox, pytest.mark.fleet]
SWARM_CONFIG = ROOT / "sandbox" / ".state" / "swarm.toml"
SWARM_HEALTH = {"backend": "http://127.0.0.21:18081/api/health", "frontend": "http://127.0.0.21:18082/api/health"}


@pytest.fixture
def swarm_sandbox(sandbox_config_path) -> Path:
    """The sandbox is up (with its swarm); v2 deployed on the swarm before and after."""
    if not SWARM_CONFIG.exists():
        pytest.fail(f"the sandbox wrote no {SWARM_CONFIG}: its swarm is not up")
    _ctl("reset")
    yield SWARM_CONFIG
    _ctl("reset")


def cli(*args, timeout=600):
    return subprocess.run(
        [sys.executable, "-m", "console", "-c", str(SWARM_CONFIG), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=sandbox_env(),
    )


def versions():
    out = {}
    for name, url in SWARM_HEALTH.items():
        try:
            out[name] = httpx.get(url, timeout=5, trust_env=False).json().get("version")
        except (httpx.HTTPError, ValueError):
            out[name] = None
    return out


def stack_state(config):
    """Replicas per service and each running task's image, read on the manager."""
    swarm = SwarmCommands.for_target(config.target)
    services = parse_stack_services(host(config, shlex.join(swarm.services())).stdout)
    images = {}
    for service in config.services:
        tasks = parse_service_ps(host(config, shlex.join(swarm.service_ps(service.name))).stdout)
        images[swarm.service(service.name)] = sorted(
            t.image for t in tasks if t.desired == "running" and t.state == "running"
        )
    return {s.name: (s.running, s.desired) for s in services}, images


def test_dry_run_shows_every_command_and_changes_nothing(swarm_sandbox):
    config = load_config(swarm_sandbox)
    before = stack_state(config)
    result = cli("rollback", "--to", "v1", "--dry-run")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    out = result.stdout
    assert "engine: swarm (docker stack deploy of stack mrdj on the manager)" in out
    assert "docker stack deploy --with-registry-auth --prune" in out and "-c /opt/swarm/mr-dj/" in out
    for step_id in ("maintenance_on", "migrate_rollback", "restore_bundle", "stack_deploy", "maintenance_off"):
        assert f"would run {step_id}" in out, step_id
    assert "label=com.docker.swarm.service.name=$1" in out  # maintenance: exec in a running task
    assert stack_state(config) == before
    assert versions() == {"backend": "v2", "frontend": "v2"}
    status = cli("status")  # what runs, read from docker stack ps and matched by digest
    assert "host runs:        v2" in status.stdout, status.stdout + status.stderr


def test_swarm_rollback_v2_to_v1_converges_on_the_recorded_digests(swarm_sandbox):
    result = cli("rollback", "--to", "v1", "--yes", "--json")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert events[0]["event"] == "procedure_started" and events[0]["to_tag"] == "v1"
    assert events[-1] == {**events[-1], "event": "procedure_finished", "outcome": "succeeded"}
    assert versions() == {"backend": "v1", "frontend": "v1"}

    config = load_config(swarm_sandbox)
    replicas, images = stack_state(config)
    assert replicas and all(running == desired > 0 for running, desired in replicas.values()), replicas
    log = ReleaseLog.load(config.paths.release_log)
    v1 = log.get("v1")
    swarm = SwarmCommands.for_target(config.target)
    for service in config.services:
        digest = v1.images[service.image]["digest"]
        running = images[swarm.service(service.name)]
        assert running and all(image.endswith("@" + digest) for image in running), (service.name, running, digest)
    assert log.deployed == "v1" and log.get("v2").is_bad
    status = cli("status")
    assert "host runs:        v1" in status.stdout, status.stdout + status.stderr

    journal = Journal(config.paths.state_dir / "incidents" / events[0]["incident_id"])
    records = list(journal.records())
    finished = {r.step_id for r in records if r.kind == "step_finished"}
    for step_id in ("swarm_manager", "verify_artifacts", "maintenance_on", "stack_deploy", "wait_converged"):
        assert step_id in finished, step_id
    for step_id in ("maintenance_off", "verify_replicas", "verify_tasks", "verify_images", "verify_health"):
        assert step_id in finished, step_id
    report = cli("report", journal.incident_id)
    assert report.returncode == 0, report.stderr
    for step_id in ("stack_deploy", "wait_converged", "verify_images"):
        assert step_id in report.stdout, step_id


def test_capture_v3_for_the_swarm_then_hotfix_to_it(swarm_sandbox, tmp_path):
    """The swarm's working tree (a stack file that builds) captured as v3: the bundle's stack file
    names the pushed digests; ``hotfix --tag v3`` deploys that stack and verifies it."""
    import tarfile
    import tomllib

    import docker
    import tomli_w

    env = sandbox_env("swarm-env.sh")  # SANDBOX_SWARM_DATABASE_URL, [capture] database_url
    data = tomllib.loads(SWARM_CONFIG.read_text())
    source = Path(data["capture"]["source_dir"])
    client = docker.DockerClient(base_url=env["DOCKER_HOST"])
    for svc in ("backend", "frontend"):  # as `docker compose build` of the working tree would
        client.images.build(path=str(source / svc), tag=f"mr-dj-{svc}:latest", rm=True)
    client.close()
    release_log = tmp_path / "swarm-releases.toml"
    release_log.write_bytes(Path(data["paths"]["release_log"]).read_bytes())
    data["paths"].update(release_log=str(release_log), state_dir=str(tmp_path / "state"))
    data["capture"]["local_artifacts_dir"] = str(tmp_path / "artifacts")
    config_path = tmp_path / "swarm.toml"
    config_path.write_text(tomli_w.dumps(data))

    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "console", "-c", str(config_path), *args],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=ROOT,
            env=env,
        )

    captured = run("capture", "--tag", "v3", "--skip-db")
    assert captured.returncode == 0, captured.stdout[-3000:] + captured.stderr[-3000:]
    config = load_config(config_path)
    v3 = ReleaseLog.load(release_log).get("v3")
    assert v3 is not None and v3.pushed
    with tarfile.open(tmp_path / "artifacts" / "v3-compose.tar.gz") as bundle:
        stack_file = bundle.extractfile("docker-compose.yml").read().decode()
    for service in config.services:
        assert f"image: 127.0.0.1:5000/{service.image}:v3@{v3.images[service.image]['digest']}" in stack_file
    assert "build:" not in stack_file

    hotfix = run("hotfix", "--tag", "v3", "--yes", "--monitor-minutes", "0.1", "--json")
    assert hotfix.returncode == 0, hotfix.stdout[-4000:] + hotfix.stderr[-2000:]
    events = [json.loads(line) for line in hotfix.stdout.splitlines()]
    finished = {e["step_id"] for e in events if e["event"] == "step_finished"}
    assert {"stack_deploy", "wait_converged", "verify_images", "verify_health"} <= finished, finished
    assert versions() == {"backend": "v3", "frontend": "v3"}
