"""bench/bench_rollback.py's command lists: the floor runs the runbook's compose commands, the
floor_own the console's own (docker exec/ps/logs by compose's labels). No network, no timing."""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

from tests.test_engine_containers import RELEASES, config

ROOT = Path(__file__).resolve().parent.parent


def _bench():
    spec = importlib.util.spec_from_file_location("bench_rollback", ROOT / "bench" / "bench_rollback.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _config(tmp_path):
    log = tmp_path / "releases.toml"
    log.write_text(RELEASES)
    c = config(service_command_mode="exec", migration_order="before_down")
    return dataclasses.replace(c, paths=dataclasses.replace(c.paths, release_log=log))


def test_the_floor_runs_the_runbooks_compose_commands_and_floor_own_the_consoles(tmp_path):
    bench = _bench()
    c = _config(tmp_path)
    runbook = dict(bench.runbook_commands(c))
    own = dict(bench.runbook_commands(c, own=True))
    assert list(runbook) == list(own)  # the same steps, in the same order
    compose = "docker-compose -p mr-dj "
    for step in ("maintenance_on", "migrate_rollback", "maintenance_off", "verify_logs", "verify_ps"):
        assert runbook[step].startswith(compose), step
        assert "docker exec" not in runbook[step] and "sh -c" not in runbook[step], step
    assert " exec -T mr-dj-backend npm run maintenance:on" in runbook["maintenance_on"]
    assert " exec -T mr-dj-backend npm run migrate:status" in runbook["migration_check"]
    for step in ("maintenance_on", "migrate_rollback", "maintenance_off", "migration_check"):
        assert own[step].startswith("sh -c ") and "docker exec -i" in own[step], step
        assert not own[step].startswith(compose), step
    assert own["verify_ps"].startswith("docker ps -a ")
    assert own["verify_logs"].startswith("sh -c ") and "docker logs --tail" in own["verify_logs"]
    for step in ("compose_down", "compose_up"):  # what changes the stack is compose's in both
        assert runbook[step] == own[step] and runbook[step].startswith(compose)
    smoke = [s for s in runbook if s.startswith("smoke_")]
    assert smoke and all(runbook[s].startswith(compose) and own[s].startswith("sh -c ") for s in smoke)
