"""A code hotfix on a swarm stack: deploy the hotfix release's stack the way the swarm rollback
deploys a release (console.engine.swarm), then watch its health for the monitoring window.

A configuration hotfix (edit an env file, recreate one service) has no swarm form here: a
stack's env files are read by the client at ``docker stack deploy`` time, so the change would
be a new deploy of an edited stack file that no release captured. It is refused, saying so.
"""

from __future__ import annotations

from console.commands.swarm import SwarmCommands
from console.config import Config
from console.engine.procedure import Procedure
from console.engine.swarm import (
    converge_step,
    converge_wait,
    expected_digests,
    stack_deploy_steps,
    swarm_preflight_steps,
    swarm_verification_steps,
)

CONFIG_HOTFIX_REFUSED = (
    'a configuration hotfix cannot be applied to a swarm stack ([target] engine = "swarm"): its env '
    "files are read when the stack is deployed; capture a release with the fix and deploy it with "
    "incident-console hotfix --tag TAG"
)


def swarm_code_hotfix_procedure(
    config: Config, log, from_tag: str | None, tag: str, monitor_minutes: float | None = None
) -> Procedure:
    from console.engine.hotfix import hotfix_options, hotfix_release, monitor_step, staging_steps, team_deploy_step

    release = hotfix_release(log, tag)
    minutes = monitor_minutes if monitor_minutes is not None else config.thresholds.monitor_minutes
    target = config.target
    swarm = SwarmCommands.for_target(target)
    use_registry = bool(release.pushed)
    recorded = dict(release.files)
    digests = expected_digests(config, release)
    wait = converge_wait(config)
    steps = swarm_preflight_steps(config, release, tag, recorded, use_registry)
    steps += staging_steps(config, release, tag, recorded, use_registry)
    if deploy := config.commands.deploy:
        steps.append(team_deploy_step(config, tag, deploy))
    else:
        steps += stack_deploy_steps(config, swarm, tag, use_registry)
    steps += [converge_step(swarm, tag, digests, wait), monitor_step(config, tag, minutes)]
    steps += swarm_verification_steps(config, tag, digests)
    return Procedure(
        "code_hotfix",
        steps,
        from_tag=from_tag,
        to_tag=tag,
        options={"engine": "swarm", **hotfix_options(config, minutes, use_registry)},
    )
