"""A procedure for a fleet: each host's copy of the single-host procedure, its step ids named by host.

Every host gets the same steps (``web2:compose_up``), aimed at its own target and health checks, so the
artifact checks, the health wait and the verification are the single-host code. What must happen once
does: the schema steps run on the migrations host only (the others skip them, saying where they ran),
and a hotfix's staging steps keep their single copy on staging.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from console.config import Config
from console.engine.fleet_ids import host_step_id, split_step_id
from console.engine.procedure import Procedure, Step

SCHEMA_STEPS = ("migration_check", "migrate_rollback")  # once, on the migrations host


def fleet_procedure(config: Config, single: Callable[[Config], Procedure]) -> Procedure:
    """``single(config_aimed_at_one_host)`` builds one host's procedure; the fleet's is every host's copy,
    in rollout order (the canary first, the migrations host last)."""
    fleet = config.fleet
    if fleet is None:
        raise ValueError("fleet_procedure needs a config with [[hosts]]")
    waves = fleet.waves()
    steps: list[Step] = []
    staging_done = False
    first: Procedure | None = None
    for wave in waves:
        for host in wave:
            procedure = single(config.on_host(host))
            first = first or procedure
            for step in procedure.steps:
                if step.host == "staging":
                    if not staging_done:
                        steps.append(step)
                    continue
                steps.append(for_host(step, host, fleet.migrations_host))
            staging_done = True
    assert first is not None
    options = {
        **first.options,
        "fleet": {
            "waves": waves,
            "canary": fleet.canary,
            "batch_size": fleet.batch_size,
            "migrations_host": fleet.migrations_host,
        },
    }
    return Procedure(first.name, steps, first.from_tag, first.to_tag, options)


def for_fleet(config: Config, single: Callable[[Config], Procedure]) -> Procedure:
    """``single(config)``, or every fleet host's copy of it when the config has ``[[hosts]]``."""
    return fleet_procedure(config, single) if config.fleet is not None else single(config)


def for_host(step: Step, host: str, migrations_host: str | None) -> Step:
    aimed = replace(step, id=host_step_id(host, step.id), host=host)
    if step.id in SCHEMA_STEPS and host != migrations_host:
        where = f"on {migrations_host}" if migrations_host else "nowhere: no host has the migrations role"
        aimed = replace(aimed, when=_elsewhere(where))
    return aimed


def _elsewhere(where: str) -> Callable[[object], str]:
    return lambda ctx: f"the database is shared: migrations run once, {where}"


def schema_step_id(procedure: Procedure, base: str) -> str:
    """The id of the schema step that really runs (``web1:migrate_rollback`` in a fleet)."""
    fleet = procedure.options.get("fleet")
    if not fleet or not fleet.get("migrations_host"):
        return base
    return host_step_id(fleet["migrations_host"], base)


def hosts_of(procedure: Procedure) -> dict[str, list[Step]]:
    """Each fleet host's steps, in order (staging steps under ``"staging"``)."""
    grouped: dict[str, list[Step]] = {}
    for step in procedure.steps:
        host, _ = split_step_id(step.id)
        grouped.setdefault(host or step.host, []).append(step)
    return grouped
