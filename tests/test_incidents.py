"""Replaying journals into incident summaries: which procedure an incident is running, and its state."""

from __future__ import annotations

import pytest

from console.incident.journal import Journal
from console.incident.listing import incident_procedure, summarize


def started(journal, procedure, **fields):
    record = {
        "from_tag": None if procedure == "verify" else "v2",
        "to_tag": "v2" if procedure == "verify" else "v1",
        "dry_run": False,
        "options": {},
        "resumed": False,
        "steps": [],
        **fields,
    }
    journal.record("procedure_started", procedure=procedure, **record)


def finished(journal, procedure, outcome):
    journal.record("procedure_finished", procedure=procedure, outcome=outcome, duration=1)


@pytest.fixture
def journal(tmp_path):
    journal = Journal.create(tmp_path / "state", "20260314-025000-abcd")
    journal.record("incident_opened", incident_id=journal.incident_id, target="t", deployed="v2")
    journal.record("outcome", outcome="rollback", path=[], overridden=False, reason="", by="oncall")
    return journal


@pytest.mark.parametrize("verify_outcome", ["succeeded", "failed"])
def test_a_verification_run_after_a_failed_rollback_is_not_the_incidents_procedure(journal, verify_outcome):
    started(journal, "rollback")
    finished(journal, "rollback", "failed")
    started(journal, "verify")  # the coordinator re-ran the checks from the verification screen
    finished(journal, "verify", verify_outcome)
    first, end = incident_procedure(journal.records())
    assert (first.procedure, end.outcome) == ("rollback", "failed")
    summary = summarize(journal)
    assert (summary.procedure, summary.state, summary.to_tag) == ("rollback", "failed", "v1")
    assert summary.resumable


def test_a_verification_left_half_way_does_not_end_the_rollback(journal):
    started(journal, "rollback")
    started(journal, "verify")
    journal.record("procedure_interrupted", procedure="verify", step_id="health", duration=1)
    assert summarize(journal).state == "running"


def test_a_dry_run_is_not_the_incidents_procedure(journal):
    started(journal, "rollback")
    finished(journal, "rollback", "aborted")
    started(journal, "rollback", dry_run=True)
    finished(journal, "rollback", "succeeded")
    first, end = incident_procedure(journal.records())
    assert not first.dry_run and end.outcome == "aborted"
    assert summarize(journal).state == "aborted"


def test_an_interrupted_procedure_is_resumable_and_a_new_start_reopens_it(journal):
    started(journal, "rollback")
    journal.record("procedure_interrupted", procedure="rollback", step_id="compose_up", duration=1)
    assert summarize(journal).state == "interrupted"
    started(journal, "rollback", resumed=True)
    assert incident_procedure(journal.records())[1] is None
    assert summarize(journal).state == "running"


def test_listing_parses_only_what_was_appended_since_the_last_listing(tmp_path, monkeypatch):
    # Bug: the mtime cache still parsed every journal (list_incidents built a Journal, which read
    # the whole file) on every listing. Now an unchanged journal parses no line, a grown one only its new lines.
    from console.engine.incident import open_new_incident
    from console.incident import journal as journal_module
    from console.incident import listing as incidents
    from tests._screens_support import make_config

    config = make_config(tmp_path)
    journal = open_new_incident(config, "v2")
    other = open_new_incident(config, "v1", "20200101-000000-0000")
    other.record("note", text="an older incident", by="oncall")
    parsed = []
    real = journal_module.from_line
    monkeypatch.setattr(journal_module, "from_line", lambda line: parsed.append(line["type"]) or real(line))
    assert [i.state for i in incidents.all_incidents(config.paths.state_dir)] == ["open", "open"]
    assert sorted(parsed) == ["incident_opened", "incident_opened", "note"]
    parsed.clear()
    assert [i.state for i in incidents.all_incidents(config.paths.state_dir)] == ["open", "open"]
    assert parsed == []
    journal.record("incident_resolved", ttr_seconds=60.0, by="oncall", summary="fixed")
    parsed.clear()
    assert [i.state for i in incidents.all_incidents(config.paths.state_dir)] == ["resolved", "open"]
    assert parsed == ["incident_resolved"]
