"""The backup gate: a failed or missing backup is never ticked by hand (its check, or a waiver with a
reason); the check can run on the host; the rollback says whether the target's snapshot was verified."""

from __future__ import annotations

import dataclasses

import pytest

from console.config import load_config
from console.decide.runbook import load_runbook
from console.engine.rollback import rollback_procedure, snapshot_note
from console.incident.journal import Journal
from console.incident.prerequisites import BackupNeedsProof, Checklist
from console.release.release_log import Release, ReleaseLog
from console.transport.local import LocalTransport
from test_config import EXAMPLE, example_with, problems_of, write
from tests._records_support import last_record


@pytest.fixture
def checklist(tmp_path):
    return Checklist(load_runbook(), Journal.create(tmp_path / "state"), "alice")


def host_check(config, command):
    prereqs = dataclasses.replace(
        config.prerequisites,
        backup_check_command=command,
        backup_check_on="host",
        backup_check_url=None,
        alerts_check_url=None,
    )
    return dataclasses.replace(config, prerequisites=prereqs)


def test_the_backup_item_cannot_be_ticked_only_waived_with_a_reason(checklist):
    with pytest.raises(BackupNeedsProof, match="waive"):
        checklist.tick("backup_verified", "alice")
    assert checklist.state("backup_verified").status == "pending"
    with pytest.raises(ValueError):
        checklist.waive("backup_verified", "  ", "alice")
    checklist.waive("backup_verified", "pg_dump taken at 03:12, restored on staging", "alice")
    last = last_record(checklist.journal, "checklist")
    assert (last.item_id, last.status, last.reason) == (
        "backup_verified",
        "waived",
        "pg_dump taken at 03:12, restored on staging",
    )


async def test_the_backup_check_runs_on_the_host_and_an_adhoc_backup_verified_settles_it(checklist, tmp_path):
    host_dir = tmp_path / "host"
    host_dir.mkdir()
    config = host_check(load_config(EXAMPLE), ["sh", "-c", "test -f backups/latest.verified"])
    host = LocalTransport(cwd=host_dir)  # the command only finds the marker where the host runs it
    await checklist.run_auto_checks(config, host)
    state = checklist.state("backup_verified")
    assert state.status == "failed" and "on the host" in state.detail
    (host_dir / "backups").mkdir()
    (host_dir / "backups" / "latest.verified").write_text("ok")  # the ad-hoc backup, verified
    await checklist.run_auto_checks(config, host)
    state = checklist.state("backup_verified")
    assert (state.status, state.how) == ("done", "auto") and "exited 0 on the host" in state.detail


async def test_a_host_check_without_a_connection_fails_rather_than_passes(checklist):
    await checklist.run_auto_checks(host_check(load_config(EXAMPLE), ["true"]), None)
    assert checklist.state("backup_verified").status == "failed"


def test_backup_check_on_is_validated(tmp_path):
    path = write(tmp_path, example_with('backup_check_on = "console"', 'backup_check_on = "laptop"'))
    assert "prerequisites.backup_check_on" in problems_of(path)


def test_the_rollback_confirmation_says_whether_the_targets_snapshot_was_verified(tmp_path):
    config = load_config(EXAMPLE)
    log = ReleaseLog(
        tmp_path / "releases.toml",
        [
            Release(
                "v1", "2026-11-20T10:00:00Z", migration_head="001_init", verified=False, extra={"db_check": "skipped"}
            ),
            Release(
                "v2",
                "2026-11-22T10:00:00Z",
                migration_head="002",
                verified=True,
                extra={"db_check": "pg_restore --list"},
            ),
        ],
    )
    steps = {s.id: s for s in rollback_procedure(config, log, "v2", "v1").steps}
    note = steps["compose_down"].preview(None)
    assert note == snapshot_note(log.get("v1"), "v1")
    assert "NOT verified at capture (skipped)" in note
    assert "verified at capture (pg_restore --list)" in snapshot_note(log.get("v2"), "v2")
    assert "unknown" in snapshot_note(None, "v0")
    assert steps["maintenance_on"].preview(None) == note
