import asyncio

import pytest

from _notify_support import API_KEY, environ_for, mock_services, statuspage_config  # noqa: F401
from console.notify.delivery import DeliveryError
from console.notify.statuspage import STATE_KEY, StatusPageClient

CREATE = {
    "action": "create",
    "incident": {
        "name": "Service disruption",
        "status": "investigating",
        "body": "Investigating.",
        "component_ids": ["comp1"],
    },
}


def _client(services, **env):
    return StatusPageClient(statuspage_config(services.statuspage_api_base), {**environ_for(services), **env})


def test_create_update_resolve_request_shapes(mock_services):
    client = _client(mock_services)
    state = asyncio.run(client.deliver(CREATE, {}, timeout=2))
    incident_id = state[STATE_KEY]
    asyncio.run(
        client.deliver(
            {"action": "update", "incident": {"status": "identified", "body": "Found it."}}, state, timeout=2
        )
    )
    asyncio.run(
        client.deliver({"action": "resolve", "incident": {"status": "resolved", "body": "Fixed."}}, state, timeout=2)
    )
    create, update, resolve = mock_services.requests
    assert (create["method"], create["path"], create["status"]) == (
        "POST",
        "/statuspage/v1/pages/page42/incidents",
        201,
    )
    assert create["body"] == {"incident": CREATE["incident"]}
    assert create["authorized"] is True
    assert (update["method"], update["path"]) == ("PATCH", f"/statuspage/v1/pages/page42/incidents/{incident_id}")
    assert update["body"] == {"incident": {"status": "identified", "body": "Found it."}}
    assert resolve["body"] == {"incident": {"status": "resolved", "body": "Fixed."}}
    incident = mock_services.incidents[incident_id]
    assert incident["status"] == "resolved"
    assert [u["status"] for u in incident["incident_updates"]] == ["resolved", "identified", "investigating"]


def test_wrong_key_is_401_and_not_retryable(mock_services):
    client = _client(mock_services, STATUSPAGE_API_KEY="wrong-key-123")
    with pytest.raises(DeliveryError) as caught:
        asyncio.run(client.deliver(CREATE, {}, timeout=2))
    assert not caught.value.retryable and "HTTP 401" in str(caught.value)
    assert mock_services.requests[0]["authorized"] is False


def test_invalid_status_is_rejected_by_the_mock(mock_services):
    client = _client(mock_services)
    bad = {"action": "create", "incident": {**CREATE["incident"], "status": "on fire"}}
    with pytest.raises(DeliveryError, match="HTTP 422"):
        asyncio.run(client.deliver(bad, {}, timeout=2))


def test_update_without_known_incident_opens_one(mock_services):
    client = _client(mock_services)
    state = asyncio.run(
        client.deliver({"action": "update", "incident": {"status": "identified", "body": "b"}}, {}, timeout=2)
    )
    [request] = mock_services.requests
    assert request["method"] == "POST"
    assert request["body"]["incident"]["component_ids"] == ["comp1"]
    assert state[STATE_KEY] in mock_services.incidents


def test_repeated_create_after_lost_answer_becomes_an_update(mock_services):
    client = _client(mock_services)
    state = asyncio.run(client.deliver(CREATE, {}, timeout=2))
    assert asyncio.run(client.deliver(CREATE, state, timeout=2)) == {}
    assert [r["method"] for r in mock_services.requests] == ["POST", "PATCH"]
    assert len(mock_services.incidents) == 1


def test_hanging_server_times_out_retryably(mock_services):
    mock_services.fail(1, "hang")
    client = _client(mock_services)
    with pytest.raises(DeliveryError, match="timed out") as caught:
        asyncio.run(client.deliver(CREATE, {}, timeout=0.3))
    assert caught.value.retryable and API_KEY not in str(caught.value)
