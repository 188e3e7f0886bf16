"""The releases a rollback could restore, with what is known of each, for the coordinator to pick.

Offered: every release captured before the one the host runs (all of them when the
host runs a build no release captured), newest first. Bad releases are listed with
their mark but cannot be chosen. The automatic choice, preselected, is
:func:`console.release.deployed.automatic_rollback_target`: the newest known-good release
older than what actually runs.

"Hashes" compares the sha256 the release log recorded at capture with the host's
``SHA256SUMS.txt`` (read once, cheap); the procedure's first step recomputes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from console.commands import artifacts as art
from console.decide.evidence import format_age
from console.failures import TransportError
from console.release.deployed import automatic_rollback_target
from console.release.release_log import ReleaseLog


@dataclass(frozen=True)
class RollbackCandidate:
    tag: str
    captured_at: str
    age: str  # "3 days ago"
    hashes: str  # "match the host's SHA256SUMS" | "differ from ..." | "missing on the host" | ...
    hashes_ok: bool | None  # None: not checked
    db_verified: bool  # the database snapshot was restored and compared at capture
    bad: dict | None
    automatic: bool

    @property
    def selectable(self) -> bool:
        return self.bad is None


def parse_sums(text: str) -> dict[str, str]:
    """``sha256sum`` output (``<hash>  <name>``, later lines win) -> name -> hash."""
    sums: dict[str, str] = {}
    for line in text.splitlines():
        digest, _, name = line.strip().partition(" ")
        name = name.strip().lstrip("*")
        if len(digest) == 64 and name:
            sums[name.rsplit("/", 1)[-1]] = digest.lower()
    return sums


def _hashes(files: dict[str, str], sums: dict[str, str] | None) -> tuple[str, bool | None]:
    if not files:
        return "no hashes recorded", False
    if sums is None:
        return "not checked (host's SHA256SUMS not read)", None
    missing = [n for n in files if n not in sums]
    wrong = [n for n in files if n in sums and sums[n] != str(files[n]).lower()]
    if wrong:
        return f"differ from the host's SHA256SUMS ({', '.join(sorted(wrong))})", False
    if missing:
        return f"missing on the host ({', '.join(sorted(missing))})", False
    return "match the host's SHA256SUMS", True


def rollback_candidates(
    log: ReleaseLog, running: str | None, sums: dict[str, str] | None, now: datetime | None = None
) -> list[RollbackCandidate]:
    now = now or datetime.now(UTC)
    order = {r.tag: i for i, r in enumerate(log.releases)}
    pivot = log.get(running) if running else None
    older = [
        r
        for r in log.releases
        if r is not pivot and (pivot is None or (r.captured, order[r.tag]) < (pivot.captured, order[pivot.tag]))
    ]
    older.sort(key=lambda r: (r.captured, order[r.tag]), reverse=True)
    automatic = automatic_rollback_target(log, running)
    out = []
    for release in older:
        text, ok = _hashes(release.files, sums)
        out.append(
            RollbackCandidate(
                tag=release.tag,
                captured_at=release.captured_at,
                age=format_age(max((now - release.captured).total_seconds() / 60, 0)),
                hashes=text,
                hashes_ok=ok,
                db_verified=release.verified,
                bad=release.bad,
                automatic=release.tag == automatic,
            )
        )
    return out


async def read_host_sums(transport, artifacts_dir: str) -> dict[str, str] | None:
    """The host's SHA256SUMS.txt, or None when it cannot be read."""
    try:
        result = await transport.run(["cat", "--", art.sha256sums_path(artifacts_dir)], timeout=30, capture=True)
    except TransportError:
        return None
    return parse_sums(result.stdout) if result.ok else None
