"""Atlassian Statuspage REST v1: create, update and resolve one incident.

``POST {api_base}/pages/{page_id}/incidents`` answers with the new incident's
``id``; later updates ``PATCH .../incidents/{id}``. The id is kept in the
outbox state (``statuspage_incident_id``) so updates queued during an outage,
or sent by a console restarted mid-incident, find the same banner.
"""

from __future__ import annotations

from typing import Any

import httpx

from console.config import StatusPage
from console.http_clients import async_client
from console.notify.delivery import DeliveryError, from_exception, from_response
from console.secrets import Secret, SecretUnavailable

STATE_KEY = "statuspage_incident_id"


class StatusPageClient:
    """Sends outbox payloads for the ``statuspage`` channel."""

    channel = "statuspage"

    def __init__(self, config: StatusPage, environ: dict[str, str] | None = None) -> None:
        self.config = config
        self._environ = environ

    def _api_key(self) -> Secret:
        try:
            return self.config.api_key.resolve(self._environ)
        except SecretUnavailable as exc:
            raise DeliveryError(f"Statuspage API key unavailable: {exc}") from None

    def secrets(self) -> list[Secret]:
        try:
            return [self._api_key()]
        except DeliveryError:
            return []

    def _incidents_url(self, incident_id: str | None = None) -> str:
        url = f"{self.config.api_base}/pages/{self.config.page_id}/incidents"
        return f"{url}/{incident_id}" if incident_id else url

    async def create_incident(self, incident: dict[str, Any], timeout: float) -> str:
        body = await self._request("POST", self._incidents_url(), incident, timeout)
        incident_id = body.get("id") if isinstance(body, dict) else None
        if not isinstance(incident_id, str) or not incident_id:
            raise DeliveryError("Statuspage answered without an incident id", retryable=False)
        return incident_id

    async def update_incident(self, incident_id: str, status: str, body: str, timeout: float) -> None:
        await self._request("PATCH", self._incidents_url(incident_id), {"status": status, "body": body}, timeout)

    async def resolve_incident(self, incident_id: str, body: str, timeout: float) -> None:
        await self.update_incident(incident_id, "resolved", body, timeout)

    async def deliver(self, payload: dict, state: dict, timeout: float) -> dict:
        action = payload.get("action")
        incident = dict(payload.get("incident") or {})
        known_id = state.get(STATE_KEY)
        if action == "create" or not known_id:
            if known_id:
                # Already created (the first attempt's answer was lost after the
                # create went through): treat the retry as an update.
                await self.update_incident(known_id, incident["status"], incident.get("body", ""), timeout)
                return {}
            if action != "create":
                # No banner yet (Statuspage was configured mid-incident): open one.
                incident = {"name": "Service disruption", "component_ids": list(self.config.component_ids), **incident}
            return {STATE_KEY: await self.create_incident(incident, timeout)}
        if action in ("update", "resolve"):
            status = "resolved" if action == "resolve" else incident.get("status", "identified")
            await self.update_incident(known_id, status, incident.get("body", ""), timeout)
            return {}
        raise DeliveryError(f"unknown Statuspage action {action!r}", retryable=False)

    async def _request(self, method: str, url: str, incident: dict, timeout: float) -> Any:
        key = self._api_key()
        secrets = [key]
        headers = {"Authorization": f"OAuth {key.reveal()}", "Accept": "application/json"}
        try:
            async with async_client(timeout=timeout, follow_redirects=False) as client:
                response = await client.request(method, url, json={"incident": incident}, headers=headers)
        except httpx.HTTPError as exc:
            raise from_exception(exc, secrets) from None
        if response.status_code not in (200, 201):
            raise from_response(response, secrets)
        try:
            return response.json()
        except ValueError:
            raise DeliveryError(
                f"Statuspage answered HTTP {response.status_code} without JSON", retryable=False
            ) from None
