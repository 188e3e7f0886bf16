"""The local sandbox (sandbox/ctl): a fake VPS reachable over SSH on 127.0.0.1:2222.

These tests bring the sandbox up (idempotently) and check the contract other
tests and the console rely on. They need root (apt, useradd, dockerd).
"""

from __future__ import annotations

import os
import subprocess
import time
import tomllib
from pathlib import Path

import pytest

from tests._sandbox_access import check_config, get_json, ssh_run

pytestmark = pytest.mark.sandbox

ROOT = Path(__file__).resolve().parent.parent
CTL = ROOT / "sandbox" / "ctl"
DOCKER_HOST = "unix:///run/incident-sandbox-docker.sock"


def _ctl(*args: str, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CTL), *args], capture_output=True, text=True, timeout=timeout)


def _last_line(out: str) -> str:
    lines = [line for line in out.splitlines() if line.strip()]
    assert lines, "ctl printed nothing on stdout"
    return lines[-1].strip()


@pytest.fixture(scope="module")
def sandbox() -> dict:
    if os.geteuid() != 0:
        pytest.skip("the sandbox needs root")
    proc = _ctl("up")
    assert proc.returncode == 0, f"ctl up failed:\n{proc.stdout}\n{proc.stderr}"
    # Earlier test modules roll the stack back and forth: start from "v2 deployed".
    reset = _ctl("reset")
    assert reset.returncode == 0, f"ctl reset failed:\n{reset.stdout}\n{reset.stderr}"
    config_path = Path(_last_line(proc.stdout))
    assert config_path.is_absolute() and config_path.is_file()
    with config_path.open("rb") as fh:
        config = tomllib.load(fh)
    return {"path": config_path, "config": config}


def _ssh(sandbox: dict, command: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return ssh_run(sandbox["config"]["target"], command, connect_timeout=10, timeout=timeout)


def _container_ids() -> list[str]:
    out = subprocess.run(
        ["docker", "ps", "-q", "--no-trunc", "--filter", "label=com.docker.compose.project=mr-dj"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "DOCKER_HOST": DOCKER_HOST},
    ).stdout
    return sorted(out.split())


def test_config_points_at_the_sandbox(sandbox):
    config = sandbox["config"]
    target = config["target"]
    assert (target["host"], target["port"], target["user"]) == ("127.0.0.1", 2222, "deploy")
    assert target["project_dir"] == "/opt/mr-dj" and target["project_name"] == "mr-dj"
    assert target["artifacts_dir"] == "/opt/artifacts"
    assert config["registry"]["url"] == "127.0.0.1:5000"
    assert {s["name"]: s["role"] for s in config["services"]} == {
        "mr-dj-backend": "backend",
        "mr-dj-frontend": "frontend",
    }
    assert [h["url"] for h in config["health"]] == [
        "http://127.0.0.1:18081/api/health",
        "http://127.0.0.1:18082/api/health",
    ]
    assert config["capture"]["database_url"] == "env:SANDBOX_DATABASE_URL"
    # Slack and Statuspage cannot exist here: local stand-ins, secrets by reference only
    assert config["notifications"]["slack"]["webhook_url"] == "env:SANDBOX_SLACK_WEBHOOK_URL"
    assert config["notifications"]["statuspage"]["api_base"].startswith("http://127.0.0.1:18090/")
    assert config["prerequisites"]["alerts_check_url"] == "http://127.0.0.1:18090/alerts/unacknowledged"
    known_hosts = Path(target["known_hosts"]).read_text().splitlines()
    # the same sshd also answers as a second "host" (127.0.0.2), for staging on another host
    assert len(known_hosts) == 2 and known_hosts[0].startswith("[127.0.0.1]:2222 ssh-ed25519 AAAA")
    assert known_hosts[1] == known_hosts[0].replace("[127.0.0.1]", "[127.0.0.2]", 1)
    env_sh = (sandbox["path"].parent / "env.sh").read_text()
    assert "export SANDBOX_DATABASE_URL='postgresql://mrdj:" in env_sh
    token = (sandbox["path"].parent / "slack-token").read_text()
    assert f"export SANDBOX_SLACK_WEBHOOK_URL='http://127.0.0.1:18090/slack/T0SANDBOX/B0SANDBOX/{token}'" in env_sh
    assert token not in sandbox["path"].read_text()


def test_config_passes_the_console_validator(sandbox):
    proc = check_config(sandbox["path"], sandbox["path"].parent / "env.sh")
    if proc.returncode != 0 and "No module named" in proc.stderr:
        pytest.skip("console package not importable")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ssh_reaches_the_vps_and_v2_runs(sandbox):
    proc = _ssh(sandbox, "cd /opt/mr-dj && docker-compose -p mr-dj ps")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    for service in ("mr-dj-backend", "mr-dj-frontend"):
        assert any(service in line and " Up" in line for line in lines), proc.stdout
    proc = _ssh(sandbox, "cd /opt/mr-dj && grep image: docker-compose.yml && echo DOCKER_HOST=$DOCKER_HOST")
    assert proc.returncode == 0, proc.stderr
    assert "127.0.0.1:5000/mr-dj-backend:v2" in proc.stdout
    assert "127.0.0.1:5000/mr-dj-frontend:v2" in proc.stdout
    assert f"DOCKER_HOST={DOCKER_HOST}" in proc.stdout


def test_v2_health_fails_from_the_console_machine(sandbox):
    code, body = get_json("http://127.0.0.1:18081/api/health")
    assert code == 500
    assert body["status"] == "error" and body["version"] == "v2" and body["service"] == "backend"
    code, body = get_json("http://127.0.0.1:18082/api/health")
    assert (code, body["status"], body["version"]) == (200, "ok", "v2")


def test_database_is_at_v2_head_and_v1_tooling_refuses_to_roll_it_back(sandbox):
    proc = _ssh(sandbox, "cd /opt/mr-dj && docker-compose -p mr-dj exec -T mr-dj-backend npm run migrate:status")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-2:] == ["001_init", "002_add_booking_notes"]
    # Running the rollback with the OLD release's tooling must fail loudly and change nothing.
    proc = _ssh(
        sandbox,
        "cd /opt/mr-dj && docker run --rm --network host --env-file backend/.env "
        "127.0.0.1:5000/mr-dj-backend:v1 npm run migrate:rollback -- --to 001_init",
    )
    assert proc.returncode != 0
    assert "v1 cannot undo unknown migration 002_add_booking_notes" in proc.stderr
    proc = _ssh(
        sandbox,
        "cd /opt/mr-dj && docker-compose -p mr-dj exec -T mr-dj-backend npm run migrate:rollback -- --to 000_nope",
    )
    assert proc.returncode != 0 and "unknown target migration" in proc.stderr
    proc = _ssh(sandbox, "cd /opt/mr-dj && docker-compose -p mr-dj exec -T mr-dj-backend npm run migrate:status")
    assert proc.stdout.splitlines()[-1] == "002_add_booking_notes"


def test_artifacts_match_their_checksums(sandbox):
    proc = _ssh(
        sandbox,
        "cd /opt/artifacts && sha256sum -c SHA256SUMS.txt && stat -c '%a %U %n' * && tar -tzf v1-compose.tar.gz",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    for name in ("v1-compose.tar.gz", "v1-images.tar", "v2-compose.tar.gz", "v2-images.tar"):
        assert f"{name}: OK" in out
        assert f"600 deploy {name}" in out
    members = out.split("v2-images.tar\n")[-1].split()
    assert "docker-compose.yml" in members and "backend/.env" in members
    assert all(not m.startswith(("/", "..")) for m in members)


def test_release_log(sandbox):
    path = Path(sandbox["config"]["paths"]["release_log"])
    log = tomllib.loads(path.read_text())
    assert log["deployed"] == "v2"
    v1, v2 = log["releases"]
    assert (v1["tag"], v2["tag"]) == ("v1", "v2")
    assert v1["captured_at"] < v2["captured_at"] <= v2["deployed_at"]
    assert v1["migration_head"] == "001_init" and v2["migration_head"] == "002_add_booking_notes"
    sums = dict(
        reversed(line.split("  ")) for line in _ssh(sandbox, "cat /opt/artifacts/SHA256SUMS.txt").stdout.splitlines()
    )
    for rel in (v1, v2):
        assert rel["verified"] is True and rel["pushed"] is True
        assert rel["images"]["mr-dj-backend"]["ref"] == f"127.0.0.1:5000/mr-dj-backend:{rel['tag']}"
        assert rel["images"]["mr-dj-frontend"]["digest"].startswith("sha256:")
        for name, digest in rel["files"].items():
            assert sums[name] == digest


def test_second_up_changes_nothing(sandbox):
    before = _container_ids()
    assert len(before) == 2
    release_log = Path(sandbox["config"]["paths"]["release_log"]).read_text()
    proc = _ctl("up")
    assert proc.returncode == 0, proc.stderr
    assert Path(_last_line(proc.stdout)) == sandbox["path"]
    assert _container_ids() == before
    assert Path(sandbox["config"]["paths"]["release_log"]).read_text() == release_log


def test_status_exits_zero(sandbox):
    proc = _ctl("status", timeout=120)
    assert proc.returncode == 0, proc.stdout
    for component in ("dockerd", "sshd", "registry", "postgres", "stack", "staging", "mocks"):
        assert any(line.split()[:2] == [component, "up"] for line in proc.stdout.splitlines()), proc.stdout


def test_reset_restores_v2_deployed(sandbox):
    # Make a mess the way a half-finished rollback would.
    proc = _ssh(
        sandbox,
        "cd /opt/mr-dj && mkdir -p .incident-console.lock "
        "&& docker-compose -p mr-dj exec -T mr-dj-backend npm run maintenance:on "
        "&& docker-compose -p mr-dj exec -T mr-dj-backend npm run migrate:rollback -- --to 001_init "
        "&& docker-compose -p mr-dj down "
        "&& tar -xzf /opt/artifacts/v1-compose.tar.gz -C /opt/mr-dj "
        "&& docker-compose -p mr-dj up -d",
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert get_json("http://127.0.0.1:18081/api/health")[0] == 503  # maintenance
    started = time.monotonic()
    proc = _ctl("reset", timeout=300)
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert Path(_last_line(proc.stdout)) == sandbox["path"]
    assert elapsed < 20, f"reset took {elapsed:.1f}s"
    assert not Path("/opt/mr-dj/.incident-console.lock").exists()
    assert not Path("/opt/mr-dj/state/maintenance.on").exists()
    code, body = get_json("http://127.0.0.1:18081/api/health")
    assert (code, body["version"]) == (500, "v2")
    proc = _ssh(sandbox, "cd /opt/mr-dj && docker-compose -p mr-dj exec -T mr-dj-backend npm run migrate:status")
    assert proc.stdout.splitlines()[-1] == "002_add_booking_notes"
    assert tomllib.loads(Path(sandbox["config"]["paths"]["release_log"]).read_text())["deployed"] == "v2"


def test_staging_is_its_own_v2_stack_and_reset_puts_it_back(sandbox):
    assert get_json("http://127.0.0.1:28081/api/health")[1]["version"] == "v2"
    assert sandbox["config"]["staging"]["project_name"] == "mr-dj-staging"
    proc = _ssh(
        sandbox,
        "cd /opt/mr-dj-staging && tar -xzf /opt/artifacts/v1-compose.tar.gz docker-compose.yml "
        "&& docker-compose -p mr-dj-staging up -d",
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    code, body = get_json("http://127.0.0.1:28081/api/health")
    assert (code, body["version"]) == (200, "v1")
    assert get_json("http://127.0.0.1:18081/api/health")[1]["version"] == "v2"  # production untouched
    proc = _ssh(
        sandbox,
        "cd /opt/mr-dj-staging && docker-compose -p mr-dj-staging exec -T mr-dj-backend "
        "npm run smoke:test --prefix backend",
    )
    assert "PASS backend http://127.0.0.1:28081/api/health" in proc.stdout  # staging's own smoke URL
    proc = _ctl("reset", timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert get_json("http://127.0.0.1:28081/api/health")[1]["version"] == "v2"
    assert get_json("http://127.0.0.1:28082/api/health")[1]["version"] == "v2"


def test_up_redeploys_when_another_checkout_deployed_the_shared_paths(sandbox):
    # /opt/mr-dj is shared by every checkout on the machine; another one's v2 carries its own secrets
    owner = Path("/opt/mr-dj/state/.sandbox-checkout")
    assert owner.read_text().strip() == str(ROOT / "sandbox")
    owner.write_text("/somewhere/else/sandbox\n")
    (Path("/opt/mr-dj/backend/.env")).write_text("DATABASE_URL=postgresql://other:secret@127.0.0.1:1/x\n")
    proc = _ctl("up", timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "deployed by another checkout" in proc.stderr
    assert owner.read_text().strip() == str(ROOT / "sandbox")
    assert "other:secret" not in Path("/opt/mr-dj/backend/.env").read_text()
    assert get_json("http://127.0.0.1:18081/api/health")[1]["version"] == "v2"
