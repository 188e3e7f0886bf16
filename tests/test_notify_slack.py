import asyncio

import pytest

from _notify_support import (
    SLACK_TOKEN,
    environ_for,
    mock_services,  # noqa: F401  (a pytest fixture, used by name)
    refused_port,
    slack_config,
)
from console.notify.delivery import DeliveryError
from console.notify.slack import SlackWebhook


def test_posts_json_text_and_blocks(mock_services):
    sender = SlackWebhook(slack_config(), environ_for(mock_services))
    payload = {"text": "Incident opened", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "x"}}]}
    assert asyncio.run(sender.deliver(payload, {}, timeout=2)) == {}
    [request] = mock_services.requests
    assert request["method"] == "POST" and request["status"] == 200
    assert request["content_type"] == "application/json"
    assert request["body"] == payload


def test_rejected_payload_is_not_retryable(mock_services):
    sender = SlackWebhook(slack_config(), environ_for(mock_services))
    with pytest.raises(DeliveryError) as caught:
        asyncio.run(sender.deliver({"text": "   "}, {}, timeout=2))
    assert not caught.value.retryable
    assert str(caught.value) == "HTTP 400: invalid_payload"


def test_server_error_is_retryable_and_error_hides_the_webhook(mock_services):
    mock_services.fail(1, "500")
    env = environ_for(mock_services)
    sender = SlackWebhook(slack_config(), env)
    with pytest.raises(DeliveryError) as caught:
        asyncio.run(sender.deliver({"text": "hello"}, {}, timeout=2))
    assert caught.value.retryable
    assert SLACK_TOKEN not in str(caught.value) and env["SLACK_WEBHOOK_URL"] not in str(caught.value)


def test_refused_connection_is_retryable_without_the_url():
    url = f"http://127.0.0.1:{refused_port()}/slack/{SLACK_TOKEN}"
    sender = SlackWebhook(slack_config(), {"SLACK_WEBHOOK_URL": url})
    with pytest.raises(DeliveryError) as caught:
        asyncio.run(sender.deliver({"text": "hello"}, {}, timeout=2))
    assert caught.value.retryable and "connection failed" in str(caught.value)
    assert SLACK_TOKEN not in str(caught.value)


def test_missing_env_var_is_a_delivery_error_not_a_crash():
    sender = SlackWebhook(slack_config(), {})
    with pytest.raises(DeliveryError, match="SLACK_WEBHOOK_URL is not set"):
        asyncio.run(sender.deliver({"text": "hello"}, {}, timeout=2))
    assert sender.secrets() == []
