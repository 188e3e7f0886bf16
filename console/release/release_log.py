"""The release log: which releases exist, which is deployed, which went bad.

The runbook asks to "record the tag in the deployment notes so rollback
targets are unambiguous" and, after an incident, to "attach artifact hashes
and migration decisions to the deployment record in the release log". This
module owns that TOML file::

    deployed = "v2"

    [[releases]]
    tag = "v1"
    captured_at = "2026-11-22T12:00:00Z"
    migration_head = "001_init"
    verified = true
    pushed = true
    images = { mr-dj-backend = { ref = "...", digest = "sha256:..." } }
    files = { "v1-compose.tar.gz" = "<sha256>" }
    bad = { by = "oncall", at = "...", reason = "..." }          # optional
    incidents = [{ id = "...", outcome = "...", from = "v2", to = "v1", at = "...", hashes = {...} }]

Saving writes a temporary file, fsyncs it and renames it over the old one, so
a failed or interrupted write leaves the previous log intact.
"""

from __future__ import annotations

import os
import tempfile
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

KNOWN_KEYS = {
    "tag",
    "captured_at",
    "images",
    "files",
    "migration_head",
    "verified",
    "pushed",
    "deployed_at",
    "bad",
    "incidents",
}


class ReleaseLogError(ValueError):
    """The release log cannot be read, or a change to it makes no sense.

    A ValueError, like the other "this input makes no sense" errors (RollbackTargetError,
    UnsafeValue), so every caller that refuses bad input also refuses a bad log.
    """


def rfc3339(value: datetime | None = None) -> str:
    value = value or datetime.now(UTC)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _as_text_time(value: Any) -> Any:
    # The sandbox writes TOML datetimes; the format says strings. Accept both.
    if isinstance(value, datetime):
        return rfc3339(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _without_none(value: Any) -> Any:
    """TOML has no null: drop absent values rather than fail the whole save."""
    if isinstance(value, dict):
        return {str(k): _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_without_none(v) for v in value if v is not None]
    return value


@dataclass
class Release:
    tag: str
    captured_at: str
    images: dict[str, dict[str, str]] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    migration_head: str | None = None
    verified: bool = False
    pushed: bool = False
    deployed_at: str | None = None
    bad: dict[str, str] | None = None
    incidents: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # keys this version does not know, kept as-is

    @property
    def is_bad(self) -> bool:
        return self.bad is not None

    @property
    def captured(self) -> datetime:
        return _parse_time(self.captured_at)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "release") -> Release:
        if not isinstance(data, dict):
            raise ReleaseLogError(f"{where}: must be a table ([[releases]]), not {data!r}")
        tag = data.get("tag")
        if not isinstance(tag, str) or not tag:
            raise ReleaseLogError(f"{where}: missing tag")
        captured = _as_text_time(data.get("captured_at"))
        if not isinstance(captured, str):
            raise ReleaseLogError(f"{where} ({tag}): missing captured_at")
        try:
            _parse_time(captured)
        except ValueError:
            raise ReleaseLogError(f"{where} ({tag}): captured_at is not an RFC 3339 time: {captured!r}") from None
        for key, kind in (("images", dict), ("files", dict), ("incidents", list)):
            if key in data and not isinstance(data[key], kind):
                raise ReleaseLogError(f"{where} ({tag}): {key} must be a {'table' if kind is dict else 'list'}")
        # Hand edits happen (`bad = "yes, see #ops"`): name the key rather than fail on it later.
        bad = data.get("bad")
        if bad is not None:
            if not isinstance(bad, dict):
                raise ReleaseLogError(
                    f"{where} ({tag}): bad must be a table "
                    f'(bad = {{ by = "...", at = "...", reason = "..." }}), not {bad!r}'
                )
            bad = {k: _as_text_time(v) for k, v in bad.items()}
        for i, incident in enumerate(data.get("incidents", [])):
            if not isinstance(incident, dict):
                raise ReleaseLogError(f"{where} ({tag}): incidents[{i}] must be a table, not {incident!r}")
        return cls(
            tag=tag,
            captured_at=captured,
            images=dict(data.get("images", {})),
            files=dict(data.get("files", {})),
            migration_head=data.get("migration_head"),
            verified=bool(data.get("verified", False)),
            pushed=bool(data.get("pushed", False)),
            deployed_at=_as_text_time(data.get("deployed_at")),
            bad=bad,
            incidents=[{k: _as_text_time(v) for k, v in i.items()} for i in data.get("incidents", [])],
            extra={k: v for k, v in data.items() if k not in KNOWN_KEYS},
        )

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "tag": self.tag,
            "captured_at": self.captured_at,
            "migration_head": self.migration_head,
            "verified": self.verified,
            "pushed": self.pushed,
            "deployed_at": self.deployed_at,
            **self.extra,
            "images": self.images,
            "files": self.files,
        }
        if self.bad is not None:
            data["bad"] = self.bad
        if self.incidents:
            data["incidents"] = self.incidents
        return _without_none(data)


class ReleaseLog:
    """Load, query, change and atomically save the release log."""

    def __init__(self, path: Path, releases: list[Release] | None = None, deployed: str | None = None) -> None:
        self.path = Path(path)
        self.releases: list[Release] = list(releases or [])
        self.deployed = deployed
        self._replaced: str | None = None  # what was deployed before set_deployed

    @classmethod
    def load(cls, path: str | os.PathLike) -> ReleaseLog:
        """Read ``path``; a missing file is an empty log (nothing captured yet)."""
        path = Path(path)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return cls(path)
        except OSError as exc:
            raise ReleaseLogError(f"{path}: cannot read: {exc.strerror}") from None
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ReleaseLogError(f"{path}: not valid TOML: {exc}") from None
        items = data.get("releases", [])
        if not isinstance(items, list):
            raise ReleaseLogError(f"{path}: releases must be an array of tables ([[releases]])")
        releases = [Release.from_dict(item, f"{path}: releases[{i}]") for i, item in enumerate(items)]
        tags = [r.tag for r in releases]
        duplicates = sorted({t for t in tags if tags.count(t) > 1})
        if duplicates:
            raise ReleaseLogError(f"{path}: duplicate release tags: {', '.join(duplicates)}")
        deployed = data.get("deployed")
        if deployed is not None and deployed not in tags:
            raise ReleaseLogError(f"{path}: deployed = {deployed!r} is not a release in the log")
        return cls(path, releases, deployed)

    def get(self, tag: str) -> Release | None:
        for release in self.releases:
            if release.tag == tag:
                return release
        return None

    def _require(self, tag: str) -> Release:
        release = self.get(tag)
        if release is None:
            raise ReleaseLogError(f"release {tag} is not in the release log")
        return release

    def previous_good(self, before_tag: str | None = None) -> Release | None:
        """The newest release captured before ``before_tag`` (default: the deployed
        one) that is not marked bad: the runbook's "previous known-good artifact"."""
        before_tag = before_tag or self.deployed
        if before_tag is None:
            return None
        pivot = self._require(before_tag)
        order = {r.tag: i for i, r in enumerate(self.releases)}
        earlier = [
            r
            for r in self.releases
            if r.tag != pivot.tag and not r.is_bad and (r.captured, order[r.tag]) < (pivot.captured, order[pivot.tag])
        ]
        return max(earlier, key=lambda r: (r.captured, order[r.tag]), default=None)

    def hotfix_candidates(self) -> list[Release]:
        """Releases captured after the deployed one and not marked bad, newest first: what a
        code hotfix would deploy (all good releases when nothing is recorded as deployed)."""
        return self.good_releases_after(self.deployed)

    def good_releases_after(self, tag: str | None) -> list[Release]:
        """Releases captured after ``tag`` and not marked bad, newest first (every good release
        when ``tag`` is None or a build no release captured)."""
        order = {r.tag: i for i, r in enumerate(self.releases)}
        pivot = self.get(tag) if tag else None
        later = [
            r
            for r in self.releases
            if not r.is_bad
            and r is not pivot
            and (pivot is None or (r.captured, order[r.tag]) > (pivot.captured, order[pivot.tag]))
        ]
        return sorted(later, key=lambda r: (r.captured, order[r.tag]), reverse=True)

    def mark_bad(self, tag: str, by: str, reason: str, *, at: datetime | None = None) -> None:
        self._require(tag).bad = {"by": by, "at": rfc3339(at), "reason": reason}

    def set_deployed(self, tag: str, *, at: datetime | None = None) -> None:
        release = self._require(tag)
        if self.deployed != tag:
            self._replaced = self.deployed
        self.deployed = tag
        release.deployed_at = rfc3339(at)

    def add_release(self, record: Release | dict[str, Any]) -> Release:
        release = record if isinstance(record, Release) else Release.from_dict(record)
        if self.get(release.tag) is not None:
            raise ReleaseLogError(
                f"release {release.tag} is already in the release log; a tag is captured once (choose a new tag)"
            )
        self.releases.append(release)
        return release

    def record_incident(
        self,
        tag: str,
        incident_id: str,
        outcome: str,
        hashes: dict[str, str],
        migration_decision: dict[str, Any] | None,
        *,
        from_tag: str | None = None,
        to_tag: str | None = None,
        at: datetime | None = None,
    ) -> dict[str, Any]:
        """Attach an incident (artifact hashes, migration decision) to ``tag``'s record.

        ``from``/``to`` default to the move the log saw: recorded on the release
        now deployed, it came from the one ``set_deployed`` replaced; recorded on
        another release, it went from that release to the deployed one.
        """
        release = self._require(tag)
        if from_tag is None and to_tag is None:
            if tag == self.deployed:
                from_tag, to_tag = self._replaced, tag
            else:
                from_tag, to_tag = tag, self.deployed
        entry = _without_none(
            {
                "id": incident_id,
                "outcome": outcome,
                "from": from_tag,
                "to": to_tag,
                "at": rfc3339(at),
                "hashes": dict(hashes or {}),
                "migration": dict(migration_decision) if migration_decision else None,
            }
        )
        release.incidents.append(entry)
        return entry

    def to_toml(self) -> str:
        data: dict[str, Any] = {}
        if self.deployed is not None:
            data["deployed"] = self.deployed
        data["releases"] = [r.to_dict() for r in self.releases]
        import tomli_w  # only when the log is written, not on every start that reads it

        return "# incident-console release log\n" + tomli_w.dumps(data)

    def save(self) -> None:
        """Atomically replace the file: readers see the old log or the new, never half."""
        text = self.to_toml()  # may raise: nothing has been touched yet
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(text.encode("utf-8"))
                handle.flush()
                os.fsync(handle.fileno())
            if self.path.exists():
                os.chmod(tmp, self.path.stat().st_mode & 0o777)
            else:
                os.chmod(tmp, 0o644)
            os.replace(tmp, self.path)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
