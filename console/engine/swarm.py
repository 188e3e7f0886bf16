"""The runbook's rollback and verification on a Docker Swarm stack (``[target] engine = "swarm"``).

The target is a swarm manager; ``project_name`` is the stack, ``project_dir`` holds its stack
file: the release bundle's compose file, pinned to the release's images, unpacked there.

Why ``docker stack deploy`` of the recorded release, and neither ``docker service rollback``
nor ``docker service update --image`` per service:

- ``docker service rollback`` returns each service to its *previous spec*, whatever that was:
  after a config tweak, a scale, a failed deploy or two deploys in a row it is not the
  known-good release, and it says nothing about services the newer release added or removed.
  The release log names a release that was captured, checked and marked good; the console
  deploys exactly that one.
- ``docker service update --image repo@digest`` per service changes only the image: the
  release's env files, commands, ports, replicas and services stay those of the newer
  release. The captured stack file is the whole release; ``--prune`` removes what it does not
  have.

Deploying returns immediately; the console then waits for convergence itself
(console.commands.swarm_state: replicas N/N, no update in flight or paused, every slot's newest
task running the recorded digest) and names the service that does not converge with its task
errors. Maintenance and the migration rollback run with ``docker exec`` in a running task of
the backend (console.commands.swarm), with the same order, schema check and skip reasons as the
compose rollback (console.engine.rollback, console.engine.migrations).
"""

from __future__ import annotations

import asyncio
import time

from console.commands.compose import migration_rollback_command
from console.commands.swarm import SwarmCommands
from console.commands.swarm_state import (
    Convergence,
    SwarmParseError,
    failed_tasks,
    judge_convergence,
    newest_per_slot,
    parse_service_inspect,
    parse_service_ps,
    parse_stack_services,
    runs_image,
)
from console.config import Config
from console.decide.runbook import optional_steps
from console.engine.context import StepContext
from console.engine.migrations import rollback_migration_steps
from console.engine.procedure import ActionResult, Procedure, Step
from console.engine.registry_pull import captured_digest
from console.engine.release_checks import release_preflight_steps
from console.engine.release_restore import load_images_step, restore_bundle_step
from console.engine.rollback import maintenance_steps, rollback_options, snapshot_note
from console.safetext import plain_line
from console.validate import require_tag

CONVERGE_POLL_SECONDS = 2.0
# A rolling update replaces tasks one by one, each waiting out the old one's stop grace period
# (10 s by default): the health wait alone (90 s) can be too short for a few replicas.
CONVERGE_MIN_SECONDS = 180.0


def converge_wait(config: Config) -> float:
    return max(float(config.thresholds.health_wait_seconds), CONVERGE_MIN_SECONDS)


def expected_digests(config: Config, release) -> dict[str, str]:
    """Swarm service -> what its tasks must run: the digest the release log recorded for its
    image when the release was pushed (a task resolved through the registry runs
    ``ref@digest``), else the recorded reference (images loaded from the tarball carry no
    digest on a task). Services without either are left out."""
    swarm = SwarmCommands.for_target(config.target)
    pushed = bool(getattr(release, "pushed", False))
    images = getattr(release, "images", None) or {}
    expected = {}
    for service in config.services:
        digest = captured_digest(release, service.image, service.name) if pushed else None
        entry = images.get(service.image) or images.get(service.name) or {}
        ref = entry.get("ref") if isinstance(entry, dict) else None
        if digest is not None:
            expected[swarm.service(service.name)] = digest
        elif isinstance(ref, str) and ref and not pushed:
            expected[swarm.service(service.name)] = ref
    return expected


async def read_stack(ctx: StepContext, *, with_specs: bool = True) -> tuple[list, list, dict]:
    """``stack services``, ``service inspect`` and each service's ``service ps``, parsed.

    Run quietly (captured, not streamed): a poll every 2 s must not flood the step's output.
    Raises :class:`SwarmParseError` (or says which command failed) when the manager's answer
    cannot be read."""
    swarm = SwarmCommands.for_target(ctx.config.target)
    names = [s.name for s in ctx.config.services]

    async def run(argv: list[str], what: str) -> str:
        result = await ctx.transport.run(argv, timeout=60, capture=True)
        if not result.ok:
            why = plain_line((result.stderr.strip().splitlines() or [f"exit {result.exit_status}"])[-1])[:300]
            raise SwarmParseError(f"{what} failed: {why}")
        return result.stdout

    services = parse_stack_services(await run(swarm.services(), "docker stack services"))
    present = {s.name for s in services}
    specs = []
    if with_specs and present:
        wanted = [n for n in names if swarm.service(n) in present]
        if wanted:
            specs = parse_service_inspect(await run(swarm.inspect(wanted), "docker service inspect"))
    tasks = {}
    for name in names:
        if swarm.service(name) in present:
            tasks[swarm.service(name)] = parse_service_ps(
                await run(swarm.service_ps(name), f"docker service ps {swarm.service(name)}")
            )
    return services, specs, tasks


async def _convergence(ctx: StepContext, digests: dict[str, str] | None) -> Convergence:
    swarm = SwarmCommands.for_target(ctx.config.target)
    services, specs, tasks = await read_stack(ctx)
    expected = [swarm.service(s.name) for s in ctx.config.services]
    return judge_convergence(expected, services, specs, tasks, digests)


async def wait_converged(
    ctx: StepContext, digests: dict[str, str] | None, wait: float, poll: float = CONVERGE_POLL_SECONDS
) -> ActionResult:
    """Poll the stack until it converged on the release (or ``wait`` ran out)."""
    deadline = time.monotonic() + wait
    shown = ""
    while True:
        try:
            result = await _convergence(ctx, digests)
        except SwarmParseError as exc:
            # a manager busy with the deploy can fail one read: ask again until the deadline
            if time.monotonic() >= deadline:
                return ActionResult(False, f"cannot read the stack's state: {exc}")
            if str(exc) != shown:
                ctx.emit_output("stderr", [str(exc)])
                shown = str(exc)
            await asyncio.sleep(poll)
            continue
        said = result.summary() or "converged"
        if said != shown:  # only changes: a 3-minute wait must not flood the log
            ctx.emit_output("stdout", [said])
            shown = said
        if result.converged or time.monotonic() >= deadline:
            break
        await asyncio.sleep(poll)
    detail = {"problems": result.problems, "task_errors": result.task_errors}
    if not result.converged:
        return ActionResult(False, f"the stack did not converge within {wait:g} s: {result.summary()}", detail)
    return ActionResult(True, f"every service converged ({len(ctx.config.services)} services)", detail)


async def verify_replicas(ctx: StepContext) -> ActionResult:
    swarm = SwarmCommands.for_target(ctx.config.target)
    try:
        services, _specs, _tasks = await read_stack(ctx, with_specs=False)
    except SwarmParseError as exc:
        return ActionResult(False, str(exc))
    by_name = {s.name: s for s in services}
    lines, problems = [], []
    for service in ctx.config.services:
        name = swarm.service(service.name)
        found = by_name.get(name)
        if found is None:
            problems.append(f"{name} is not in the stack")
            continue
        lines.append(f"{name}: {found.running}/{found.desired}")
        if not found.converged:
            problems.append(f"{name} has {found.running}/{found.desired} replicas")
    ctx.emit_output("stdout", lines)
    detail = {"replicas": {s.name: f"{s.running}/{s.desired}" for s in services}}
    if problems:
        return ActionResult(False, "; ".join(problems), detail)
    return ActionResult(True, "replicas N/N: " + ", ".join(lines), detail)


async def verify_tasks(ctx: StepContext, digests: dict[str, str]) -> ActionResult:
    """Every slot's newest task runs; no task of the deployed image failed or was rejected."""
    try:
        _services, _specs, tasks = await read_stack(ctx, with_specs=False)
    except SwarmParseError as exc:
        return ActionResult(False, str(exc))
    swarm = SwarmCommands.for_target(ctx.config.target)
    problems = []
    for service in ctx.config.services:
        name = swarm.service(service.name)
        history = tasks.get(name)
        if not history:
            problems.append(f"{name} has no tasks")
            continue
        for slot, task in sorted(newest_per_slot(history).items()):
            if task.desired != "running" or task.state != "running":
                problems.append(f"{slot} is {task.current} (desired {task.desired})")
        for task in failed_tasks(history, digests.get(name) if digests else None)[:3]:
            problems.append(f"{task.slot} {task.current}: {task.error or '(no error text)'}")
    if problems:
        return ActionResult(False, "failed or not running tasks: " + "; ".join(problems))
    return ActionResult(True, "every task runs, none of the deployed images failed")


async def verify_images(ctx: StepContext, digests: dict[str, str], tag: str | None) -> ActionResult:
    """Every running task runs the digest the release log recorded for ``tag``."""
    swarm = SwarmCommands.for_target(ctx.config.target)
    missing = [swarm.service(s.name) for s in ctx.config.services if swarm.service(s.name) not in digests]
    if missing:
        return ActionResult(
            False,
            f"the release log records no image digest (nor reference) of {tag or 'the deployed release'} for "
            f"{', '.join(missing)}: nothing to compare the running images with; check them by hand "
            "(docker service ps --no-trunc) and skip this step with a reason",
        )
    try:
        _services, _specs, tasks = await read_stack(ctx, with_specs=False)
    except SwarmParseError as exc:
        return ActionResult(False, str(exc))
    problems, lines = [], []
    for name, want in sorted(digests.items()):
        running = [t for t in newest_per_slot(tasks.get(name, [])).values() if t.state == "running"]
        if not running:
            problems.append(f"{name} has no running task")
        for task in running:
            lines.append(f"{task.slot}: {task.digest or task.image}")
            if not runs_image(task, want):
                problems.append(f"{task.slot} runs {task.image or '(no image)'}, the release log recorded {want}")
    ctx.emit_output("stdout", lines)
    detail = {"expected": digests, "running": lines}
    if problems:
        return ActionResult(False, "; ".join(problems), detail)
    return ActionResult(True, f"every running task runs {tag or 'the release'}'s recorded image", detail)


async def check_manager(ctx: StepContext) -> ActionResult:
    """The target must be a swarm manager: only a manager deploys a stack and knows every task."""
    result = await ctx.run(SwarmCommands.node_role(), timeout=60)
    if not result.ok:
        why = plain_line((result.stderr.strip().splitlines() or [f"exit {result.exit_status}"])[-1])[:300]
        return ActionResult(False, f"cannot ask docker whether this node is a swarm manager: {why}")
    state, _, manager = result.stdout.strip().partition(" ")
    if state != "active":
        return ActionResult(
            False,
            f"{ctx.config.target.host} is not in a swarm (docker says {state or 'nothing'}); "
            '[target] engine = "swarm" needs a swarm manager',
        )
    if manager.strip() != "true":
        return ActionResult(
            False, f"{ctx.config.target.host} is a swarm worker, not a manager: point [target] at a manager"
        )
    return ActionResult(True, "a swarm manager")


def swarm_verification_steps(config: Config, expected_version: str | None, digests: dict[str, str]) -> list[Step]:
    from console.engine.verification import health_and_smoke_steps

    swarm = SwarmCommands.for_target(config.target)
    names = [s.name for s in config.services]
    steps = [
        Step(
            "verify_replicas",
            "Every service has its replicas (docker stack services: N/N)",
            action=verify_replicas,
            display=" ".join(swarm.services()),
            read_only=True,
            together="verify",
        ),
        Step(
            "verify_tasks",
            "No failed tasks (docker service ps)",
            action=lambda ctx: verify_tasks(ctx, digests),
            display="; ".join(" ".join(swarm.service_ps(n)) for n in names),
            read_only=True,
            together="verify",
        ),
        Step(
            "verify_images",
            f"Running tasks run {expected_version or 'the release'}'s recorded digests",
            action=lambda ctx: verify_images(ctx, digests, expected_version),
            display="image of each running task (docker service ps --no-trunc) vs the release log's digests",
            read_only=True,
            together="verify",
        ),
        Step(
            "verify_logs",
            "Recent logs (docker service logs --tail 50)",
            argv=swarm.logs_tail_all(names, 50),
            read_only=True,
            timeout=120,
            together="verify",
        ),
    ]
    return steps + health_and_smoke_steps(config, expected_version)


def swarm_rollback_procedure(
    config: Config, release_log, from_tag: str | None, to_tag: str, *, migration_order: str | None = None
) -> Procedure:
    require_tag(to_tag)
    if from_tag is not None:
        require_tag(from_tag)
    target = config.target
    swarm = SwarmCommands.for_target(target)
    cmds = config.commands
    backend = config.backend.name
    order = migration_order or cmds.migration_order
    release = release_log.get(to_tag)
    target_head = release.migration_head if release is not None else None
    use_registry = bool(release is not None and release.pushed)
    recorded = dict(release.files) if release is not None else {}
    digests = expected_digests(config, release)
    optional = optional_steps(config.paths.runbook)
    snapshot = snapshot_note(release, to_tag)
    wait = converge_wait(config)

    steps = swarm_preflight_steps(config, release, to_tag, recorded, use_registry)

    def migrate_argv(head: str) -> list[str]:
        return swarm.exec_in_task(backend, migration_rollback_command(cmds.migrate_rollback, head))

    # "exec": no one-off container on a swarm, a running task of the backend
    schema_step, migrate_step = rollback_migration_steps(
        config, to_tag, from_tag, target_head, order, optional, via="exec", rollback_argv=migrate_argv, show=" ".join
    )
    if order == "before_down":
        steps.append(schema_step)
    maintenance_on, maintenance_off = maintenance_steps(
        config,
        optional,
        snapshot,
        on_argv=lambda: swarm.exec_in_task(backend, cmds.maintenance_on),
        off_argv=lambda: swarm.exec_in_task(backend, cmds.maintenance_off),
        how=" (exec in a running backend task)",
    )
    steps.append(maintenance_on)
    if order == "before_down":
        steps.append(migrate_step)
    steps += stack_deploy_steps(config, swarm, to_tag, use_registry, preview=lambda ctx: snapshot)
    steps.append(converge_step(swarm, to_tag, digests, wait))
    if order == "after_up":
        steps += [schema_step, migrate_step]
    steps.append(maintenance_off)
    steps += swarm_verification_steps(config, to_tag, digests)
    return Procedure(
        "rollback",
        steps,
        from_tag=from_tag,
        to_tag=to_tag,
        options={"engine": "swarm", **rollback_options(release, order)},
    )


def swarm_preflight_steps(config: Config, release, tag: str, recorded: dict, use_registry: bool) -> list[Step]:
    """Read-only, before anything changes (rollback and hotfix alike): the manager, the release's
    artifacts and bundle, and its images (or room to load them)."""
    manager = Step(
        "swarm_manager",
        f"{config.target.host} is a swarm manager",
        action=check_manager,
        display=" ".join(SwarmCommands.node_role()),
        read_only=True,
        preflight=True,
        together="preflight",
    )
    return [
        manager,
        *release_preflight_steps(
            config, release, tag, recorded, use_registry, node="manager", bundle="holds the stack file"
        ),
    ]


def stack_deploy_steps(config: Config, swarm: SwarmCommands, tag: str, use_registry: bool, preview=None) -> list[Step]:
    """The release's stack file into project_dir, its images loaded when it was not pushed, and
    ``docker stack deploy``."""
    steps = [
        restore_bundle_step(
            config, tag, f"Unpack the {tag} stack file into {config.target.project_dir}", preview=preview
        )
    ]
    if not use_registry:  # a single-node swarm: the images come from the tarball, not a registry
        steps.append(load_images_step(config, tag, f"Load {tag} images from the tarball (this node only)"))
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
    return steps


def converge_step(swarm: SwarmCommands, tag: str, digests: dict, wait: float) -> Step:
    return Step(
        "wait_converged",
        f"Wait for every service to converge on {tag} (up to {wait:g} s)",
        action=lambda ctx: wait_converged(ctx, digests or None, wait),
        display=f"poll {' '.join(swarm.services())}, docker service inspect and docker service ps "
        f"every {CONVERGE_POLL_SECONDS:g} s",
        read_only=True,
        timeout=wait + 120,
    )


def swarm_verify_procedure(config: Config, expected_version: str | None, release_log=None) -> Procedure:
    """Runbook section 5 on a swarm: replicas, tasks, images (when the release log has the
    release's digests), logs, health, metrics, smoke tests."""
    if release_log is None:
        from console.release.release_log import ReleaseLog

        release_log = ReleaseLog.load(config.paths.release_log)
    release = release_log.get(expected_version) if expected_version else None
    digests = expected_digests(config, release) if release is not None else {}
    steps = swarm_verification_steps(config, expected_version, digests)
    return Procedure("verify", steps, to_tag=expected_version, options={"engine": "swarm"})
