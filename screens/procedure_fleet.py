"""What the procedure screen watches on a fleet: every host's logs and health, and the host table.

Each host's ``docker compose logs -f`` runs over a link of its own, on a thread of its own
(:mod:`console.live.logthread`; a stand-in transport the caller hands in is followed on the
UI's loop) through :func:`console.live.logfollow.follow_logs`, so one host's stack going down restarts only its
own follower; its batches reach the log pane tagged with the host. The health checks of every
host are polled as one set (:mod:`console.live.fleet_health`) and each round is also split per
host for the host table.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

from console.commands.compose import ComposeCommands
from console.config import Config, HealthCheck
from console.live.fleet_health import fleet_health_checks, polled_checks
from console.live.health import HealthResult
from console.live.logfollow import FollowRestart, follow_logs
from console.live.logthread import LogFollowThread, has_own_link
from console.transport.base import Transport
from widgets.host_table import HostTable
from widgets.log_pane import LogPane


class FleetWatch:
    """The fleet side of a procedure screen: per-host links for the logs, per-host health."""

    def __init__(self, config: Config, transports: Mapping[str, Transport] | None = None) -> None:
        if config.fleet is None:
            raise ValueError("FleetWatch needs a config with [[hosts]]")
        self.config = config
        self.fleet = config.fleet
        self._given = dict(transports or {})
        self._made: dict[str, Transport] = {}  # links this watch opened, and so closes
        self.checks = fleet_health_checks(config)
        self.restarts: dict[str, int] = {}

    @property
    def hosts(self) -> list[str]:
        return self.fleet.names

    def host_table(self, id: str = "hosts") -> HostTable:
        return HostTable([(h.name, h.roles) for h in self.fleet.hosts], id=id)

    def health_checks(self) -> list[HealthCheck]:
        return polled_checks(self.config)

    def transport(self, host: str) -> Transport:
        if host in self._given:
            return self._given[host]
        if host not in self._made:
            from console.engine.incident import make_transport

            self._made[host] = make_transport(self.config.on_host(host))
        return self._made[host]

    async def follow_logs(self, pane: LogPane, argv_for: Callable[[Config], list[str]]) -> None:
        """Every host's follower at once, until cancelled (each restarts on its own)."""

        async def follow(host: str) -> None:
            config = self.config.on_host(host)
            argv = argv_for(config)

            def restarted(restart: FollowRestart) -> None:
                self.restarts[host] = restart.restarts

            transport = self._given.get(host)
            if transport is None or has_own_link(transport):
                # Its own thread, loop and link per host: a flood never queues ahead of a key.
                from console.engine.incident import make_transport

                await LogFollowThread(
                    lambda: make_transport(config),
                    argv,
                    lambda batch: pane.ingest_batch(batch, host=host),
                    on_restart=restarted,
                    name=f"log-follow-{host}",
                ).follow()
                return
            async for batch in follow_logs(transport, argv, chunks=True):
                pane.ingest_batch(batch, host=host)
                if isinstance(batch, FollowRestart):
                    restarted(batch)

        async with asyncio.TaskGroup() as group:
            for host in self.hosts:
                group.create_task(follow(host))

    def split_health(self, results: list[HealthResult]) -> dict[str, list[tuple[str, bool]]]:
        """A round of the fleet's checks as ``{host: [(check, passing), ...]}``."""
        per_host: dict[str, list[tuple[str, bool]]] = {}
        for result in results:
            known = self.checks.get(result.check)
            if known is not None:
                per_host.setdefault(known.host, []).append((known.name, result.ok))
        return per_host

    async def close(self) -> None:
        made, self._made = self._made, {}
        for transport in made.values():
            try:
                await transport.close()
            except Exception:  # noqa: BLE001 - closing a dead link must not hide the screen's outcome
                pass


def logs_argv(tail: int) -> Callable[[Config], list[str]]:
    return lambda config: ComposeCommands.for_target(config.target).logs_follow(tail=tail)
