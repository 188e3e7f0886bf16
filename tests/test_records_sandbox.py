"""On the sandbox: a resume re-plans the migration on the schema it finds, and the CLI takes an
incident from open to resolved without the TUI."""

from __future__ import annotations

import asyncio
import json

import pytest

from console.config import load_config
from console.engine.incident import IncidentRun, build_rollback, open_new_incident
from console.engine.runner import Choice
from console.incident import records as rec
from console.incident.journal import Journal
from console.transport.ssh import SSHTransport
from tests.conftest import host
from tests.test_engine_sandbox import cli, health_versions

pytestmark = pytest.mark.sandbox


class StopBeforeMigrating:
    """Confirms every destructive step but the migration rollback: the run stops (aborted) there."""

    async def confirm(self, step, prompt):
        return step.id != "migrate_rollback"

    async def on_failure(self, step, failure):
        return Choice("abort")


def test_a_resumed_rollback_replans_the_migration_on_the_schema_it_finds(fresh_sandbox):
    config = load_config(fresh_sandbox)
    procedure = build_rollback(config, None)
    target_head = procedure.options["target_migration_head"]

    async def first_attempt():
        transport = SSHTransport(config.target)
        await transport.connect()
        journal = open_new_incident(config, "v2")
        try:
            return await IncidentRun(config, journal, transport, StopBeforeMigrating()).run(procedure), journal
        finally:
            await transport.close()

    outcome, journal = asyncio.run(first_attempt())
    assert outcome == "aborted"
    plan = journal.state.migration_plan
    assert plan is not None and plan.undo == ["002_add_booking_notes"]

    # Meanwhile someone rolls the schema back by hand: the journaled plan is stale.
    by_hand = host(
        config,
        "cd /opt/mr-dj && docker-compose -p mr-dj exec -T mr-dj-backend "
        f"npm run migrate:rollback -- --to {target_head}",
    )
    assert by_hand.returncode == 0, by_hand.stdout + by_hand.stderr

    result = cli(fresh_sandbox, "resume", journal.incident_id, "--yes")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert health_versions() == {18081: "v1", 18082: "v1"}

    resumed = Journal(journal.directory).state
    after = [r for r in resumed.records if r.seq > plan.seq]
    plans = [r for r in after if isinstance(r, rec.MigrationPlanned)]
    assert plans and plans[-1].undo == []  # the check ran again on the schema now
    assert any(isinstance(r, rec.Note) and "schema changed since the migration plan" in r.text for r in after)
    skipped = [r for r in after if isinstance(r, rec.StepSkipped) and r.step_id == "migrate_rollback"]
    assert skipped and "nothing to undo" in skipped[-1].reason
    assert not any(isinstance(r, rec.StepStarted) and r.step_id == "migrate_rollback" for r in after)
    decision = resumed.migration_decision
    assert (decision.action, decision.undone) == ("none_needed", [])  # not the stale plan's "undone"


def test_the_cli_takes_an_incident_from_open_to_resolved(fresh_sandbox):
    def run(*args):
        result = cli(fresh_sandbox, *args)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
        return result.stdout

    incident = run("incident", "open").strip()
    run("incident", "decide", incident, "rollback", "--answer", "customer_impact=yes")
    run("incident", "waive", incident, "adhoc_backup", "--reason", "nightly backup verified")
    run("incident", "tick", incident, "coordinator_assigned")
    run("rollback", "--incident", incident, "--yes", "--json")
    assert health_versions() == {18081: "v1", 18082: "v1"}
    run(
        "incident",
        "retro",
        incident,
        "--root-cause",
        "v2 shipped a broken config",
        "--action",
        "smoke-test config in CI",
    )
    out = run("incident", "resolve", incident, "--summary", "rolled back v2 to v1")
    assert "resolved" in out
    shown = json.loads(run("incident", "show", incident, "--json"))
    assert (shown["state"], shown["procedure"], shown["outcome"]) == ("resolved", "rollback", "rollback")
    assert shown["ticks"]["adhoc_backup"]["status"] == "waived"
    report = run("report", incident)
    assert "rolled back v2 to v1" in report and "smoke-test config in CI" in report
    listed = [json.loads(line) for line in run("incidents", "--json").splitlines()]
    assert [i["state"] for i in listed if i["id"] == incident] == ["resolved"]
