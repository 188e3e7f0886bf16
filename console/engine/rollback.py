"""The runbook's Rollback Procedure (section 3) as steps, plus its verification (section 5).

Default order (``migration_order = "before_down"``): the migration rollback runs with
the release being rolled back from, before ``down``, because only the newer code
knows its migrations' down steps. ``"after_up"`` keeps the seed's order.

What changes nothing the running stack uses comes before ``maintenance_on``, the first
disruptive step, so it stays out of the downtime window (docs/BENCHMARKS.md): the read-only
schema check (``before_down``; ``after_up`` checks with the target's containers, so after up)
and the registry pulls, by captured digest, tagged with the target's tag that nothing running
uses. The destructive steps keep their order.
"""

from __future__ import annotations

from collections.abc import Callable

from console.commands.compose import ComposeCommands, Via
from console.config import Config
from console.decide.runbook import optional_steps
from console.engine.image_checks import skip_pull_if_on_host
from console.engine.migrations import rollback_migration_steps
from console.engine.procedure import SKIPPED_OPTIONAL, Procedure, Step
from console.engine.registry_pull import pull_steps
from console.engine.release_checks import release_preflight_steps
from console.engine.release_restore import load_images_step, restore_bundle_step
from console.engine.switches import MAINTENANCE_OFF, switched_off
from console.engine.verification import verification_steps
from console.validate import require_tag


class RollbackTargetError(ValueError):
    """No usable rollback target (unknown tag, none before the deployed one, bad release)."""


def choose_target(release_log, deployed: str | None, to_tag: str | None) -> str:
    """``--to`` if given (validated and known), else the newest good release before the deployed one."""
    if to_tag is not None:
        require_tag(to_tag)
        if release_log.get(to_tag) is None:
            raise RollbackTargetError(
                f"release {to_tag} is not in the release log; capture it first "
                f"or pick one of: {', '.join(r.tag for r in release_log.releases)}"
            )
        if to_tag == deployed:
            raise RollbackTargetError(f"{to_tag} is already the deployed release")
        return to_tag
    if deployed is None:
        raise RollbackTargetError("the release log does not say which release is deployed; give --to TAG")
    previous = release_log.previous_good(deployed)
    if previous is None:
        raise RollbackTargetError(f"no release before {deployed} that is not marked bad; give --to TAG")
    return previous.tag


def rollback_procedure(
    config: Config, release_log, from_tag: str | None, to_tag: str, *, migration_order: str | None = None
) -> Procedure:
    require_tag(to_tag)
    if from_tag is not None:
        require_tag(from_tag)
    target = config.target
    compose = ComposeCommands.for_target(target)
    backend = config.backend.name
    order = migration_order or config.commands.migration_order
    release = release_log.get(to_tag)
    target_head = release.migration_head if release is not None else None
    use_registry = bool(release is not None and release.pushed)
    recorded = dict(release.files) if release is not None else {}
    cmds = config.commands
    via_run = cmds.service_command_mode  # "run" (one-off container) or "exec" (running container)
    optional = optional_steps(config.paths.runbook)
    snapshot = snapshot_note(release, to_tag)

    steps = release_preflight_steps(config, release, to_tag, recorded, use_registry)
    via_status: Via = via_run if order == "before_down" else "exec"

    def migrate_argv(head: str) -> list[str]:
        return compose.migrate_rollback(backend, cmds.migrate_rollback, head, via=via_status)

    schema_step, migrate_step = rollback_migration_steps(
        config, to_tag, from_tag, target_head, order, optional, via=via_status, rollback_argv=migrate_argv
    )
    if order == "before_down":
        steps.append(schema_step)
    if use_registry:
        pulls = pull_steps(config, release, to_tag)
        for step in pulls:  # an image on the host by its digest needs no registry
            if step.id.startswith("pull_") and step.when is None:
                step.when = skip_pull_if_on_host(step.id[len("pull_") :])
        steps += pulls
    maintenance_on, maintenance_off = maintenance_steps(
        config,
        optional,
        snapshot,
        on_argv=lambda: compose.maintenance_on(backend, cmds.maintenance_on, via=via_run),
        off_argv=lambda: compose.maintenance_off(backend, cmds.maintenance_off, via=via_run),
    )
    steps.append(maintenance_on)
    if order == "before_down":
        steps.append(migrate_step)
    steps += [
        Step(
            "compose_down",
            "Stop the current stack (compose down, volumes kept)",
            argv=compose.down(),
            destructive=True,
            mutating=True,
            timeout=300,
            preview=lambda ctx: snapshot,
        ),
        restore_bundle_step(config, to_tag, f"Restore the {to_tag} compose bundle"),
    ]
    if not use_registry:
        steps.append(load_images_step(config, to_tag, f"Load {to_tag} images from the tarball"))
    steps.append(
        Step("compose_up", f"Start {to_tag} (compose up -d)", argv=compose.up_detached(), mutating=True, timeout=600)
    )
    if order == "after_up":
        steps += [schema_step, migrate_step]
    steps.append(maintenance_off)
    steps += verification_steps(config, to_tag)
    return Procedure(
        "rollback",
        steps,
        from_tag=from_tag,
        to_tag=to_tag,
        options=rollback_options(release, order),
    )


def rollback_options(release, order: str) -> dict:
    """What a rollback journals about the release it rolls back to (a resume rebuilds from it),
    compose and swarm alike; ``release`` is None when the release log has no entry."""
    return {
        "migration_order": order,
        "use_registry": bool(release is not None and release.pushed),
        "target_migration_head": release.migration_head if release is not None else None,
        "target_snapshot_verified": bool(release is not None and release.verified),
    }


def snapshot_note(release, tag: str) -> str:
    """Whether the target release's database snapshot was verified at capture (release log)."""
    if release is None:
        return f"Database snapshot of {tag}: unknown (no release log entry)."
    method = release.extra.get("db_check")
    how = f" ({method})" if isinstance(method, str) and method else ""
    if release.verified:
        return f"Database snapshot of {tag}: verified at capture{how}."
    return (
        f"Database snapshot of {tag}: NOT verified at capture{how or ' (no check recorded)'}; "
        "a restore from it is unproven."
    )


def maintenance_steps(
    config: Config,
    optional: dict[str, str],
    snapshot: str,
    *,
    on_argv: Callable[[], list[str]],
    off_argv: Callable[[], list[str]],
    how: str = "",
) -> tuple[Step, Step]:
    """``maintenance_on`` and ``maintenance_off`` (or both switched off), compose and swarm alike:
    ``on_argv``/``off_argv`` build the engine's commands, ``how`` says in the titles where they run."""
    if not config.commands.maintenance:
        return (
            switched_off("maintenance_on", "Switch traffic to maintenance", MAINTENANCE_OFF),
            switched_off("maintenance_off", "Re-enable traffic", MAINTENANCE_OFF),
        )
    return (
        Step(
            "maintenance_on",
            f"Switch traffic to maintenance{how}",
            argv=on_argv(),
            destructive=True,
            mutating=True,
            optional=optional.get("maintenance_on", ""),
            preview=lambda ctx: snapshot,
        ),
        Step(
            "maintenance_off",
            f"Re-enable traffic{how}",
            argv=off_argv(),
            mutating=True,
            when=_maintenance_was_skipped,
        ),
    )


def _maintenance_was_skipped(ctx) -> str | None:
    if "maintenance_on" in ctx.state.get(SKIPPED_OPTIONAL, ()):
        return "traffic was never switched to maintenance (that optional step was skipped)"
    return None
