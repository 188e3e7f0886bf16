"""Compare the database's schema with the target release before rolling migrations back.

The seed runs ``migrate:rollback`` inside the *old* release after ``up``, but old
code cannot know the newer migrations' down steps. So by default the rollback runs
with the release being rolled back from, before ``down``; this module works out
what that rollback will undo, so the coordinator sees it first.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from console.commands.compose import ComposeCommands, Via
from console.commands.containers import ContainerCommands, no_container_message, shown
from console.commands.swarm import is_swarm as _is_swarm
from console.config import Config
from console.engine.context import StepContext
from console.engine.fleet_ids import host_step_id
from console.engine.procedure import ActionResult, Step
from console.engine.switches import MIGRATIONS_OFF, switched_off
from console.incident.records import MigrationPlanned, Note
from console.safetext import plain_text

PLAN_KEY = "migration_plan"


@dataclass
class MigrationPlan:
    applied: list[str]
    target_head: str | None
    undo: list[str] = field(default_factory=list)
    known: bool = True  # is the target's head among the applied migrations?
    down_sql: dict[str, str] = field(default_factory=dict)  # migration -> its down SQL, as the host shows it
    down_sql_missing: str = ""  # why the SQL could not be shown

    @property
    def needed(self) -> bool:
        return bool(self.undo)


def plan_rollback(applied: list[str], target_head: str | None) -> MigrationPlan:
    """Applied migrations (oldest first) and the target's head → what a rollback undoes."""
    if target_head is None:
        return MigrationPlan(applied, None, [], known=False)
    if target_head not in applied:
        return MigrationPlan(applied, target_head, [], known=False)
    index = applied.index(target_head)
    return MigrationPlan(applied, target_head, list(reversed(applied[index + 1 :])), known=True)


def parse_applied(output: str) -> list[str]:
    """``migrate:status`` prints one applied migration per line; npm adds banner lines."""
    names = []
    for line in output.splitlines():
        line = line.strip()
        if not line or line.startswith(">") or line.startswith("npm "):
            continue
        names.append(line.split()[0])
    return names


async def check_schema(ctx: StepContext, target_head: str | None, via: Via) -> ActionResult:
    config = ctx.config
    argv = status_argv(config, config.commands.migrate_status, via)
    result = await ctx.run(argv, timeout=300)
    if not result.ok:
        why = no_container_message(result.stderr)
        said = f"cannot read the schema version: migrate:status exited {result.exit_status}"
        return ActionResult(False, said + (f" ({why})" if why else ""))
    plan = plan_rollback(parse_applied(result.stdout), target_head)
    ctx.state[PLAN_KEY] = plan
    detail = {"applied": plan.applied, "target_head": target_head, "undo": plan.undo}
    state = ctx.journal.state if ctx.journal is not None else None
    undo_step = "migrate_rollback" if ctx.host in ("target", "staging") else host_step_id(ctx.host, "migrate_rollback")
    earlier = state.migration_plan if state is not None and undo_step not in state.settled_steps() else None
    ctx.record(
        MigrationPlanned(applied=plan.applied, target_head=target_head, undo=plan.undo, known=plan.known, on=ctx.host)
    )
    if earlier is not None and (earlier.applied, earlier.undo) != (plan.applied, plan.undo):
        # A resume (or a re-run) found another schema than the plan journaled before: the
        # migration step follows what is there now, and the journal says why.
        was = ", ".join(earlier.undo) or "nothing"
        now = ", ".join(plan.undo) or "nothing"
        ctx.record(
            Note(
                text=f"schema changed since the migration plan of seq {earlier.seq}: it would have "
                f"undone {was}, the database now needs {now}; the migration step follows "
                f"the new plan",
                by="console",
            )
        )
    if not plan.known:
        why = (
            "the release log has no migration head for the target"
            if target_head is None
            else f"the target's migration head {target_head} is not applied on the database"
        )
        return ActionResult(
            False,
            f"schema of the target is unknown: {why}; skip with a reason to go on without a migration rollback",
            detail,
        )
    if not plan.needed:
        return ActionResult(True, f"database already at {target_head}: no migration to roll back", detail)
    await _read_down_sql(ctx, plan, via)
    detail["drops"] = destructive_changes(plan.down_sql)
    return ActionResult(True, f"rollback to {target_head} will undo: {', '.join(plan.undo)}", detail)


def status_argv(config, command: list[str], via: Via) -> list[str]:
    """A read-only migration command in the backend: ``exec`` is ``docker exec`` in the service's
    running container (as ``compose exec -T``, without compose's start-up; console.commands.containers),
    ``run`` a compose one-off container; on a swarm ``docker exec`` in a running task of the backend
    service (there is no one-off ``run``)."""
    if _is_swarm(config.target):
        from console.commands.swarm import SwarmCommands

        return SwarmCommands.for_target(config.target).exec_in_task(config.backend.name, command)
    if via == "exec":
        return ContainerCommands.for_target(config.target).exec_in_service(config.backend.name, command)
    compose = ComposeCommands.for_target(config.target)
    return compose.migrate_status(config.backend.name, command, via=via)


_MIGRATION_NAME = re.compile(r"[A-Za-z0-9_.-]+")
DOWN_SQL_SHOWN = 4000  # characters of each migration's down SQL kept for the confirmation
_DROP_TABLE = re.compile(r"\bDROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?([\w.\"]+)", re.IGNORECASE)
_DROP_COLUMN = re.compile(
    r"\bALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?([\w.\"]+)[^;]*?\bDROP\s+(?:COLUMN\s+)?(?:IF\s+EXISTS\s+)?"
    r"(?!CONSTRAINT\b|DEFAULT\b|NOT\b|IDENTITY\b|EXPRESSION\b)([\w\"]+)",
    re.IGNORECASE,
)


def destructive_changes(down_sql: dict[str, str]) -> list[str]:
    """What the down SQL drops: ``table x`` and ``column t.c``, data that does not come back."""
    drops = []
    for name, sql in down_sql.items():
        drops += [f"table {m[1]} ({name})" for m in _DROP_TABLE.finditer(sql)]
        drops += [f"column {m[1]}.{m[2]} ({name})" for m in _DROP_COLUMN.finditer(sql)]
    return drops


async def _read_down_sql(ctx: StepContext, plan: MigrationPlan, via: Via) -> None:
    """Ask the host for each undone migration's down SQL, where the config says how."""
    command = ctx.config.commands.migration_down_sql
    if not command:
        plan.down_sql_missing = "no [commands] migration_down_sql configured"
        return
    for name in plan.undo:
        if not _MIGRATION_NAME.fullmatch(name):
            plan.down_sql_missing = f"migration name {name[:80]!r} is not a plain name"
            continue
        argv = status_argv(ctx.config, [part.replace("{migration}", name) for part in command], via)
        result = await ctx.run(argv, timeout=120)
        if result.ok:
            plan.down_sql[name] = result.stdout[:DOWN_SQL_SHOWN]
        else:
            plan.down_sql_missing = f"the host could not show {name}'s down SQL (exit {result.exit_status})"


def migration_preview(ctx: StepContext) -> str:
    """For the confirmation of a migration rollback: what it undoes and whether it drops data."""
    plan: MigrationPlan | None = ctx.state.get(PLAN_KEY)
    if plan is None:
        return "What it undoes is unknown: the schema check was skipped."
    if not plan.undo:
        return ""
    lines = [f"It undoes {len(plan.undo)} migration(s), newest first: {', '.join(plan.undo)}"]
    drops = destructive_changes(plan.down_sql)
    if drops:
        lines.append("DROPS DATA: " + "; ".join(drops))
    elif plan.down_sql:
        lines.append("No DROP TABLE or DROP COLUMN in the down SQL shown below.")
    for name, sql in plan.down_sql.items():
        lines.append(f"-- {name} (down)\n{plain_text(sql).strip()}")
    if plan.down_sql_missing:
        lines.append(f"(down SQL not shown: {plan.down_sql_missing})")
    return "\n".join(lines)


def skip_reason_for_rollback(ctx: StepContext) -> str | None:
    plan: MigrationPlan | None = ctx.state.get(PLAN_KEY)
    if plan is None:
        return None  # the check was skipped by the coordinator: run as configured
    if not plan.known:
        return "the target's schema is unknown; the coordinator chose to go on without a migration rollback"
    if not plan.needed:
        return f"database already at {plan.target_head}: nothing to undo"
    return None


def rollback_migration_steps(
    config: Config,
    to_tag: str,
    from_tag: str | None,
    target_head: str | None,
    order: str,
    optional: dict[str, str],
    *,
    via: Via,
    rollback_argv: Callable[[str], list[str]],
    show: Callable[[list[str]], str] = shown,
) -> tuple[Step, Step]:
    """The schema comparison and the migration rollback (or both switched off), compose and swarm
    alike: ``via`` is how the schema is read, ``rollback_argv(head)`` the engine's rollback command
    and ``show`` how the status command is displayed. The rollback runs with the release rolled
    back from (before ``down``/the deploy) unless ``migration_order = "after_up"``."""
    if not config.commands.migrations:
        return (
            switched_off("migration_check", f"Compare the schema with {to_tag}'s migrations", MIGRATIONS_OFF),
            switched_off("migrate_rollback", "Roll back migrations", MIGRATIONS_OFF),
        )
    schema_step = Step(
        "migration_check",
        f"Compare the schema with {to_tag}'s migrations",
        action=lambda ctx: check_schema(ctx, target_head, via),
        display=show(status_argv(config, config.commands.migrate_status, via)),
        read_only=True,
        preflight=order == "before_down",
        timeout=300,
        together="preflight" if order == "before_down" else "",  # with the release's checks, before anything changes
    )
    migrate_step = Step(
        "migrate_rollback",
        f"Roll back migrations to {target_head or '(unknown)'}"
        + (f" with {from_tag}'s tooling" if order == "before_down" and from_tag else ""),
        argv=rollback_argv(target_head) if target_head else None,
        display="(target migration head unknown)",
        destructive=True,
        mutating=True,
        when=skip_reason_for_rollback,
        timeout=900,
        optional=optional.get("migrate_rollback", ""),
        preview=migration_preview,
    )
    if migrate_step.argv is None:
        migrate_step.action = _unknown_head_action
    return schema_step, migrate_step


async def _unknown_head_action(ctx) -> ActionResult:
    return ActionResult(False, "the target's migration head is unknown: skip with a reason to go on")
