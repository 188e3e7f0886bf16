"""A code hotfix on a swarm stack: deploy the hotfix release's stack the way the swarm rollback
deploys a release (console.engine.swarm), then watch its health for the monitoring window.

A configuration hotfix (edit an env file, recreate one service) has no swarm form here: a
stack's env files are read by the client at ``docker stack deploy`` time, so the change would
be a new deploy of an edited stack file that no release captured. It is refused, saying so.
"""

from __future__ import annotations

from console.commands.deploy import team_deploy
from console.commands.swarm import SwarmCommands
from console.config import Config
from console.engine.procedure import Procedure, Step
from console.engine.swarm import (
    converge_step,
    converge_wait,
    expected_digests,
    stack_deploy_steps,
    swarm_preflight_steps,
    swarm_verification_steps,
)
from console.validate import require_tag

CONFIG_HOTFIX_REFUSED = (
    'a configuration hotfix cannot be applied to a swarm stack ([target] engine = "swarm"): its env '
    "files are read when the stack is deployed; capture a release with the fix and deploy it with "
    "incident-console hotfix --tag TAG"
)


def swarm_code_hotfix_procedure(
    config: Config, log, from_tag: str | None, tag: str, monitor_minutes: float | None = None
) -> Procedure:
    from console.engine.hotfix import monitor_health, staging_steps

    require_tag(tag)
    release = log.get(tag)
    if release is None:
        raise ValueError(
            f"hotfix {tag} is not in the release log: build it, then "
            f"`incident-console capture --tag {tag}` before deploying"
        )
    minutes = monitor_minutes if monitor_minutes is not None else config.thresholds.monitor_minutes
    target = config.target
    swarm = SwarmCommands.for_target(target)
    use_registry = bool(release.pushed)
    recorded = dict(release.files)
    digests = expected_digests(config, release)
    wait = converge_wait(config)
    steps = swarm_preflight_steps(config, release, tag, recorded, use_registry)
    steps += staging_steps(config, release, tag, recorded, use_registry)
    if config.commands.deploy:
        steps.append(
            Step(
                "team_deploy",
                f"Deploy {tag} with the team's deploy command",
                argv=team_deploy(target.project_dir, config.commands.deploy, tag),
                destructive=True,
                mutating=True,
                timeout=max(target.command_timeout, 1800),
            )
        )
    else:
        steps += stack_deploy_steps(config, swarm, tag, use_registry)
    steps += [
        converge_step(swarm, tag, digests, wait),
        Step(
            "monitor",
            f"Monitor health for {minutes:g} min (one full request cycle)",
            action=lambda ctx: monitor_health(ctx, tag, minutes),
            display=", ".join(h.url for h in config.health),
            read_only=True,
            timeout=minutes * 60 + 180 + 60 * max((m.window_minutes for m in config.observability.metrics), default=0),
        ),
    ]
    steps += swarm_verification_steps(config, tag, digests)
    return Procedure(
        "code_hotfix",
        steps,
        from_tag=from_tag,
        to_tag=tag,
        options={
            "engine": "swarm",
            "monitor_minutes": minutes,
            "use_registry": use_registry,
            "deploy": "team_command" if config.commands.deploy else "bundle",
        },
    )
