"""A small async client for Alertmanager's API v2: firing alerts, silences.

``GET /api/v2/alerts?active=true&silenced=false&inhibited=false&filter=...`` lists what pages
now; ``POST /api/v2/silences`` answers ``{"silenceID": ...}``; ``DELETE /api/v2/silence/{id}``
expires one. Errors never repeat the URL or a header.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from console.observability.http_api import ApiClient, ApiError

if TYPE_CHECKING:  # httpx is imported when a request is made: the config and the first paint stay light
    import httpx

_MATCHER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$")
_SILENCE_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")


class AlertmanagerError(ApiError):
    """Alertmanager could not do it; ``unreachable``: the server (not the request) is the problem."""


@dataclass(frozen=True)
class Matcher:
    """One label matcher, as Alertmanager's ``filter`` syntax and its silence API both know it."""

    name: str
    value: str
    is_regex: bool = False
    is_equal: bool = True

    @property
    def op(self) -> str:
        return {(False, True): "=", (False, False): "!=", (True, True): "=~", (True, False): "!~"}[
            (self.is_regex, self.is_equal)
        ]

    def to_filter(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"')
        return f'{self.name}{self.op}"{escaped}"'

    def to_api(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "isRegex": self.is_regex, "isEqual": self.is_equal}


def parse_matcher(text: str) -> Matcher:
    """``name="value"``, ``name!=value``, ``name=~"re"`` or ``name!~"re"`` (quotes optional)."""
    if not isinstance(text, str):
        raise ValueError('a matcher must be a string like service=~"api|web"')
    m = _MATCHER.match(text)
    if not m:
        raise ValueError(
            f'not a matcher: {text!r} (expected name="value", name!="value", name=~"regex" or name!~"regex")'
        )
    name, op, value = m.groups()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    elif '"' in value:
        raise ValueError(f"unbalanced quotes in matcher {text!r}")
    if value == "" and op in ("=", "=~"):
        raise ValueError(f"matcher {text!r} matches an empty value: Alertmanager refuses such silences")
    if op in ("=~", "!~"):
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"matcher {text!r}: invalid regular expression ({exc})") from None
    return Matcher(name, value, is_regex=op in ("=~", "!~"), is_equal=op in ("=", "=~"))


def services_matcher(services: list[str], label: str = "service") -> Matcher:
    """The default: the incident's services by their ``service`` label."""
    return Matcher(label, "|".join(re.escape(s) for s in services), is_regex=True)


@dataclass(frozen=True)
class Alert:
    name: str
    labels: dict[str, str]
    state: str
    starts_at: str
    summary: str
    fingerprint: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "labels": self.labels,
            "state": self.state,
            "starts_at": self.starts_at,
            "summary": self.summary,
            "fingerprint": self.fingerprint,
        }


def parse_alerts(body: Any) -> list[Alert]:
    if not isinstance(body, list):
        raise AlertmanagerError("Alertmanager did not answer a list of alerts")
    alerts = []
    for item in body:
        if not isinstance(item, dict) or not isinstance(item.get("labels"), dict):
            raise AlertmanagerError("Alertmanager answered a malformed alert")
        labels = {str(k): str(v) for k, v in item["labels"].items()}
        annotations = item["annotations"] if isinstance(item.get("annotations"), dict) else {}
        status = item["status"] if isinstance(item.get("status"), dict) else {}
        alerts.append(
            Alert(
                name=labels.get("alertname", "?"),
                labels=labels,
                state=str(status.get("state") or "active"),
                starts_at=str(item.get("startsAt") or ""),
                summary=str(annotations.get("summary") or annotations.get("description") or "")[:300],
                fingerprint=str(item.get("fingerprint") or ""),
            )
        )
    return alerts


def silence_payload(
    matchers: list[Matcher], *, minutes: float, created_by: str, comment: str, now: datetime | None = None
) -> dict[str, Any]:
    """The body of ``POST /api/v2/silences`` (a new silence: no ``id``)."""
    if not matchers:
        raise ValueError("a silence needs at least one matcher")
    if minutes <= 0:
        raise ValueError("a silence must last a positive number of minutes")
    start = (now or datetime.now(UTC)).astimezone(UTC)
    end = start + timedelta(minutes=minutes)
    return {
        "matchers": [m.to_api() for m in matchers],
        "startsAt": start.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "endsAt": end.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "createdBy": created_by,
        "comment": comment,
    }


class AlertmanagerClient(ApiClient):
    """``AlertmanagerClient(url, headers)``; ``headers`` values are :class:`Secret`."""

    NAME = "Alertmanager"
    ERROR = AlertmanagerError

    @staticmethod
    def _refused(response: httpx.Response, what: str) -> AlertmanagerError:
        said = response.text.strip().replace("\n", " ")[:200]
        return AlertmanagerError(
            f"Alertmanager refused to {what} (HTTP {response.status_code})" + (f": {said}" if said else ""),
            unreachable=response.status_code in (401, 403) or response.status_code >= 500,
        )

    async def firing(self, matchers: list[Matcher]) -> list[Alert]:
        """Active alerts that are neither silenced nor inhibited and match every matcher."""
        params = [("active", "true"), ("silenced", "false"), ("inhibited", "false")]
        params += [("filter", m.to_filter()) for m in matchers]
        response = await self._request("GET", "/api/v2/alerts", params=params)
        if response.status_code != 200:
            raise self._refused(response, "list alerts")
        try:
            return parse_alerts(response.json())
        except ValueError:
            raise AlertmanagerError("Alertmanager did not answer JSON") from None

    async def create_silence(self, payload: dict[str, Any]) -> str:
        response = await self._request("POST", "/api/v2/silences", json=payload)
        if response.status_code != 200:
            raise self._refused(response, "create the silence")
        try:
            silence_id = response.json().get("silenceID")
        except (ValueError, AttributeError):
            silence_id = None
        if not isinstance(silence_id, str) or not _SILENCE_ID.match(silence_id):
            raise AlertmanagerError("Alertmanager answered without a silenceID")
        return silence_id

    async def silence(self, silence_id: str) -> dict[str, Any]:
        _require_id(silence_id)
        response = await self._request("GET", f"/api/v2/silence/{silence_id}")
        if response.status_code != 200:
            raise self._refused(response, "show the silence")
        body = response.json()
        if not isinstance(body, dict):
            raise AlertmanagerError("Alertmanager answered a malformed silence")
        return body

    async def expire_silence(self, silence_id: str) -> None:
        _require_id(silence_id)
        response = await self._request("DELETE", f"/api/v2/silence/{silence_id}")
        if response.status_code != 200:
            raise self._refused(response, "expire the silence")


def _require_id(silence_id: str) -> None:
    if not isinstance(silence_id, str) or not _SILENCE_ID.match(silence_id):
        raise ValueError(f"not a silence id: {silence_id!r}")
