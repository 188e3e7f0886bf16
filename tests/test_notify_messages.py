from datetime import UTC, datetime, timedelta

import pytest

from console.notify import messages
from console.notify.messages import IncidentContext

OPENED = datetime(2026, 11, 25, 13, 37, 8, tzinfo=UTC)
CTX = IncidentContext(
    incident_id="20261125-133708-ab12",
    target="deploy@vps.example.com:22",
    opened_at=OPENED,
    from_tag="v2",
    to_tag="v1",
    ttr_target_minutes=15,
)


def test_every_slack_message_names_incident_target_tags_and_ttr():
    now = OPENED + timedelta(minutes=4, seconds=5)
    for event in messages.EVENTS:
        payload = messages.slack_payload(event, CTX, now, procedure="rollback", outcome="succeeded")
        text = payload["text"]
        assert "20261125-133708-ab12" in text
        assert "deploy@vps.example.com:22" in text
        assert "v2 → v1" in text
        assert "TTR 4m 05s (within the 15m 00s target)" in text
        assert payload["blocks"][0]["type"] == "section"


def test_ttr_over_target_is_said_plainly():
    line = messages.ttr_line(CTX, OPENED + timedelta(minutes=20))
    assert line == "TTR 20m 00s (over the 15m 00s target)"


def test_decision_headline_carries_override_reason():
    text = messages.headline(
        messages.DECISION_MADE, {"outcome": "rollback", "overridden": True, "reason": "CEO demo at 14:00"}
    )
    assert text == "Decision: roll back (decision tree overridden: CEO demo at 14:00)"


def test_slack_text_escapes_control_characters():
    payload = messages.slack_payload(messages.INCIDENT_RESOLVED, CTX, OPENED, summary="a<b & c>d")
    assert "a&lt;b &amp; c&gt;d" in payload["text"]


@pytest.mark.parametrize(
    "event,details,status",
    [
        (messages.INCIDENT_OPENED, {}, "investigating"),
        (messages.DECISION_MADE, {"outcome": "rollback"}, "identified"),
        (messages.PROCEDURE_STARTED, {"procedure": "rollback"}, "identified"),
        (messages.PROCEDURE_FINISHED, {"outcome": "succeeded"}, "monitoring"),
        (messages.PROCEDURE_FINISHED, {"outcome": "failed"}, "identified"),
        (messages.INCIDENT_RESOLVED, {}, "resolved"),
    ],
)
def test_statuspage_status_follows_the_incident(event, details, status):
    assert messages.statuspage_status(event, details) == status


def test_statuspage_payload_creates_then_updates_then_resolves():
    opened = messages.statuspage_payload(
        messages.INCIDENT_OPENED, CTX, OPENED, component_ids=["c1"], impact_override="major"
    )
    assert opened == {
        "action": "create",
        "incident": {
            "name": "Service disruption",
            "status": "investigating",
            "body": "We are investigating an issue affecting the service.",
            "component_ids": ["c1"],
            "impact_override": "major",
        },
    }
    update = messages.statuspage_payload(messages.PROCEDURE_STARTED, CTX, OPENED)
    assert update["action"] == "update" and update["incident"]["status"] == "identified"
    resolved = messages.statuspage_payload(messages.INCIDENT_RESOLVED, CTX, OPENED)
    assert resolved["action"] == "resolve" and resolved["incident"]["status"] == "resolved"


def test_statuspage_body_reveals_no_internals():
    for event in messages.EVENTS:
        body = messages.statuspage_body(event, CTX, OPENED, outcome="succeeded")
        assert "vps.example.com" not in body and "v2" not in body


def test_context_from_records_takes_tags_from_the_procedure():
    records = [
        {
            "seq": 1,
            "ts": "2026-11-25T13:37:08.000000Z",
            "type": "incident_opened",
            "incident_id": "i1",
            "target": "deploy@h:22",
            "project": "mr-dj",
            "deployed": "v2",
            "ttr_target_minutes": 10,
            "operator": "oncall",
        },
        {
            "seq": 2,
            "ts": "2026-11-25T13:40:00.000000Z",
            "type": "procedure_started",
            "procedure": "rollback",
            "from_tag": "v2",
            "to_tag": "v1",
            "dry_run": False,
            "steps": [],
        },
    ]
    ctx = messages.context_from_records(records)
    assert (ctx.incident_id, ctx.from_tag, ctx.to_tag, ctx.ttr_target_minutes) == ("i1", "v2", "v1", 10)
    assert ctx.opened_at == OPENED
    with pytest.raises(ValueError):
        messages.context_from_records(records[1:])


def test_format_duration():
    assert messages.format_duration(0) == "0m 00s"
    assert messages.format_duration(754.4) == "12m 34s"
    assert messages.format_duration(3725) == "1h 02m 05s"
