"""Which screen continues an incident, replayed from its journal."""

from __future__ import annotations

from console.incident.journal import Journal
from screens import flow


def record_run(journal, procedure, outcome):
    journal.record(
        "procedure_started",
        procedure=procedure,
        from_tag="v2",
        to_tag="v1",
        dry_run=False,
        options={},
        resumed=False,
        steps=[],
    )
    journal.record("procedure_finished", procedure=procedure, outcome=outcome, duration=1)


def test_the_incidents_procedure_decides_the_stage_not_a_verification_run(tmp_path):
    journal = Journal.create(tmp_path / "state")
    journal.record("incident_opened", incident_id=journal.incident_id)
    assert flow.next_stage(journal) == flow.DECISION
    journal.record("outcome", outcome="rollback", by="oncall")
    assert flow.next_stage(journal) == flow.CHECKLIST
    record_run(journal, "rollback", "failed")
    record_run(journal, "verify", "succeeded")
    assert flow.next_stage(journal) == flow.PROCEDURE
    record_run(journal, "rollback", "succeeded")
    record_run(journal, "verify", "failed")
    assert flow.next_stage(journal) == flow.VERIFICATION
    journal.record("incident_resolved", by="oncall")
    assert flow.next_stage(journal) == flow.FOLLOW_UP
