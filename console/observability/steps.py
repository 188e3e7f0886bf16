"""The metrics checks as procedure steps: verification after a rollback, and the hotfix monitor."""

from __future__ import annotations

import time
from datetime import datetime

from console.engine.context import StepContext
from console.engine.procedure import ActionResult, Step
from console.incident.records import MetricsCheck, StepFailed, StepFinished
from console.observability.metrics_checks import UNKNOWN, MetricResult, MetricsProbe, summary, until_pass, watch
from console.observability.prometheus import PrometheusError

STEP_ID = "verify_metrics"


def bad_deploy_at(config, expected_version: str | None) -> datetime | None:
    """When the release being left was deployed: the latest deploy of any other release."""
    from console.release.release_log import ReleaseLog, _parse_time

    try:
        log = ReleaseLog.load(config.paths.release_log)
    except (OSError, ValueError):
        return None
    times = []
    for release in log.releases:
        if release.tag == expected_version or not release.deployed_at:
            continue
        try:
            times.append(_parse_time(release.deployed_at))
        except ValueError:
            continue
    return max(times) if times else None


def _reporter(ctx: StepContext):
    shown: dict[str, str] = {}

    def report(result: MetricResult) -> None:
        line = result.line()
        if shown.get(result.name) != line:  # only changes: a window of polling must not flood the log
            shown[result.name] = line
            ctx.emit_output("stdout" if result.verdict != "fail" else "stderr", [line])

    return report


CHART_MINUTES = 30  # how far back a check's recorded series reaches (the chart in the report)


async def _series(probe: MetricsProbe | None, checks, deployed_at: datetime | None) -> dict[str, list]:
    """Each check's recent values, for the journal (and so the report's chart); best effort."""
    if probe is None:
        return {}
    end = time.time()
    start = end - CHART_MINUTES * 60
    if deployed_at is not None and end - 6 * 3600 < deployed_at.timestamp() < start:
        start = deployed_at.timestamp() - 60  # reach back to the bad deploy, if it is not too long ago
    found = {}
    for check in checks:
        try:
            points = await probe.series(check, start, end, points=90)
        except PrometheusError:
            continue
        found[check.name] = [[round(t), round(v, 6)] for t, v in points]
    return found


def _record(
    ctx: StepContext,
    phase: str,
    results: list[MetricResult],
    series: dict[str, list] | None = None,
    deployed_at: datetime | None = None,
) -> None:
    for result in results:
        r = result.to_dict()
        ctx.record(
            MetricsCheck(
                phase=phase,
                on=ctx.host,
                name=r["name"],
                query=r["query"],
                comparison=r["comparison"],
                verdict=r["verdict"],
                value=r["value"],
                limit=r["limit"],
                baseline=r["baseline"],
                sampled_at=r["at"],
                detail=r["detail"],
                deployed_at=None if deployed_at is None else deployed_at.isoformat().replace("+00:00", "Z"),
                series=(series or {}).get(result.name, []),
            )
        )


def _unreachable(ctx: StepContext, phase: str, why: str) -> ActionResult:
    checks = ctx.config.observability.metrics
    results = [MetricResult(c.name, c.query, str(c.comparison), UNKNOWN, detail=why) for c in checks]
    _record(ctx, phase, results)
    message = f"metrics not checked: {why}; review the dashboards by hand"
    return ActionResult(True, message, {"metrics": [r.to_dict() for r in results]})


async def verify_metrics(ctx: StepContext, expected_version: str | None, interval: float = 2.0) -> ActionResult:
    """Each ``[[metrics]]`` check within its window; a failing check fails the step, an unknown one
    (Prometheus unreachable, no data) does not: it falls back to the manual dashboard tick."""
    deployed_at = bad_deploy_at(ctx.config, expected_version)
    probe, why = MetricsProbe.for_endpoint(ctx.config.observability.prometheus, deployed_at)
    if probe is None:
        return _unreachable(ctx, "verification", why)
    results = await until_pass(probe, ctx.config.observability.metrics, interval=interval, on_result=_reporter(ctx))
    _record(
        ctx, "verification", results, await _series(probe, ctx.config.observability.metrics, deployed_at), deployed_at
    )
    ok, message = summary(results)
    return ActionResult(ok, message, {"metrics": [r.to_dict() for r in results]})


async def monitor_metrics(
    ctx: StepContext, seconds: float, expected_version: str | None = None, interval: float = 2.0
) -> ActionResult | None:
    """The hotfix monitor's metrics half; None when no checks are configured."""
    checks = ctx.config.observability.metrics
    if not checks:
        return None
    deployed_at = bad_deploy_at(ctx.config, expected_version)
    probe, why = MetricsProbe.for_endpoint(ctx.config.observability.prometheus, deployed_at)
    if probe is None:
        return _unreachable(ctx, "monitor", why)
    results = await watch(probe, checks, seconds, interval=interval, on_result=_reporter(ctx))
    _record(ctx, "monitor", results, await _series(probe, checks, deployed_at), deployed_at)
    ok, message = summary(results)
    return ActionResult(ok, message, {"metrics": [r.to_dict() for r in results]})


def metrics_step(config, expected_version: str | None) -> Step | None:
    checks = config.observability.metrics
    if not checks:
        return None
    longest = max(c.window_minutes for c in checks)
    return Step(
        STEP_ID,
        "Metrics show no error-rate regression (Prometheus)",
        action=lambda ctx: verify_metrics(ctx, expected_version),
        display="; ".join(f"{c.name}: {c.comparison}" for c in checks),
        read_only=True,
        timeout=longest * 60 + 120,
        together="after_health",  # with the smoke tests (console.engine.verification)
    )


DASHBOARD_TICK = "grafana_error_rate"  # the runbook's "review Grafana dashboards" manual check


def metrics_answered(incident) -> bool:
    """Did the latest metrics step get a pass/fail from Prometheus for every check? Then it stands in
    for the manual dashboard tick; an unknown (unreachable, no data) keeps the tick.
    ``incident``: a journal's ``state`` (or its records)."""
    from console.observability.charts import incident_state

    latest = incident_state(incident).step_results.get(STEP_ID)
    detail = latest.detail if isinstance(latest, (StepFinished, StepFailed)) else {}
    checks = (detail or {}).get("metrics") or []
    return bool(checks) and all(c.get("verdict") in ("pass", "fail") for c in checks)
