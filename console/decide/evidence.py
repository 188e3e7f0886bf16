"""What changed with the deployed release: the evidence beside the rollback decision.

The runbook's first question is whether production went down within the impact
window of a deploy; the next ones ask whether the cause is configuration, code
or schema. ``gather_evidence`` answers from the release log (deploy time, image
digests) and from the two releases' compose bundles on the host (compose keys,
env keys, migrations), read over the incident's one transport.

Env files hold secrets. Their values are compared only as salted digests inside
:func:`env_key_changes` and never leave it: the evidence names keys, never
values, and no error message quotes a file's content.
"""

from __future__ import annotations

import asyncio
import builtins
import hashlib
import hmac
import posixpath
import secrets as _random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any

from console.commands.artifacts import bundle_path
from console.commands.base import argv
from console.failures import TransportError
from console.release.composefile import ComposeParseError, diff_flat, flatten, parse_compose, top_level_blocks
from console.release.release_log import ReleaseLog, ReleaseLogError
from console.validate import UnsafeValue

READ_TIMEOUT = 30.0
DEFAULT_MIGRATION_DIRS = ("migrations",)


@dataclass(frozen=True)
class ImageChange:
    service: str
    old_digest: str | None  # None: the service has no image in the previous release
    new_digest: str | None  # None: the deployed release dropped the service


@dataclass(frozen=True)
class KeyChange:
    file: str
    key: str
    change: str  # "added" | "removed" | "changed"


@dataclass
class Evidence:
    deployed_tag: str | None
    previous_tag: str | None
    deployed_at: datetime | None = None
    minutes_since_deploy: float | None = None
    within_impact_window: bool | None = None
    impact_window_minutes: float = 30
    image_changes: list[ImageChange] = field(default_factory=list)
    compose_changes: list[KeyChange] = field(default_factory=list)
    env_changes: list[KeyChange] = field(default_factory=list)
    migrations_added: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    host: Any = None  # console.release.deployed.Deployment: what really runs, and where the log disagrees
    fleet: Any = None  # console.decide.fleet_evidence.FleetEvidence: each host's, and where the hosts disagree


# -- gathering ----------------------------------------------------------------------


async def gather_evidence(
    config, transport, release_log, now: datetime | None = None, deployment=None, host_transports=None
) -> Evidence:
    """Collect the evidence; never raises for a missing file, a bad log or a host error.

    The deployed release is what the host runs (``deployment``, read here when not given);
    the release log's idea counts only when the host's cannot be matched, and then the
    disagreement is part of the evidence. On a fleet every host is read at once, each over its
    own link (``transport`` is the first host's; ``host_transports`` may give the others), and
    the release compared is the first host's that was read.
    """
    window = config.thresholds.impact_window_minutes
    log, problem = _release_log(release_log)
    if log is None:
        return Evidence(None, None, impact_window_minutes=window, errors=[problem])
    fleet = None
    if config.fleet is not None and deployment is None:
        from console.decide.fleet_evidence import gather_fleet_evidence

        links = {config.fleet.names[0]: transport, **(host_transports or {})}
        fleet = await gather_fleet_evidence(config, log, links)
        read = [h for h in fleet.hosts if h.read and h.release] or [h for h in fleet.hosts if h.read]
        if read:
            deployment = read[0].deployment
            if read[0].host in links:  # its bundles too, over its own link (links made for it are closed)
                config, transport = config.on_host(read[0].host), links[read[0].host]
        else:
            deployment = fleet.hosts[0].deployment  # unread: its errors say why, without a second try
    if deployment is None:
        from console.release.deployed import gather_deployment

        deployment = await gather_deployment(config, transport, log, with_health=False)
    running = deployment.release or log.deployed
    evidence = Evidence(
        deployed_tag=running, previous_tag=None, impact_window_minutes=window, host=deployment, fleet=fleet
    )
    if running is None:
        evidence.errors.append("neither the host nor the release log names a deployed release")
        return evidence
    deployed = log.get(running)
    if deployed is None:
        evidence.errors.append(f"the deployed release {running} is not in the release log")
        return evidence
    try:
        previous = log.previous_good(running)
    except ReleaseLogError as exc:
        previous = None
        evidence.errors.append(str(exc))
    evidence.previous_tag = previous.tag if previous else None
    # The log's deploy time is the host's only when the log agrees on what runs; otherwise the
    # containers' creation time is when it was really deployed.
    _deploy_age(
        evidence,
        deployed.deployed_at if running == log.deployed or not deployment.deployed_at else deployment.deployed_at,
        now,
    )
    if previous is None:
        evidence.errors.append(f"no previous known-good release before {running} in the release log")
        return evidence
    evidence.image_changes = image_changes(previous.images, deployed.images)
    await _bundle_changes(evidence, config, transport, previous.tag, deployed.tag)
    return evidence


def _release_log(release_log) -> tuple[ReleaseLog | None, str]:
    if isinstance(release_log, ReleaseLog):
        return release_log, ""
    try:
        return ReleaseLog.load(release_log), ""
    except (ReleaseLogError, OSError, TypeError) as exc:
        return None, f"cannot read the release log: {exc}"


def _deploy_age(evidence: Evidence, deployed_at: str | None, now: datetime | None) -> None:
    if not deployed_at:
        evidence.errors.append(f"the release log has no deploy time for {evidence.deployed_tag}")
        return
    try:
        when = datetime.fromisoformat(deployed_at.replace("Z", "+00:00"))
    except ValueError:
        evidence.errors.append(f"deploy time of {evidence.deployed_tag} is not an RFC 3339 time")
        return
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    minutes = (now - when).total_seconds() / 60
    if minutes < 0:
        evidence.errors.append(
            f"deploy time of {evidence.deployed_tag} is in the future (clock skew?); counted as just deployed"
        )
        minutes = 0.0
    evidence.deployed_at = when
    evidence.minutes_since_deploy = minutes
    evidence.within_impact_window = minutes <= evidence.impact_window_minutes


def image_changes(old: dict[str, dict[str, str]], new: dict[str, dict[str, str]]) -> list[ImageChange]:
    """Services whose image digest differs between the releases' ``images`` tables."""
    changes = []
    for service in sorted(old.keys() | new.keys()):
        before = (old.get(service) or {}).get("digest")
        after = (new.get(service) or {}).get("digest")
        if before != after:
            changes.append(ImageChange(service, before, after))
    return changes


class _BundleReader:
    """Reads members of one release's compose bundle on the host, noting what fails."""

    def __init__(self, transport, artifacts_dir: str, tag: str, errors: list[str]) -> None:
        self.transport = transport
        self.tag = tag
        self.errors = errors
        self.members: list[str] | None = None  # None: the bundle could not be listed
        self.absent: set[str] = set()  # asked-for files the bundle does not hold
        self.path: str | None
        try:
            self.path = bundle_path(artifacts_dir, tag)
        except UnsafeValue as exc:
            self.path = None
            errors.append(str(exc))

    async def list(self) -> None:
        if self.path is None:
            return
        result = await self._run(argv("tar", "-tzf", self.path), "list the bundle")
        if result is not None:
            self.members = [line.strip() for line in result.stdout.splitlines() if line.strip()]

    def member(self, name: str) -> str | None:
        """The bundle's spelling of ``name`` (archives made with "./" prefix it)."""
        for member in self.members or []:
            if _normal(member) == _normal(name):
                return member
        return None

    async def read(self, name: str) -> str | None:
        if self.members is None or self.path is None:  # members are only listed from a path
            return None
        member = self.member(name)
        if member is None:
            self.absent.add(name)
            self.errors.append(f"{name} is not in {self.tag}'s compose bundle")
            return None
        result = await self._run(argv("tar", "-xzOf", self.path, "--", member), f"read {name}")
        return None if result is None else result.stdout

    async def _run(self, command: builtins.list[str], what: str):  # ``list`` here is the method above
        try:
            result = await self.transport.run(command, timeout=READ_TIMEOUT, capture=True)
        except TransportError as exc:
            self.errors.append(f"cannot {what} of {self.tag} ({self.path}): {exc}")
            return None
        if not result.ok:
            # tar's own complaint names the archive and member, never file content.
            said = (result.stderr.strip().splitlines() or ["no message"])[-1][:200]
            status = "unknown" if result.exit_status is None else result.exit_status
            self.errors.append(f"cannot {what} of {self.tag} ({self.path}): exit {status}: {said}")
            return None
        return result


def _normal(path: str) -> str:
    return posixpath.normpath(path.lstrip("/")).removeprefix("./")


async def _bundle_changes(evidence: Evidence, config, transport, old_tag: str, new_tag: str) -> None:
    artifacts_dir = config.target.artifacts_dir
    old = _BundleReader(transport, artifacts_dir, old_tag, evidence.errors)
    new = _BundleReader(transport, artifacts_dir, new_tag, evidence.errors)
    await asyncio.gather(old.list(), new.list())
    evidence.migrations_added = migrations_added(
        old.members, new.members, config.capture.migration_dirs or DEFAULT_MIGRATION_DIRS
    )

    compose_files = list(config.capture.compose_files or (config.capture.compose_file,))
    resolved, note = await _host_models(config, transport, old_tag, new_tag, compose_files)
    if resolved is not None:
        salt = _random.token_bytes(16)
        label = " + ".join(compose_files)
        evidence.compose_changes = [
            KeyChange(label, key, change)
            for key, change in diff_flat(flatten(resolved[0], salt), flatten(resolved[1], salt))
        ]
        compose_files = []
    elif note:
        evidence.errors.append(f"compose model: {note}; compared the files as written")
    for compose_file in compose_files:
        old_text, new_text = await asyncio.gather(old.read(compose_file), new.read(compose_file))
        if old_text is not None and new_text is not None:
            changes, problem = compose_key_changes(compose_file, old_text, new_text)
            evidence.compose_changes.extend(changes)
            if problem:
                evidence.errors.append(problem)

    for env_file in config.capture.env_files:
        old_env, new_env = await asyncio.gather(old.read(env_file), new.read(env_file))
        if old_env is None and new_env is None:
            continue
        readable = [text is not None or env_file in reader.absent for text, reader in ((old_env, old), (new_env, new))]
        if not all(readable):
            continue  # one side unreadable: a one-sided diff would claim every key was added
        evidence.env_changes.extend(env_key_changes(env_file, old_env or "", new_env or ""))


async def _host_models(
    config, transport, old_tag: str, new_tag: str, compose_files: list[str]
) -> tuple[tuple[Any, Any] | None, str | None]:
    """Both releases' compose models as the host's compose CLI resolves them (files layered,
    anchors and merges applied), when the host has been asked which compose it has; else
    ``(None, why)`` and the files are compared as written."""
    import json

    from console.commands.bundle_model import resolved_model
    from console.host_facts import cached, flavour_for

    facts = cached(config.target)
    if facts is None or not facts.flavours:
        return None, None if facts is None else "the host has no compose CLI"
    flavour = flavour_for(config.target)
    models = []
    for tag in (old_tag, new_tag):
        try:
            argv_ = resolved_model(flavour, config.target.artifacts_dir, tag, compose_files, config.capture.env_files)
            result = await transport.run(argv_, timeout=READ_TIMEOUT * 2, capture=True)
        except (UnsafeValue, TransportError) as exc:
            return None, f"cannot ask the host's {flavour} ({exc})"
        if not result.ok:
            # its stderr may quote an interpolated secret: the exit status only
            return None, f"the host's {flavour} config of {tag} exited {result.exit_status}"
        try:
            model = json.loads(result.stdout) if flavour == "docker compose" else parse_compose(result.stdout)
        except (ValueError, ComposeParseError):
            return None, f"the host's {flavour} config of {tag} printed no readable model"
        if not isinstance(model, dict):
            return None, f"the host's {flavour} config of {tag} printed no readable model"
        model.pop("name", None)  # the temporary project name, not part of the release
        models.append(model)
    return (models[0], models[1]), None


def migrations_added(
    old_members: list[str] | None, new_members: list[str] | None, migration_dirs=DEFAULT_MIGRATION_DIRS
) -> list[str]:
    """Migration names in the new bundle but not the old (``002_x.up.sql`` → ``002_x``)."""
    if old_members is None or new_members is None:
        return []

    def names(members: list[str]) -> set[str]:
        return {_migration_name(m) for m in members if _is_migration(m, migration_dirs)}

    return sorted(names(new_members) - names(old_members))


def _is_migration(member: str, migration_dirs) -> bool:
    path = PurePosixPath(_normal(member))
    if member.endswith("/") or not path.suffix:
        return False
    parent = str(path.parent)
    return any(parent == _normal(d) for d in migration_dirs) or "migrations" in path.parts[:-1]


def _migration_name(member: str) -> str:
    return PurePosixPath(member).name.split(".", 1)[0]


def compose_key_changes(file: str, old_text: str, new_text: str) -> tuple[list[KeyChange], str | None]:
    """Changed compose keys; outside the YAML subset, changed top-level blocks and a note why."""
    salt = _random.token_bytes(16)
    try:
        old, new = flatten(parse_compose(old_text), salt), flatten(parse_compose(new_text), salt)
        problem = None
    except ComposeParseError as exc:
        old, new = top_level_blocks(old_text, salt), top_level_blocks(new_text, salt)
        problem = f"{file}: {exc}; compared by top-level block instead"
    return [KeyChange(file, key, change) for key, change in diff_flat(old, new)], problem


def env_keys(text: str, salt: bytes) -> dict[str, bytes]:
    """``KEY=VALUE`` lines as ``KEY → keyed digest of VALUE`` (comments, blanks, ``export`` allowed)."""
    keys: dict[str, bytes] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip().removeprefix("export ").strip()
        if not key:
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]  # KEY="x" and KEY=x are the same setting
        keys[key] = hmac.new(salt, value.encode("utf-8"), hashlib.sha256).digest()
    return keys


def env_key_changes(file: str, old_text: str, new_text: str) -> list[KeyChange]:
    """Added, removed and changed keys of an env file; values are compared, never kept."""
    salt = _random.token_bytes(16)  # per comparison: the digests cannot be looked up later
    old, new = env_keys(old_text, salt), env_keys(new_text, salt)
    changes = []
    for key in sorted(old.keys() | new.keys()):
        if key not in old:
            changes.append(KeyChange(file, key, "added"))
        elif key not in new:
            changes.append(KeyChange(file, key, "removed"))
        elif not hmac.compare_digest(old[key], new[key]):
            changes.append(KeyChange(file, key, "changed"))
    return changes


# -- describing -----------------------------------------------------------------------


def describe(evidence: Evidence) -> list[str]:
    """Short lines for the evidence panel, most decisive first."""
    e = evidence
    lines = [_age_line(e)]
    if e.fleet is not None:  # a half-rolled fleet is evidence: the hosts' disagreement first
        lines += [f"hosts disagree: {line}" for line in e.fleet.disagreements]
        lines += [f"host {line}" for line in e.fleet.lines() if not line.startswith("! ")]
    if e.host is not None:  # the host's read errors are shown by the panel's host line, not here
        lines += [f"disagreement: {line}" for line in e.host.disagreements]
    if e.deployed_tag:
        lines.append(
            f"previous known-good release: {e.previous_tag}"
            if e.previous_tag
            else "no previous known-good release to roll back to"
        )
    for change in e.image_changes:
        if change.old_digest and change.new_digest:
            lines.append(
                f"image {change.service} changed {short_digest(change.old_digest)} → {short_digest(change.new_digest)}"
            )
        elif change.new_digest:
            lines.append(f"image {change.service} added {short_digest(change.new_digest)}")
        else:
            lines.append(f"image {change.service} removed (was {short_digest(change.old_digest)})")
    for key_change in e.compose_changes:
        lines.append(f"compose {key_change.file}: {key_change.key} {key_change.change}")
    for key_change in e.env_changes:
        lines.append(f"env {key_change.file}: {key_change.key} {key_change.change}")
    for name in e.migrations_added:
        lines.append(f"migration added: {name}")
    if e.previous_tag and not (e.image_changes or e.compose_changes or e.env_changes or e.migrations_added):
        lines.append(f"no differences found between {e.previous_tag} and {e.deployed_tag}")
    for error in e.errors:
        lines.append(f"could not check: {error}")
    return lines


def _age_line(e: Evidence) -> str:
    if not e.deployed_tag:
        return "no deployed release recorded"
    if e.minutes_since_deploy is None:
        return f"deployed {e.deployed_tag} (deploy time unknown)"
    window = f"{_number(e.impact_window_minutes)}-min window"
    if e.within_impact_window:
        verdict = f"within the {window}: roll back immediately"
    else:
        verdict = f"outside the {window}: weigh a hotfix against a rollback"
    return f"deployed {e.deployed_tag} {format_age(e.minutes_since_deploy)} — {verdict}"


def format_age(minutes: float) -> str:
    """``0.4`` → ``just now``, ``7.9`` → ``7 min ago``, ``125`` → ``2 h 5 min ago``."""
    if minutes < 1:
        return "just now"
    whole = int(minutes)
    if whole < 120:
        return f"{whole} min ago"
    hours, rest = divmod(whole, 60)
    if hours < 48:
        return f"{hours} h {rest} min ago"
    return f"{hours // 24} days ago"


def short_digest(digest: str | None) -> str:
    if not digest:
        return "none"
    algo, sep, hexpart = digest.partition(":")
    return f"{algo}:{hexpart[:4]}…" if sep else f"{digest[:4]}…"


def _number(value: Any) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
