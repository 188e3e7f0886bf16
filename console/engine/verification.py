"""Post-rollback verification (runbook section 5): ps, logs, health JSON, smoke tests."""

from __future__ import annotations

import asyncio
import shlex
import time
from typing import Any

from console.commands.containers import ContainerCommands, parse_container_ps
from console.commands.ps import PsParseError
from console.commands.swarm import is_swarm as _is_swarm
from console.config import Config
from console.engine.context import StepContext
from console.engine.health_failure import NEXT_DECISIONS, failing_service_logs
from console.engine.procedure import ActionResult, Procedure, Step
from console.http_clients import async_client
from console.incident.records import Health
from console.live.health import check_all

# Between health rounds while the stack starts: a short pause ends the step soon after the last
# service answers (at 1 s up to 0.75 s more was spent waiting; docs/BENCHMARKS.md).
HEALTH_POLL_SECONDS = 0.25


async def services_running(ctx: StepContext) -> ActionResult:
    """``compose ps``'s question asked of the docker CLI by the project's label (a few ms of CPU
    instead of compose's start-up; console.commands.containers)."""
    result = await ctx.run(ContainerCommands.for_target(ctx.config.target).ps(), timeout=120)
    if not result.ok:
        hint = ": the host has no docker CLI on PATH" if result.exit_status == 127 else ""
        return ActionResult(False, f"docker ps exited {result.exit_status}{hint}")
    try:
        states = parse_container_ps(result.stdout)
    except PsParseError as exc:
        return ActionResult(False, str(exc))
    states = [s for s in states if not s.one_off]
    by_service = {s.service: s for s in states}
    missing = [s.name for s in ctx.config.services if s.name not in by_service]
    down = [f"{s.service} ({s.state})" for s in states if not s.running]
    detail = {"services": {s.service: s.state for s in states}}
    if missing or down:
        parts = []
        if missing:
            parts.append("not created: " + ", ".join(missing))
        if down:
            parts.append("not running: " + ", ".join(down))
        return ActionResult(False, "; ".join(parts), detail)
    return ActionResult(True, "all services up: " + ", ".join(sorted(s for s in by_service if s is not None)), detail)


async def wait_for_health(ctx: StepContext, expected_version: str | None, wait: float | None = None) -> ActionResult:
    """Every check must answer as expected (and report the target version) within ``wait``."""
    if not ctx.config.health:
        # nothing would be checked: never report that as healthy
        return ActionResult(
            False,
            "no health checks are configured ([[health]]): nothing proves the "
            "services answer; check by hand, then skip this step with a reason",
        )
    if wait is None:
        wait = ctx.config.thresholds.health_wait_seconds
    deadline = time.monotonic() + wait
    shown: list[str] = []
    said = False
    async with async_client(trust_env=False) as client:
        while True:
            results = await check_all(ctx.config.health, client, expected_version)
            lines = [
                f"{r.check}: {'OK' if r.ok else 'FAIL'} {r.http_status or '-'} "
                f"version={r.version or '-'} {r.reason}".rstrip()
                for r in results
            ]
            if lines != shown:  # only changes: a 90 s wait must not flood the log
                ctx.emit_output("stdout", lines)
                shown = lines
            if not said and not all(r.ok for r in results) and time.monotonic() < deadline:
                said = True  # at the first poll, not after the whole wait
                ctx.emit_output(
                    "stdout",
                    [
                        f"health is FAILING: {', '.join(r.check for r in results if not r.ok)}; "
                        f"waiting up to {wait:g} s for it to recover before deciding"
                    ],
                )
            if all(r.ok for r in results) or time.monotonic() >= deadline:
                break
            await asyncio.sleep(HEALTH_POLL_SECONDS)
    for r in results:
        ctx.record(
            Health(
                check=r.check,
                ok=r.ok,
                status=r.http_status,
                version=r.version,
                latency_ms=None if r.latency_ms is None else round(r.latency_ms, 1),
                on=ctx.host,
            )
        )
    detail: dict[str, Any] = {"health": [r.to_dict() for r in results]}
    failing = [f"{r.check}: {r.reason}" for r in results if not r.ok]
    if failing:
        ctx.emit_output("stdout", ["last log lines of the failing services:"])
        detail["logs"] = await failing_service_logs(ctx, [r.check for r in results if not r.ok])
        detail["next"] = list(NEXT_DECISIONS)
        return ActionResult(
            False,
            "health checks failing: "
            + "; ".join(failing)
            + "; the release is not healthy. Next: "
            + " or ".join(NEXT_DECISIONS),
            detail,
        )
    version = f" reporting {expected_version}" if expected_version else ""
    return ActionResult(True, f"{len(results)} health checks OK{version}", detail)


def verification_steps(config: Config, expected_version: str | None) -> list[Step]:
    containers = ContainerCommands.for_target(config.target)
    steps = [
        Step(
            "verify_ps",
            "All services up (compose ps)",
            action=services_running,
            display=shlex.join(containers.ps()),
            read_only=True,
            together="verify",
        ),
        Step(
            "verify_logs",
            "Recent logs (compose logs --tail=50)",
            argv=containers.logs_tail(50),
            read_only=True,
            timeout=120,
            together="verify",
        ),
    ]
    return steps + health_and_smoke_steps(config, expected_version)


def health_and_smoke_steps(config: Config, expected_version: str | None) -> list[Step]:
    """How every verification ends, compose or swarm: the health checks, the ``[[metrics]]``
    check when there is one, then the smoke tests."""
    steps = [
        Step(
            "verify_health",
            "Health endpoints return 200 and the expected JSON",
            action=lambda ctx: wait_for_health(ctx, expected_version),
            display=", ".join(h.url for h in config.health) or "(no health checks configured)",
            read_only=True,
            together="verify",
        ),
    ]
    from console.observability.steps import metrics_step  # [[metrics]]: the dashboards' question, asked of Prometheus

    metrics = metrics_step(config, expected_version)
    if metrics is not None:
        steps.append(metrics)
    return steps + smoke_test_steps(config)


def smoke_test_steps(config: Config) -> list[Step]:
    """The configured smoke tests, each run inside the running backend of ``config.target``
    (``docker exec`` in its running container, as ``compose exec -T``; on a swarm: in a running
    task of the backend service, console.commands.swarm)."""
    containers = ContainerCommands.for_target(config.target)
    swarm = None
    if _is_swarm(config.target):
        from console.commands.swarm import SwarmCommands

        swarm = SwarmCommands.for_target(config.target)
    steps = []
    seen: set[str] = set()
    for argv in config.commands.smoke_tests:
        prefix = argv[argv.index("--prefix") + 1] if "--prefix" in argv[:-1] else "backend"
        step_id, n = f"smoke_{prefix}", 2
        while step_id in seen:  # two tests for one prefix must not share a journal id
            step_id, n = f"smoke_{prefix}_{n}", n + 1
        seen.add(step_id)
        steps.append(
            Step(
                step_id,
                f"Smoke test: {prefix}",
                argv=swarm.exec_in_task(config.backend.name, argv)
                if swarm is not None
                else containers.exec_in_service(config.backend.name, argv),
                read_only=True,
                timeout=300,
                together="after_health",  # a second group: smoke tests never run before health is green
            )
        )
    return steps


def verify_procedure(config: Config, expected_version: str | None) -> Procedure:
    return Procedure("verify", verification_steps(config, expected_version), to_tag=expected_version)
