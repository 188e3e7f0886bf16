"""When the release just started fails its health checks: whose logs to show, what to decide next.

The operator must not stare at "FAIL 500" for the whole wait: the failure is said at the
first poll, the failing services' last log lines are fetched from the host when the wait
ends, and the step's message names the next decision of the runbook (roll back further,
or a hotfix) instead of leaving the procedure to look finished.
"""

from __future__ import annotations

from collections.abc import Iterable

from console.commands.containers import ContainerCommands
from console.commands.swarm import is_swarm as _is_swarm
from console.config import Config
from console.engine.context import StepContext

LOG_LINES = 20
NEXT_DECISIONS = (
    "roll back further (incident-console rollback --to <an older good release>)",
    "a code hotfix (incident-console hotfix --tag <fixed release>)",
)


def services_for_checks(config: Config, checks: Iterable[str]) -> list[str]:
    """The compose services behind failing health checks: by name, then by role; all when unsure."""
    found: list[str] = []
    for check in checks:
        matches = [s.name for s in config.services if check in (s.name, s.role)] or [
            s.name for s in config.services if check and check in s.name
        ]
        found += [m for m in (matches or [s.name for s in config.services]) if m not in found]
    return found


async def failing_service_logs(ctx: StepContext, checks: list[str], lines: int = LOG_LINES) -> dict[str, list[str]]:
    """The last ``lines`` log lines of each service behind ``checks``, as the host has them
    (streamed to the step's output like any helper command's)."""
    if _is_swarm(ctx.config.target):
        from console.commands.swarm import SwarmCommands

        swarm = SwarmCommands.for_target(ctx.config.target)
        tail, what = (lambda service: swarm.logs_tail(service, lines)), "docker service logs"
    else:
        containers = ContainerCommands.for_target(ctx.config.target)
        tail, what = (lambda service: containers.logs_tail(lines, [service])), "docker logs"
    logs: dict[str, list[str]] = {}
    for service in services_for_checks(ctx.config, checks):
        result = await ctx.run(tail(service), timeout=60)
        text = result.stdout.splitlines()[-lines:] if result.ok else [f"({what} exited {result.exit_status})"]
        logs[service] = text
    return logs
