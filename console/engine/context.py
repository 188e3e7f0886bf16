"""What a step can reach while it runs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from console.config import Config
from console.failures import PreconditionFailed
from console.incident.journal import Journal
from console.incident.records import Record
from console.transport.base import CommandResult, Transport


@dataclass
class StepContext:
    config: Config
    transport: Transport
    journal: Journal | None
    emit_output: Callable[[str, list[str]], None] = lambda stream, lines: None
    state: dict[str, Any] = field(default_factory=dict)  # shared between the steps of one run
    dry_run: bool = False
    operator: str = ""
    staging_transport: Transport | None = None  # its own connection: staging is another host
    host: str = "target"  # which host this context is aimed at
    # a fleet: host name -> its link; ``on(name)`` gives that host's context (one per host, kept)
    fleet_transports: dict[str, Transport] = field(default_factory=dict)
    _aimed: dict[str, StepContext] = field(default_factory=dict, repr=False)

    def on(self, host: str) -> StepContext:
        """This context aimed at ``host``: the same journal and output, that host's config and link."""
        if host == "target" or host == self.host:
            return self
        if host in self.fleet_transports:
            aimed = self._aimed.get(host)
            if aimed is None:
                # its own state: a host's checks (e.g. the migration plan) describe that host
                aimed = replace(
                    self, config=self.config.on_host(host), transport=self.fleet_transports[host], host=host, state={}
                )
                self._aimed[host] = aimed
            return aimed
        if host != "staging":
            raise ValueError(f"unknown step host {host!r}")
        if self.staging_transport is None or self.config.staging is None:
            raise PreconditionFailed("this step runs on staging, but no [staging] target is configured")
        return replace(self, config=self.config.on_staging(), transport=self.staging_transport, host=host)

    async def run(
        self, argv: list[str], timeout: float | None = None, *, capture: bool = True, stdin: bytes | None = None
    ) -> CommandResult:
        """Run a helper command for a built-in check, streaming its output to the step."""
        return await self.transport.run(
            argv,
            timeout=timeout or self.config.target.command_timeout,
            on_output=self.emit_output,
            capture=capture,
            stdin=stdin,
        )

    def record(self, record: Record) -> Record:
        """Journal ``record`` (not in a dry run); the journaled (stamped) record, else ``record``."""
        if self.journal is not None and not self.dry_run:
            return self.journal.append(record)
        return record
