"""The ``[prometheus]``, ``[alertmanager]`` and ``[[metrics]]`` config tables, typed and validated.

Auth headers are given by reference only (``headers = { Authorization = "env:PROM_AUTH" }``);
an inline value is refused like every other secret.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from console.secrets import Secret, SecretRef, SecretUnavailable

if TYPE_CHECKING:  # the matchers' parser is imported when an [alertmanager] table is read (TUI start-up)
    from console.observability.alertmanager import Matcher

_COMPARISON = re.compile(r"^\s*(<=|<|>=|>)\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(x|%)?\s*$")
_HEADER_NAME = re.compile(r"^[A-Za-z0-9-]{1,64}$")


@dataclass(frozen=True)
class Comparison:
    """``<= 0.01`` (absolute), ``<= 1 %`` (absolute, a percentage) or ``<= 1.2x`` (relative to a baseline)."""

    op: str
    threshold: float
    relative: bool = False
    text: str = ""

    def limit(self, baseline: float | None) -> float | None:
        if not self.relative:
            return self.threshold
        return None if baseline is None else self.threshold * baseline

    def holds(self, value: float, limit: float) -> bool:
        return {"<=": value <= limit, "<": value < limit, ">=": value >= limit, ">": value > limit}[self.op]

    def __str__(self) -> str:
        return self.text or f"{self.op} {self.threshold:g}{'x' if self.relative else ''}"


def parse_comparison(text: str) -> Comparison:
    m = _COMPARISON.match(text) if isinstance(text, str) else None
    if not m:
        raise ValueError(f'not a comparison: {text!r} (expected e.g. "<= 0.01", "<= 1 %" or "<= 1.2x")')
    op, number, unit = m.groups()
    threshold = float(number)
    if unit == "%":
        threshold /= 100
    return Comparison(op, threshold, relative=unit == "x", text=" ".join(text.split()))


@dataclass(frozen=True)
class Endpoint:
    url: str
    headers: dict[str, SecretRef] = field(default_factory=dict)
    timeout: float = 5.0

    def resolved_headers(self) -> dict[str, Secret]:
        """The header values; raises :class:`SecretUnavailable` naming the unset variable."""
        return {name: ref.resolve() for name, ref in self.headers.items()}


@dataclass(frozen=True)
class AlertmanagerSettings(Endpoint):
    matchers: list[Matcher] = field(default_factory=list)  # empty: the incident's services by label
    silence_minutes: float = 60.0
    keep_silence: bool = False  # keep the silence when the incident is resolved


@dataclass(frozen=True)
class MetricCheck:
    name: str
    query: str
    comparison: Comparison
    window_minutes: float = 2.0  # verification: time to come within the limit; monitor: longest violation
    baseline_minutes: float = 60.0  # relative comparisons: the span before the bad deploy


@dataclass(frozen=True)
class Observability:
    prometheus: Endpoint | None = None
    alertmanager: AlertmanagerSettings | None = None
    metrics: list[MetricCheck] = field(default_factory=list)


def parse_observability(r, data: dict) -> Observability:
    """Read the three tables with config's ``_Reader`` ``r`` (problems carry their key paths)."""
    prometheus = _endpoint(r, data, "prometheus", set())
    am = None
    t = r.table(
        data,
        "alertmanager",
        {"url", "headers", "timeout", "matchers", "silence_minutes", "keep_silence"},
        required=False,
    )
    if t:
        from console.observability.alertmanager import parse_matcher  # only with the table: not at every start

        base = _endpoint(r, data, "alertmanager", {"matchers", "silence_minutes", "keep_silence"}, table=t)
        matchers = []
        raw = r.get(t, "alertmanager", "matchers", list, [])
        for i, text in enumerate(raw or []):
            try:
                matchers.append(parse_matcher(text))
            except ValueError as exc:
                r.problem(f"alertmanager.matchers[{i}]", str(exc))
        minutes = r.get(t, "alertmanager", "silence_minutes", float, 60.0)
        if minutes is not None and not 0 < minutes <= 7 * 24 * 60:
            r.problem("alertmanager.silence_minutes", "must be between 0 and 10080 (a week)")
        if base is not None:
            am = AlertmanagerSettings(
                url=base.url,
                headers=base.headers,
                timeout=base.timeout,
                matchers=matchers,
                silence_minutes=minutes or 60.0,
                keep_silence=bool(r.get(t, "alertmanager", "keep_silence", bool, False)),
            )
    metrics = _metrics(r, data)
    if metrics and prometheus is None:
        r.problem("metrics", "[[metrics]] checks need a [prometheus] url to query")
    return Observability(prometheus=prometheus, alertmanager=am, metrics=metrics)


def _endpoint(r, data: dict, key: str, extra: set[str], table: dict | None = None) -> Endpoint | None:
    t = table if table is not None else r.table(data, key, {"url", "headers", "timeout"} | extra, required=False)
    if not t:
        return None
    url = r.get(t, key, "url", str)
    if url and not url.startswith(("http://", "https://")):
        r.problem(f"{key}.url", "must start with http:// or https://")
    if url and "://" in url and "@" in url.split("/", 3)[2]:
        r.problem(
            f"{key}.url", 'credentials in the URL are refused: give them as headers = { Authorization = "env:NAME" }'
        )
    timeout = r.get(t, key, "timeout", float, 5.0)
    if timeout is not None and timeout <= 0:
        r.problem(f"{key}.timeout", "must be positive")
    headers: dict[str, SecretRef] = {}
    raw = r.get(t, key, "headers", dict, {})
    for name, value in (raw or {}).items():
        path = f"{key}.headers.{name}"
        if not _HEADER_NAME.match(name):
            r.problem(path, "not a valid HTTP header name")
            continue
        ref = r.secret(path, value)  # by reference only: "env:NAME"
        if ref is not None:
            headers[name] = ref
    return Endpoint(url=(url or "").rstrip("/"), headers=headers, timeout=timeout or 5.0)


def _metrics(r, data: dict) -> list[MetricCheck]:
    items = data.get("metrics", [])
    if not isinstance(items, list):
        r.problem("metrics", "must be an array of tables ([[metrics]])")
        return []
    checks, names = [], set()
    for i, item in enumerate(items):
        prefix = f"metrics[{i}]"
        if not isinstance(item, dict):
            r.problem(prefix, "must be a table")
            continue
        r.unknown(item, prefix, {"name", "query", "comparison", "window_minutes", "baseline_minutes"})
        name = r.get(item, prefix, "name", str)
        if name in names:
            r.problem(f"{prefix}.name", f"duplicate metrics check name {name!r}")
        names.add(name)
        query = r.get(item, prefix, "query", str)
        if query is not None and not query.strip():
            r.problem(f"{prefix}.query", "must be a PromQL expression")
        comparison = None
        text = r.get(item, prefix, "comparison", str)
        if text is not None:
            try:
                comparison = parse_comparison(text)
            except ValueError as exc:
                r.problem(f"{prefix}.comparison", str(exc))
        window = r.get(item, prefix, "window_minutes", float, 2.0)
        baseline = r.get(item, prefix, "baseline_minutes", float, 60.0)
        for key, value in (("window_minutes", window), ("baseline_minutes", baseline)):
            if value is not None and value <= 0:
                r.problem(f"{prefix}.{key}", "must be positive")
        if name and query and query.strip() and comparison is not None:
            checks.append(
                MetricCheck(
                    name=name,
                    query=query.strip(),
                    comparison=comparison,
                    window_minutes=window or 2.0,
                    baseline_minutes=baseline or 60.0,
                )
            )
    return checks


def headers_or_reason(endpoint: Endpoint) -> tuple[dict[str, Secret] | None, str | None]:
    """Resolved headers, or why not (the variable's name, never a value)."""
    try:
        return endpoint.resolved_headers(), None
    except SecretUnavailable as exc:
        return None, f"auth header unavailable: {exc}"
