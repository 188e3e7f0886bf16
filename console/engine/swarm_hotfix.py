"""A code hotfix on a swarm stack: deploy the hotfix release's stack the way the swarm rollback
deploys a release (console.engine.swarm), then watch its health for the monitoring window.

A configuration hotfix (edit an env file, recreate one service) has no swarm form here: a
stack's env files are read by the client at ``docker stack deploy`` time, so the change would
be a new deploy of an edited stack file that no release captured. It is refused, saying so.
"""

from __future__ import annotations

from console.commands import artifacts as art
from console.commands.deploy import team_deploy
from console.commands.swarm import SwarmCommands
from console.config import Config
from console.engine.artifact_checks import verify_bundle_members, verify_release_artifacts
from console.engine.disk_space import check_space_for_images
from console.engine.image_checks import check_release_images
from console.engine.procedure import Procedure, Step
from console.engine.swarm import (
    CONVERGE_POLL_SECONDS,
    check_manager,
    converge_wait,
    expected_digests,
    swarm_verification_steps,
    wait_converged,
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
    steps = [
        Step(
            "swarm_manager",
            f"{target.host} is a swarm manager",
            action=check_manager,
            display=" ".join(SwarmCommands.node_role()),
            read_only=True,
            preflight=True,
        ),
        Step(
            "verify_artifacts",
            f"Verify {tag} artifacts (SHA256SUMS + release log)",
            action=lambda ctx: verify_release_artifacts(ctx, tag, recorded, use_registry),
            display=f"sha256sum {art.bundle_path(target.artifacts_dir, tag)} vs SHA256SUMS.txt and the release log",
            read_only=True,
            preflight=True,
        ),
        Step(
            "inspect_bundle",
            f"Inspect {tag}-compose.tar.gz (holds the stack file)",
            action=lambda ctx: verify_bundle_members(ctx, tag),
            display=" ".join(art.list_bundle(target.artifacts_dir, tag)),
            read_only=True,
            preflight=True,
        ),
        Step(
            "images_available",
            f"{tag}'s images are on the manager or in the registry",
            action=lambda ctx: check_release_images(ctx, release, tag),
            display=f"docker image inspect / docker manifest inspect for each {tag} image",
            read_only=True,
            preflight=True,
        )
        if use_registry
        else Step(
            "disk_space",
            f"Room on the manager to load {tag}'s images",
            action=lambda ctx: check_space_for_images(ctx, tag),
            display=f"df -Pk <docker root dir> vs the size of {art.images_path(target.artifacts_dir, tag)}",
            read_only=True,
            preflight=True,
        ),
    ]
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
        steps.append(
            Step(
                "restore_bundle",
                f"Unpack the {tag} stack file into {target.project_dir}",
                argv=art.extract_bundle(target.artifacts_dir, tag, target.project_dir),
                destructive=True,
                mutating=True,
            )
        )
        if not use_registry:
            steps.append(
                Step(
                    "load_images",
                    f"Load {tag} images from the tarball (this node only)",
                    argv=art.docker_load(target.artifacts_dir, tag),
                    mutating=True,
                    timeout=900,
                )
            )
        steps.append(
            Step(
                "stack_deploy",
                f"Deploy {tag}'s stack (docker stack deploy --prune)",
                argv=swarm.deploy("always" if use_registry else "never"),
                destructive=True,
                mutating=True,
                timeout=600,
            )
        )
    steps += [
        Step(
            "wait_converged",
            f"Wait for every service to converge on {tag} (up to {wait:g} s)",
            action=lambda ctx: wait_converged(ctx, digests or None, wait),
            display=f"poll {' '.join(swarm.services())}, docker service inspect and docker service ps "
            f"every {CONVERGE_POLL_SECONDS:g} s",
            read_only=True,
            timeout=wait + 120,
        ),
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
