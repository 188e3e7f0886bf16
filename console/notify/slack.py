"""Slack incoming webhook: POST ``{"text", "blocks"}``, Slack answers 200 ``ok``.

The webhook URL is the credential, so it stays a :class:`SecretRef` until the
moment of sending and is never stored, printed or put into an error message.
"""

from __future__ import annotations

import httpx

from console.config import Slack
from console.http_clients import async_client
from console.notify.delivery import DeliveryError, from_exception, from_response
from console.secrets import Secret, SecretUnavailable


class SlackWebhook:
    """Sends outbox payloads for the ``slack`` channel."""

    channel = "slack"

    def __init__(self, config: Slack, environ: dict[str, str] | None = None) -> None:
        self.config = config
        self._environ = environ

    def _webhook(self) -> Secret:
        try:
            return self.config.webhook_url.resolve(self._environ)
        except SecretUnavailable as exc:
            raise DeliveryError(f"Slack webhook unavailable: {exc}") from None

    def secrets(self) -> list[Secret]:
        try:
            return [self._webhook()]
        except DeliveryError:
            return []

    async def deliver(self, payload: dict, state: dict, timeout: float) -> dict:
        if not isinstance(payload.get("text"), str):
            raise DeliveryError("Slack payload has no text", retryable=False)
        webhook = self._webhook()
        secrets = [webhook]
        try:
            async with async_client(timeout=timeout, follow_redirects=False) as client:
                response = await client.post(webhook.reveal(), json=payload)
        except httpx.HTTPError as exc:
            raise from_exception(exc, secrets) from None
        if response.status_code != 200:
            raise from_response(response, secrets)
        return {}
