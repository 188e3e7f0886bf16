"""``[[hosts]]`` and ``[fleet]``: several hosts running the same compose project (a fleet).

Each host is a ``[target]``-shaped table: keys it leaves out come from ``[target]`` (user, port,
keys, project, directories, timeouts), so a fleet config states only what differs per host.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from console.config import HealthCheck, Target, _Reader

HOST_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")  # it prefixes step ids ("web1:compose_up")
HOST_KEYS = {
    "name",
    "host",
    "roles",
    "port",
    "user",
    "identity_file",
    "known_hosts",
    "agent",
    "project_dir",
    "artifacts_dir",
    "health",
}
FLEET_KEYS = {"canary", "batch_size", "canary_pause_seconds", "gate_interval_seconds"}
MIGRATIONS_ROLE = "migrations"
NO_CANARY = "none"  # every wave a batch: e.g. back to a release the whole fleet ran before


@dataclass(frozen=True)
class FleetHost:
    name: str
    roles: tuple[str, ...]
    target: Target
    health: list[HealthCheck]


@dataclass(frozen=True)
class Fleet:
    hosts: tuple[FleetHost, ...]
    canary: str | None  # None (canary = "none"): no canary wave, batches from the start
    batch_size: int = 1
    canary_pause_seconds: float = 30.0  # health-gated pause after the canary
    gate_interval_seconds: float = 5.0
    migrations_host: str | None = None  # the one host that runs database migrations

    def host(self, name: str) -> FleetHost:
        for host in self.hosts:
            if host.name == name:
                return host
        raise KeyError(f"no host {name!r} in [[hosts]] (have: {', '.join(h.name for h in self.hosts)})")

    @property
    def names(self) -> list[str]:
        return [h.name for h in self.hosts]

    def waves(self) -> list[list[str]]:
        """The rollout order: the canary alone, then the others in batches of ``batch_size``, the
        migrations host in the last one: the schema goes back only once no host runs the newer code
        (the older code is expected to bear the newer schema, as expand/contract migrations do)."""
        last = self.migrations_host if self.migrations_host != self.canary else None
        rest = [h.name for h in self.hosts if h.name not in (self.canary, last)]
        size = max(1, self.batch_size)
        batches = [rest[i : i + size] for i in range(0, len(rest), size)]
        if last is not None:
            if batches and len(batches[-1]) < size:
                batches[-1].append(last)
            else:
                batches.append([last])
        return ([[self.canary]] if self.canary else []) + batches

    def with_compose_files(self, files: tuple[str, ...]) -> Fleet:
        hosts = tuple(
            replace(h, target=replace(h.target, compose_file=files[0], compose_files=files)) for h in self.hosts
        )
        return replace(self, hosts=hosts)


def parse_fleet(r: _Reader, data: dict, target: Target, health: list[HealthCheck], migrations_on: bool) -> Fleet | None:
    from console.config import _health, _target_fields

    items = data.get("hosts")
    settings = r.table(data, "fleet", FLEET_KEYS, required=False)
    if not isinstance(items, list) or not items:
        r.problem(
            "hosts", "a fleet needs at least one [[hosts]] table" if items is None else "must be [[hosts]] tables"
        )
        return None
    found = data.get("target")
    base: dict = found if isinstance(found, dict) else {}
    hosts: list[FleetHost] = []
    for i, item in enumerate(items):
        prefix = f"hosts[{i}]"
        if not isinstance(item, dict):
            r.problem(prefix, "must be a table")
            continue
        r.unknown(item, prefix, HOST_KEYS)
        name = r.get(item, prefix, "name", str)
        if name is not None and not HOST_NAME.match(name):
            r.problem(f"{prefix}.name", "must match [a-z0-9][a-z0-9-]* (at most 32 characters): it names steps")
        if "host" not in item:
            r.problem(f"{prefix}.host", "missing required key")
        roles = r.get(item, prefix, "roles", (list, str), [])
        roles = [roles] if isinstance(roles, str) else roles or []
        if not all(isinstance(x, str) and x for x in roles):
            r.problem(f"{prefix}.roles", "must be a list of role names")
            roles = []
        table = {
            **{k: v for k, v in base.items() if k != "host"},
            **{k: v for k, v in item.items() if k not in ("name", "roles", "health")},
        }
        host_target = _target_fields(r, table, prefix)
        checks = _health(r, item, f"{prefix}.health") or list(health)
        if not checks:
            r.problem(f"{prefix}.health", "each host needs [[hosts.health]] checks (or top-level [[health]])")
        hosts.append(FleetHost(name or f"host{i + 1}", tuple(roles), host_target, checks))
    names = [h.name for h in hosts]
    for name in {n for n in names if names.count(n) > 1}:
        r.problem("hosts", f"host name {name!r} is used twice")
    addresses = [(h.target.host, h.target.port, h.target.project_dir) for h in hosts]
    if len(set(addresses)) != len(addresses):
        r.problem("hosts", "two hosts have the same address, port and project_dir: they are one host")
    migrations = [h.name for h in hosts if MIGRATIONS_ROLE in h.roles]
    if len(migrations) > 1:
        r.problem(
            "hosts",
            f"only one host may have the {MIGRATIONS_ROLE!r} role (migrations run once): {', '.join(migrations)}",
        )
    if migrations_on and not migrations and len(hosts) > 1:
        r.problem("hosts", f"give one host the {MIGRATIONS_ROLE!r} role: migrations run once, on that host")
    migrations_host = migrations[0] if migrations else (names[0] if names and migrations_on else None)
    others = [n for n in names if n != migrations_host]
    canary = r.get(settings, "fleet", "canary", str, (others or names or [""])[0])
    if canary == NO_CANARY:
        canary = None
    elif canary and names and canary not in names:
        r.problem("fleet.canary", f'is not one of the [[hosts]] names ({", ".join(names)}) nor "none"')
    elif canary and canary == migrations_host and others:
        r.problem(
            "fleet.canary",
            f"{canary} runs the migrations, which go back last (no host may run the newer code on the "
            f"older schema); pick another canary: {', '.join(others)}",
        )
    batch = r.get(settings, "fleet", "batch_size", int, 1)
    if batch is not None and batch < 1:
        r.problem("fleet.batch_size", "must be at least 1")
    pause = r.get(settings, "fleet", "canary_pause_seconds", float, 30.0)
    if pause is not None and pause < 0:
        r.problem("fleet.canary_pause_seconds", "must not be negative")
    interval = r.get(settings, "fleet", "gate_interval_seconds", float, 5.0)
    if interval is not None and interval <= 0:
        r.problem("fleet.gate_interval_seconds", "must be positive")
    if any(h.target.engine == "swarm" for h in hosts):
        r.problem("hosts", 'a fleet runs compose on each host; a swarm is one [target] with engine = "swarm"')
    return Fleet(
        hosts=tuple(hosts),
        canary=canary,
        batch_size=batch or 1,
        canary_pause_seconds=30.0 if pause is None else pause,
        gate_interval_seconds=interval or 5.0,
        migrations_host=migrations_host,
    )
