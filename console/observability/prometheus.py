"""A small async client for the Prometheus HTTP API (``/api/v1/query``, ``/api/v1/query_range``).

Results are parsed by their ``resultType`` (vector, matrix, scalar, string); an error answer
(``"status": "error"``) or an unreachable server raises :class:`PrometheusError`, whose message
never repeats the URL or a header (either may carry a credential).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from console.observability.http_api import ApiClient, ApiError


class PrometheusError(ApiError):
    """The query could not be answered; ``unreachable`` tells a dead server from a bad query."""


@dataclass(frozen=True)
class Sample:
    """One value of an instant query (a vector element, or a scalar with no labels)."""

    labels: dict[str, str]
    at: float
    value: float


@dataclass(frozen=True)
class Series:
    """One series of a range query: ``points`` are ``(unix seconds, value)``, oldest first."""

    labels: dict[str, str]
    points: list[tuple[float, float]] = field(default_factory=list)


def parse_value(raw: Any) -> float:
    """Prometheus sends sample values as strings ("0.5", "NaN", "+Inf")."""
    if not isinstance(raw, str):
        raise PrometheusError(f"sample value is not a string: {raw!r}"[:120])
    try:
        return float(raw)
    except ValueError:
        raise PrometheusError(f"sample value is not a number: {raw!r}"[:120]) from None


def _pair(raw: Any) -> tuple[float, float]:
    if not isinstance(raw, list) or len(raw) != 2 or not isinstance(raw[0], (int, float)):
        raise PrometheusError('malformed sample: expected [unix_time, "value"]')
    return float(raw[0]), parse_value(raw[1])


def _labels(raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise PrometheusError("malformed series: 'metric' is not an object")
    return {str(k): str(v) for k, v in raw.items()}


def parse_response(body: Any) -> tuple[str, Any]:
    """``(resultType, result)`` of a successful answer; raises for an error answer or a bad shape."""
    if not isinstance(body, dict):
        raise PrometheusError("Prometheus did not answer a JSON object")
    if body.get("status") != "success":
        kind = body.get("errorType") or "error"
        message = str(body.get("error") or "no error message")[:300]
        raise PrometheusError(f"Prometheus refused the query ({kind}): {message}")
    data = body.get("data")
    if not isinstance(data, dict) or "resultType" not in data:
        raise PrometheusError("Prometheus answered without data.resultType")
    return data["resultType"], data.get("result")


def parse_instant(body: Any) -> list[Sample]:
    """An instant query's samples: a vector's elements, or a scalar as one sample without labels."""
    kind, result = parse_response(body)
    if kind == "scalar":
        at, value = _pair(result)
        return [Sample({}, at, value)]
    if kind == "vector":
        if not isinstance(result, list):
            raise PrometheusError("malformed vector result")
        samples = []
        for item in result:
            if not isinstance(item, dict):
                raise PrometheusError("malformed vector element")
            at, value = _pair(item.get("value"))
            samples.append(Sample(_labels(item.get("metric")), at, value))
        return samples
    if kind == "matrix":
        raise PrometheusError(
            "the query returns a range vector: wrap it in a function such as rate() or avg_over_time() to get one value"
        )
    raise PrometheusError(f"the query returns a {kind}, not a number")


def parse_range(body: Any) -> list[Series]:
    """A range query's series (``resultType: matrix``)."""
    kind, result = parse_response(body)
    if kind != "matrix" or not isinstance(result, list):
        raise PrometheusError(f"a range query answered a {kind}, not a matrix")
    series = []
    for item in result:
        if not isinstance(item, dict) or not isinstance(item.get("values"), list):
            raise PrometheusError("malformed matrix element")
        series.append(Series(_labels(item.get("metric")), [_pair(p) for p in item["values"]]))
    return series


def finite(value: float | None) -> bool:
    return value is not None and not math.isnan(value) and not math.isinf(value)


class PrometheusClient(ApiClient):
    """``PrometheusClient(url, headers)``; ``headers`` values are :class:`Secret` (resolved references)."""

    NAME = "Prometheus"
    ERROR = PrometheusError

    async def _get(self, path: str, params: dict[str, str]) -> Any:
        response = await self._request("GET", path, params=params)
        if response.status_code in (401, 403):
            raise PrometheusError(f"Prometheus refused the credentials (HTTP {response.status_code})", unreachable=True)
        try:
            body = response.json()
        except ValueError:
            raise PrometheusError(
                f"Prometheus answered HTTP {response.status_code} without JSON", unreachable=response.status_code >= 500
            ) from None
        return body

    async def query(self, promql: str, at: float | None = None) -> list[Sample]:
        params = {"query": promql}
        if at is not None:
            params["time"] = f"{at:.3f}"
        return parse_instant(await self._get("/api/v1/query", params))

    async def query_range(self, promql: str, start: float, end: float, step: float) -> list[Series]:
        if end <= start:
            raise ValueError("query_range needs end > start")
        params = {"query": promql, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{max(step, 1):g}"}
        return parse_range(await self._get("/api/v1/query_range", params))
