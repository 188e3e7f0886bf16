"""The step engine's rules, run locally (LocalTransport) so every branch is cheap to reach."""

import asyncio
import dataclasses
import json
from pathlib import Path

import pytest

from console.engine.context import StepContext
from console.engine.events import Notice, ProcedureFinished, StepFailed, StepSkipped, StepStarted, WouldRun
from console.engine.lock import RemoteLock
from console.engine.procedure import ActionResult, Procedure, Step
from console.engine.runner import Choice, StepEngine
from console.failures import FailureReason
from console.incident.journal import Journal
from console.incident.listing import summarize
from console.transport.local import LocalTransport
from tests._engine_support import ScriptedDecider, local_config
from tests._records_support import last_record
from tests._waiting import wait_for


@pytest.fixture
def config(tmp_path):
    return local_config(tmp_path)


def make_engine(config, steps, decider, *, dry_run=False, yes=False, lock=True):
    journal = Journal.create(config.paths.state_dir)
    transport = LocalTransport()
    events = []
    ctx = StepContext(config, transport, journal, dry_run=dry_run, operator="tester")
    remote_lock = RemoteLock(transport, config.target.project_dir, "tester", journal.incident_id) if lock else None
    engine = StepEngine(
        Procedure("rollback", steps, "v2", "v1"),
        ctx,
        decider,
        assume_yes=yes,
        lock=remote_lock,
        listeners=[events.append],
    )
    return engine, journal, events


def types(journal):
    return [r.kind for r in journal.records()]


async def test_steps_run_in_order_and_the_journal_has_each_command(config):
    steps = [Step("one", "One", argv=["echo", "hello"]), Step("two", "Two", argv=["sh", "-c", "echo err >&2"])]
    engine, journal, events = make_engine(config, steps, ScriptedDecider())
    assert await engine.run() == "succeeded"
    finished = [r for r in journal.records() if r.kind == "step_finished"]
    assert [r.step_id for r in finished] == ["one", "two"]
    assert finished[0].exit_code == 0 and finished[0].duration >= 0
    side = (journal.directory / finished[0].output).read_text()
    assert side == "hello\n"
    import hashlib

    assert finished[0].sha256 == hashlib.sha256(side.encode()).hexdigest()
    assert types(journal)[-1] == "procedure_finished"


async def test_destructive_step_needs_confirmation_and_refusal_aborts(config):
    marker = Path(config.target.project_dir) / "touched"
    steps = [Step("down", "Down", argv=["touch", str(marker)], destructive=True, mutating=True)]
    decider = ScriptedDecider(confirm=False)
    engine, journal, _ = make_engine(config, steps, decider)
    assert await engine.run() == "aborted"
    assert decider.confirmed == ["down"] and not marker.exists()
    assert any(r.kind == "step_confirmed" and r.confirmed is False for r in journal.records())


async def test_yes_skips_confirmation(config):
    steps = [Step("down", "Down", argv=["true"], destructive=True)]
    decider = ScriptedDecider(confirm=False)
    engine, _, _ = make_engine(config, steps, decider, yes=True)
    assert await engine.run() == "succeeded"
    assert decider.confirmed == []


async def test_failure_offers_retry_then_succeeds(config):
    flag = Path(config.target.project_dir) / "second-try"
    script = f"if [ -e {flag} ]; then exit 0; else touch {flag}; exit 3; fi"
    decider = ScriptedDecider(choices=[Choice("retry")])
    engine, journal, events = make_engine(config, [Step("flaky", "Flaky", argv=["sh", "-c", script])], decider)
    assert await engine.run() == "succeeded"
    assert decider.failures == [("flaky", FailureReason.NON_ZERO_EXIT)]
    failed = [e for e in events if isinstance(e, StepFailed)]
    assert failed[0].exit_code == 3


async def test_skip_needs_a_reason_and_records_it(config):
    steps = [Step("bad", "Bad", argv=["false"]), Step("after", "After", argv=["true"])]
    engine, journal, _ = make_engine(config, steps, ScriptedDecider(choices=[Choice("skip", "")]))
    assert await engine.run() == "failed"
    engine, journal, events = make_engine(config, steps, ScriptedDecider(choices=[Choice("skip", "known flaky")]))
    assert await engine.run() == "succeeded"
    skipped = [r for r in journal.records() if r.kind == "step_skipped"]
    assert skipped[0].reason == "known flaky" and skipped[0].by == "tester"


async def test_dry_run_changes_nothing_and_shows_every_command(config):
    marker = Path(config.target.project_dir) / "x"
    steps = [
        Step("check", "Check", argv=["true"], read_only=True, preflight=True),
        Step("change", "Change", argv=["touch", str(marker)], destructive=True, mutating=True),
    ]
    engine, journal, events = make_engine(config, steps, ScriptedDecider(confirm=False), dry_run=True)
    assert await engine.run() == "succeeded"
    assert not marker.exists()
    would = [e for e in events if isinstance(e, WouldRun)]
    assert [w.command for w in would] == [f"touch {marker}"]
    assert not (Path(config.target.project_dir) / ".incident-console.lock").exists()


async def test_lock_taken_before_first_mutating_step_and_released_on_failure(config):
    lock_dir = Path(config.target.project_dir) / ".incident-console.lock"
    seen = {}
    steps = [
        Step("look", "Look", argv=["true"], read_only=True),
        Step("change", "Change", argv=["sh", "-c", f"test -d {lock_dir} && exit 4"], mutating=True),
    ]

    engine, journal, _ = make_engine(config, steps, ScriptedDecider())
    outcome = await engine.run()
    seen["failed_with"] = [getattr(r, "exit_code", None) for r in journal.records() if r.kind == "step_failed"]
    assert outcome == "failed" and seen["failed_with"] == [4]  # the lock existed while the step ran
    assert not lock_dir.exists()
    actions = [r.action for r in journal.records() if r.kind == "lock"]
    assert actions == ["acquired", "released"]


async def test_a_second_console_is_refused_and_told_who_holds_the_lock(config):
    first, _, _ = make_engine(config, [], ScriptedDecider())
    await first.lock.acquire()
    steps = [Step("change", "Change", argv=["true"], mutating=True)]
    engine, journal, events = make_engine(config, steps, ScriptedDecider())
    assert await engine.run() == "failed"
    refused = [r for r in journal.records() if r.kind == "lock" and r.action == "refused"][0]
    assert refused.holder["holder"] == "tester"
    assert refused.holder["incident_id"] == first.lock.incident_id
    assert Path(first.lock.lock_dir).exists()  # the other console's lock is left alone
    await first.lock.release()


async def test_a_lock_that_cannot_be_created_fails_the_run_and_says_why(config):
    Path(config.target.project_dir).rmdir()  # mkdir of the lock fails: a setup problem, not a holder
    marker = Path(config.target.project_dir).parent / "changed"
    steps = [Step("change", "Change", argv=["touch", str(marker)], mutating=True)]
    engine, journal, events = make_engine(config, steps, ScriptedDecider())
    assert await engine.run() == "failed"
    assert not marker.exists()
    failed = [r for r in journal.records() if r.kind == "lock"]
    assert [r.action for r in failed] == ["failed"] and "could not create" in failed[0].error
    assert any(isinstance(e, Notice) and "could not take the lock" in e.message for e in events)
    assert last_record(journal, "procedure_finished").outcome == "failed"
    assert summarize(journal).state == "failed"


async def test_an_unexpected_error_frees_the_lock_and_ends_the_run_in_the_journal(config):
    lock_dir = Path(config.target.project_dir) / ".incident-console.lock"

    class BrokenDecider(ScriptedDecider):
        async def confirm(self, step, prompt):
            raise RuntimeError("a bug in a step")

    steps = [
        Step("change", "Change", argv=["true"], mutating=True),
        Step("check", "Check", argv=["true"], destructive=True),
    ]
    engine, journal, events = make_engine(config, steps, BrokenDecider())
    with pytest.raises(RuntimeError, match="a bug in a step"):
        await engine.run()
    assert not lock_dir.exists()
    assert types(journal)[-2:] == ["lock", "procedure_finished"]
    finished = last_record(journal, "procedure_finished")
    assert finished.outcome == "failed" and finished.error == "RuntimeError: a bug in a step"
    assert [e.outcome for e in events if isinstance(e, ProcedureFinished)] == ["failed"]
    assert summarize(journal).state == "failed"


async def test_an_exception_inside_a_built_in_check_is_that_steps_failure_with_the_usual_offer(config):
    calls = []

    async def parses_ps(ctx):
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("cannot parse ps line 'mr-dj-backend-1 ???'")
        return ActionResult(True, "all services up")

    steps = [Step("ps", "Check the services", action=parses_ps, display="ps"), Step("after", "After", argv=["true"])]
    decider = ScriptedDecider(choices=[Choice("retry")])
    engine, journal, events = make_engine(config, steps, decider)
    assert await engine.run() == "succeeded"
    assert decider.failures == [("ps", FailureReason.INTERNAL_ERROR)]
    failed = last_record(journal, "step_failed")
    assert failed.reason == "internal_error" and "ValueError" in failed.message
    assert "test_engine_runner.py:" in failed.message
    assert [r.step_id for r in journal.records() if r.kind == "step_finished"] == ["ps", "after"]


async def test_an_internal_error_in_a_step_fed_secret_values_shows_no_exception_text(config):
    async def leaks(ctx):
        raise KeyError("FEATURE_TOKEN=s3cret")

    step = Step("apply", "Apply the values", action=leaks, display="apply", stdin=b"FEATURE_TOKEN=s3cret\n")
    engine, journal, events = make_engine(config, [step], ScriptedDecider())
    assert await engine.run() == "failed"
    failed = last_record(journal, "step_failed")
    assert failed.reason == "internal_error" and "KeyError" in failed.message
    assert "s3cret" not in journal.path.read_text()


async def test_cancel_releases_the_lock_and_journals_the_interruption(config):
    lock_dir = Path(config.target.project_dir) / ".incident-console.lock"
    steps = [Step("slow", "Slow", argv=["sleep", "30"], mutating=True)]
    engine, journal, events = make_engine(config, steps, ScriptedDecider())
    task = asyncio.create_task(engine.run())
    await wait_for(
        lambda: lock_dir.exists() and any(isinstance(e, StepStarted) for e in events),
        5,
        "the lock to be taken and the slow step to start",
    )
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not lock_dir.exists()
    # An interruption is not an outcome: nothing says the procedure finished, and it stays resumable.
    assert last_record(journal, "procedure_finished") is None
    interrupted = last_record(journal, "procedure_interrupted")
    assert interrupted.procedure == engine.procedure.name and interrupted.step_id == "slow"
    assert types(journal)[-2:] == ["lock", "procedure_interrupted"]
    assert [e.outcome for e in events if isinstance(e, ProcedureFinished)] == ["interrupted"]
    summary = summarize(journal)
    assert summary.state == "interrupted" and summary.resumable


async def test_step_timeout_is_its_own_failure_reason(config):
    steps = [Step("hang", "Hang", argv=["sleep", "30"], timeout=0.5)]
    engine, journal, events = make_engine(config, steps, ScriptedDecider())
    assert await engine.run() == "failed"
    failed = [e for e in events if isinstance(e, StepFailed)][0]
    assert failed.reason is FailureReason.STEP_TIMEOUT


async def test_action_steps_and_when_skips(config):
    async def check(ctx):
        return ActionResult(False, "checksum mismatch: v1-compose.tar.gz")

    steps = [
        Step("skip_me", "Skip", argv=["false"], when=lambda ctx: "nothing to undo"),
        Step("verify", "Verify", action=check, display="sha256sum ..."),
    ]
    engine, journal, events = make_engine(config, steps, ScriptedDecider())
    assert await engine.run() == "failed"
    assert isinstance(events[1], StepSkipped) and events[1].reason == "nothing to undo"
    failed = [r for r in journal.records() if r.kind == "step_failed"][0]
    assert failed.reason == "precondition_failed" and "checksum mismatch" in failed.message


async def test_migration_decision_keeps_the_reason_given_for_skipping_the_migration(config):
    from console.engine.incident import IncidentRun

    steps = [
        Step("migrate_rollback", "Roll back migrations", argv=["false"]),
        Step("later", "A later step", argv=["false"]),
        Step("last", "Last", argv=["false"]),
    ]
    decider = ScriptedDecider(choices=[Choice("skip", "schema reviewed by hand"), Choice("skip", "unrelated")])
    journal = Journal.create(config.paths.state_dir)
    run = IncidentRun(config, journal, LocalTransport(), decider)
    assert await run.run(Procedure("rollback", steps, "v2", "v1")) == "failed"
    decision = last_record(journal, "migration_decision")
    assert decision.action == "skipped"
    assert decision.reason == "schema reviewed by hand"


async def test_a_migration_skipped_before_a_resume_is_not_recorded_as_rolled_back(config):
    from console.engine.incident import IncidentRun

    # runs end "failed" on purpose: the decision is journaled before the release log is touched
    steps = [Step("migrate_rollback", "Roll back migrations", argv=["false"]), Step("after", "After", argv=["false"])]
    journal = Journal.create(config.paths.state_dir)
    first = IncidentRun(config, journal, LocalTransport(), ScriptedDecider(choices=[Choice("skip", "schema unknown")]))
    # the first run skips the migration, then stops at a failing step
    assert (
        await first.run(Procedure("rollback", steps[:1] + [Step("boom", "Boom", argv=["false"])], "v2", "v1"))
        == "failed"
    )
    resumed = IncidentRun(config, journal, LocalTransport(), ScriptedDecider())
    assert await resumed.run(Procedure("rollback", steps, "v2", "v1"), done_steps={"migrate_rollback"}) == "failed"
    decision = last_record(journal, "migration_decision")
    assert (decision.action, decision.reason, decision.undone) == ("skipped", "schema unknown", [])


async def test_the_migration_decision_lists_what_the_journaled_check_planned_to_undo(config):
    from console.engine.incident import IncidentRun

    journal = Journal.create(config.paths.state_dir)
    journal.record(
        "step_finished",
        step_id="migration_check",
        exit_code=0,
        duration=0.1,
        detail={"applied": ["001_init", "002_notes"], "target_head": "001_init", "undo": ["002_notes"]},
    )
    run = IncidentRun(config, journal, LocalTransport(), ScriptedDecider())
    steps = [Step("migrate_rollback", "Roll back migrations", argv=["true"]), Step("boom", "Boom", argv=["false"])]
    assert await run.run(Procedure("rollback", steps, "v2", "v1"), done_steps=set()) == "failed"
    decision = last_record(journal, "migration_decision")
    assert (decision.action, decision.from_head, decision.undone) == ("rolled_back", "002_notes", ["002_notes"])


async def test_an_unreadable_release_log_after_success_is_a_notice_not_a_crash(config, tmp_path):
    from console.engine.events import Notice
    from console.engine.incident import IncidentRun

    broken = tmp_path / "releases.toml"
    broken.write_text("deployed = [")
    config = dataclasses.replace(config, paths=dataclasses.replace(config.paths, release_log=broken))
    journal = Journal.create(config.paths.state_dir)
    events = []
    run = IncidentRun(config, journal, LocalTransport(), ScriptedDecider(), [events.append])
    assert await run.run(Procedure("rollback", [Step("ok", "OK", argv=["true"])], "v2", "v1")) == "succeeded"
    notices = [e.message for e in events if isinstance(e, Notice) and e.level == "error"]
    assert any("release log was not updated" in n for n in notices)
    assert "release log was not updated" in last_record(journal, "note").text


async def test_the_release_log_warning_is_a_readable_note_in_the_report(config, tmp_path):
    # Bug: IncidentRun journaled the note as message= while the report prints the note's text,
    # so "the release log was not updated, record it by hand" showed as an empty note.
    from console.engine.incident import IncidentRun
    from console.incident.report import render_report

    broken = tmp_path / "releases.toml"
    broken.write_text("deployed = [")
    config = dataclasses.replace(config, paths=dataclasses.replace(config.paths, release_log=broken))
    journal = Journal.create(config.paths.state_dir)
    run = IncidentRun(config, journal, LocalTransport(), ScriptedDecider(), [])
    assert await run.run(Procedure("rollback", [Step("ok", "OK", argv=["true"])], "v2", "v1")) == "succeeded"
    line = next(json.loads(text) for text in journal.path.read_text().splitlines() if '"note"' in text)
    assert "release log was not updated" in line["text"] and "message" not in line
    report = render_report(Journal(journal.directory).state)
    assert "Note by console: the release log was not updated" in report and "record v1 by hand" in report
