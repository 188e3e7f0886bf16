"""Typed journal records: every kind round-trips, old lines still read, unknown kinds are kept."""

import dataclasses
import json
from pathlib import Path

import pytest

from console.failures import FailureReason
from console.incident import records as rec
from console.incident.journal import Journal
from console.incident.records import KINDS, SCHEMA_VERSION, UnknownRecord, build, from_line
from console.incident.report import render_report
from console.secrets import REDACTED, Secret

FIXTURE = Path(__file__).parent / "fixtures" / "journal_v1_rollback.jsonl"

# One filled-in example of every journaled kind (what today's writers put in them).
EXAMPLES = [
    rec.FleetWave("batch", 1, ["web1", "web3"], "failed", "web3 failed at compose_up"),
    rec.FleetHostState("web3", "failed", "v2", "web3:compose_up", "exited with 1"),
    rec.Handoff("oncall", "laptop-a", "second", "laptop-b", True, "first console died"),
    rec.IncidentOpened("20261129-120000-abcd", "oncall", "deploy@host:22", "mr-dj", "v2", 15),
    rec.Decision("customer_impact", "Customer impact?", True, "oncall"),
    rec.DecisionRetracted("customer_impact", "Customer impact?", True, "oncall"),
    rec.Outcome(
        "rollback", [{"question_id": "customer_impact", "answer": True}], False, None, "rollback", True, "oncall"
    ),
    rec.Override("code_hotfix", "one-line fix", "oncall"),
    rec.MatrixMark("Caused by the deploy", "artifact_caused", "rollback", True, "oncall"),
    rec.ChecklistMark("backup_verified", "Data", "Backup verified", "waived", "manual", "oncall", "", "nightly"),
    rec.ProcedureStarted(
        "rollback",
        "x",
        [{"id": "down", "title": "Down", "destructive": True, "command": "c"}],
        "v2",
        "v1",
        False,
        {"migration_order": "before_down"},
        True,
        4242,
        123456,
        "laptop",
    ),
    rec.ProcedureFinished("rollback", "succeeded", 12.5, "v2", "v1", None),
    rec.ProcedureInterrupted(
        procedure="rollback", duration=3.0, from_tag="v2", to_tag="v1", step_id="down", message="left"
    ),
    rec.StepStarted("down", "Down", "docker compose down", True, ["docker", "compose", "down"], "target"),
    rec.StepFinished("down", 0, 1.5, "ok", "outputs/00001-down.log", "ab" * 32, {"k": [1, 2]}),
    rec.StepFailed("up", FailureReason.STEP_TIMEOUT, "timed out", None, 30.0, None, "cd" * 32, {}),
    rec.StepSkipped("migrate_rollback", "nothing to undo", "console"),
    rec.StepConfirmed("down", True, "oncall"),
    rec.StepChoice("up", "retry", "", "oncall"),
    rec.LockEvent("refused", "/opt/mr-dj/.lock", {"holder": "bob", "incident_id": "y"}, None, None),
    rec.LockEvent(
        "taken_over",
        "/opt/mr-dj/.lock",
        {"holder": "bob", "incident_id": "x"},
        None,
        "oncall",
        "console was SIGKILLed",
        {"pid": 4242, "machine": "laptop"},
    ),
    rec.MigrationPlanned(["001", "002"], "001", ["002"], True, "target"),
    rec.MigrationDecision("rolled_back", "002", "001", ["002"], None, "oncall"),
    rec.Health("backend", True, 200, "v1", 12.3, "staging"),
    rec.Artifact("v1", "v1-compose.tar.gz", "ef" * 32, True, "host", "target"),
    rec.Notification("slack", "incident_opened", "queued", 2, "HTTP 503"),
    rec.ReleaseLogUpdated("v1", "v2"),
    rec.ResumeCheck(["backend Up"], 0),
    rec.HostRecheck("maintenance_on", ["backend Up"], 0),
    rec.Retro("bad config", "no smoke test", ["add smoke test"], "oncall"),
    rec.IncidentResolved(842.5, "oncall", "rolled back"),
    rec.Note("the release log was not updated", "console", None, None),
    rec.MetricsCheck(
        "verification",
        "target",
        "backend error ratio",
        "sum(rate(x[1m]))",
        "<= 0.01",
        "pass",
        0.002,
        0.01,
        None,
        1796040000.0,
        "",
        "2026-11-29T11:58:00Z",
        [[1796039940, 0.3], [1796040000, 0.002]],
    ),
    rec.AlertSilence(
        "created",
        "abc-1",
        ['env="production"'],
        "2026-11-29T12:02:00.000Z",
        "2026-11-29T13:02:00.000Z",
        "oncall",
        "incident-console incident 20261129-120000-abcd",
        ["HighErrorRate (mr-dj-backend)"],
        "",
    ),
]


def test_every_journaled_kind_has_an_example():
    assert {type(r).KIND for r in EXAMPLES} == set(KINDS)


@pytest.mark.parametrize("record", EXAMPLES, ids=lambda r: r.KIND)
def test_each_kind_round_trips_through_a_journal_line(record, tmp_path):
    journal = Journal(tmp_path)
    written = journal.append(record)
    line = json.loads(journal.path.read_text().splitlines()[-1])
    assert line["v"] == SCHEMA_VERSION and line["type"] == record.KIND and line["seq"] == 1
    assert type(written) is type(record) and written.seq == 1 and written.ts
    assert dataclasses.replace(written, seq=0, ts="") == record
    again = Journal(tmp_path).records()
    assert again == [written] and again[0].extra == {}


def test_the_engine_emits_the_object_it_journals():
    from console.engine import events

    assert events.StepStarted is rec.StepStarted and events.ProcedureFinished is rec.ProcedureFinished
    assert issubclass(rec.ProcedureInterrupted, rec.ProcedureFinished)  # listeners see "interrupted"


def test_transient_events_are_not_journaled(tmp_path):
    with pytest.raises(ValueError):
        Journal(tmp_path).append(rec.StepOutput("down", "stdout", ["x"]))


def test_secrets_stay_redacted_on_write(tmp_path):
    journal = Journal(tmp_path)
    journal.append(rec.StepStarted("envfile", "Env", "write env", False, ["sh", Secret("hunter2")]))
    journal.record("note", text="compat path", by="x", token=Secret("s3cret"))
    text = journal.path.read_text()
    assert "hunter2" not in text and "s3cret" not in text and text.count(REDACTED) == 2


def test_the_compatibility_call_gives_the_typed_record_and_keeps_undeclared_fields(tmp_path):
    journal = Journal(tmp_path)
    written = journal.record("checklist", item_id="a", status="done", by="x", new_field=3)
    assert isinstance(written, rec.ChecklistMark) and written.status == "done"
    assert written.extra == {"new_field": 3}
    assert json.loads(journal.path.read_text())["new_field"] == 3


def test_an_unknown_kind_is_kept_written_back_and_shown(tmp_path):
    journal = Journal(tmp_path)
    journal.record("incident_opened", incident_id="i", operator="o", target="t")
    with open(journal.path, "a") as handle:
        handle.write(
            json.dumps(
                {
                    "v": 3,
                    "seq": 2,
                    "ts": "2026-11-29T12:00:00Z",
                    "type": "canary_promotion",
                    "wave": 2,
                    "hosts": ["a", "b"],
                }
            )
            + "\n"
        )
    records = Journal(tmp_path).records()
    unknown = records[-1]
    assert isinstance(unknown, UnknownRecord) and unknown.kind == "canary_promotion"
    assert unknown.to_line()["type"] == "canary_promotion" and unknown.to_line()["wave"] == 2
    assert Journal(tmp_path).state.unknown == [unknown]
    assert "Unknown record canary_promotion: wave=2" in render_report(Journal(tmp_path).state)


def test_version_1_lines_read_into_the_same_classes():
    line = {
        "seq": 4,
        "ts": "2026-11-29T12:00:00Z",
        "type": "step_failed",
        "step_id": "up",
        "reason": "step_timeout",
        "message": "slow",
        "exit_code": None,
        "duration": 2.0,
    }
    failed = from_line(line)
    assert isinstance(failed, rec.StepFailed) and failed.reason is FailureReason.STEP_TIMEOUT
    # IncidentRun once wrote its note as message=: it reads as the note's text
    note = from_line(
        {"seq": 5, "ts": "2026-11-29T12:00:01Z", "type": "note", "message": "record v1 by hand", "by": "console"}
    )
    assert isinstance(note, rec.Note) and note.text == "record v1 by hand"


def test_the_journal_written_by_the_previous_code_opens_and_folds(tmp_path):
    (tmp_path / "journal.jsonl").write_bytes(FIXTURE.read_bytes())
    journal = Journal(tmp_path)
    records = journal.records()
    assert len(records) == 75 and not any(isinstance(r, UnknownRecord) for r in records)
    assert not any(r.extra for r in records)  # every field today's code wrote has a home
    state = journal.state
    summary = state.summary()
    assert (summary.state, summary.procedure, summary.from_tag, summary.to_tag, summary.outcome) == (
        "resolved",
        "rollback",
        "v2",
        "v1",
        "rollback",
    )
    assert summary.ttr_seconds == 842.5 and state.answers == {"production_down": True}
    assert state.ticks["backup_verified"].status == "waived"
    assert state.retro.action_items == ["add smoke test", "alert on 5xx"]
    assert "migration_check" in state.settled_steps() and len(state.settled_steps()) == 18
    report = render_report(state)
    # the old-format note (message=) is no longer an empty line in the report
    assert "Note by console: the release log was not updated: disk full; record v1 by hand" in report


def test_the_journal_reads_only_what_was_appended(tmp_path, monkeypatch):
    from console.incident import journal as journal_module

    journal = Journal(tmp_path)
    for i in range(5):
        journal.record("note", text=str(i), by="x")
    reader = Journal(tmp_path)
    parsed = []
    real = journal_module.from_line
    monkeypatch.setattr(journal_module, "from_line", lambda line: parsed.append(line["seq"]) or real(line))
    reader.records(), reader.state, reader.records()
    assert parsed == [1, 2, 3, 4, 5]
    journal.record("note", text="more", by="x")
    # the writer reads its own new line back once, the reader only that line
    assert [r.text for r in reader.records()][-1] == "more" and parsed == [1, 2, 3, 4, 5, 6, 6]


def test_build_of_an_unknown_kind_is_unknown():
    assert isinstance(build("future_kind", {"a": 1}), UnknownRecord)
