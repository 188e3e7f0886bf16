"""Steps the runbook marks optional can be skipped at their confirmation, with a reason; a migration
rollback's confirmation first shows what it undoes and whether it drops data."""

from __future__ import annotations

from console.cli.output import CLIDecider
from console.decide.runbook import load_runbook
from console.engine.context import StepContext
from console.engine.migrations import PLAN_KEY, MigrationPlan, destructive_changes, migration_preview
from console.engine.procedure import Step
from console.engine.rollback import rollback_procedure
from console.engine.runner import Choice
from console.incident.report import render_report
from test_engine_runner import ScriptedDecider, config, make_engine, types  # noqa: F401 (fixture)
from tests._records_support import last_record


class OptionalDecider(ScriptedDecider):
    def __init__(self, answer: Choice, **kw):
        super().__init__(**kw)
        self.answer = answer
        self.prompts: list[str] = []

    async def confirm_optional(self, step, prompt):
        self.prompts.append(prompt)
        return self.answer


def test_the_runbook_data_marks_the_optional_steps():
    optional = load_runbook().optional_steps
    assert "if required" in optional["maintenance_on"]
    assert "backward-compatible" in optional["migrate_rollback"]
    assert "compose_down" not in optional


def test_the_rollback_marks_its_optional_steps(config):
    from console.release.release_log import ReleaseLog

    log = ReleaseLog(config.paths.release_log)
    steps = {s.id: s for s in rollback_procedure(config, log, "v2", "v1").steps}
    assert steps["maintenance_on"].optional and steps["migrate_rollback"].optional
    assert steps["migrate_rollback"].preview is migration_preview
    assert not steps["compose_down"].optional


async def test_skipping_an_optional_step_at_its_confirmation_is_journaled_with_the_reason(config):
    steps = [
        Step(
            "maintenance_on",
            "Switch traffic to maintenance",
            argv=["true"],
            destructive=True,
            mutating=True,
            optional="Runbook 3.1: (if required)",
        ),
        Step("compose_down", "Stop", argv=["true"], mutating=True),
    ]
    decider = OptionalDecider(Choice("skip", "night-time, no traffic"))
    engine, journal, events = make_engine(config, steps, decider)
    assert await engine.run() == "succeeded"
    assert "Optional: Runbook 3.1: (if required)" in decider.prompts[0]
    skipped = last_record(journal, "step_skipped")
    assert (skipped.step_id, skipped.reason, skipped.optional) == ("maintenance_on", "night-time, no traffic", True)
    assert not any(r.kind == "step_started" and r.step_id == "maintenance_on" for r in journal.records())
    report = render_report(list(journal.records()))
    assert "skipped (optional in the runbook) by tester: night-time, no traffic" in report


async def test_an_optional_step_can_still_be_run_or_stop_the_procedure(config):
    step = Step("maintenance_on", "Maintenance", argv=["true"], destructive=True, optional="why")
    engine, journal, _ = make_engine(config, [step], OptionalDecider(Choice("run")))
    assert await engine.run() == "succeeded"
    assert last_record(journal, "step_finished").step_id == "maintenance_on"
    engine, journal, _ = make_engine(config, [step], OptionalDecider(Choice("abort")))
    assert await engine.run() == "aborted"


async def test_the_cli_offers_skip_with_a_reason_for_optional_steps(monkeypatch):
    answers = iter(["s", "", "s", "schema change was additive"])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(answers))
    step = Step("migrate_rollback", "Roll back migrations", argv=["true"], destructive=True, optional="why")
    choice = await CLIDecider(False, interactive=True).confirm_optional(step, "prompt")
    assert choice == Choice("skip", "schema change was additive")
    answers = iter(["y"])
    assert (await CLIDecider(False, interactive=True).confirm_optional(step, "p")).action == "run"
    answers = iter([""])
    assert (await CLIDecider(False, interactive=True).confirm_optional(step, "p")).action == "abort"


DOWN_002 = "ALTER TABLE bookings DROP COLUMN IF EXISTS notes;"
DOWN_001 = "DROP TABLE IF EXISTS bookings;"


def test_drops_are_found_in_the_down_sql():
    assert destructive_changes({"002_add_booking_notes": DOWN_002, "001_init": DOWN_001}) == [
        "column bookings.notes (002_add_booking_notes)",
        "table bookings (001_init)",
    ]
    assert destructive_changes({"003": "ALTER TABLE t DROP CONSTRAINT c; ALTER TABLE t DROP DEFAULT;"}) == []
    assert destructive_changes({"004": "alter table public.t drop c;"}) == ["column public.t.c (004)"]


def test_the_migration_preview_names_the_migrations_the_sql_and_the_drops(config):
    ctx = StepContext(config, None, None)
    assert "unknown" in migration_preview(ctx)
    ctx.state[PLAN_KEY] = MigrationPlan(
        ["001_init", "002_add_booking_notes"],
        "001_init",
        ["002_add_booking_notes"],
        down_sql={"002_add_booking_notes": DOWN_002 + "\x1b[2J"},
    )
    preview = migration_preview(ctx)
    assert "002_add_booking_notes" in preview and "DROPS DATA: column bookings.notes" in preview
    assert DOWN_002 in preview and "\x1b" not in preview
    ctx.state[PLAN_KEY] = MigrationPlan(
        ["001", "002"], "001", ["002"], down_sql_missing="no [commands] migration_down_sql configured"
    )
    assert "down SQL not shown: no [commands] migration_down_sql configured" in migration_preview(ctx)
