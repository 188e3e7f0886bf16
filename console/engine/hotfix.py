"""The runbook's two hotfix outcomes as procedures.

Code hotfix (section 4): the fix is built, tagged HOTFIX_TAG and captured like any
release; deploying it restores its bundle and images, starts it, then watches
health for the monitoring window. Configuration hotfix (decision tree, second
outcome): change env-file keys on the host (the old file kept beside it, values
never shown or journaled) or run a feature-flag command, recreate only the
affected service, verify health; undo restores the kept file.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import cast

from console.commands import artifacts as art
from console.commands import envfile
from console.commands.compose import ComposeCommands
from console.commands.deploy import team_deploy
from console.commands.swarm import is_swarm
from console.config import Config
from console.engine.context import StepContext
from console.engine.procedure import ActionResult, Procedure, Step
from console.engine.registry_pull import pull_steps
from console.engine.release_checks import release_preflight_steps, verify_artifacts_step
from console.engine.release_restore import load_images_step, restore_bundle_step
from console.engine.verification import smoke_test_steps, verification_steps, wait_for_health
from console.http_clients import async_client
from console.incident.records import ProcedureStarted
from console.live.health import check_all
from console.secrets import Secret
from console.validate import UnsafeValue, require_env_key, require_tag


async def monitor_health(ctx: StepContext, expected_version: str | None, minutes: float) -> ActionResult:
    """Watch every check for the window; any failing round fails the step (after the first OK)."""
    first = await wait_for_health(ctx, expected_version)
    if not first.ok:
        return first
    from console.observability.steps import monitor_metrics  # [[metrics]] are watched for the same window

    metrics = asyncio.create_task(monitor_metrics(ctx, minutes * 60, expected_version))
    deadline = time.monotonic() + minutes * 60
    rounds = failures = 0
    interval = min((h.interval for h in ctx.config.health), default=5.0)
    try:
        async with async_client(trust_env=False) as client:
            while time.monotonic() < deadline:
                await asyncio.sleep(min(interval, max(0.0, deadline - time.monotonic())))
                results = await check_all(ctx.config.health, client, expected_version)
                rounds += 1
                bad = [f"{r.check}: {r.reason}" for r in results if not r.ok]
                if bad:
                    failures += 1
                    ctx.emit_output("stderr", bad)
        watched = await metrics
    finally:
        metrics.cancel()  # no-op once done; an aborted monitor must not leave it polling
    detail = {"rounds": rounds, "failed_rounds": failures, "minutes": minutes}
    extra = ""
    if watched is not None:
        detail["metrics"] = watched.detail.get("metrics", [])
        extra = f"; {watched.message}"
    if failures:
        return ActionResult(False, f"health failed in {failures} of {rounds} rounds while monitoring{extra}", detail)
    if watched is not None and not watched.ok:
        return ActionResult(False, f"health OK in all {rounds} rounds, but {watched.message}", detail)
    return ActionResult(True, f"health OK in all {rounds} rounds over {minutes:g} min{extra}", detail)


_FROM_LOG = object()


def build_code_hotfix(
    config: Config, tag: str, monitor_minutes: float | None = None, *, running: str | None | object = _FROM_LOG
) -> Procedure:
    """``running``: what the host runs (console.release.deployed); the hotfix replaces that, not the log's idea."""
    from console.release.release_log import ReleaseLog

    log = ReleaseLog.load(config.paths.release_log)
    deployed = log.deployed if running is _FROM_LOG else cast("str | None", running)
    from console.engine.fleet_procedure import for_fleet

    return for_fleet(config, lambda c: code_hotfix_procedure(c, log, deployed, tag, monitor_minutes))


def code_hotfix_procedure(
    config: Config, log, from_tag: str | None, tag: str, monitor_minutes: float | None = None
) -> Procedure:
    if is_swarm(config.target):
        from console.engine.swarm_hotfix import swarm_code_hotfix_procedure

        return swarm_code_hotfix_procedure(config, log, from_tag, tag, monitor_minutes)
    release = hotfix_release(log, tag)
    minutes = monitor_minutes if monitor_minutes is not None else config.thresholds.monitor_minutes
    target = config.target
    compose = ComposeCommands.for_target(target)
    use_registry = bool(release.pushed)
    recorded = dict(release.files)
    # The same checks as a rollback's: a pruned image found at `docker pull`, or a full disk at
    # `docker load`, is better found before anything on the host changes.
    steps = release_preflight_steps(config, release, tag, recorded, use_registry)
    steps += staging_steps(config, release, tag, recorded, use_registry)
    if deploy := config.commands.deploy:
        # The team's own deploy (runbook: "deploy via ./deploy.sh") replaces the console's bundle restore.
        steps.append(team_deploy_step(config, tag, deploy))
    else:
        steps.append(restore_bundle_step(config, tag, f"Restore the {tag} compose bundle"))
        if use_registry:
            steps += pull_steps(config, release, tag)
        else:
            steps.append(load_images_step(config, tag, f"Load {tag} images"))
        steps.append(
            Step(
                "compose_up",
                f"Deploy {tag} (compose up -d)",
                argv=compose.up_detached(),
                destructive=True,
                mutating=True,
                timeout=600,
            )
        )
    steps.append(monitor_step(config, tag, minutes))
    # verify_health after the monitor window is instant, and it is the check the verification
    # screen and the report look for.
    steps += verification_steps(config, tag)
    return Procedure(
        "code_hotfix",
        steps,
        from_tag=from_tag,
        to_tag=tag,
        options=hotfix_options(config, minutes, use_registry),
    )


def hotfix_options(config: Config, minutes: float, use_registry: bool) -> dict:
    """What a code hotfix journals about itself (a resume rebuilds from it), compose and swarm alike."""
    return {
        "monitor_minutes": minutes,
        "use_registry": use_registry,
        "deploy": "team_command" if config.commands.deploy else "bundle",
    }


def hotfix_release(log, tag: str):
    """The hotfix's release log entry: a hotfix is deployed only as a captured release."""
    require_tag(tag)
    release = log.get(tag)
    if release is None:
        raise ValueError(
            f"hotfix {tag} is not in the release log: build it, then "
            f"`incident-console capture --tag {tag}` before deploying"
        )
    return release


def team_deploy_step(config: Config, tag: str, command: list[str]) -> Step:
    """``command`` (``[commands] deploy``): the team's own deploy of ``tag`` in the project directory."""
    target = config.target
    return Step(
        "team_deploy",
        f"Deploy {tag} with the team's deploy command",
        argv=team_deploy(target.project_dir, command, tag),
        destructive=True,
        mutating=True,
        timeout=max(target.command_timeout, 1800),
    )


def monitor_step(config: Config, tag: str, minutes: float) -> Step:
    """Runbook section 4: watch health (and ``[[metrics]]``) for the monitoring window."""
    return Step(
        "monitor",
        f"Monitor health for {minutes:g} min (one full request cycle)",
        action=lambda ctx: monitor_health(ctx, tag, minutes),
        display=", ".join(h.url for h in config.health),
        read_only=True,
        # a metrics check still settling when the window ends is watched up to its own window more
        timeout=minutes * 60 + 180 + 60 * max((m.window_minutes for m in config.observability.metrics), default=0),
    )


def staging_steps(config: Config, release, tag: str, recorded: dict[str, str], use_registry: bool) -> list[Step]:
    """Runbook section 4, "validate on staging": the hotfix's images and compose file on the staging
    target (which keeps its own env files: production secrets never go there), then its health and
    smoke tests. A failure stops the hotfix before production is touched."""
    if config.staging is None:
        return [
            Step(
                "validate_staging",
                "Validate on staging",
                action=_no_staging,
                display="(staging target)",
                when=lambda ctx: "no [staging] target is configured; nothing was validated on staging",
            )
        ]
    staging = config.on_staging()
    where = staging.target
    compose = ComposeCommands.for_target(where)
    steps = [
        replace(
            verify_artifacts_step(staging, tag, recorded, use_registry),
            id="staging_verify_artifacts",
            title=f"Staging: verify {tag} artifacts",
            host="staging",
            together="",  # never at once with production's checks: another host, another link
        ),
        Step(
            "staging_compose_file",
            f"Staging: put the {tag} compose file in {where.project_dir}",
            argv=art.extract_bundle_member(
                where.artifacts_dir,
                tag,
                where.project_dir,
                list(config.capture.compose_files or [config.capture.compose_file]),
            ),
            mutating=True,
            host="staging",
        ),
    ]
    if use_registry:
        steps += pull_steps(config, release, tag, id_prefix="staging_", title_prefix="Staging: ", host="staging")
    else:
        steps.append(
            replace(
                load_images_step(staging, tag, f"Staging: load {tag} images"), id="staging_load_images", host="staging"
            )
        )
    steps += [
        Step(
            "staging_up",
            f"Staging: start {tag} (compose up -d)",
            argv=compose.up_detached(),
            mutating=True,
            timeout=600,
            host="staging",
        ),
        Step(
            "staging_health",
            f"Staging: health checks report {tag}",
            action=lambda ctx: wait_for_health(ctx, tag),
            display=", ".join(h.url for h in staging.health),
            read_only=True,
            host="staging",
        ),
    ]
    steps += [
        replace(step, id=f"staging_{step.id}", title=f"Staging: {step.title.lower()}", host="staging")
        for step in smoke_test_steps(staging)
    ]
    return steps


async def _no_staging(ctx: StepContext) -> ActionResult:
    # Only reached if the skip condition above ever changes: never claim a validation that did not happen.
    return ActionResult(False, "no staging target is configured: nothing was validated")


def env_file_for(config: Config, service: str, env_file: str | None) -> str:
    names = {s.name: s for s in config.services}
    if service not in names:
        raise ValueError(f"unknown service {service!r}; configured: {', '.join(names)}")
    relative = env_file or f"{names[service].role if names[service].role != 'other' else service}/.env"
    if relative.startswith("/") or ".." in relative.split("/"):
        raise UnsafeValue(f"refusing env file {relative!r}: give a path inside the project directory")
    return f"{config.target.project_dir.rstrip('/')}/{relative}"


def build_config_hotfix(
    config: Config,
    *,
    service: str,
    env_file: str | None,
    keys: list[str],
    flag_command: list[str] | None,
    undo_incident: str | None,
    incident_id: str | None = None,
    environ: dict[str, str] | None = None,
    values: Mapping[str, Secret] | None = None,
) -> Procedure:
    """A configuration hotfix (``--set``, ``--flag`` or ``--undo``); on a fleet, every host's env file."""
    from console.engine.fleet_procedure import for_fleet

    return for_fleet(
        config,
        lambda c: _config_hotfix_on_host(
            c,
            service=service,
            env_file=env_file,
            keys=keys,
            flag_command=flag_command,
            undo_incident=undo_incident,
            incident_id=incident_id,
            environ=environ,
            values=values,
        ),
    )


def _config_hotfix_on_host(
    config: Config,
    *,
    service: str,
    env_file: str | None,
    keys: list[str],
    flag_command: list[str] | None,
    undo_incident: str | None,
    incident_id: str | None = None,
    environ: dict[str, str] | None = None,
    values: Mapping[str, Secret] | None = None,
) -> Procedure:
    """``values``: keys whose new value was typed (the TUI's masked entry); the others come from
    ``environ`` (the console's environment), never from the command line."""
    if is_swarm(config.target):
        from console.engine.swarm_hotfix import CONFIG_HOTFIX_REFUSED

        raise ValueError(CONFIG_HOTFIX_REFUSED)
    env = os.environ if environ is None else environ
    compose = ComposeCommands.for_target(config.target)
    path = env_file_for(config, service, env_file)
    steps: list[Step] = []
    if undo_incident:
        steps.append(
            Step(
                "restore_env",
                f"Restore {path} as it was before incident {undo_incident}",
                argv=envfile.restore_env_file(path, undo_incident),
                destructive=True,
                mutating=True,
            )
        )
    elif flag_command:
        steps.append(
            Step(
                "feature_flag",
                "Run the feature-flag command",
                argv=compose.in_service("exec", service, flag_command),
                destructive=True,
                mutating=True,
            )
        )
    else:
        if not keys:
            raise ValueError("name the keys to change with --set KEY (values come from the environment)")
        if incident_id is None:
            raise ValueError("a configuration hotfix needs its incident id to name the kept env file")
        typed, values = dict(values or {}), {}
        for key in keys:
            require_env_key(key)
            if key in typed:
                values[key] = typed[key]
                continue
            if key not in env:
                raise ValueError(f"--set {key}: export {key}=<new value> first; values never go on the command line")
            values[key] = Secret(env[key], source=f"env:{key}")
        steps += [
            Step(
                "backup_env",
                f"Keep the current {path} beside it",
                argv=envfile.backup_env_file(path, incident_id),
                mutating=True,
            ),
            Step(
                "set_env_keys",
                f"Set {', '.join(keys)} in {path} (values not shown)",
                argv=envfile.set_env_keys(path, keys),
                stdin=envfile.set_keys_stdin(values),
                destructive=True,
                mutating=True,
            ),
        ]
    if not flag_command:
        steps.append(
            Step(
                "recreate",
                f"Recreate {service} so it reads the new configuration",
                argv=compose.recreate([service]),
                mutating=True,
                timeout=600,
            )
        )
    steps += verification_steps(config, None)
    return Procedure(
        "config_hotfix",
        steps,
        options={
            "service": service,
            "env_file": path,
            "env_file_arg": env_file,
            "keys": list(keys),
            "flag_command": flag_command,
            "undo_incident": undo_incident,
        },
    )


def rebuild_hotfix(config: Config, log, name: str, started: ProcedureStarted, options: dict) -> Procedure:
    if name == "code_hotfix":
        if started.to_tag is None:
            raise ValueError("the code hotfix's journal names no tag to deploy; nothing to resume")
        return code_hotfix_procedure(config, log, started.from_tag, started.to_tag, options.get("monitor_minutes"))
    if name == "config_hotfix":
        if options.get("keys") and not options.get("undo_incident"):
            # The values were never written down, so the edit cannot be replayed blindly.
            raise ValueError(
                "a configuration hotfix that sets keys cannot be resumed: its values are not "
                "journaled; run config-hotfix again (the first backup is kept)"
            )
        return build_config_hotfix(
            config,
            service=options["service"],
            env_file=options.get("env_file_arg"),
            keys=[],
            flag_command=options.get("flag_command"),
            undo_incident=options.get("undo_incident"),
        )
    raise ValueError(f"cannot resume a {name} procedure")
