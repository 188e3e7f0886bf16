"""A fleet's evidence per host: what each host runs and whether it is healthy, and, in words,
where the hosts disagree (a half-rolled fleet is evidence: "web1 runs v1, web2/web3 run v2").

Every host is read at once over its own link (``make_transport(config.on_host(name))`` unless
the caller hands links in), with :func:`console.release.deployed.gather_deployment` and the
host's own health checks. Nothing here raises for a host that cannot be reached: it becomes
that host's error, and the host counts as unread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from console.config import Config
from console.failures import TransportError
from console.release.deployed import Deployment, gather_deployment
from console.release.release_log import ReleaseLog


@dataclass
class HostEvidence:
    host: str
    address: str = ""
    deployment: Deployment | None = None  # None: the host could not be reached at all
    healthy: bool | None = None  # every check passing; None: not checked (or no checks)
    health: dict[str, str] = field(default_factory=dict)  # check -> "ok" or what is wrong
    errors: list[str] = field(default_factory=list)

    @property
    def release(self) -> str | None:
        """What the host runs, when it was read and matched a release."""
        return self.deployment.release if self.deployment is not None else None

    @property
    def read(self) -> bool:
        return self.deployment is not None and self.deployment.services_read

    @property
    def runs(self) -> str:
        """The release, or why it is not known, in words."""
        if not self.read:
            return "could not be read"
        return self.release or "a mix of builds or one the release log does not know"

    def to_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "address": self.address,
            "release": self.release,
            "read": self.read,
            "healthy": self.healthy,
            "health": dict(self.health),
            "deployment": self.deployment.to_dict() if self.deployment is not None else None,
            "errors": list(self.errors),
        }


@dataclass
class FleetEvidence:
    hosts: list[HostEvidence]

    def host(self, name: str) -> HostEvidence | None:
        return next((h for h in self.hosts if h.host == name), None)

    @property
    def releases(self) -> dict[str, str | None]:
        return {h.host: h.release for h in self.hosts if h.read}

    @property
    def disagreements(self) -> list[str]:
        """Where the hosts differ, in words; empty when they agree (or only one was read)."""
        return release_disagreement(self.hosts) + health_disagreement(self.hosts)

    def lines(self) -> list[str]:
        """One line per host, then the disagreements (``status`` and the decide screen)."""
        out = []
        for h in self.hosts:
            health = (
                "health not checked"
                if h.healthy is None
                else ("healthy" if h.healthy else "UNHEALTHY (" + _failing(h) + ")")
            )
            out.append(f"{h.host}: runs {h.runs}; {health}")
        out += [f"! {line}" for line in self.disagreements]
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"hosts": {h.host: h.to_dict() for h in self.hosts}, "disagreements": self.disagreements}


def release_disagreement(hosts: list[HostEvidence]) -> list[str]:
    """``["web1 runs v1, web2/web3 run v2"]`` when the hosts read run different things."""
    groups: dict[str, list[str]] = {}
    for h in hosts:
        if h.read:
            groups.setdefault(h.release or "an unknown build", []).append(h.host)
    if len(groups) < 2:
        return []
    parts = [f"{'/'.join(names)} {'runs' if len(names) == 1 else 'run'} {release}" for release, names in groups.items()]
    return [", ".join(parts) + " (a half-rolled fleet)"]


def health_disagreement(hosts: list[HostEvidence]) -> list[str]:
    """``["web3 is unhealthy (backend: HTTP 503), web1/web2 are healthy"]`` when some are, some not."""
    sick = [h for h in hosts if h.healthy is False]
    well = [h.host for h in hosts if h.healthy is True]
    if not sick or not well:
        return []
    sick_words = ", ".join(f"{h.host} ({_failing(h)})" for h in sick)
    verb = "is" if len(sick) == 1 else "are"
    return [f"{sick_words} {verb} unhealthy, {'/'.join(well)} {'is' if len(well) == 1 else 'are'} healthy"]


def _failing(h: HostEvidence) -> str:
    return "; ".join(f"{check}: {what}" for check, what in h.health.items() if what != "ok") or "failing"


async def gather_host_evidence(
    config: Config, name: str, transport, log: ReleaseLog | None, *, with_health: bool = True
) -> HostEvidence:
    host_config = config.on_host(name)
    evidence = HostEvidence(name, address=host_config.target.host)

    async def deployment() -> None:
        try:
            evidence.deployment = await gather_deployment(host_config, transport, log, with_health=False)
        except TransportError as exc:  # the link itself (connect) failed
            evidence.errors.append(f"cannot reach {name}: {exc}")
        else:
            evidence.errors += evidence.deployment.errors

    async def health() -> None:
        if not with_health or not host_config.health:
            return
        import httpx

        from console.live.health import check_all

        async with httpx.AsyncClient(trust_env=False) as client:  # no proxy between us and the checks
            results = await check_all(host_config.health, client)
        evidence.health = {r.check: "ok" if r.ok else r.reason for r in results}
        evidence.healthy = all(r.ok for r in results)

    await asyncio.gather(deployment(), health())
    return evidence


async def gather_fleet_evidence(
    config: Config,
    log: ReleaseLog | None,
    transports: Mapping[str, Any] | None = None,
    *,
    with_health: bool = True,
) -> FleetEvidence:
    """Every host at once, each over its own link; links made here are closed here."""
    if config.fleet is None:
        raise ValueError("fleet evidence needs a config with [[hosts]]")
    from console.engine.incident import make_transport

    given = dict(transports or {})
    made = {h: make_transport(config.on_host(h)) for h in config.fleet.names if h not in given}
    links = {**given, **made}
    try:
        hosts = await asyncio.gather(
            *(gather_host_evidence(config, h, links[h], log, with_health=with_health) for h in config.fleet.names)
        )
    finally:
        for link in made.values():
            try:
                await link.close()
            except Exception:  # noqa: BLE001 - a dead link's close must not hide the evidence
                pass
    return FleetEvidence(list(hosts))
