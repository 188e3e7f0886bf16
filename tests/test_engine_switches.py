"""Maintenance and migration steps switched off in the config are skipped, journaled with that reason."""

import dataclasses
from pathlib import Path

from console.config import load_config
from console.engine.context import StepContext
from console.engine.rollback import rollback_procedure
from console.engine.runner import StepEngine
from console.engine.switches import MAINTENANCE_OFF, MIGRATIONS_OFF
from console.incident.journal import Journal
from console.incident.records import StepSkipped
from console.release.release_log import Release, ReleaseLog
from console.transport.local import LocalTransport

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"
SWITCHED = {"maintenance_on", "maintenance_off", "migration_check", "migrate_rollback"}


def switched_off_config(tmp_path):
    base = load_config(EXAMPLE)
    commands = dataclasses.replace(
        base.commands,
        maintenance=False,
        migrations=False,
        maintenance_on=[],
        maintenance_off=[],
        migrate_rollback=[],
        migrate_status=[],
        smoke_tests=[],
    )
    paths = dataclasses.replace(base.paths, state_dir=tmp_path / "state")
    return dataclasses.replace(base, commands=commands, paths=paths, health=[])


def test_switched_off_steps_stay_in_the_procedure_and_say_why(tmp_path):
    log = ReleaseLog(tmp_path / "r.toml", [Release("v1", "2026-11-20T10:00:00Z", migration_head="001")])
    procedure = rollback_procedure(switched_off_config(tmp_path), log, "v2", "v1")
    steps = {s.id: s for s in procedure.steps}
    assert SWITCHED <= set(steps)
    assert steps["maintenance_on"].when(None) == MAINTENANCE_OFF
    assert steps["migrate_rollback"].when(None) == MIGRATIONS_OFF
    assert "switched off" in steps["migration_check"].command and "npm" not in steps["maintenance_off"].command


async def test_a_run_journals_each_switched_off_step_as_skipped_with_the_reason(tmp_path):
    config = switched_off_config(tmp_path)
    log = ReleaseLog(tmp_path / "r.toml", [Release("v1", "2026-11-20T10:00:00Z")])
    procedure = rollback_procedure(config, log, "v2", "v1")
    procedure.steps = [s for s in procedure.steps if s.id in SWITCHED]
    journal = Journal.create(config.paths.state_dir)
    engine = StepEngine(procedure, StepContext(config, LocalTransport(), journal, operator="tester"), None)
    assert await engine.run() == "succeeded"
    skipped = {r.step_id: r.reason for r in journal.records() if isinstance(r, StepSkipped)}
    assert skipped == {
        "maintenance_on": MAINTENANCE_OFF,
        "maintenance_off": MAINTENANCE_OFF,
        "migration_check": MIGRATIONS_OFF,
        "migrate_rollback": MIGRATIONS_OFF,
    }
