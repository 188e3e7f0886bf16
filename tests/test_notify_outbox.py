import asyncio
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from _notify_support import (
    API_KEY,
    ENV_FILE_VALUE,
    SLACK_TOKEN,
    JournalSpy,
    environ_for,
    mock_services,  # noqa: F401  (a pytest fixture, used by name)
    refused_port,
    slack_config,
    statuspage_config,
)
from _waiting import wait_for
from console.notify import messages
from console.notify.delivery import DeliveryError
from console.notify.messages import IncidentContext
from console.notify.notifier import Notifier
from console.notify.outbox import Outbox, backoff_delay
from console.notify.slack import SlackWebhook
from console.notify.statuspage import STATE_KEY, StatusPageClient
from console.secrets import Secret

CTX = IncidentContext(
    incident_id="20261125-133708-ab12",
    target="deploy@127.0.0.1:2222",
    opened_at=datetime(2026, 11, 25, 13, 37, 8, tzinfo=UTC),
    from_tag="v2",
    to_tag="v1",
)
FAST = {"first_timeout": 0.5, "retry_timeout": 1.0, "base_delay": 0.05, "max_delay": 0.4}


def _outbox(tmp_path, services, journal, env=None, **timing):
    env = env or environ_for(services)
    senders = [
        SlackWebhook(slack_config(), env),
        StatusPageClient(statuspage_config(services.statuspage_api_base), env),
    ]
    return Outbox(tmp_path / "incident", senders, journal, secrets=[Secret(ENV_FILE_VALUE)], **{**FAST, **timing})


def _slack_texts(services):
    return [r["body"]["text"] for r in services.requests if r["route"] == "slack" and r["status"] == 200]


async def _drain(outbox, timeout=10.0):
    await asyncio.wait_for(outbox.drain(until_empty=True), timeout)


def test_backoff_doubles_from_half_a_second_up_to_a_cap():
    assert [backoff_delay(n) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]
    assert backoff_delay(20) == 30.0


@pytest.mark.asyncio
async def test_healthy_send_is_journaled_and_acked(tmp_path, mock_services):
    journal = JournalSpy()
    outbox = _outbox(tmp_path, mock_services, journal)
    status = await outbox.send_or_queue("slack", "incident_opened", {"text": "opened"})
    assert status == "sent"
    assert outbox.pending() == []
    assert [m.event for m in outbox.sent()] == ["incident_opened"]
    assert journal.records == [
        {
            "type": "notification",
            "channel": "slack",
            "event": "incident_opened",
            "status": "sent",
            "attempts": 1,
            "error": None,
        }
    ]


@pytest.mark.asyncio
async def test_message_is_on_disk_before_the_first_attempt(tmp_path):
    seen = []

    class Probe:
        channel = "slack"

        def secrets(self):
            return []

        async def deliver(self, payload, state, timeout):
            seen.extend(p.name for p in (tmp_path / "incident" / "outbox").glob("0*.json"))
            raise DeliveryError("down")

    outbox = Outbox(tmp_path / "incident", [Probe()], JournalSpy(), **FAST)
    assert await outbox.send_or_queue("slack", "incident_opened", {"text": "x"}) == "queued"
    assert seen == ["000001-slack-incident_opened.json"]


@pytest.mark.asyncio
async def test_server_error_is_queued_then_retried_with_backoff(tmp_path, mock_services):
    mock_services.fail(3, "500", route="slack")
    journal = JournalSpy()
    outbox = _outbox(tmp_path, mock_services, journal, base_delay=0.1, max_delay=1.0)
    assert await outbox.send_or_queue("slack", "incident_opened", {"text": "opened"}) == "queued"
    [pending] = outbox.pending()
    assert pending.attempts == 1 and pending.last_error == "HTTP 500: internal_error"
    await _drain(outbox)
    statuses = [(r["status"], r["attempts"]) for r in journal.records]
    assert statuses == [("queued", 1), ("queued", 2), ("queued", 3), ("sent", 4)]
    times = [datetime.fromisoformat(r["ts"].replace("Z", "+00:00")) for r in mock_services.requests]
    gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
    # 0.1 s, 0.2 s, 0.4 s: each wait at least the backoff, and growing.
    assert gaps[0] >= 0.09 and gaps[1] >= 0.19 and gaps[2] >= 0.39
    assert gaps[0] < gaps[1] < gaps[2]


@pytest.mark.asyncio
async def test_hanging_service_does_not_hold_up_the_procedure(tmp_path, mock_services):
    mock_services.fail(1, "hang", route="statuspage")
    journal = JournalSpy()
    outbox = _outbox(tmp_path, mock_services, journal, first_timeout=0.3)
    notifier = Notifier(outbox, CTX, component_ids=["comp1"])
    started = time.monotonic()
    result = await notifier.notify(messages.INCIDENT_OPENED)
    assert time.monotonic() - started < 1.5
    assert result == {"slack": "sent", "statuspage": "queued"}
    error = [r for r in journal.records if r["channel"] == "statuspage"][0]["error"]
    assert error.startswith("timed out")
    await _drain(outbox)
    assert STATE_KEY in outbox.state()


@pytest.mark.asyncio
async def test_refused_connection_is_queued_and_a_fresh_outbox_resends(tmp_path, mock_services):
    down = {**environ_for(mock_services), "SLACK_WEBHOOK_URL": f"http://127.0.0.1:{refused_port()}/slack/{SLACK_TOKEN}"}
    journal = JournalSpy()
    outbox = _outbox(tmp_path, mock_services, journal, env=down)
    assert await outbox.send_or_queue("slack", "incident_opened", {"text": "one"}) == "queued"
    assert await outbox.send_or_queue("slack", "decision_made", {"text": "two"}) == "queued"
    assert journal.records[0]["error"] == "connection failed (All connection attempts failed)"
    assert journal.records[1]["error"] == "waiting for an earlier message on this channel"
    assert [m.event for m in outbox.pending()] == ["incident_opened", "decision_made"]

    # The console restarts (now with a reachable webhook): what was left goes out.
    restarted = _outbox(tmp_path, mock_services, journal)
    assert [m.attempts for m in restarted.pending()] == [1, 0]
    await _drain(restarted)
    assert _slack_texts(mock_services) == ["one", "two"]
    assert restarted.pending() == []
    assert await restarted.send_or_queue("slack", "incident_resolved", {"text": "three"}) == "sent"
    assert [m.seq for m in restarted.sent()] == [1, 2, 3]


@pytest.mark.asyncio
async def test_outage_then_recovery_delivers_everything_in_order(tmp_path, mock_services):
    mock_services.fail(10_000, "500")
    journal = JournalSpy()
    outbox = _outbox(tmp_path, mock_services, journal)
    notifier = Notifier(outbox, CTX, component_ids=["comp1"])
    drain = asyncio.create_task(outbox.drain())
    events = [
        (messages.INCIDENT_OPENED, {}),
        (messages.DECISION_MADE, {"outcome": "rollback"}),
        (messages.PROCEDURE_STARTED, {"procedure": "rollback", "from_tag": "v2", "to_tag": "v1"}),
        (messages.PROCEDURE_FINISHED, {"procedure": "rollback", "outcome": "succeeded"}),
        (messages.INCIDENT_RESOLVED, {"summary": "rolled back to v1"}),
    ]
    for event, details in events:
        started = time.monotonic()
        assert set((await notifier.notify(event, **details)).values()) == {"queued"}
        assert time.monotonic() - started < 1.0
    # The drain retries each channel's first message while the outage lasts; nothing is lost.
    await wait_for(
        lambda: all(outbox.pending(channel)[0].attempts >= 2 for channel in outbox.channels),
        10,
        "the drain to retry during the outage",
    )
    assert len(outbox.pending()) == 10
    mock_services.fail(0)
    await wait_for(lambda: not outbox.pending(), 10, "the outbox to empty")
    drain.cancel()
    texts = _slack_texts(mock_services)
    assert len(texts) == 5
    assert [t.split("] ")[1].split(" — ")[0] for t in texts] == [
        "Incident opened: investigating a production problem",
        "Decision: roll back",
        "Started the rollback",
        "The rollback succeeded",
        "Incident resolved: rolled back to v1",
    ]
    [incident] = mock_services.incidents.values()
    assert [u["status"] for u in reversed(incident["incident_updates"])] == [
        "investigating",
        "identified",
        "identified",
        "monitoring",
        "resolved",
    ]
    sent = [(r["channel"], r["event"]) for r in journal.records if r["status"] == "sent"]
    assert [e for c, e in sent if c == "slack"] == [e for e, _ in events]


@pytest.mark.asyncio
async def test_rejected_message_is_set_aside_and_the_queue_moves_on(tmp_path, mock_services):
    journal = JournalSpy()
    outbox = _outbox(tmp_path, mock_services, journal)
    assert await outbox.send_or_queue("slack", "incident_opened", {"text": " "}) == "failed"
    assert await outbox.send_or_queue("slack", "decision_made", {"text": "next"}) == "sent"
    assert [m.event for m in outbox.failed()] == ["incident_opened"]
    assert journal.records[0]["status"] == "failed"
    assert journal.records[0]["error"] == "HTTP 400: invalid_payload"


@pytest.mark.asyncio
async def test_a_crashing_sender_never_raises_into_the_procedure(tmp_path):
    class Broken:
        channel = "slack"

        def secrets(self):
            return []

        async def deliver(self, payload, state, timeout):
            raise RuntimeError("bug")

    journal = JournalSpy()
    outbox = Outbox(tmp_path / "incident", [Broken()], journal, **FAST)
    assert await outbox.send_or_queue("slack", "incident_opened", {"text": "x"}) == "queued"
    assert journal.records[0]["error"] == "RuntimeError: bug"


@pytest.mark.asyncio
async def test_statuspage_incident_id_survives_a_restart(tmp_path, mock_services):
    journal = JournalSpy()
    outbox = _outbox(tmp_path, mock_services, journal)
    await Notifier(outbox, CTX).notify(messages.INCIDENT_OPENED)
    incident_id = outbox.state()[STATE_KEY]
    restarted = _outbox(tmp_path, mock_services, journal)
    await Notifier(restarted, CTX).notify(messages.INCIDENT_RESOLVED)
    assert len(mock_services.incidents) == 1
    assert mock_services.incidents[incident_id]["status"] == "resolved"


@pytest.mark.asyncio
async def test_no_secret_reaches_disk_journal_or_errors(tmp_path, mock_services):
    class LeakyError:
        """A sender whose error text quotes an env-file value: it must be scrubbed."""

        channel = "extra"

        def secrets(self):
            return []

        async def deliver(self, payload, state, timeout):
            raise DeliveryError(f"could not use {ENV_FILE_VALUE}")

    env = environ_for(mock_services)
    journal = JournalSpy()
    outbox = _outbox(tmp_path, mock_services, journal)
    outbox.senders["extra"] = LeakyError()
    mock_services.fail(2, "500")
    await Notifier(outbox, CTX).notify(messages.INCIDENT_OPENED)
    await outbox.send_or_queue("extra", "incident_opened", {"text": "x"})
    down = {**env, "SLACK_WEBHOOK_URL": f"http://127.0.0.1:{refused_port()}/slack/{SLACK_TOKEN}"}
    refused = _outbox(tmp_path / "other", mock_services, journal, env=down)
    await refused.send_or_queue("slack", "incident_opened", {"text": "y"})
    outbox.senders.pop("extra")  # it never succeeds; drain the real channels
    await _drain(outbox)

    secrets = [SLACK_TOKEN, env["SLACK_WEBHOOK_URL"], API_KEY, ENV_FILE_VALUE]
    dumped = json.dumps(journal.records)
    for path in Path(tmp_path).rglob("*"):
        if path.is_file() and path.name != "mock-requests.jsonl":
            dumped += path.read_text(encoding="utf-8")
    assert "[REDACTED]" in dumped  # the leaky error was caught, not lost
    for secret in secrets:
        assert secret not in dumped
    assert any(r["status"] == "sent" for r in journal.records)


def test_one_outbox_survives_several_event_loops(tmp_path, mock_services):
    # The headless CLI may asyncio.run() each phase separately.
    mock_services.fail(1, "500", route="slack")
    outbox = _outbox(tmp_path, mock_services, JournalSpy())
    assert asyncio.run(outbox.send_or_queue("slack", "incident_opened", {"text": "a"})) == "queued"
    asyncio.run(_drain(outbox))
    assert asyncio.run(outbox.send_or_queue("slack", "incident_resolved", {"text": "b"})) == "sent"
    assert _slack_texts(mock_services) == ["a", "b"]
