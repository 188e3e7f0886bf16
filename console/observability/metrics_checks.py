"""``[[metrics]]`` checks against Prometheus: after a rollback (verification) and during a hotfix's
monitoring window.

A check's value is its query's instant value; with several series the worst one counts (the
highest for ``<``/``<=``, the lowest for ``>``/``>=``). A relative comparison (``<= 1.2x``) takes
its limit from the query's mean over the ``baseline_minutes`` before the bad deploy. Verdicts:
``pass``, ``fail``, or ``unknown`` (Prometheus unreachable, no data, no baseline): an unknown
verdict never blocks a procedure; the manual tick stands in for it.

Verification waits up to ``window_minutes`` for each check to pass (rates need time to forget
the bad release); the monitor fails a check that stays in violation for a whole window (and
watches a check still over its limit at the end until it passes or that window is reached).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import partial

from console.observability.prometheus import PrometheusClient, PrometheusError, Series, finite
from console.observability.settings import Endpoint, MetricCheck, headers_or_reason

PASS, FAIL, UNKNOWN = "pass", "fail", "unknown"
# Unknown for now, maybe not in a few seconds (new containers' counters need two scrapes for a rate)
NO_DATA = "the query returned no data"
NO_FINITE_VALUE = "the query returned no finite value (no traffic?)"


@dataclass(frozen=True)
class MetricResult:
    name: str
    query: str
    comparison: str
    verdict: str  # pass | fail | unknown
    value: float | None = None
    limit: float | None = None
    baseline: float | None = None
    at: float | None = None  # unix seconds of the value
    detail: str = ""

    def to_dict(self) -> dict:
        data = asdict(self)
        for key in ("value", "limit", "baseline"):
            if data[key] is not None:
                data[key] = round(data[key], 6)
        return data

    def line(self) -> str:
        shown = "-" if self.value is None else f"{self.value:.4g}"
        limit = "" if self.limit is None else f" (limit {self.limit:.4g})"
        return f"{self.name}: {self.verdict.upper()} value {shown} {self.comparison}{limit}" + (
            f"; {self.detail}" if self.detail else ""
        )


def worst(values: list[float], op: str) -> float:
    return max(values) if op in ("<", "<=") else min(values)


def judge(check: MetricCheck, values: list[float], *, at: float | None, baseline: float | None) -> MetricResult:
    """The verdict on one evaluation's values (pure: no I/O)."""
    result = partial(
        MetricResult, name=check.name, query=check.query, comparison=str(check.comparison), baseline=baseline, at=at
    )
    numbers = [v for v in values if finite(v)]
    if not numbers:
        why = NO_DATA if not values else NO_FINITE_VALUE
        return result(verdict=UNKNOWN, detail=why)
    limit = check.comparison.limit(baseline)
    value = worst(numbers, check.comparison.op)
    if limit is None:
        return result(verdict=UNKNOWN, value=value, detail="no baseline before the bad deploy")
    verdict = PASS if check.comparison.holds(value, limit) else FAIL
    return result(verdict=verdict, value=value, limit=limit)


def mean_of(series: list[Series]) -> float | None:
    """The mean over every finite point of the worst-case aggregation (all series together)."""
    values = [v for s in series for _, v in s.points if finite(v)]
    return sum(values) / len(values) if values else None


class MetricsProbe:
    """Evaluates checks against one Prometheus; ``bad_deploy_at`` anchors relative baselines."""

    def __init__(self, client: PrometheusClient, bad_deploy_at: datetime | None = None) -> None:
        self.client = client
        self.bad_deploy_at = bad_deploy_at
        self._baselines: dict[str, tuple[float | None, str]] = {}

    @classmethod
    def for_endpoint(
        cls, endpoint: Endpoint | None, bad_deploy_at: datetime | None = None
    ) -> tuple[MetricsProbe | None, str]:
        if endpoint is None or not endpoint.url:
            return None, "no [prometheus] url is configured"
        headers, problem = headers_or_reason(endpoint)
        if problem:
            return None, problem
        return cls(PrometheusClient(endpoint.url, headers, timeout=endpoint.timeout), bad_deploy_at), ""

    async def baseline(self, check: MetricCheck) -> tuple[float | None, str]:
        if not check.comparison.relative:
            return None, ""
        if check.name in self._baselines:
            return self._baselines[check.name]
        if self.bad_deploy_at is None:
            found: tuple[float | None, str] = (None, "the bad deploy's time is not in the release log")
        else:
            end = self.bad_deploy_at.timestamp()
            start = end - check.baseline_minutes * 60
            series = await self.client.query_range(check.query, start, end, max(15.0, (end - start) / 240))
            value = mean_of(series)
            found = (
                value,
                "" if value is not None else f"no data in the {check.baseline_minutes:g} min before the bad deploy",
            )
        self._baselines[check.name] = found
        return found

    async def evaluate(self, check: MetricCheck) -> MetricResult:
        try:
            baseline, why = await self.baseline(check)
            samples = await self.client.query(check.query)
        except PrometheusError as exc:
            return MetricResult(check.name, check.query, str(check.comparison), UNKNOWN, detail=str(exc))
        at = max((s.at for s in samples), default=time.time())
        result = judge(check, [s.value for s in samples], at=at, baseline=baseline)
        if result.verdict == UNKNOWN and why:
            return MetricResult(**{**asdict(result), "detail": why})
        return result

    async def series(
        self, check: MetricCheck, start: float, end: float, points: int = 120
    ) -> list[tuple[float, float]]:
        """The check's values over ``[start, end]`` (the worst series at each step), for a chart."""
        step = max(1.0, (end - start) / max(points, 2))
        found = await self.client.query_range(check.query, start, end, step)
        by_time: dict[float, list[float]] = {}
        for s in found:
            for t, v in s.points:
                if finite(v):
                    by_time.setdefault(t, []).append(v)
        return [(t, worst(vs, check.comparison.op)) for t, vs in sorted(by_time.items())]


Report = Callable[[MetricResult], None]
Sleep = Callable[[float], Awaitable[None]]


async def until_pass(
    probe: MetricsProbe,
    checks: list[MetricCheck],
    *,
    interval: float = 2.0,
    on_result: Report = lambda r: None,
    clock=time.monotonic,
    sleep: Sleep = asyncio.sleep,
) -> list[MetricResult]:
    """Verification: each check gets ``window_minutes`` to pass. No data yet is waited for within the
    window too; any other unknown (Prometheus unreachable, the query refused) stops waiting for that
    check at once: waiting would only delay the procedure."""
    started = clock()
    final: dict[str, MetricResult] = {}
    pending = list(checks)
    while pending:
        results = await asyncio.gather(*(probe.evaluate(c) for c in pending))
        still = []
        for check, result in zip(pending, results, strict=True):  # gathered from the same list
            on_result(result)
            final[check.name] = result
            waiting = result.verdict == FAIL or (
                result.verdict == UNKNOWN and result.detail in (NO_DATA, NO_FINITE_VALUE)
            )
            if waiting and clock() - started < check.window_minutes * 60:
                still.append(check)
        pending = still
        if pending:
            await sleep(interval)
    return [final[c.name] for c in checks]


async def watch(
    probe: MetricsProbe,
    checks: list[MetricCheck],
    seconds: float,
    *,
    interval: float = 2.0,
    on_result: Report = lambda r: None,
    clock=time.monotonic,
    sleep: Sleep = asyncio.sleep,
) -> list[MetricResult]:
    """The monitoring window: a check fails once it has been in violation for a whole window
    (continuously); otherwise it passes with its last value. Unknown if it never had a value.
    A violation still open when ``seconds`` are up is watched on, at most one window more."""
    started = clock()
    deadline = started + seconds
    violating_since: dict[str, float | None] = {c.name: None for c in checks}
    last: dict[str, MetricResult] = {}
    failed: dict[str, MetricResult] = {}
    seen_value: set[str] = set()
    while True:
        now = clock()
        todo = [c for c in checks if c.name not in failed]
        results = await asyncio.gather(*(probe.evaluate(c) for c in todo))
        for check, result in zip(todo, results, strict=True):  # gathered from the same list
            on_result(result)
            last[check.name] = result
            if result.verdict == UNKNOWN:
                continue
            seen_value.add(check.name)
            if result.verdict == PASS:
                violating_since[check.name] = None
                continue
            since = violating_since[check.name]
            if since is None:
                violating_since[check.name] = since = now
            if now - since >= check.window_minutes * 60:
                failed[check.name] = MetricResult(
                    **{
                        **asdict(result),
                        "detail": (
                            f"regression: over the limit for {now - since:.0f}s (window {check.window_minutes:g} min)"
                        ),
                    }
                )
        # A check over its limit when the window ends, for less than its own window, is still settling
        # (rates remember the release before): watch it on until it passes or it is a regression.
        settling = [c for c in checks if c.name not in failed and violating_since[c.name] is not None]
        if len(failed) == len(checks) or (clock() >= deadline and not settling):
            break
        await sleep(min(interval, deadline - clock()) if clock() < deadline else interval)
    out = []
    for check in checks:
        if check.name in failed:
            out.append(failed[check.name])
            continue
        result = last[check.name]
        if result.verdict == UNKNOWN and check.name in seen_value:
            result = MetricResult(**{**asdict(result), "detail": result.detail + " (at the end of the window)"})
        out.append(result)
    return out


def summary(results: list[MetricResult]) -> tuple[bool, str]:
    """(ok, message): ok unless a check failed; unknown checks are named as such."""
    failed = [r for r in results if r.verdict == FAIL]
    unknown = [r for r in results if r.verdict == UNKNOWN]
    passed = [r for r in results if r.verdict == PASS]
    parts = []
    if failed:
        parts.append("regression: " + "; ".join(r.line() for r in failed))
    if passed:
        parts.append(f"{len(passed)} metrics check{'s' if len(passed) != 1 else ''} passed")
    if unknown:
        parts.append(
            "could not check "
            + ", ".join(f"{r.name} ({r.detail})" for r in unknown)
            + ": review the dashboards by hand"
        )
    return not failed, "; ".join(parts) or "no metrics checks"


def utc(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
