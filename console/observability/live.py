"""What the screens' metric charts show: each ``[[metrics]]`` check's recent series, its current
verdict, and the deploy/rollback/hotfix moments. One call per refresh; never raises."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from console.observability.charts import Moment, moments_from
from console.observability.metrics_checks import UNKNOWN, MetricResult, MetricsProbe
from console.observability.prometheus import PrometheusError

CHART_MINUTES = 15


@dataclass(frozen=True)
class ChartData:
    name: str
    comparison: str
    points: list[tuple[float, float]] = field(default_factory=list)
    moments: list[Moment] = field(default_factory=list)
    limit: float | None = None
    result: MetricResult | None = None
    problem: str = ""


async def chart_data(
    config, incident, expected_version: str | None = None, minutes: float = CHART_MINUTES
) -> list[ChartData]:
    """``incident``: a journal's ``state``, or the records (typed) whose moments the charts mark."""
    from console.observability.steps import bad_deploy_at

    checks = config.observability.metrics
    if not checks:
        return []
    deployed_at = bad_deploy_at(config, expected_version)
    moments = moments_from(incident, deployed_at.isoformat() if deployed_at else None)
    probe, why = MetricsProbe.for_endpoint(config.observability.prometheus, deployed_at)
    if probe is None:
        return [ChartData(c.name, str(c.comparison), moments=moments, problem=why) for c in checks]
    end = time.time()
    start = end - minutes * 60
    out = []
    for check in checks:
        result = await probe.evaluate(check)
        try:
            points = await probe.series(check, start, end, points=120)
            problem = ""
        except PrometheusError as exc:
            points, problem = [], str(exc)
        if result.verdict == UNKNOWN and not problem:
            problem = result.detail
        out.append(
            ChartData(
                check.name,
                str(check.comparison),
                points,
                [m for m in moments if start <= m.at <= end],
                result.limit,
                result,
                problem,
            )
        )
    return out
