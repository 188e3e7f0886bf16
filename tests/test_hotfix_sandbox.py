"""The code hotfix on the real sandbox: validated on the staging stack, then deployed to production.

The sandbox's staging is a second compose project (mr-dj-staging, ports 28081/28082, database
mrdj_staging) behind the same sshd; it keeps its own env files. Each test captures its hotfix
into a copy of the release log and puts the host back with ``sandbox/ctl reset``.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
import tomli_w

from console.config import load_config
from console.incident.journal import list_incidents
from console.release.release_log import ReleaseLog
from tests.conftest import host
from tests.test_capture_sandbox import built_images, cli, health_version, temp_config  # noqa: F401

pytestmark = pytest.mark.sandbox


def with_thresholds(config_path: Path, **values) -> Path:
    data = tomllib.loads(config_path.read_text())
    data["thresholds"].update(values)
    config_path.write_text(tomli_w.dumps(data))
    return config_path


def journal_of(config) -> list[dict]:
    incidents = list_incidents(config.paths.state_dir)
    assert incidents, "no incident was recorded"
    return list(incidents[0].records())


def production_containers(config) -> str:
    return host(config, "docker ps -q --filter label=com.docker.compose.project=mr-dj | sort").stdout


def test_hotfix_is_validated_on_staging_then_deployed(fresh_sandbox, built_images, tmp_path):
    config_path = temp_config(fresh_sandbox, tmp_path)
    captured = cli(config_path, "capture", "--tag", "v3", "--skip-db")
    assert captured.returncode == 0, captured.stdout[-3000:] + captured.stderr[-3000:]

    result = cli(config_path, "hotfix", "--tag", "v3", "--yes", "--monitor-minutes", "0.1", "--json")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-3000:]
    assert [health_version(p) for p in (28081, 28082, 18081, 18082)] == ["v3"] * 4

    config = load_config(config_path)
    records = journal_of(config)
    started = [(r.step_id, r.host) for r in records if r.kind == "step_started"]
    staging = [step for step, where in started if where == "staging"]
    assert staging == [
        "staging_verify_artifacts",
        "staging_compose_file",
        "staging_pull_mr-dj-backend",
        "staging_tag_mr-dj-backend",
        "staging_pull_mr-dj-frontend",
        "staging_tag_mr-dj-frontend",
        "staging_up",
        "staging_health",
        "staging_smoke_backend",
        "staging_smoke_frontend",
    ]
    # pulled by the digests recorded at capture, not by the (movable) tag
    pulls = [r.argv for r in records if r.kind == "step_started" and r.step_id.endswith("pull_mr-dj-backend")]
    digest = ReleaseLog.load(config.paths.release_log).get("v3").images["mr-dj-backend"]["digest"]
    assert pulls and all(a[-1] == f"127.0.0.1:5000/mr-dj-backend@{digest}" for a in pulls)
    order = [step for step, _ in started]
    assert order.index("staging_smoke_frontend") < order.index("restore_bundle")
    finished = {r.step_id for r in records if r.kind == "step_finished"}
    assert set(staging) <= finished
    # staging kept its own env files: the bundle's production ones were not unpacked there
    staging_env = host(config, "cat /opt/mr-dj-staging/backend/.env").stdout
    assert "PORT=28081" in staging_env and "/mrdj_staging" in staging_env
    # the JSON event stream says where each step ran
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert any(e.get("step_id") == "staging_health" for e in events)

    log = ReleaseLog.load(config.paths.release_log)
    assert log.deployed == "v3"
    assert log.get("v2").is_bad and "replaced by hotfix v3" in log.get("v2").bad["reason"]
    assert log.get("v3").incidents[-1]["outcome"] == "succeeded"


def test_a_hotfix_that_fails_on_staging_never_touches_production(fresh_sandbox, tmp_path):
    config_path = with_thresholds(temp_config(fresh_sandbox, tmp_path), health_wait_seconds=4)
    # a "hotfix" built from the broken v2 images: exactly what staging is there to catch
    captured = cli(config_path, "capture", "--tag", "v2redo", "--source-tag", "v2", "--skip-db")
    assert captured.returncode == 0, captured.stdout[-3000:] + captured.stderr[-3000:]
    config = load_config(config_path)
    before = production_containers(config)
    compose_before = host(config, "cat /opt/mr-dj/docker-compose.yml").stdout

    result = cli(config_path, "hotfix", "--tag", "v2redo", "--yes", "--monitor-minutes", "0.1")
    assert result.returncode == 1, result.stdout[-4000:] + result.stderr[-3000:]
    assert "staging_health" in result.stdout + result.stderr
    assert "health checks failing" in result.stdout + result.stderr

    records = journal_of(config)
    failed = [r for r in records if r.kind == "step_failed"]
    assert [(r.step_id) for r in failed] == ["staging_health"]
    assert not any(r.kind == "step_started" and r.host == "target" and r.argv for r in records)
    assert production_containers(config) == before
    assert host(config, "cat /opt/mr-dj/docker-compose.yml").stdout == compose_before
    assert health_version(18081) == "v2"
    assert host(config, "test -e /opt/mr-dj/.incident-console.lock && echo held || echo free").stdout.strip() == "free"
    log = ReleaseLog.load(config.paths.release_log)
    assert log.deployed == "v2" and not log.get("v2").is_bad
