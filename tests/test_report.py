import asyncio
import difflib
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from _notify_support import (
    API_KEY,
    ENV_FILE_VALUE,
    SLACK_TOKEN,
    environ_for,
    mock_services,  # noqa: F401
    slack_config,
    statuspage_config,
)
from console.incident.journal import Journal
from console.incident.report import PLACEHOLDER, render_report
from console.notify import make_outbox, messages
from console.notify.messages import IncidentContext
from console.notify.notifier import Notifier
from console.secrets import Secret

FIXTURES = Path(__file__).parent / "fixtures"
JOURNAL = FIXTURES / "journal_rollback.jsonl"
GOLDEN = FIXTURES / "report_rollback.md"


def _records(path: Path = JOURNAL) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _opened(**extra) -> dict:
    return {
        "seq": 1,
        "ts": "2026-11-25T13:37:08.000000Z",
        "type": "incident_opened",
        "incident_id": "i-1",
        "operator": "oncall",
        "target": "deploy@h:22",
        "project": "mr-dj",
        "deployed": "v2",
        "ttr_target_minutes": 15,
        **extra,
    }


def test_rollback_report_matches_the_golden_file(tmp_path):
    # Through the real Journal reader, as the CLI and UI do.
    incident = tmp_path / "incidents" / "20261125-133708-4f2a"
    incident.mkdir(parents=True)
    (incident / "journal.jsonl").write_bytes(JOURNAL.read_bytes())
    report = render_report(list(Journal(incident).records()))
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(report, encoding="utf-8")
    expected = GOLDEN.read_text(encoding="utf-8")
    if report != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(True), report.splitlines(True), "report_rollback.md (golden)", "rendered"
            )
        )
        pytest.fail("report differs from the golden file (UPDATE_GOLDEN=1 rewrites it after review):\n" + diff)


def test_report_is_deterministic_and_order_independent():
    records = _records()
    assert render_report(records) == render_report(list(reversed(records)))


def test_golden_report_covers_what_the_runbook_asks_for():
    report = GOLDEN.read_text(encoding="utf-8")
    for needle in (
        "## Timeline (UTC",
        "## Decision path",
        "## Checklist",
        "## Commands",
        "## Artifact hashes",
        "## Migration decision",
        "## Time to recover",
        "### Root cause",
        "### Detection gaps",
        "### Action items",
        "v2 → v1",
        "met (",
        "waived: paging already silenced",
        "| 6 | compose_down ⚠ |",
        "cfe96e3bd9988281ed98aeecf17653f7bfbda4d774967d1d810bdd3c21f88f49",
    ):
        assert needle in report, needle


def test_missing_retro_gives_placeholders_and_open_incident_says_so():
    records = [
        _opened(),
        {"seq": 2, "ts": "2026-11-25T13:57:08.000000Z", "type": "note", "by": "oncall", "text": "still digging"},
    ]
    report = render_report(records)
    retro = report.split("## Retro", 1)[1]
    assert retro.count(PLACEHOLDER) == 3
    assert "20m 00s against a 15m 00s target: missed by 5m 00s (still open)" in report
    assert "| Resolved | not yet |" in report
    assert "_No decision recorded._" in report and "_No commands were run._" in report


def test_override_reason_and_hostile_text_are_rendered_safely():
    records = [
        _opened(),
        {
            "seq": 2,
            "ts": "2026-11-25T13:38:00.000000Z",
            "type": "decision",
            "question_id": "production_down",
            "question": "Is production down?",
            "answer": False,
            "by": "oncall",
        },
        {
            "seq": 3,
            "ts": "2026-11-25T13:38:10.000000Z",
            "type": "outcome",
            "outcome": "rollback",
            "path": [{"question_id": "production_down", "answer": False}],
            "overridden": True,
            "reason": "customer | escalation\nfrom sales",
            "by": "lead",
        },
        {
            "seq": 4,
            "ts": "2026-11-25T13:38:20.000000Z",
            "type": "step_started",
            "step_id": "x",
            "title": "x",
            "argv": ["sh", "-c", "echo `id` | cat"],
            "destructive": False,
        },
    ]
    report = render_report(records, title="Custom title")
    assert report.startswith("# Custom title\n")
    assert "1. Is production down? — **No** (oncall, 13:38:00)" in report
    assert "Reason: customer \\| escalation from sales" in report
    assert "``" in report and "echo `id` \\| cat" in report  # backticks fenced, pipe escaped


def test_health_polling_is_collapsed_to_changes_of_state():
    records = [_opened()] + [
        {
            "seq": i + 2,
            "ts": f"2026-11-25T13:40:{i:02d}.000000Z",
            "type": "health",
            "check": "backend",
            "ok": ok,
            "status": 200 if ok else 502,
            "version": "v1" if ok else None,
            "latency_ms": 10,
        }
        for i, ok in enumerate([False, False, True, True, True, False])
    ]
    timeline = render_report(records).split("## Timeline", 1)[1].split("##", 1)[0]
    assert timeline.count("Health check backend") == 3


def test_staging_checks_are_told_apart_from_production():
    records = [
        _opened(),
        {
            "seq": 2,
            "ts": "2026-11-25T13:40:00.000000Z",
            "type": "artifact",
            "tag": "v3",
            "file": "v3-compose.tar.gz",
            "sha256": "ab" * 32,
            "verified": True,
            "source": "host",
            "on": "staging",
        },
        {
            "seq": 3,
            "ts": "2026-11-25T13:40:01.000000Z",
            "type": "health",
            "check": "backend",
            "ok": True,
            "status": 200,
            "version": "v3",
            "latency_ms": 5,
            "on": "staging",
        },
        {
            "seq": 4,
            "ts": "2026-11-25T13:40:02.000000Z",
            "type": "health",
            "check": "backend",
            "ok": True,
            "status": 200,
            "version": "v3",
            "latency_ms": 6,
            "on": "target",
        },
    ]
    text = render_report(records)
    timeline = text.split("## Timeline", 1)[1].split("##", 1)[0]
    assert "Health check backend on staging: healthy" in timeline
    assert "Health check backend: healthy" in timeline  # production's first OK is its own change
    assert "against the staging host's SHA256SUMS.txt" in text
    assert "| backend (staging) | healthy" in text and "| backend | healthy" in text


def test_secrets_given_to_the_renderer_are_struck_out():
    records = [
        _opened(),
        {
            "seq": 2,
            "ts": "2026-11-25T13:38:00.000000Z",
            "type": "note",
            "by": "x",
            "text": f"pasted {ENV_FILE_VALUE} by mistake",
        },
    ]
    report = render_report(records, secrets=[Secret(ENV_FILE_VALUE)])
    assert ENV_FILE_VALUE not in report and "[REDACTED]" in report


@pytest.mark.asyncio
async def test_a_real_incident_with_an_outage_keeps_secrets_out_of_journal_and_report(tmp_path, mock_services):
    env = environ_for(mock_services)
    journal = Journal.create(tmp_path)
    opened_at = datetime(2026, 11, 25, 13, 37, 8, tzinfo=UTC)
    journal.record(
        "incident_opened",
        incident_id=journal.incident_id,
        operator="oncall",
        target="deploy@127.0.0.1:2222",
        project="mr-dj",
        deployed="v2",
        ttr_target_minutes=15,
    )
    # make_outbox reads only .slack and .statuspage of a Config.
    config = type(
        "C", (), {"slack": slack_config(), "statuspage": statuspage_config(mock_services.statuspage_api_base)}
    )()
    outbox = make_outbox(
        config,
        journal.directory,
        journal.record,
        environ=env,
        secrets=[Secret(ENV_FILE_VALUE)],
        first_timeout=0.5,
        base_delay=0.05,
        max_delay=0.2,
    )
    notifier = Notifier(outbox, IncidentContext(journal.incident_id, "deploy@127.0.0.1:2222", opened_at, "v2", "v1"))
    mock_services.fail(3, "500")
    await notifier.notify(messages.INCIDENT_OPENED)
    await notifier.notify(messages.INCIDENT_RESOLVED, summary="back on v1")
    await asyncio.wait_for(outbox.drain(until_empty=True), 10)
    journal.record("incident_resolved", ttr_seconds=300, by="oncall", summary="back on v1")

    report = render_report(list(journal.records()))
    assert "| slack | incident_opened | sent |" in report
    assert "HTTP 500: internal_error" in report
    everything = report + "".join(p.read_text() for p in journal.directory.rglob("*") if p.is_file())
    for secret in (SLACK_TOKEN, env["SLACK_WEBHOOK_URL"], API_KEY, ENV_FILE_VALUE):
        assert secret not in everything


def test_an_interrupted_procedure_reads_as_left_to_resume_not_as_an_outcome():
    records = [
        {
            "seq": 1,
            "ts": "2026-11-25T13:37:00.000000Z",
            "type": "incident_opened",
            "incident_id": "x",
            "operator": "alice",
            "target": "deploy@h:22",
            "deployed": "v2",
            "ttr_target_minutes": 15,
        },
        {
            "seq": 2,
            "ts": "2026-11-25T13:38:00.000000Z",
            "type": "procedure_started",
            "procedure": "rollback",
            "from_tag": "v2",
            "to_tag": "v1",
            "dry_run": False,
        },
        {
            "seq": 3,
            "ts": "2026-11-25T13:39:30.000000Z",
            "type": "procedure_interrupted",
            "procedure": "rollback",
            "step_id": "compose_down",
            "from_tag": "v2",
            "to_tag": "v1",
            "duration": 90.0,
        },
    ]
    text = render_report(records)
    assert "interrupted at step compose_down after 1m 30s; left to be resumed" in text
    assert "not finished" in text


def test_a_withdrawn_answer_is_one_timeline_line_and_leaves_the_decision_path():
    question = "Can a configuration change mitigate it?"
    records = [
        _opened(),
        {
            "seq": 2,
            "ts": "2026-11-25T13:38:00.000000Z",
            "type": "decision",
            "question_id": "customer_impact",
            "question": "Is there customer impact?",
            "answer": False,
            "by": "oncall",
        },
        {
            "seq": 3,
            "ts": "2026-11-25T13:38:10.000000Z",
            "type": "decision",
            "question_id": "config_mitigation",
            "question": question,
            "answer": True,
            "by": "oncall",
        },
        {
            "seq": 4,
            "ts": "2026-11-25T13:38:20.000000Z",
            "type": "decision_retracted",
            "question_id": "config_mitigation",
            "question": question,
            "answer": True,
            "by": "oncall",
        },
    ]
    text = render_report(records)
    timeline = text.split("## Timeline", 1)[1].split("##", 1)[0]
    assert f"| 13:38:20 | Answer withdrawn (Back): {question} — was Yes (oncall) |" in timeline
    decision = text.split("## Decision path", 1)[1].split("##", 1)[0]
    assert "1. Is there customer impact? — **No**" in decision and "2." not in decision
