"""IncidentState: what each record kind changes when it is folded in."""

from console.incident import records as rec
from console.incident.state import IncidentState

T0 = "2026-11-29T12:00:00.000000Z"


def fold(*records):
    stamped = [r.stamped(i + 1, r.ts or f"2026-11-29T12:{i:02d}:00.000000Z") for i, r in enumerate(records)]
    return IncidentState.fold(stamped, "i")


def test_opened():
    state = fold(rec.IncidentOpened("i", "oncall", "t", "p", "v2", 15))
    assert state.opened.deployed == "v2" and state.status == "open" and state.tags() == ("v2", None)


def test_answers_and_retractions():
    state = fold(
        rec.Decision("a", "A?", True, "x"),
        rec.Decision("b", "B?", False, "x"),
        rec.DecisionRetracted("b", "B?", False, "x"),
        rec.Decision("a", "A?", False, "x"),
    )
    assert state.answers == {"a": False} and list(state.decisions) == ["a", "b"]


def test_outcome():
    assert fold(rec.Outcome("rollback", by="x")).decided == "rollback"


def test_matrix_marks_latest_wins_and_old_marks_by_text():
    state = fold(
        rec.MatrixMark("Caused by deploy", None, "rollback", True, "x"),
        rec.MatrixMark("Needs code", "code", "hotfix", True, "x"),
        rec.MatrixMark("Needs code", "code", "hotfix", False, "x"),
    )
    assert state.marked_conditions({"Caused by deploy": "deploy"}, {"deploy", "code"}) == {"deploy"}


def test_ticks_and_waivers():
    state = fold(
        rec.ChecklistMark("a", status="done"),
        rec.ChecklistMark("b", status="waived", reason="n/a"),
        rec.ChecklistMark("a", status="pending"),
    )
    assert {k: v.status for k, v in state.ticks.items()} == {"a": "pending", "b": "waived"}


def test_procedure_progress_and_status():
    started = rec.ProcedureStarted("rollback", "i", [], "v2", "v1")
    assert fold(started).status == "running"
    assert fold(started, rec.ProcedureInterrupted(procedure="rollback")).status == "interrupted"
    assert fold(started, rec.ProcedureFinished("rollback", "failed")).status == "failed"
    # a verification run or a dry run is not the incident's procedure
    state = fold(
        started,
        rec.ProcedureFinished("rollback", "failed"),
        rec.ProcedureStarted("verify", "i"),
        rec.ProcedureFinished("verify", "succeeded"),
        rec.ProcedureStarted("rollback", "i", dry_run=True),
    )
    assert state.status == "failed" and state.started.procedure == "rollback"


def test_done_and_skipped_steps_count_from_the_first_start_of_the_chain():
    state = fold(
        rec.StepFinished("before"),
        rec.ProcedureStarted("rollback", "i", [], "v2", "v1"),
        rec.StepFinished("a"),
        rec.StepSkipped("b", "why", "x"),
        rec.StepFailed("c", message="m"),
        rec.ProcedureInterrupted(procedure="rollback"),
        rec.ProcedureStarted("rollback", "i", [], "v2", "v1", resumed=True),
        rec.StepFinished("c"),
    )
    assert set(state.settled_steps()) == {"a", "b", "c"}
    assert isinstance(state.step_results["c"], rec.StepFinished)


def test_migration_plan_and_decision():
    state = fold(rec.MigrationPlanned(["1", "2"], "1", ["2"]), rec.MigrationDecision("rolled_back", "2", "1", ["2"]))
    assert state.migration_plan.undo == ["2"] and state.migration_decision.action == "rolled_back"


def test_artifacts_health_notifications_notes_unknown():
    state = fold(
        rec.Artifact("v1", "f", "h", True, "host"),
        rec.Artifact("v1", "g", "k", True, "host", "staging"),
        rec.Health("backend", True),
        rec.Notification("slack", "incident_opened", "sent", 1),
        rec.Note("hello", "x"),
        rec.UnknownRecord(type_name="later", extra={"a": 1}),
    )
    assert state.artifact_hashes("v1") == {"f": "h"} and len(state.health) == 1
    assert state.notifications[0].status == "sent" and state.notes[0].text == "hello"
    assert state.unknown[0].kind == "later"


def test_ttr_retro_release_log_resolution():
    opened = rec.IncidentOpened("i", ts=T0)
    started = rec.ProcedureStarted("rollback", "i", [], "v2", "v1")
    done = rec.ProcedureFinished("rollback", "succeeded", ts="2026-11-29T12:10:00.000000Z")
    state = fold(opened, started, done)
    assert state.ttr_seconds == 600.0 and state.status == "succeeded"
    state = fold(
        opened,
        started,
        done,
        rec.ReleaseLogUpdated("v1", "v2"),
        rec.Retro("cause", "", ["a"], "x"),
        rec.IncidentResolved(700.0, "x", "fixed"),
    )
    assert state.status == "resolved" and state.ttr_seconds == 700.0
    assert state.release_log.marked_bad == "v2" and state.retro.root_cause == "cause"
    assert state.summary().to_dict()["state"] == "resolved"
