"""Rebuilding an unfinished incident's procedure from its journal (what a resume runs)."""

from __future__ import annotations

import pytest

from console.engine.incident import open_new_incident, rebuild_procedure
from tests._screens_support import make_config


@pytest.fixture
def config(tmp_path):
    return make_config(tmp_path)


def failed_rollback(config):
    journal = open_new_incident(config, "v2")
    journal.record("outcome", outcome="rollback", path=[], overridden=False, reason="", by="oncall")
    journal.record(
        "procedure_started",
        procedure="rollback",
        from_tag="v2",
        to_tag="v1",
        dry_run=False,
        options={},
        resumed=False,
        steps=[],
    )
    journal.record("step_finished", step_id="compose_down", exit_code=0, duration=1.0)
    journal.record("procedure_finished", procedure="rollback", outcome="failed", from_tag="v2", to_tag="v1", duration=1)
    return journal


@pytest.mark.parametrize("verify_outcome", ["succeeded", "failed"])
def test_resume_after_a_verification_run_rebuilds_the_rollback(config, verify_outcome):
    journal = failed_rollback(config)
    # The coordinator re-ran the checks from the verification screen, then quit.
    journal.record(
        "procedure_started",
        procedure="verify",
        from_tag=None,
        to_tag="v2",
        dry_run=False,
        options={},
        resumed=False,
        steps=[],
    )
    journal.record(
        "procedure_finished", procedure="verify", outcome=verify_outcome, from_tag=None, to_tag="v2", duration=1
    )
    procedure, done = rebuild_procedure(config, journal)
    assert (procedure.name, procedure.from_tag, procedure.to_tag) == ("rollback", "v2", "v1")
    assert "compose_down" in done


def test_a_rollback_that_succeeded_is_not_resumed(config):
    journal = open_new_incident(config, "v2")
    journal.record(
        "procedure_started",
        procedure="rollback",
        from_tag="v2",
        to_tag="v1",
        dry_run=False,
        options={},
        resumed=False,
        steps=[],
    )
    journal.record(
        "procedure_finished", procedure="rollback", outcome="succeeded", from_tag="v2", to_tag="v1", duration=1
    )
    journal.record(
        "procedure_started",
        procedure="verify",
        from_tag=None,
        to_tag="v1",
        dry_run=False,
        options={},
        resumed=False,
        steps=[],
    )
    journal.record("procedure_finished", procedure="verify", outcome="failed", from_tag=None, to_tag="v1", duration=1)
    with pytest.raises(ValueError, match="rollback already succeeded"):
        rebuild_procedure(config, journal)


def test_an_incident_that_only_ran_the_checks_has_nothing_to_resume(config):
    journal = open_new_incident(config, "v2")
    journal.record(
        "procedure_started",
        procedure="verify",
        from_tag=None,
        to_tag="v2",
        dry_run=False,
        options={},
        resumed=False,
        steps=[],
    )
    with pytest.raises(ValueError, match="never started a procedure"):
        rebuild_procedure(config, journal)
