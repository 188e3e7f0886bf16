"""What actually runs on the host: the source of truth, weighed against the release log and health.

The release log says what the console (or a teammate who ran ``record-deploy``)
deployed last; a deploy made by CI or by hand never reaches it. The host knows:
each compose service's running container was started from one image, whose id
and registry digests identify the build. :func:`match_deployment` (pure, no I/O)
names each service's release by matching those against the digests and image ids
the release log captured, and lists, in words, every disagreement between the
host, the health endpoints' reported versions and the release log.
:func:`gather_deployment` reads the host over the incident's transport
(``docker ps`` / ``docker inspect``) and the health checks, then matches.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from console.commands.base import docker, sh
from console.commands.swarm import is_swarm as _is_swarm
from console.failures import TransportError
from console.release.release_log import ReleaseLog
from console.validate import require_project_name

READ_TIMEOUT = 60.0
PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
ONEOFF_LABEL = "com.docker.compose.oneoff"


# -- what the host says -------------------------------------------------------------------


@dataclass(frozen=True)
class RunningContainer:
    """One container of the compose project, as ``docker inspect`` describes it."""

    name: str
    service: str
    image_ref: str  # what it was started as (Config.Image)
    image_id: str  # sha256 content id of its image
    repo_digests: tuple[str, ...] = ()  # "<repo>@sha256:..." of that image
    running: bool = True
    created: str | None = None  # RFC 3339: when compose (re)created it, i.e. deployed it

    @property
    def digests(self) -> set[str]:
        return {d.partition("@")[2] for d in self.repo_digests if "@" in d}


def containers_command(project_name: str) -> list[str]:
    """``docker inspect`` of every container of the project (running or not), one JSON array.

    The project name reaches the filter as ``$1``; with no container, ``[]``.
    """
    return sh(
        'ids=$(docker ps -aq --filter "label=com.docker.compose.project=$1") || exit $?; '
        'if [ -z "$ids" ]; then echo "[]"; else exec docker inspect $ids; fi',
        require_project_name(project_name),
    )


def images_command(image_ids: list[str]) -> list[str]:
    """``docker image inspect`` of the containers' images (for their RepoDigests)."""
    return docker("image", "inspect", "--", sorted(set(image_ids)))


def parse_containers(text: str) -> list[RunningContainer]:
    """The compose project's service containers from ``docker inspect`` JSON (one-off ``run``
    containers are left out: they are not what serves)."""
    try:
        items = json.loads(text or "[]")
    except json.JSONDecodeError as exc:
        raise ValueError(f"docker inspect printed something that is not JSON: {exc}") from None
    if not isinstance(items, list):
        raise ValueError("docker inspect did not print a JSON array")
    containers = []
    for item in items:
        if not isinstance(item, dict):
            continue
        labels = (item.get("Config") or {}).get("Labels") or {}
        service = labels.get(SERVICE_LABEL)
        if not service or str(labels.get(ONEOFF_LABEL, "")).lower() == "true":
            continue
        containers.append(
            RunningContainer(
                name=str(item.get("Name") or "").lstrip("/"),
                service=str(service),
                image_ref=str((item.get("Config") or {}).get("Image") or ""),
                image_id=str(item.get("Image") or ""),
                running=bool((item.get("State") or {}).get("Running")),
                created=str(item["Created"]) if item.get("Created") else None,
            )
        )
    return containers


def parse_image_digests(text: str) -> dict[str, tuple[str, ...]]:
    """Image id -> its RepoDigests, from ``docker image inspect`` JSON."""
    try:
        items = json.loads(text or "[]")
    except json.JSONDecodeError as exc:
        raise ValueError(f"docker image inspect printed something that is not JSON: {exc}") from None
    out: dict[str, tuple[str, ...]] = {}
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and item.get("Id"):
            out[str(item["Id"])] = tuple(str(d) for d in item.get("RepoDigests") or [])
    return out


# -- the verdict --------------------------------------------------------------------------


@dataclass
class ServiceDeployment:
    service: str
    image: str  # the configured image name (release log key)
    releases: list[str] = field(default_factory=list)  # tags whose captured image this is
    image_id: str | None = None
    digest: str | None = None  # one registry digest of the running image
    image_ref: str | None = None
    running: bool = False
    containers: int = 0
    created: str | None = None

    @property
    def build(self) -> str:
        """``v1``; ``unknown build sha256:...``; ``not running``."""
        if not self.running:
            return "not running"
        if self.releases:
            return " or ".join(self.releases)
        return f"unknown build {self.digest or self.image_id or '(no image id)'}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "image": self.image,
            "release": self.releases[0] if len(self.releases) == 1 else None,
            "matches": list(self.releases),
            "build": self.build,
            "running": self.running,
            "containers": self.containers,
            "image_id": self.image_id,
            "digest": self.digest,
            "image_ref": self.image_ref,
            "created": self.created,
        }


@dataclass
class Deployment:
    """What runs, what the log says, what health reports, and where they disagree."""

    release: str | None  # the release every service runs; None if unknown or mixed
    services: dict[str, ServiceDeployment]
    release_log_deployed: str | None
    health_versions: dict[str, str | None] = field(default_factory=dict)
    disagreements: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # what could not be read (host, health, log)
    services_read: bool = True  # False: the host's containers could not be read

    @property
    def host_known(self) -> bool:
        return self.release is not None

    @property
    def deployed_at(self) -> str | None:
        """When the newest running service container was created: the host's own deploy time."""
        times = [s.created for s in self.services.values() if s.running and s.created]
        return max(times, key=_instant) if times else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "deployed": {
                "release": self.release,
                "since": self.deployed_at,
                "services": {name: s.to_dict() for name, s in self.services.items()},
            },
            "release_log": {"deployed": self.release_log_deployed},
            "health": dict(self.health_versions),
            "host_read": self.services_read,
            "disagreements": list(self.disagreements),
            "errors": list(self.errors),
        }

    def lines(self) -> list[str]:
        """The human form, for ``status`` and home."""
        out = [
            f"host runs:        {self.release or '(unknown: see below)'}",
            f"release log says: {self.release_log_deployed or '(nothing recorded)'}",
        ]
        for name, s in self.services.items():
            out.append(f"  {name}: {s.build}")
        for check, version in self.health_versions.items():
            out.append(f"  health {check}: {version or '(no version)'}")
        out += [f"! {d}" for d in self.disagreements]
        out += [f"? {e}" for e in self.errors]
        return out


def _instant(value: str):
    from datetime import datetime

    # docker prints nanoseconds ("2026-11-29T11:50:53.123456789Z"): fromisoformat takes microseconds
    text = value.replace("Z", "+00:00")
    head, dot, rest = text.partition(".")
    if dot:
        digits = "".join(ch for ch in rest if ch.isdigit())
        text = f"{head}.{digits[:6]}{rest[len(digits) :]}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _images_match(entry: dict, image_id: str | None, digests: set[str]) -> bool:
    if not isinstance(entry, dict):
        return False
    if image_id and entry.get("id") == image_id:
        return True
    return bool(entry.get("digest")) and entry.get("digest") in digests


def match_deployment(
    services,
    containers: list[RunningContainer],
    log: ReleaseLog | None,
    health_versions: dict[str, str | None] | None = None,
    errors: list[str] | None = None,
    *,
    host_read: bool = True,
) -> Deployment:
    """Pure: ``services`` are the config's ``[[services]]`` (name, image). ``host_read`` False: the
    containers could not be read, so nothing is claimed about the host (only health vs the log)."""
    health_versions = dict(health_versions or {})
    releases = log.releases if log is not None else []
    order = {r.tag: i for i, r in enumerate(releases)}
    by_service: dict[str, ServiceDeployment] = {}
    for service in services:
        mine = [c for c in containers if c.service == service.name]
        running = [c for c in mine if c.running]
        s = ServiceDeployment(service=service.name, image=service.image, containers=len(running), running=bool(running))
        if running:
            # Several replicas of one service could differ (a half-finished recreate): take the
            # first and say so below.
            c = running[0]
            s.image_id, s.image_ref, s.created = c.image_id or None, c.image_ref or None, c.created
            s.digest = sorted(c.digests)[0] if c.digests else None
            s.releases = [
                r.tag
                for r in sorted(releases, key=lambda r: (r.captured, order[r.tag]), reverse=True)
                if _images_match(r.images.get(service.image, {}), c.image_id, c.digests)
            ]
        by_service[service.name] = s
    disagreements: list[str] = []
    logged = log.deployed if log is not None else None

    # The host's release: one every running service's image belongs to.
    release = None
    up = [s for s in by_service.values() if s.running]  # the services with a running container
    if up and len(up) == len(by_service):
        common = set(up[0].releases)
        for s in up[1:]:
            common &= set(s.releases)
        if logged in common:
            release = logged  # identical images in several releases: the log breaks the tie
        elif common:
            release = next(t for t in up[0].releases if t in common)  # newest first
    for s in by_service.values() if host_read else ():
        if not s.running:
            disagreements.append(f"service {s.service} has no running container on the host")
        elif not s.releases:
            disagreements.append(f"service {s.service} runs {s.build}, an image no release in the log captured")
        else:
            replicas = [c for c in containers if c.service == s.service and c.running]
            if len({c.image_id for c in replicas}) > 1:
                disagreements.append(f"service {s.service} runs {len(replicas)} containers from different images")
    if release is None and up and all(s.releases for s in up) and len(up) == len(by_service):
        parts = ", ".join(f"{s.service} {s.build}" for s in by_service.values())
        disagreements.append(f"the services run different releases ({parts})")
    if release is not None and logged != release:
        disagreements.append(
            f"the host runs {release} but the release log says "
            f"{logged if logged else 'nothing is deployed'}" + (f" ({logged} is not what runs)" if logged else "")
        )
    elif release is None and logged is not None and up and host_read:
        disagreements.append(f"the release log says {logged} is deployed, but the host does not run {logged}'s images")
    for check, version in health_versions.items():
        if version is None:
            continue
        if release is not None and version != release:
            disagreements.append(f"health check {check} reports version {version} but the host runs {release}")
        elif release is None and logged is not None and version != logged:
            disagreements.append(f"health check {check} reports version {version} but the release log says {logged}")
    return Deployment(
        release=release,
        services=by_service,
        release_log_deployed=logged,
        health_versions=health_versions,
        disagreements=disagreements,
        errors=list(errors or []),
        services_read=host_read,
    )


# -- gathering -----------------------------------------------------------------------------


async def read_containers(transport, project_name: str) -> list[RunningContainer]:
    """The project's containers with their images' digests; raises TransportError or ValueError."""
    result = await transport.run(containers_command(project_name), timeout=READ_TIMEOUT, capture=True)
    if not result.ok:
        said = (result.stderr.strip().splitlines() or ["no message"])[-1][:200]
        raise ValueError(f"docker inspect of project {project_name} failed (exit {result.exit_status}): {said}")
    containers = parse_containers(result.stdout)
    ids = [c.image_id for c in containers if c.image_id]
    if not ids:
        return containers
    result = await transport.run(images_command(ids), timeout=READ_TIMEOUT, capture=True)
    if not result.ok:
        said = (result.stderr.strip().splitlines() or ["no message"])[-1][:200]
        raise ValueError(f"docker image inspect failed (exit {result.exit_status}): {said}")
    digests = parse_image_digests(result.stdout)
    return [
        RunningContainer(c.name, c.service, c.image_ref, c.image_id, digests.get(c.image_id, ()), c.running, c.created)
        for c in containers
    ]


async def health_versions(checks) -> tuple[dict[str, str | None], list[str]]:
    """Each health check's reported version (None when it reports none or cannot be reached)."""
    if not checks:
        return {}, []
    import httpx

    from console.live.health import check_all

    async with httpx.AsyncClient(trust_env=False) as client:  # no proxy between us and the checks
        results = await check_all(checks, client)
    errors = [f"health check {r.check} ({r.url}): {r.reason}" for r in results if r.http_status is None and r.error]
    return {r.check: r.version for r in results}, errors


async def gather_deployment(
    config, transport, log: ReleaseLog | None = None, *, with_health: bool = True
) -> Deployment:
    """Read the host (and health), match against the release log. Never raises for a host,
    health or log problem: each becomes an error line, and the host's side is then unknown."""
    errors: list[str] = []
    if log is None:
        try:
            log = ReleaseLog.load(config.paths.release_log)
        except ValueError as exc:
            errors.append(f"cannot read the release log: {exc}")
    containers: list[RunningContainer] = []
    host_read = True
    try:
        if _is_swarm(config.target):
            from console.release.deployed_swarm import read_stack_containers

            containers = await read_stack_containers(transport, config.target)
        else:
            containers = await read_containers(transport, config.target.project_name)
    except (TransportError, ValueError) as exc:
        host_read = False
        errors.append(f"cannot read the containers on {getattr(transport, 'description', 'the host')}: {exc}")
    versions: dict[str, str | None] = {}
    if with_health:
        versions, health_errors = await health_versions(config.health)
        errors += health_errors
    return match_deployment(config.services, containers, log, versions, errors, host_read=host_read)


# -- the rollback target --------------------------------------------------------------------


def automatic_rollback_target(log: ReleaseLog, running: str | None) -> str | None:
    """The newest known-good release older than what actually runs (None if there is none,
    or the host runs a build no release captured)."""
    if running is None or log.get(running) is None:
        return None
    previous = log.previous_good(running)
    return previous.tag if previous else None


def hotfix_candidates(log: ReleaseLog, running: str | None):
    """Releases captured after the one the host runs and not marked bad, newest first (every
    good release when the host runs a build no release captured)."""
    return log.good_releases_after(running)
