"""The pre-rollback checklist: ticks, waivers, gating, journal replay and the machine checks.

HTTP checks run against a real http.server on 127.0.0.1; Slack and Statuspage against the
mock services through the notify package's real outbox.
"""

import asyncio
import dataclasses
import json
import socket
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from console.config import Prerequisites, Slack, StatusPage, load_config
from console.decide.runbook import load_runbook
from console.incident import prerequisite_checks
from console.incident.journal import Journal
from console.incident.prerequisites import Checklist, ItemState
from console.notify import make_notifier, make_outbox
from console.notify.messages import IncidentContext
from console.secrets import SecretRef
from sandbox.mock_services import MockServices
from tests._http_support import JSONServer
from tests._waiting import wait_for

ROOT = Path(__file__).resolve().parent.parent
REQUIRED = [
    "backup_verified",
    "stakeholders_notified",
    "traffic_plan",
    "alerts_acknowledged",
    "coordinator_assigned",
    "status_page_banner",
    "support_informed",
]
SLACK_TOKEN = "T0CHK/B0CHK/checklisthooksecret"
API_KEY = "sp-checklist-key-0123456789"


def processes_mentioning(text: str) -> list[str]:
    found = subprocess.run(["pgrep", "-af", text], capture_output=True, text=True).stdout.splitlines()
    return [line for line in found if "pgrep" not in line]


@pytest.fixture
def journal(tmp_path):
    return Journal.create(tmp_path / "state")


@pytest.fixture
def runbook():
    return load_runbook()


@pytest.fixture
def config():
    base = load_config(ROOT / "config.example.toml")
    return dataclasses.replace(base, operator="alice", prerequisites=Prerequisites(), slack=None, statuspage=None)


def with_prereqs(config, **kw):
    return dataclasses.replace(config, prerequisites=Prerequisites(**kw))


def checklist_records(journal):
    return [r for r in journal.records() if r.kind == "checklist"]


# -- people ---------------------------------------------------------------------------------


def test_starts_pending_and_blocked_by_every_required_item(runbook, journal):
    checklist = Checklist(runbook, journal, "alice")
    assert [i.id for i in checklist.items] == [p.id for p in runbook.prerequisites]
    assert checklist.state("backup_verified") == ItemState()
    assert not checklist.ready()
    assert [i.id for i in checklist.blocking()] == REQUIRED
    assert checklist_records(journal) == []


def test_ready_once_every_required_item_is_done_or_waived(runbook, journal):
    checklist = Checklist(runbook, journal, "alice")
    for item_id in REQUIRED[:-1]:
        if item_id == "backup_verified":  # never by a tick: its check, or a waiver with a reason
            checklist.waive(item_id, "snapshot taken by hand at 03:10 and restored on staging", "alice")
        else:
            checklist.tick(item_id, "alice")
    assert not checklist.ready() and [i.id for i in checklist.blocking()] == ["support_informed"]
    checklist.waive("support_informed", "support is asleep; account managers paged", "bob")
    assert checklist.ready() and checklist.blocking() == []
    assert checklist.state("adhoc_backup").status == "pending"  # optional: never blocks
    checklist.untick("traffic_plan", "bob")
    assert not checklist.ready()
    assert checklist.state("traffic_plan").status == "pending"


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_waive_needs_a_reason(runbook, journal, reason):
    checklist = Checklist(runbook, journal, "alice")
    with pytest.raises(ValueError, match="reason"):
        checklist.waive("traffic_plan", reason, "alice")
    assert checklist.state("traffic_plan").status == "pending"
    assert checklist_records(journal) == []


def test_unknown_item(runbook, journal):
    checklist = Checklist(runbook, journal, "alice")
    with pytest.raises(KeyError):
        checklist.tick("no_such_item", "alice")
    with pytest.raises(KeyError):
        checklist.state("no_such_item")


def test_every_change_is_journaled_and_replayed(runbook, journal):
    checklist = Checklist(runbook, journal, "alice")
    checklist.tick("traffic_plan", "alice")
    checklist.waive("support_informed", "  told by phone  ", "bob")
    checklist.tick("coordinator_assigned", "alice")
    checklist.untick("coordinator_assigned", "carol")
    records = checklist_records(journal)
    assert [(r.item_id, r.status, r.how, r.by) for r in records] == [
        ("traffic_plan", "done", "manual", "alice"),
        ("support_informed", "waived", "manual", "bob"),
        ("coordinator_assigned", "done", "manual", "alice"),
        ("coordinator_assigned", "pending", "manual", "carol"),
    ]
    waived = records[1]
    assert waived.group == "Communication steps"
    assert waived.title == "Customer support and account managers informed of impact and ETA"
    assert waived.reason == "told by phone" and waived.detail == ""

    reopened = Journal(journal.directory)
    for restored in (
        Checklist.replay(reopened, runbook, "alice"),
        Checklist(runbook, reopened, "dave"),
        Checklist.replay(reopened),
    ):
        for item in runbook.prerequisites:
            assert restored.state(item.id) == checklist.state(item.id)
    assert checklist.state("support_informed").at.tzinfo is not None


def test_replay_ignores_unknown_items_and_bad_statuses(runbook, journal):
    journal.record("checklist", item_id="gone", status="done")
    journal.record("checklist", item_id="traffic_plan", status="exploded")
    journal.record(
        "checklist",
        item_id="alerts_acknowledged",
        status="failed",
        how="auto",
        by="incident-console",
        detail="2 unacknowledged alerts",
        reason="",
    )
    checklist = Checklist.replay(journal, runbook, "alice")
    assert checklist.state("traffic_plan").status == "pending"
    state = checklist.state("alerts_acknowledged")
    assert (state.status, state.how, state.detail) == ("failed", "auto", "2 unacknowledged alerts")


# -- machines -------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_without_configuration_checks_stay_manual_and_say_what_to_configure(runbook, journal, config):
    checklist = Checklist(runbook, journal, "alice")
    changed = await checklist.run_auto_checks(config)
    assert set(changed) == {
        "backup_verified",
        "alerts_acknowledged",
        "coordinator_assigned",
        "stakeholders_notified",
        "status_page_banner",
    }
    for item_id, needle in [
        ("backup_verified", "backup_check_command"),
        ("alerts_acknowledged", "alerts_check_url"),
        ("stakeholders_notified", "no Slack webhook configured"),
        ("status_page_banner", "no Statuspage configured"),
    ]:
        state = checklist.state(item_id)
        assert (state.status, state.how) == ("pending", "manual") and needle in state.detail
    coordinator = checklist.state("coordinator_assigned")
    assert (coordinator.status, coordinator.how, coordinator.by) == ("done", "auto", "alice")
    assert "alice" in coordinator.detail
    count = len(checklist_records(journal))
    assert await checklist.run_auto_checks(config) == {}  # nothing new: nothing journaled
    assert len(checklist_records(journal)) == count


@pytest.mark.asyncio
async def test_backup_command_exit_status_decides(runbook, journal, config):
    checklist = Checklist(runbook, journal, "alice")
    await checklist.run_auto_checks(with_prereqs(config, backup_check_command=["true"]))
    state = checklist.state("backup_verified")
    assert (state.status, state.how, state.by) == ("done", "auto", "incident-console")
    assert state.detail == "backup check true exited 0"

    await checklist.run_auto_checks(
        with_prereqs(config, backup_check_command=["sh", "-c", "echo 'no verified marker' >&2; exit 3"])
    )
    state = checklist.state("backup_verified")
    assert state.status == "failed" and "exited 3: no verified marker" in state.detail
    last = checklist_records(journal)[-1]
    assert (last.item_id, last.status, last.how) == ("backup_verified", "failed", "auto")

    await checklist.run_auto_checks(with_prereqs(config, backup_check_command=["/nonexistent/check-backup"]))
    assert "cannot run backup check" in checklist.state("backup_verified").detail


@pytest.mark.asyncio
async def test_backup_command_past_its_timeout_is_killed(runbook, journal, config, monkeypatch, tmp_path):
    monkeypatch.setattr(prerequisite_checks, "CHECK_TIMEOUT", 0.5)
    marker = tmp_path / "survived"
    checklist = Checklist(runbook, journal, "alice")
    script = f"(sleep 2; touch {marker}) & sleep 30"
    await checklist.run_auto_checks(with_prereqs(config, backup_check_command=["sh", "-c", script]))
    state = checklist.state("backup_verified")
    assert state.status == "failed" and "ran past 0.5s" in state.detail
    # The background subshell carries the marker path in its command line: once no process
    # does, it was killed (had only sh gone, it would run on and touch the marker after 2 s).
    await wait_for(lambda: not processes_mentioning(str(marker)), 10, "the background subshell to go")
    assert not marker.exists()  # the whole process group went, not just sh


@pytest.mark.asyncio
async def test_a_person_wins_over_the_machine(runbook, journal, config):
    checklist = Checklist(runbook, journal, "alice")
    checklist.waive("backup_verified", "nightly backup restored on staging an hour ago", "alice")
    checklist.waive("coordinator_assigned", "I am the coordinator, said on the bridge", "alice")
    changed = await checklist.run_auto_checks(with_prereqs(config, backup_check_command=["false"]))
    assert "backup_verified" not in changed and "coordinator_assigned" not in changed
    assert checklist.state("backup_verified").status == "waived"
    assert checklist.state("coordinator_assigned").status == "waived"


@pytest.fixture
def http():
    with JSONServer() as server:
        yield server


def refused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "status, body, expected, detail",
    [
        (200, {"status": "verified"}, "done", "latest backup verified"),
        (200, {"status": "running"}, "failed", "latest backup status is 'running', not 'verified'"),
        (200, [], "failed", "status is 'missing'"),
        (503, {"status": "verified"}, "failed", "answered HTTP 503"),
        (200, b"<html>", "failed", "did not answer JSON"),
    ],
)
async def test_backup_url(runbook, journal, config, http, status, body, expected, detail, monkeypatch):
    # A proxy from the environment must not be used (trust_env=False): this one refuses.
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{refused_port()}")
    monkeypatch.setenv("ALL_PROXY", f"http://127.0.0.1:{refused_port()}")
    url = http.answer("/backups/latest?token=abc", status, body)
    checklist = Checklist(runbook, journal, "alice")
    await checklist.run_auto_checks(with_prereqs(config, backup_check_url=url))
    state = checklist.state("backup_verified")
    assert state.status == expected and detail in state.detail
    assert "token=abc" not in state.detail


@pytest.mark.asyncio
async def test_backup_command_and_url_must_both_pass(runbook, journal, config, http):
    url = http.answer("/b", 200, {"status": "verified"})
    checklist = Checklist(runbook, journal, "alice")
    await checklist.run_auto_checks(with_prereqs(config, backup_check_command=["false"], backup_check_url=url))
    assert checklist.state("backup_verified").status == "failed"
    await checklist.run_auto_checks(with_prereqs(config, backup_check_command=["true"], backup_check_url=url))
    assert checklist.state("backup_verified").status == "done"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "status, body, expected, detail",
    [
        (200, [], "done", "no unacknowledged alerts"),
        (200, {"unacknowledged": 0}, "done", "no unacknowledged alerts"),
        (200, [{"id": 1}, {"id": 2}], "failed", "2 unacknowledged alerts"),
        (200, {"unacknowledged": 1}, "failed", "1 unacknowledged alert"),
        (200, {"alerts": "?"}, "failed", "neither a list"),
        (500, [], "failed", "answered HTTP 500"),
    ],
)
async def test_alerts_url(runbook, journal, config, http, status, body, expected, detail):
    url = http.answer("/alerts", status, body)
    checklist = Checklist(runbook, journal, "alice")
    await checklist.run_auto_checks(with_prereqs(config, alerts_check_url=url))
    state = checklist.state("alerts_acknowledged")
    assert (state.status, state.how) == (expected, "auto")
    assert detail in state.detail


@pytest.mark.asyncio
async def test_unreachable_url_fails_the_item_without_raising(runbook, journal, config):
    checklist = Checklist(runbook, journal, "alice")
    await checklist.run_auto_checks(with_prereqs(config, alerts_check_url=f"http://127.0.0.1:{refused_port()}/a"))
    state = checklist.state("alerts_acknowledged")
    assert state.status == "failed" and "unreachable" in state.detail


@pytest.mark.asyncio
async def test_a_crashing_check_fails_its_item(runbook, journal, config, http):
    client = httpx.AsyncClient(trust_env=False)
    await client.aclose()  # a closed client raises RuntimeError, not an httpx error
    checklist = Checklist(runbook, journal, "alice")
    await checklist.run_auto_checks(with_prereqs(config, alerts_check_url=http.answer("/a", 200, [])), client=client)
    state = checklist.state("alerts_acknowledged")
    assert state.status == "failed" and state.detail == "the alerts check itself failed: RuntimeError"


# -- Slack and Statuspage, through the notify package's outbox -------------------------------------


@pytest.fixture
def mock_services(tmp_path):
    services = MockServices(record=tmp_path / "mock.jsonl", api_key=API_KEY, slack_token=SLACK_TOKEN, hang_seconds=5)
    services.start()
    yield services
    services.stop()


def notifying_config(config, services):
    return dataclasses.replace(
        config,
        slack=Slack(webhook_url=SecretRef("SLACK_WEBHOOK_URL"), channel="#ops"),
        statuspage=StatusPage(
            api_base=services.statuspage_api_base, page_id="page42", api_key=SecretRef("STATUSPAGE_API_KEY")
        ),
    )


def notifier_for(config, journal, services, **timing):
    environ = {"SLACK_WEBHOOK_URL": services.slack_url(SLACK_TOKEN), "STATUSPAGE_API_KEY": API_KEY}
    outbox = make_outbox(config, journal.directory, journal.record, environ=environ, **timing)
    context = IncidentContext(
        incident_id=journal.incident_id, target="deploy@127.0.0.1", opened_at=datetime.now(UTC), from_tag="v2"
    )
    return make_notifier(config, outbox, context)


@pytest.mark.asyncio
async def test_slack_and_statuspage_done_once_the_incident_is_announced(runbook, journal, config, mock_services):
    config = notifying_config(config, mock_services)
    checklist = Checklist(runbook, journal, "alice")
    await checklist.run_auto_checks(config)
    assert checklist.state("stakeholders_notified").status == "pending"
    assert "no incident-opened message to #ops sent yet" in checklist.state("stakeholders_notified").detail
    assert checklist.state("status_page_banner").detail == "no status page incident created yet"

    notifier = notifier_for(config, journal, mock_services)
    assert await notifier.notify("incident_opened") == {"slack": "sent", "statuspage": "sent"}
    await checklist.run_auto_checks(config, notifier=notifier)
    slack, page = checklist.state("stakeholders_notified"), checklist.state("status_page_banner")
    assert (slack.status, slack.how) == ("done", "auto") and "#ops" in slack.detail
    assert (page.status, page.how) == ("done", "auto") and "created" in page.detail

    # A resumed console has no notifier yet: the incident's outbox on disk still answers.
    resumed = Checklist(runbook, Journal(journal.directory), "alice")
    resumed.untick("stakeholders_notified", "alice")
    await resumed.run_auto_checks(config)
    assert resumed.state("stakeholders_notified").status == "done"
    said = json.dumps([r.to_line() for r in journal.records()])
    assert SLACK_TOKEN not in said and API_KEY not in said


@pytest.mark.asyncio
async def test_slack_outage_leaves_the_item_pending_with_the_error(runbook, journal, config, mock_services):
    config = notifying_config(config, mock_services)
    notifier = notifier_for(config, journal, mock_services, first_timeout=2.0)
    mock_services.fail(5, "500", route="slack")
    results = await notifier.notify("incident_opened")
    assert results["slack"] == "queued"
    checklist = Checklist(runbook, journal, "alice")
    await checklist.run_auto_checks(config, notifier=notifier)
    state = checklist.state("stakeholders_notified")
    assert state.status == "pending" and "queued, 1 attempt" in state.detail and "HTTP 500" in state.detail
    assert SLACK_TOKEN not in state.detail


@pytest.mark.asyncio
async def test_a_tick_while_checks_run_is_not_overwritten(runbook, journal, config, monkeypatch, tmp_path):
    monkeypatch.setattr(prerequisite_checks, "CHECK_TIMEOUT", 5)
    checklist = Checklist(runbook, journal, "alice")
    started = tmp_path / "check-started"
    checks = asyncio.ensure_future(
        checklist.run_auto_checks(
            with_prereqs(config, backup_check_command=["sh", "-c", f"touch {started}; sleep 0.5; exit 1"])
        )
    )
    await wait_for(started.exists, 5, "the backup check to start")
    checklist.waive("backup_verified", "restored on staging by hand", "alice")
    changed = await checks
    assert "backup_verified" not in changed
    assert checklist.state("backup_verified").status == "waived"
