"""A fleet's health checks polled as one set: each host's checks, named ``"<host>/<check>"``.

One poller (one client, one round at a time) serves every host; the pane shows the prefixed
names, and the mapping built here gives each result's host and own check name back (never
parsed from the name).
"""

from __future__ import annotations

from dataclasses import replace
from typing import NamedTuple

from console.config import Config, HealthCheck

SEPARATOR = "/"


class FleetCheck(NamedTuple):
    host: str
    name: str  # the check's own name ("backend")
    check: HealthCheck  # the check, renamed "<host>/<name>"


def fleet_health_checks(config: Config) -> dict[str, FleetCheck]:
    """``{"web1/backend": FleetCheck("web1", "backend", <check>), ...}`` in the config's order."""
    if config.fleet is None:
        return {}
    checks: dict[str, FleetCheck] = {}
    for host in config.fleet.hosts:
        for check in host.health:
            name = f"{host.name}{SEPARATOR}{check.name}"
            checks[name] = FleetCheck(host.name, check.name, replace(check, name=name))
    return checks


def polled_checks(config: Config) -> list[HealthCheck]:
    """What a screen polls: the single target's checks, or every fleet host's (``"<host>/<check>"``)."""
    if config.fleet is None:
        return list(config.health)
    return [c.check for c in fleet_health_checks(config).values()]
